import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * airbyte-connection against the fake Airbyte API, whose streams come from a real database: the publication's tables
 * become the streams with the best mode Airbyte offers, the connection is created once and then updated, a sync is
 * followed to its end, and nothing is sent when a check fails.
 */
class AirbyteConnectionTest {
    static final String API = FakeAirbyte.API;
    final FakeApi http = new FakeApi();

    AirbyteConnectionTest() throws Exception {}

    @AfterEach void stop() { http.close(); }

    /** A role Airbyte could connect as (REPLICATION) that reads nothing yet; roles are cluster-wide, so the name is this class's. */
    static final String ROLE = "connection_airbyte";

    @org.junit.jupiter.api.AfterAll static void dropRole() throws Exception {
        for (String db : Pg.column("postgres", "SELECT datname FROM pg_database WHERE datname LIKE 'connection%'"))
            Pg.sql(db, "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '" + ROLE + "') THEN DROP OWNED BY " + ROLE + "; END IF; END $$");
        Pg.sql("postgres", "DROP ROLE IF EXISTS " + ROLE);
    }

    /**
     * A shop: customers and orders with primary keys, events without one, a heartbeat table, all published; a table
     * left out of the publication.
     */
    static String shop() throws Exception {
        String db = Pg.freshDatabase("connection");
        Fixtures.as(db, "CREATE TABLE public.customers (id int PRIMARY KEY, name text)",
                "CREATE TABLE public.orders (id int PRIMARY KEY, customer int)",
                "CREATE TABLE public.events (at timestamptz, note text)",
                "CREATE TABLE public.airbyte_heartbeat (id int PRIMARY KEY, beat timestamptz)",
                "CREATE TABLE public.unpublished (id int PRIMARY KEY)",
                "CREATE PUBLICATION airbyte_publication FOR TABLE public.customers, public.orders, public.events, public.airbyte_heartbeat");
        return db;
    }

    /** airbyte-connection with the fake's workspace, destination and address, and the test's options. */
    Pg.Run connect(FakeAirbyte airbyte, String... more) {
        List<String> args = new ArrayList<>(List.of("--url", Pg.url(airbyte.db), "--workspace-id", FakeAirbyte.WORKSPACE,
                "--destination-id", FakeAirbyte.DESTINATION, "--api-url", http.url("")));
        args.addAll(List.of(more));
        AirbyteConnection command = new AirbyteConnection();
        command.pollMillis = 1;
        command.api.backoffMillis = 1;
        return FakeApi.run(command, airbyte.credentials(), args.toArray(String[]::new));
    }

    static List<String> streams(JsonNode connection) {
        List<String> l = new ArrayList<>();
        for (JsonNode s : connection.path("configurations").path("streams"))
            l.add(s.get("namespace").asText() + "." + s.get("name").asText() + " " + s.get("syncMode").asText());
        return l;
    }

    /** The body that creates the shop's connection: its three tables, each in the best mode Airbyte offers it. */
    static JsonNode created(String source) throws Exception {
        return FakeApi.JSON.readTree("""
                {"name": "shop", "sourceId": "%s", "destinationId": "%s", "schedule": {"scheduleType": "manual"},
                 "configurations": {"streams": [
                   {"name": "customers", "namespace": "public", "syncMode": "incremental_deduped_history"},
                   {"name": "events", "namespace": "public", "syncMode": "full_refresh_overwrite"},
                   {"name": "orders", "namespace": "public", "syncMode": "incremental_deduped_history"}]}}"""
                .formatted(source, FakeAirbyte.DESTINATION));
    }

    @Test void createsTheConnectionWithThePublicationsTablesInTheBestModeOffered() throws Exception {
        FakeAirbyte airbyte = new FakeAirbyte(http, shop());
        String source = airbyte.source("shop", Pg.OWNER, List.of("public"), "airbyte_slot", "airbyte_publication");
        Pg.Run r = connect(airbyte, "--source-name", "shop");
        assertEquals(0, r.exit(), r.all());
        assertEquals(List.of("POST " + API + "/applications/token", "GET " + API + "/sources", "GET " + API + "/sources/" + source,
                "GET " + API + "/streams", "GET " + API + "/connections", "POST " + API + "/connections"), http.log());
        assertEquals("sourceId=" + source + "&destinationId=" + FakeAirbyte.DESTINATION, http.requests("GET " + API + "/streams").get(0).query());
        JsonNode body = http.requests("POST " + API + "/connections").get(0).json();
        assertEquals(created(source), body);
        JsonNode made = airbyte.connections.values().iterator().next();
        assertTrue(r.out().contains("created \"shop\": " + made.get("connectionId").asText()), r.out());
        assertTrue(r.out().contains("warn  full refresh         1 table(s): public.events"), r.out());
        assertTrue(r.out().contains("--leave-out-keyless"), "the way to leave them out: " + r.out());
    }

    @Test void aSecondRunUpdatesTheSameConnectionAndShowsItsStreamsBeforeAndAfter() throws Exception {
        FakeAirbyte airbyte = new FakeAirbyte(http, shop());
        String source = airbyte.source("shop", Pg.OWNER, List.of("public"), "airbyte_slot", "airbyte_publication");
        assertEquals(0, connect(airbyte, "--source-id", source).exit());
        Pg.Run again = connect(airbyte, "--source-id", source, "--leave-out-keyless", "--cron", "0 0 */6 * * ?");
        assertEquals(0, again.exit(), again.all());
        assertEquals(1, airbyte.connections.size(), "updated, not duplicated");
        JsonNode c = airbyte.connections.values().iterator().next();
        FakeApi.Request patch = http.requests("PATCH " + API + "/connections/" + c.get("connectionId").asText()).get(0);
        assertEquals(FakeApi.JSON.readTree("""
                {"name": "shop", "schedule": {"scheduleType": "cron", "cronExpression": "0 0 */6 * * ?"},
                 "configurations": {"streams": [
                   {"name": "customers", "namespace": "public", "syncMode": "incremental_deduped_history"},
                   {"name": "orders", "namespace": "public", "syncMode": "incremental_deduped_history"}]}}"""), patch.json(),
                "no source or destination in a PATCH");
        assertEquals(List.of("public.customers incremental_deduped_history", "public.orders incremental_deduped_history"), streams(c));
        assertTrue(again.out().contains("before               incremental_deduped_history: public.customers, public.orders; "
                + "full_refresh_overwrite: public.events"), again.out());
        assertTrue(again.out().contains("after                incremental_deduped_history: public.customers, public.orders"), again.out());
        assertTrue(again.out().contains("left out             1 table(s): public.events"), again.out());

        assertEquals(0, connect(airbyte, "--source-id", source).exit());
        assertFalse(http.requests("PATCH " + API + "/connections/" + c.get("connectionId").asText()).get(1).json().has("schedule"),
                "without --cron an update keeps the schedule it has");
        assertEquals("cron", airbyte.connections.values().iterator().next().at("/schedule/scheduleType").asText());
    }

    @Test void anExpiredTokenIsRenewedWhileASyncIsFollowed() throws Exception {
        FakeAirbyte airbyte = new FakeAirbyte(http, shop());
        airbyte.source("shop", Pg.OWNER, List.of("public"), "airbyte_slot", "airbyte_publication");
        airbyte.jobStatuses = List.of("pending", "running", "running", "running", "succeeded");
        airbyte.tokenLasts = 7;
        Pg.Run r = connect(airbyte, "--source-name", "shop", "--sync", "--follow");
        assertEquals(0, r.exit(), r.all());
        assertEquals(2, http.requests("POST " + API + "/applications/token").size(), "a second token once the first expired");
        assertNull(http.requests("POST " + API + "/applications/token").get(1).header("Authorization"));
    }

    @Test void tablesAirbyteDoesNotOfferFailBeforeAnythingIsSentAndThePrintedGrantFixesIt() throws Exception {
        String db = shop();
        Pg.sql("postgres", "DROP ROLE IF EXISTS " + ROLE, "CREATE ROLE " + ROLE + " LOGIN REPLICATION");
        Pg.sql(db, "GRANT SELECT ON public.customers TO " + ROLE);
        FakeAirbyte airbyte = new FakeAirbyte(http, db);
        airbyte.source("shop", ROLE, List.of("public"), "airbyte_slot", "airbyte_publication");
        Pg.Run r = connect(airbyte, "--source-name", "shop", "--json");
        assertEquals(1, r.exit(), r.all());
        assertTrue(http.requests("POST " + API + "/connections").isEmpty(), "nothing sent: " + http.log());
        JsonNode f = Fixtures.json(r).get("steps").get(0).get("findings");
        JsonNode failure = f.get(f.size() - 1);
        assertEquals("fail", failure.get("status").asText());
        assertTrue(failure.get("message").asText().startsWith("Airbyte does not offer 2 table(s): public.events, public.orders"), failure.toString());

        Fixes.Ran ran = Fixes.apply(failure.get("fix").asText(), db, Pg.OWNER, Pg.OWNER_PASSWORD);
        assertEquals("grant-access", ran.alias());
        assertEquals(0, ran.exit(), ran.all());
        assertEquals(0, connect(airbyte, "--source-name", "shop").exit());
        assertEquals(3, streams(airbyte.connections.values().iterator().next()).size());
    }

    @Test void aSyncIsFollowedUntilItEndsAndAFailedOneIsExit1WithItsJob() throws Exception {
        FakeAirbyte airbyte = new FakeAirbyte(http, shop());
        airbyte.source("shop", Pg.OWNER, List.of("public"), "airbyte_slot", "airbyte_publication");
        Pg.Run ok = connect(airbyte, "--source-name", "shop", "--sync", "--follow");
        assertEquals(0, ok.exit(), ok.all());
        long job = airbyte.jobs.keySet().iterator().next();
        JsonNode sent = http.requests("POST " + API + "/jobs").get(0).json();
        assertEquals(airbyte.connections.keySet().iterator().next(), sent.get("connectionId").asText());
        assertEquals("sync", sent.get("jobType").asText());
        assertEquals(2, http.requests("GET " + API + "/jobs/" + job).size(), "polled while pending, then running, until it succeeded");
        assertTrue(ok.err().contains("sync job " + job + ": running"), ok.err());
        assertTrue(ok.out().contains("sync                 job " + job + ": succeeded"), ok.out());

        airbyte.jobStatuses = List.of("running", "failed");
        Pg.Run failed = connect(airbyte, "--source-name", "shop", "--sync", "--follow");
        assertEquals(1, failed.exit(), failed.all());
        assertTrue(failed.out().matches("(?s).*fail  sync +job \\d+: failed.*"), failed.out());
        String doctor = failed.out().lines().filter(l -> l.contains("jbang doctor ")).findFirst().orElseThrow();
        assertTrue(doctor.contains("--airbyte-connection " + airbyte.connections.keySet().iterator().next())
                && doctor.contains("--api-url " + http.url("")), doctor);
        assertFalse(failed.out().contains("\"jobId\""), "the ids are in the report, no JSON without --json: " + failed.out());
    }

    @Test void aDryRunOnlyReadsAndShowsWhatItWouldSend() throws Exception {
        FakeAirbyte airbyte = new FakeAirbyte(http, shop());
        airbyte.source("shop", Pg.OWNER, List.of("public"), "airbyte_slot", "airbyte_publication");
        Pg.Run r = connect(airbyte, "--source-name", "shop", "--sync", "--dry-run", "--json");
        assertEquals(0, r.exit(), r.all());
        assertTrue(http.log().stream().noneMatch(l -> l.startsWith("POST " + API + "/connections") || l.startsWith("POST " + API + "/jobs")), http.log().toString());
        JsonNode doc = Fixtures.json(r);
        assertEquals("POST", doc.at("/request/method").asText());
        assertEquals(http.url(API) + "/connections", doc.at("/request/url").asText());
        assertEquals(created(airbyte.sources.keySet().iterator().next()), doc.at("/request/body"));
        assertEquals("sync", doc.at("/then/body/jobType").asText());
        assertTrue(airbyte.connections.isEmpty());
    }

    @Test void aTableOutsideThePublicationFailsAndThePrintedCommandPublishesIt() throws Exception {
        FakeAirbyte airbyte = new FakeAirbyte(http, shop());
        airbyte.source("shop", Pg.OWNER, List.of("public"), "airbyte_slot", "airbyte_publication");
        Pg.Run r = connect(airbyte, "--source-name", "shop", "--table", "public.unpublished", "--json");
        assertEquals(1, r.exit(), r.all());
        assertTrue(http.log().stream().noneMatch(l -> l.contains("/connections")), "nothing asked of Airbyte beyond the token: " + http.log());
        String fix = Fixtures.json(r).at("/steps/0/findings/0/fix").asText();
        assertEquals(0, Fixes.apply(fix, airbyte.db, Pg.OWNER, Pg.OWNER_PASSWORD).exit());
        assertEquals(0, connect(airbyte, "--source-name", "shop", "--table", "public.unpublished").exit());
        assertEquals(List.of("public.unpublished incremental_deduped_history"), streams(airbyte.connections.values().iterator().next()));
    }

    @Test void badInputIsExit2BeforeAnythingIsAskedOrSent() throws Exception {
        FakeAirbyte airbyte = new FakeAirbyte(http, shop());
        airbyte.source("shop", Pg.OWNER, List.of("public"), "airbyte_slot", "airbyte_publication");
        for (String[] bad : List.of(new String[] {"--source-name", "shop", "--cron", "* 0 2 * * ?"},
                new String[] {"--source-name", "shop", "--cron", "0 0 2 * *"},
                new String[] {"--source-name", "shop", "--cron", "0 0 2 * * *"},
                new String[] {"--source-name", "shop", "--cron", "? 0 2 * * ?"},
                new String[] {"--source-name", "shop", "--follow"},
                new String[] {"--source-name", "shop", "--source-id", "src-1"},
                new String[] {"--source-id", "../sources"},
                new String[0])) {
            Pg.Run r = connect(airbyte, bad);
            assertEquals(2, r.exit(), String.join(" ", bad) + ": " + r.all());
            assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
        }
        assertEquals(List.of(), http.log());
        Pg.Run unknown = connect(airbyte, "--source-name", "no such source");
        assertEquals(2, unknown.exit(), unknown.all());
        assertTrue(unknown.err().contains("airbyte-source --create"), unknown.err());
        Pg.Run noCredentials = FakeApi.run(new AirbyteConnection(), Map.of(), "--url", Pg.url(airbyte.db), "--workspace-id",
                FakeAirbyte.WORKSPACE, "--source-name", "shop", "--destination-id", FakeAirbyte.DESTINATION, "--api-url", http.url(""));
        assertEquals(2, noCredentials.exit(), noCredentials.all());
        assertTrue(airbyte.connections.isEmpty());
    }

    @Test void withoutThePublicationItFailsNamingTheStepThatMakesIt() throws Exception {
        String db = Pg.freshDatabase("connection");
        FakeAirbyte airbyte = new FakeAirbyte(http, db);
        airbyte.source("shop", Pg.OWNER, List.of("public"), "airbyte_slot", "airbyte_publication");
        Pg.Run r = connect(airbyte, "--source-name", "shop");
        assertEquals(1, r.exit(), r.all());
        assertTrue(r.out().contains("no publication \"airbyte_publication\""), r.out());
        assertTrue(r.out().contains("jbang create-publication --url "), r.out());
        assertEquals(List.of(), http.log(), "the database is looked at before Airbyte is asked");
    }

    @Test void airbytesRefusalIsOneLineWithItsMessage() throws Exception {
        FakeAirbyte airbyte = new FakeAirbyte(http, shop());
        airbyte.source("shop", Pg.OWNER, List.of("public"), "airbyte_slot", "airbyte_publication");
        http.on("POST " + API + "/connections", FakeApi.Reply.json(400, Map.of("message",
                "Cannot set sync mode to incremental_deduped_history for stream orders. Valid sync modes are: [full_refresh_overwrite]")));
        Pg.Run r = connect(airbyte, "--source-name", "shop");
        assertEquals(4, r.exit(), r.all());
        assertEquals("airbyte-connection: Airbyte API refused POST /connections (HTTP 400): Cannot set sync mode to "
                + "incremental_deduped_history for stream orders. Valid sync modes are: [full_refresh_overwrite]", r.err().strip());
    }
}
