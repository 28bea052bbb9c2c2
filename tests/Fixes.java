import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Supplier;

/**
 * Runs a printed fix as a person pastes it. A fix is lines: SQL (run as the connected role, or as the superuser when
 * the line says "as a superuser"), and commands ({@code jbang alias ...}, run in-process, the password typed at the
 * --password prompt). A line that starts with "or" begins another way to fix the same thing: only the first way runs.
 * Lines of prose ("then, in Airbyte: ...", "-- ...") are what a person reads; nothing to run.
 */
final class Fixes {
    private Fixes() {}

    /** Every alias of jbang-catalog.json but demo (whose PostgreSQL binaries would clash with the tests'), as the command object a test runs in-process. */
    static final Map<String, java.util.function.Supplier<Callable<?>>> COMMANDS = Map.ofEntries(
            Map.entry("check-wal", CheckWal::new), Map.entry("grant-access", GrantAccess::new),
            Map.entry("create-publication", CreatePublication::new), Map.entry("create-slot", CreateSlot::new),
            Map.entry("airbyte-source", AirbyteSource::new),
            Map.entry("airbyte-connection", AirbyteConnection::new), Map.entry("allow-airbyte-ips", AllowAirbyteIps::new),
            Map.entry("setup", Setup::new), Map.entry("doctor", Doctor::new), Map.entry("teardown", Teardown::new),
            Map.entry("slot-status", SlotStatus::new), Map.entry("fleet", Fleet::new));

    static final java.util.regex.Pattern SQL = java.util.regex.Pattern.compile(
            "(?i)^(SELECT|ALTER|GRANT|REVOKE|BEGIN|COMMIT|SET|CREATE|DROP|INSERT|UPDATE)\\b.*");

    /** The last command a fix ran: its alias and what it did. */
    record Ran(String alias, Pg.Run run) {
        int exit() { return run.exit(); }
        String out() { return run.out(); }
        String all() { return run.all(); }
    }

    /** What running a fix did: its last command (null when the fix was SQL only). */
    static Ran apply(String fix, String db, String user, String password) throws Exception { return apply(fix, db, user, password, Map.of()); }

    /** As {@link #apply(String, String, String, String)}, the commands run with this environment (API keys, as exported). */
    static Ran apply(String fix, String db, String user, String password, Map<String, String> env) throws Exception {
        Ran last = null;
        List<String> sql = new ArrayList<>();
        boolean superuser = false;
        for (String raw : fix.split("\n")) {
            String line = raw.strip();
            if (line.startsWith("or") && (last != null || !sql.isEmpty())) break; // the first way only
            int label = line.indexOf(":  "); // "what it does:  the SQL or command"
            String content = label < 0 ? line : line.substring(label + 3).strip();
            if (content.startsWith("jbang ")) {
                runSql(db, sql, superuser, user, password);
                sql.clear();
                last = new Ran(words(content).get(1), run(content, password, env));
                continue;
            }
            String statement = content;
            if (!SQL.matcher(statement).matches()) continue;
            superuser |= line.contains("as a superuser");
            // "GRANT x TO y;  (as a superuser, ...)": the statement ends where its comment begins.
            sql.add(statement.contains(";  ") ? statement.substring(0, statement.indexOf(";  ") + 1) : statement);
        }
        runSql(db, sql, superuser, user, password);
        return last;
    }

    private static void runSql(String db, List<String> sql, boolean superuser, String user, String password) throws Exception {
        if (sql.isEmpty()) return;
        try (Connection c = superuser ? Pg.superuser(db) : Pg.as(db, user, password); Statement st = c.createStatement()) {
            st.execute(String.join("\n", sql));
        }
    }

    /** A printed command line, in-process: its words split as a POSIX shell would, a trailing redirect ignored. */
    static Pg.Run run(String commandLine, String password) { return run(commandLine, password, Map.of()); }

    static Pg.Run run(String commandLine, String password, Map<String, String> env) {
        List<String> words = words(commandLine.replaceFirst("\\s+>\\s*\\S+$", ""));
        assertEquals("jbang", words.get(0), commandLine);
        Supplier<Callable<?>> script = COMMANDS.get(words.get(1));
        assertNotNull(script, "no such alias: " + commandLine);
        java.io.InputStream stdin = System.in;
        if (words.contains("--password")) System.setIn(new ByteArrayInputStream((password + "\n").getBytes(StandardCharsets.UTF_8)));
        try {
            return Pg.run(script.get(), env, words.subList(2, words.size()).toArray(String[]::new));
        } finally {
            System.setIn(stdin);
        }
    }

    /** Words as a POSIX shell splits them: single quotes, double quotes, backslashes. */
    static List<String> words(String line) { return Targets.words(line, "a printed command"); }
}
