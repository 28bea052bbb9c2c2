import java.sql.Connection;
import java.util.Map;
import picocli.CommandLine.Option;

/** Connection options, libpq style: --url (or DATABASE_URL), then options, then PG* variables, ~/.pgpass. */
final class Db {
    @Option(names = "--url", paramLabel = "URL", description = "postgresql://user@host/db?sslmode=require&channel_binding=require, "
            + "postgres://... or jdbc:postgresql://... (default: $DATABASE_URL). Every libpq parameter in it is honoured or "
            + "refused with the reason. A password in it is never printed.")
    String url;
    @Option(names = "--host", description = "Host (default: $PGHOST, else localhost).") String host;
    @Option(names = {"-p", "--port"}, description = "Port (default: $PGPORT, else 5432).") Integer port;
    @Option(names = {"-d", "--dbname"}, description = "Database (default: $PGDATABASE, else the user name).") String dbname;
    @Option(names = {"-U", "--username"}, description = "User (default: $PGUSER).") String username;
    @Option(names = "--password", arity = "0..1", fallbackValue = "", paramLabel = "", description = "Prompt for the "
            + "password, on the terminal without echo (else: the URL, $PGPASSWORD or ~/.pgpass).") String password;
    @Option(names = "--sslmode", description = "disable, allow, prefer, require, verify-ca, verify-full (default: the URL's, "
            + "else $PGSSLMODE, else require for any host but localhost).") String sslmode;
    @Option(names = "--connect-timeout", paramLabel = "SECONDS", description = "Seconds per connection attempt (default: "
            + "connect_timeout in the URL, else 10).") Integer connectTimeoutOption;
    @Option(names = "--wait", paramLabel = "SECONDS", description = "Seconds to keep retrying while the server cannot be "
            + "reached (default: 20 for a Neon host, whose compute may be waking from suspend; 0, no retries, for any other).")
    Integer waitOption;

    /** Seconds per connection attempt: --connect-timeout, else the URL's connect_timeout, else 10 (set by {@link #target}). */
    int connectTimeout = 10;
    Map<String, String> env = System.getenv();
    /** How a password is asked for (tests answer on standard input). */
    java.util.function.Function<String, String> prompt = Cli::password;
    private Target target;

    /** Where to connect, resolved once; throws exit 2 on a malformed URL. */
    Target target() {
        if (target == null) {
            if (connectTimeoutOption != null && (connectTimeoutOption < 1 || connectTimeoutOption > 3600))
                throw Failure.badInput("--connect-timeout " + connectTimeoutOption + " is not a number of seconds from 1 to 3600");
            target = Target.resolve(this);
            connectTimeout = connectTimeoutOption != null ? connectTimeoutOption
                    : target.connectTimeout != null ? target.connectTimeout : 10;
        }
        return target;
    }

    /** How long to retry an unreachable server: --wait for any host; else 20 s for Neon (a compute may be waking), else none. */
    int waitSeconds() {
        if (waitOption != null) return waitOption;
        return target().isNeon() ? 20 : 0;
    }

    Connection connect() {
        if (waitOption != null && waitOption < 0) throw Failure.badInput("--wait " + waitOption + " is negative: give seconds, 0 for no retries");
        Target t = target();
        return Interrupts.track(t.connect(connectTimeout, waitSeconds()));
    }
}
