import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.ServerSocket;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class CheckWalTest {
    static String db;

    @BeforeAll static void database() throws Exception { db = Pg.freshDatabase("checkwal"); }

    @Test void logicalServerIsReady() throws Exception {
        Pg.Run r = Pg.run(new CheckWal(), "--url", Pg.url(db), "--json");
        assertEquals(0, r.exit(), r.all());
        JsonNode step = new ObjectMapper().readTree(r.out()).get("steps").get(0);
        assertEquals("check-wal", step.get("step").asText());
        JsonNode wal = find(step, "wal_level");
        assertEquals("ok", wal.get("status").asText());
        assertEquals("logical", wal.get("message").asText());
        assertTrue(find(step, "server").get("message").asText().startsWith("PostgreSQL " + Pg.major()), r.out());
        assertEquals(0, step.get("sql").size());
    }

    @Test void replicaServerIsNotReadyAndSaysHowToFixIt() throws Exception {
        int port = Pg.replicaOnlyPort();
        Pg.Run r = Pg.run(new CheckWal(), "--url", "postgresql://postgres@localhost:" + port + "/postgres");
        assertEquals(1, r.exit(), r.all());
        assertTrue(r.out().contains("ALTER SYSTEM SET wal_level = logical"), r.out());
    }

    @Test void neonServerGetsTheConsolePathNotAlterSystem() throws Exception {
        int port = Pg.replicaOnlyPort();
        // Neon is recognised from SQL by its neon.endpoint_id setting; a database here carries one.
        try (var c = java.sql.DriverManager.getConnection("jdbc:postgresql://localhost:" + port + "/postgres", "postgres", "");
             var st = c.createStatement()) {
            st.execute("DROP DATABASE IF EXISTS neonlike");
            st.execute("CREATE DATABASE neonlike");
            st.execute("ALTER DATABASE neonlike SET neon.endpoint_id = 'ep-cool-darkness-123456'");
        }
        Pg.Run r = Pg.run(new CheckWal(), "--url", "postgresql://postgres@localhost:" + port + "/neonlike");
        assertEquals(1, r.exit(), r.all());
        assertTrue(r.out().contains("on Neon (endpoint ep-cool-darkness-123456)"), r.out());
        assertTrue(r.out().contains("Neon console"), r.out());
        assertFalse(r.out().contains("ALTER SYSTEM"), r.out());
    }

    @Test void closedPortIsExit3() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) { port = s.getLocalPort(); }
        Pg.Run r = Pg.run(new CheckWal(), "--url", "postgresql://alex@localhost:" + port + "/x", "--wait", "0");
        assertEquals(3, r.exit(), r.all());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }

    @Test void wrongPasswordIsExit3AndNeverPrinted() {
        Pg.Run r = Pg.run(new CheckWal(), "--url", Pg.url(db, Pg.OWNER, "Wrong-Pass-123"));
        assertEquals(3, r.exit(), r.all());
        assertTrue(r.err().contains("authentication failed"), r.err());
        assertFalse(r.all().contains("Wrong-Pass-123"));
    }

    @Test void malformedUrlIsExit2() {
        assertEquals(2, Pg.run(new CheckWal(), "--url", "mysql://x@y/z").exit());
        assertEquals(2, Pg.run(new CheckWal(), "--url", "postgresql://x@y:99999/z").exit());
    }

    @Test void connectsFromPgVariablesAloneLikeLibpq() {
        Pg.Run r = Pg.run(new CheckWal(), java.util.Map.of("PGHOST", "localhost", "PGPORT", String.valueOf(Pg.port()),
                "PGDATABASE", db, "PGUSER", Pg.OWNER, "PGPASSWORD", Pg.OWNER_PASSWORD, "PGSSLMODE", "disable"));
        assertEquals(0, r.exit(), r.all());
        assertFalse(r.all().contains(Pg.OWNER_PASSWORD));
    }

    @Test void connectsFromDatabaseUrl() {
        assertEquals(0, Pg.run(new CheckWal(), java.util.Map.of("DATABASE_URL", Pg.url(db))).exit());
    }

    @Test void passwordPromptReadsTheAnswerAndNeverEchoesIt() {
        java.io.InputStream stdin = System.in;
        System.setIn(new java.io.ByteArrayInputStream((Pg.OWNER_PASSWORD + "\n").getBytes()));
        try {
            Pg.Run r = Pg.run(new CheckWal(), "--url", "postgresql://" + Pg.OWNER + "@localhost:" + Pg.port() + "/" + db, "--password");
            assertEquals(0, r.exit(), r.all());
            assertFalse(r.all().contains(Pg.OWNER_PASSWORD));
        } finally {
            System.setIn(stdin);
        }
    }

    /**
     * The prompt goes to the terminal, or without one to stderr: never to stdout, which may be the document a person
     * redirected (--json > file). The command runs in a session of its own (setsid), so that it has no terminal.
     */
    @Test void thePasswordPromptIsNeverOnStdout() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(new java.io.File("/usr/bin/setsid").canExecute(), "setsid detaches from the terminal");
        Process p = new ProcessBuilder("/usr/bin/setsid", java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "CheckWal", "--json", "--password",
                "--url", "postgresql://" + Pg.OWNER + "@localhost:" + Pg.port() + "/" + db + "?sslmode=disable").start();
        p.getOutputStream().write((Pg.OWNER_PASSWORD + "\n").getBytes());
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes()), err = new String(p.getErrorStream().readAllBytes());
        assertEquals(0, p.waitFor(), out + err);
        assertEquals(0, new com.fasterxml.jackson.databind.ObjectMapper().readTree(out).get("exitCode").asInt(), "stdout is the JSON alone");
        assertTrue(err.startsWith("Password for user alex: "), err);
        assertFalse((out + err).contains(Pg.OWNER_PASSWORD));
    }

    static JsonNode find(JsonNode step, String check) {
        for (JsonNode f : step.get("findings")) if (f.get("check").asText().equals(check)) return f;
        throw new AssertionError("no finding " + check + " in " + step);
    }
}
