import java.net.URI;
import java.net.URLDecoder;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import picocli.CommandLine.Option;

// The connection half of the shared include (Runbook.java sources it): options like libpq's, and where they lead.
/** Connection options, libpq style: --url (or DATABASE_URL), then options, then PG* variables, ~/.pgpass. */
final class Db {
    @Option(names = "--url", paramLabel = "URL", description = "postgresql://user@host/db?sslmode=require, postgres://... "
            + "or jdbc:postgresql://... (default: $DATABASE_URL). A password in it is never printed.")
    String url;
    @Option(names = "--host", description = "Host (default: $PGHOST, else localhost).") String host;
    @Option(names = {"-p", "--port"}, description = "Port (default: $PGPORT, else 5432).") Integer port;
    @Option(names = {"-d", "--dbname"}, description = "Database (default: $PGDATABASE, else the user name).") String dbname;
    @Option(names = {"-U", "--username"}, description = "User (default: $PGUSER).") String username;
    @Option(names = "--password", arity = "0..1", interactive = true, description = "Prompt for the password "
            + "(else: the URL, $PGPASSWORD or ~/.pgpass).") char[] password;
    @Option(names = "--sslmode", description = "disable, allow, prefer, require, verify-ca, verify-full (default: "
            + "$PGSSLMODE, else require for any host but localhost).") String sslmode;
    @Option(names = "--connect-timeout", defaultValue = "10", description = "Seconds per connection attempt (default: ${DEFAULT-VALUE}).")
    int connectTimeout;
    @Option(names = "--wait", defaultValue = "20", description = "Seconds to keep retrying while the server is "
            + "unreachable, e.g. a Neon compute waking up (default: ${DEFAULT-VALUE}).") int waitSeconds;

    Map<String, String> env = System.getenv();
    private Target target;

    /** Where to connect, resolved once; throws exit 2 on a malformed URL. */
    Target target() {
        if (target == null) target = Target.resolve(this);
        return target;
    }

    Connection connect() {
        if (connectTimeout < 1 || connectTimeout > 3600)
            throw Runbook.badInput("--connect-timeout " + connectTimeout + " is not a number of seconds from 1 to 3600");
        if (waitSeconds < 0) throw Runbook.badInput("--wait " + waitSeconds + " is negative: give seconds, 0 for no retries");
        return target().connect(connectTimeout, waitSeconds);
    }
}


/** A resolved connection target. {@code toString} never shows the password. */
final class Target {
    static final java.util.Set<String> SSL_MODES = java.util.Set.of("disable", "allow", "prefer", "require", "verify-ca", "verify-full");

    String host, database, user, sslmode, password, options, sslrootcert;
    int port;

    static Target resolve(Db o) {
        Target t = new Target();
        String url = o.url != null ? o.url : o.env.get("DATABASE_URL");
        if (url != null && !url.isBlank()) t.parseUrl(url.strip());
        if (o.host != null) t.host = o.host;
        if (o.port != null) t.port = parsePort(String.valueOf(o.port), "--port");
        if (o.dbname != null) t.database = o.dbname;
        if (o.username != null) t.user = o.username;
        if (o.password != null && o.password.length > 0) t.password = new String(o.password);
        if (o.sslmode != null) t.sslmode = o.sslmode;
        if (t.host == null) t.host = o.env.getOrDefault("PGHOST", "localhost");
        if (t.port == 0) t.port = parsePort(o.env.getOrDefault("PGPORT", "5432"), "PGPORT");
        if (t.user == null) t.user = o.env.getOrDefault("PGUSER", System.getProperty("user.name"));
        if (t.database == null) t.database = o.env.getOrDefault("PGDATABASE", t.user);
        if (t.password == null) t.password = o.env.get("PGPASSWORD");
        if (o.password != null && o.password.length == 0 && t.password == null)
            throw Runbook.badInput("--password read no password" + (Runbook.terminal() ? "" : ": there is no terminal to "
                    + "prompt on") + "; give it through $PGPASSWORD or ~/.pgpass instead");
        Secrets.add(t.password);
        if (t.sslmode == null) t.sslmode = o.env.getOrDefault("PGSSLMODE", t.isLocal() ? "disable" : "require");
        if (!SSL_MODES.contains(t.sslmode))
            throw Runbook.badInput("--sslmode '" + t.sslmode + "' is not one of disable, allow, prefer, require, verify-ca, verify-full");
        if (t.sslrootcert != null && !t.sslrootcert.equals("system") && !java.nio.file.Files.isReadable(java.nio.file.Path.of(t.sslrootcert)))
            throw Runbook.badInput("sslrootcert " + t.sslrootcert + " in --url is not a readable file: give the path of the CA "
                    + "certificate (PEM) that signed the server's");
        if (t.host.startsWith("/"))
            throw Runbook.badInput("host '" + t.host + "' is a Unix socket directory: use --host localhost (TCP)");
        return t;
    }

    private void parseUrl(String url) {
        String rest = url.startsWith("jdbc:") ? url.substring(5) : url;
        if (!rest.startsWith("postgresql://") && !rest.startsWith("postgres://"))
            throw Runbook.badInput("--url must start with postgresql://, postgres:// or jdbc:postgresql:// (got '" + scheme(url) + "')");
        if (unencodedPassword(rest))
            throw Runbook.badInput("--url: the password holds / ? or # as they are: percent-encode them in a URL (%2F %3F %23; "
                    + "also @ %40, : %3A, % %25; and an @ in the database name), or leave it out of the URL and use $PGPASSWORD or --password");
        URI u;
        try {
            u = new URI(rest.replaceFirst("^postgres(ql)?://", "postgresql://"));
        } catch (Exception e) {
            throw Runbook.badInput("--url is not a valid connection URI: check its punctuation (percent-encode @ : / in the password)");
        }
        String authority = u.getRawAuthority();
        if (authority == null) throw Runbook.badInput("--url has no host: postgresql://user@host/database");
        int at = authority.lastIndexOf('@');
        if (at >= 0) {
            String info = authority.substring(0, at);
            int colon = info.indexOf(':');
            user = decode(colon < 0 ? info : info.substring(0, colon));
            if (colon >= 0) Secrets.add(info.substring(colon + 1)); // as written, before decoding can fail on it
            if (colon >= 0) password = decode(info.substring(colon + 1));
        }
        String hostPort = at >= 0 ? authority.substring(at + 1) : authority;
        if (hostPort.contains(",")) throw Runbook.badInput("--url names several hosts: give one host");
        int colon = hostPort.startsWith("[") ? hostPort.indexOf(':', hostPort.indexOf(']')) : hostPort.lastIndexOf(':');
        if (colon >= 0) {
            try {
                port = parsePort(hostPort.substring(colon + 1), "--url port");
            } catch (Runbook.Failure notANumber) { // not echoed: a password cut short by an unencoded character ends up here
                throw Runbook.badInput("--url: the port is not a number (1-65535); if the password holds @ : / ? # or %, "
                        + "percent-encode them (%40 %3A %2F %3F %23 %25)");
            }
            hostPort = hostPort.substring(0, colon);
        }
        if (!hostPort.isEmpty()) host = hostPort.replaceAll("^\\[|]$", "");
        String path = u.getRawPath();
        if (path != null && path.length() > 1) database = decode(path.substring(1));
        if (u.getRawQuery() != null) for (String kv : u.getRawQuery().split("&")) {
            int eq = kv.indexOf('=');
            if (eq < 0) continue;
            String k = kv.substring(0, eq), v = decode(kv.substring(eq + 1));
            switch (k) {
                case "sslmode" -> sslmode = v;
                case "user" -> user = v;
                case "password" -> password = v;
                case "dbname" -> database = v;
                case "host" -> host = v;
                case "port" -> port = parsePort(v, "--url port");
                case "options" -> options = v;
                case "sslrootcert" -> sslrootcert = v;
                default -> { } // channel_binding, application_name...: pgjdbc negotiates on its own
            }
        }
    }

    /**
     * {@code user:pa/ss@host}: a / ? or # in the password cuts the URL's authority short, and what follows would be
     * read as port, database or query, and could be echoed in an error. Digits before the / may be a port, as in
     * {@code host:5432/db?user=me@corp}, but only when the @ is in the query's value: {@code user:7731/9Zq@host/db}
     * and {@code user:7731/9Zq?k@host/db} are passwords (a database name holding an @ must then be written %40).
     */
    static boolean unencodedPassword(String url) {
        int start = url.indexOf("://") + 3, at = url.indexOf('@', start);
        if (at < 0 || url.startsWith("[", start)) return false;
        String before = url.substring(start, at);
        int colon = before.indexOf(':'), cut = indexOfAny(before, colon + 1, "/?#");
        if (colon < 0 || cut < 0) return false;
        int query = indexOfAny(before, cut, "?#");
        return !before.substring(colon + 1, cut).matches("\\d+") || query < 0 || !before.substring(query).contains("=");
    }

    private static int indexOfAny(String s, int from, String chars) {
        for (int i = Math.max(from, 0); i < s.length(); i++) if (chars.indexOf(s.charAt(i)) >= 0) return i;
        return -1;
    }

    private static String scheme(String url) {
        int i = url.indexOf("://");
        return i < 0 ? "no scheme" : url.substring(0, i) + "://";
    }

    private static String decode(String s) { return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8); }

    private static int parsePort(String s, String what) {
        try {
            int p = Integer.parseInt(s);
            if (p > 0 && p < 65536) return p;
        } catch (NumberFormatException ignored) { }
        throw Runbook.badInput(what + " '" + s + "' is not a port number (1-65535)");
    }

    boolean isLocal() { return host.equals("localhost") || host.startsWith("127.") || host.equals("::1"); }
    boolean isNeonHost() { return host.endsWith(".neon.tech") || host.endsWith(".neon.build"); }
    boolean isPooler() { return host.split("\\.", 2)[0].endsWith("-pooler"); }
    /** Neon's direct host for a pooler host: the first label without {@code -pooler}. */
    String directHost() { return host.replaceFirst("^([^.]*)-pooler", "$1"); }

    /** The same target with the password shown as ****, for messages. */
    @Override public String toString() {
        return "postgresql://" + user + (password == null ? "" : ":****") + "@"
                + (host.contains(":") ? "[" + host + "]" : host) + ":" + port + "/" + database + "?sslmode=" + sslmode;
    }

    String jdbcUrl() {
        return "jdbc:postgresql://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port + "/"
                + java.net.URLEncoder.encode(database, StandardCharsets.UTF_8).replace("+", "%20");
    }

    Properties properties(int connectTimeout) {
        Properties p = new Properties();
        p.setProperty("user", user);
        if (password != null) p.setProperty("password", password);
        p.setProperty("sslmode", sslmode);
        if (sslrootcert != null) p.setProperty("sslrootcert", sslrootcert);
        if (options != null) p.setProperty("options", options);
        p.setProperty("connectTimeout", String.valueOf(connectTimeout));
        p.setProperty("loginTimeout", String.valueOf(connectTimeout));
        p.setProperty("ApplicationName", "airbyte-runbook");
        p.setProperty("assumeMinServerVersion", "9.0"); // sends the name at startup, not in a SET: one round trip less
        return p;
    }

    /** A TLS failure in words that say what to check, or null. Retrying would not help: it is not retried. */
    String tlsProblem(SQLException e, String state) {
        boolean verifying = sslmode.startsWith("verify-");
        String ca = sslrootcert != null ? "the CA in sslrootcert (" + sslrootcert + ")" : "a CA this machine trusts";
        List<Throwable> causes = new ArrayList<>();
        for (Throwable t = e.getCause(); t != null; t = t.getCause()) causes.add(t);
        if (causes.stream().anyMatch(t -> t instanceof java.security.cert.CertificateException
                || t instanceof java.security.cert.CertPathBuilderException || t instanceof java.security.cert.CertPathValidatorException))
            return "the server's TLS certificate is not signed by " + ca + " (sslmode " + sslmode + "): give the CA "
                    + "that signed it with ?sslrootcert=FILE in the URL (Neon: Let's Encrypt's ISRG Root X1), or use "
                    + "sslmode=require to encrypt without verifying";
        if (verifying && causes.stream().anyMatch(t -> t instanceof java.io.FileNotFoundException))
            return "sslmode " + sslmode + " needs the CA certificate that signed the server's: give it with "
                    + "?sslrootcert=FILE in the URL (pgjdbc's default, ~/.postgresql/root.crt, is not there), or use sslmode=require";
        if (causes.stream().anyMatch(t -> t instanceof javax.net.ssl.SSLException))
            return "TLS failed (sslmode " + sslmode + "): " + Runbook.firstLine(e.getMessage()) + " - check sslmode and the server's TLS setup";
        String m = Runbook.firstLine(e.getMessage());
        if (verifying && sslmode.equals("verify-full") && m.contains(host) && m.toLowerCase().contains("hostname"))
            return "the server's TLS certificate is not valid for the host name '" + host + "' (sslmode verify-full checks "
                    + "it): connect with a host name the certificate names, or use sslmode=verify-ca";
        if (state.equals("08004") && m.contains("SSL") && !List.of("disable", "allow", "prefer").contains(sslmode))
            return "the server does not accept TLS connections, and sslmode " + sslmode + " requires TLS: for a server on a "
                    + "trusted network use sslmode=disable (Neon always has TLS: check the host)";
        return null;
    }

    /** Connects, retrying with backoff while the server cannot be reached (a Neon compute waking up). */
    Connection connect(int connectTimeout, int waitSeconds) {
        long deadline = System.nanoTime() + waitSeconds * 1_000_000_000L;
        long backoffMs = 250;
        for (int attempt = 1; ; attempt++) {
            try {
                return DriverManager.getConnection(jdbcUrl(), properties(connectTimeout));
            } catch (SQLException e) {
                String state = e.getSQLState() == null ? "" : e.getSQLState();
                String where = user + "@" + host + ":" + port + "/" + database;
                if (state.equals("28P01") || state.equals("28000"))
                    throw new Runbook.Failure(Runbook.CANNOT_CONNECT, "authentication failed for " + where + ": check the password "
                            + "($PGPASSWORD, ~/.pgpass, the URL, or --password to be prompted) and the user name");
                if (state.equals("3D000"))
                    throw new Runbook.Failure(Runbook.CANNOT_CONNECT, "database '" + database + "' does not exist on " + host
                            + ": check --dbname or the URL's path");
                if (isPooler() && Runbook.firstLine(e.getMessage()).contains("replication"))
                    throw new Runbook.Failure(Runbook.CANNOT_CONNECT, "the pooler host does not allow this: use the direct host " + directHost());
                String tls = tlsProblem(e, state);
                if (tls != null) throw new Runbook.Failure(Runbook.CANNOT_CONNECT, "cannot connect to " + where + ": " + tls);
                if (state.equals("08004") && password == null) // "... authentication, but no password was provided"
                    throw new Runbook.Failure(Runbook.CANNOT_CONNECT, "no password for " + where + ", and the server asks for "
                            + "one: give it in the URL, $PGPASSWORD, ~/.pgpass (or $PGPASSFILE), or --password to be prompted");
                if (state.equals("08004")) // the server refused this connection: trying again will not change that
                    throw new Runbook.Failure(Runbook.CANNOT_CONNECT, "cannot connect to " + where + ": " + Runbook.firstLine(e.getMessage()));
                boolean unknownHost = e.getCause() instanceof UnknownHostException;
                long remainingMs = (deadline - System.nanoTime()) / 1_000_000;
                boolean transient_ = state.startsWith("08") || state.equals("57P03"); // 57P03: "the database system is starting up"
                if (unknownHost || !transient_ || remainingMs <= 0)
                    throw new Runbook.Failure(Runbook.CANNOT_CONNECT, "cannot connect to " + where + ": "
                            + (unknownHost ? "unknown host '" + host + "' - check the host name" : Runbook.firstLine(e.getMessage())));
                if (attempt == 1) Progress.line("cannot reach " + host + ":" + port + " yet; retrying for up to " + waitSeconds
                        + " s (a suspended Neon compute takes a moment to wake)");
                try { Thread.sleep(Math.min(backoffMs, remainingMs)); } catch (InterruptedException ie) { Thread.currentThread().interrupt(); throw new Runbook.Failure(Runbook.CANNOT_CONNECT, "interrupted"); }
                backoffMs = Math.min(backoffMs * 2, 2000);
            }
        }
    }
}
