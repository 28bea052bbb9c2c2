import static org.junit.jupiter.api.Assertions.*;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * check-wal --enable: a database that says it is Neon (neon.endpoint_id, set with ALTER DATABASE) on the test's
 * wal_level=replica server, and a fake Neon API. A proxy plays the compute that restarts: once Neon accepted the
 * PATCH, new connections reach the wal_level=logical server, where the same database exists.
 */
class EnableLogicalTest {
    static final String PROJECT = "old-fire-32990194", ENDPOINT = "ep-cool-darkness-123456", DB = "neon_enable";
    static final String PATCH = "PATCH /api/v2/projects/" + PROJECT;
    static int replica;
    final FakeApi neon = new FakeApi();

    EnableLogicalTest() throws Exception {}

    @BeforeAll static void databases() throws Exception {
        replica = Pg.replicaOnlyPort();
        try (Connection c = DriverManager.getConnection("jdbc:postgresql://localhost:" + replica + "/postgres", "postgres", "");
             Statement st = c.createStatement()) {
            for (String db : List.of(DB, "not_neon")) {
                st.execute("DROP DATABASE IF EXISTS " + db);
                st.execute("CREATE DATABASE " + db);
            }
            st.execute("ALTER DATABASE " + DB + " SET neon.endpoint_id = '" + ENDPOINT + "'");
        }
        Pg.sql("postgres", "DROP DATABASE IF EXISTS " + DB, "CREATE DATABASE " + DB,
                "ALTER DATABASE " + DB + " SET neon.endpoint_id = '" + ENDPOINT + "'");
    }

    @AfterEach void stop() { neon.close(); }

    static String url(int port, String db) { return "postgresql://postgres@127.0.0.1:" + port + "/" + db + "?sslmode=disable"; }

    static CheckWal checkWal(Boolean answer) {
        CheckWal c = new CheckWal();
        c.neon.backoffMillis = 1;
        c.pollMillis = 50;
        c.ask = question -> answer;
        return c;
    }

    Pg.Run run(CheckWal c, String... args) { return FakeApi.run(c, neon.neonEnv(), args); }

    boolean enabled() { return neon.project(PROJECT).path("settings").path("enable_logical_replication").asBoolean(); }

    @Test void alreadyLogicalSendsNothing() {
        neon.neonProject(PROJECT, "shop", "{\"enable_logical_replication\": true}");
        Pg.Run r = run(checkWal(null), "--url", url(Pg.port(), DB), "--enable", "--yes", "--project-id", PROJECT);
        assertEquals(0, r.exit(), r.all());
        assertTrue(r.out().contains("on Neon (endpoint " + ENDPOINT + ")"), r.out());
        assertTrue(r.out().contains("wal_level            logical"), r.out());
        assertEquals(List.of(), neon.log());
    }

    @Test void notNeonIsBadInputAndSendsNothing() {
        Pg.Run r = run(checkWal(true), "--url", url(replica, "not_neon"), "--enable", "--yes", "--project-id", PROJECT);
        assertEquals(2, r.exit(), r.all());
        assertTrue(r.err().contains("not Neon") && r.err().contains("ALTER SYSTEM"), r.err());
        assertEquals(List.of(), neon.log());
    }

    @Test void withoutATerminalOrYesNothingChanges() {
        neon.neonProject(PROJECT, "shop", "{\"enable_logical_replication\": false}");
        Pg.Run r = run(checkWal(null), "--url", url(replica, DB), "--enable", "--project-id", PROJECT);
        assertEquals(1, r.exit(), r.all());
        assertTrue(r.out().contains("not changed") && r.out().contains("no terminal") && r.out().contains("--yes"), r.out());
        assertEquals(List.of(), neon.requests(PATCH));
        assertFalse(enabled());
    }

    @Test void aNoOnTheTerminalChangesNothing() {
        neon.neonProject(PROJECT, "shop", "{\"enable_logical_replication\": false}");
        Pg.Run r = run(checkWal(false), "--url", url(replica, DB), "--enable", "--project-id", PROJECT);
        assertEquals(1, r.exit(), r.all());
        assertTrue(r.out().contains("not confirmed"), r.out());
        assertEquals(List.of(), neon.requests(PATCH));
    }

    @Test void dryRunShowsThePatchAndSendsNoChange() {
        neon.neonProject(PROJECT, "shop", "{\"enable_logical_replication\": false}");
        Pg.Run r = run(checkWal(null), "--url", url(replica, DB), "--enable", "--project-id", PROJECT, "--dry-run");
        assertEquals(0, r.exit(), r.all());
        assertTrue(r.out().contains("\"enable_logical_replication\" : true"), r.out());
        assertTrue(r.out().contains("Bearer $NEON_API_KEY"), r.out());
        assertEquals(List.of("GET /api/v2/projects/" + PROJECT), neon.log());
        assertFalse(enabled());
    }

    @Test void thePatchIsSentOnceThenTheWaitEndsAtTheTimeout() {
        // The project is found from the endpoint id the database reports: list projects, then their endpoints.
        neon.on("GET /api/v2/projects", FakeApi.Reply.ok(Map.of("projects", List.of(Map.of("id", PROJECT, "name", "shop")))));
        neon.on("GET /api/v2/projects/" + PROJECT + "/endpoints", FakeApi.Reply.ok(Map.of("endpoints", List.of(Map.of("id", ENDPOINT)))));
        neon.neonProject(PROJECT, "shop", "{\"enable_logical_replication\": false}");
        long start = System.nanoTime();
        Pg.Run r = run(checkWal(true), "--url", url(replica, DB), "--enable", "--timeout", "1");
        long millis = (System.nanoTime() - start) / 1_000_000;
        assertEquals(1, r.exit(), r.all());
        assertTrue(millis >= 1000 && millis < 15_000, millis + " ms");
        List<FakeApi.Request> patches = neon.requests(PATCH);
        assertEquals(1, patches.size(), neon.log().toString());
        assertEquals("Bearer " + FakeApi.NEON_KEY, patches.get(0).header("Authorization"));
        assertEquals(FakeApi.JSON.createObjectNode().set("project", FakeApi.JSON.createObjectNode().set("settings",
                FakeApi.JSON.createObjectNode().put("enable_logical_replication", true))), patches.get(0).json());
        assertTrue(enabled());
        assertTrue(r.out().contains("still finds: wal_level is still replica"), r.out());
        assertTrue(r.err().contains("waiting up to 1 s"), r.err());
    }

    @Test void aNewConnectionThatShowsLogicalEndsTheWait() throws Exception {
        neon.neonProject(PROJECT, "shop", "{\"enable_logical_replication\": false}");
        int logical = Pg.port(); // not inside the handler: Pg's lock is held while a script runs
        try (FakeApi.Proxy compute = new FakeApi.Proxy(replica)) {
            // Neon accepting the PATCH "restarts the compute" with logical replication: new connections reach that server.
            neon.on(PATCH, r -> {
                compute.target = logical;
                ((com.fasterxml.jackson.databind.node.ObjectNode) neon.project(PROJECT).get("settings")).put("enable_logical_replication", true);
                return FakeApi.Reply.ok(Map.of("project", neon.project(PROJECT)));
            });
            Pg.Run r = run(checkWal(null), "--url", url(compute.port(), DB), "--enable", "--yes", "--project-id", PROJECT, "--timeout", "30");
            assertEquals(0, r.exit(), r.all());
            assertEquals(List.of("GET /api/v2/projects/" + PROJECT, PATCH), neon.log());
            assertTrue(r.out().contains("wal_level            logical"), r.out());
            assertTrue(r.out().contains("enabled logical replication on project " + PROJECT + " (shop)"), r.out());
        }
    }

    @Test void enabledOnTheProjectButNotYetOnTheComputeWaitsWithoutPatching() {
        neon.neonProject(PROJECT, "shop", "{\"enable_logical_replication\": true}");
        Pg.Run r = run(checkWal(null), "--url", url(replica, DB), "--enable", "--project-id", PROJECT, "--timeout", "1");
        assertEquals(1, r.exit(), r.all());
        assertTrue(r.out().contains("already enabled"), r.out());
        assertEquals(List.of("GET /api/v2/projects/" + PROJECT), neon.log());
    }

    @Test void aRefusedKeyStopsBeforeAnyChange() {
        neon.on("GET /api/v2/projects/" + PROJECT, FakeApi.Reply.json(401, Map.of("message", "bad key")));
        Pg.Run r = run(checkWal(true), "--url", url(replica, DB), "--enable", "--yes", "--project-id", PROJECT);
        assertEquals(3, r.exit(), r.all());
        assertTrue(r.err().contains("NEON_API_KEY was refused"), r.err());
        assertEquals(List.of("GET /api/v2/projects/" + PROJECT), neon.log());
    }
}
