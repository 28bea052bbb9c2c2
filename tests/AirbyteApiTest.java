import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * airbyte-source --create against a fake Airbyte API (self-managed paths, /api/public/v1) and a real database
 * prepared with a publication and a pgoutput slot, so Airbyte's own checks pass (or are made to fail).
 */
class AirbyteApiTest {
    static final String SLOT = "airbyteapi_slot", WORKSPACE = "9a1b2c3d-0000-4000-8000-00000000abcd", CLIENT = "client-id-42";
    static final String API = "/api/public/v1";
    static String db;
    final FakeApi airbyte = new FakeApi();

    AirbyteApiTest() throws Exception {}

    @BeforeAll static void database() throws Exception {
        db = Pg.freshDatabase("airbyteapi");
        Pg.sql(db, "CREATE TABLE public.orders (id int PRIMARY KEY)", "ALTER TABLE public.orders OWNER TO " + Pg.OWNER,
                "CREATE PUBLICATION airbyte_publication FOR TABLE public.orders",
                "SELECT pg_create_logical_replication_slot('" + SLOT + "', 'pgoutput')",
                "CREATE SCHEMA nothing_yet AUTHORIZATION " + Pg.OWNER);
    }

    @AfterAll static void dropSlot() throws Exception {
        Pg.sql(db, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + SLOT + "'");
    }

    @AfterEach void stop() { airbyte.close(); }

    /** Token exchange, an empty workspace, and a create that answers a new id. */
    void routes(List<Map<String, Object>> existing) {
        airbyte.on("POST " + API + "/applications/token", FakeApi.Reply.ok(Map.of("access_token", FakeApi.AIRBYTE_TOKEN,
                "token_type", "Bearer", "expires_in", 180)));
        airbyte.on("GET " + API + "/sources", FakeApi.Reply.ok(Map.of("data", existing, "next", "", "previous", "")));
        airbyte.on("POST " + API + "/sources", r -> FakeApi.Reply.ok(Map.of("sourceId", "new-source-id", "name", r.json().get("name").asText())));
    }

    Map<String, String> credentials() { return Map.of("AIRBYTE_CLIENT_ID", CLIENT, "AIRBYTE_CLIENT_SECRET", FakeApi.AIRBYTE_CLIENT_SECRET); }

    /** airbyte-source --create with the test's options; an option in {@code more} replaces the default one. */
    Pg.Run create(Map<String, String> env, String... more) {
        Map<String, String> options = new java.util.LinkedHashMap<>(Map.of("--url", Pg.url(db), "--slot", SLOT,
                "--workspace-id", WORKSPACE, "--name", "shop", "--api-url", airbyte.url("")));
        List<String> args = new ArrayList<>(List.of("--create"));
        for (int i = 0; i < more.length; i++) {
            if (List.of("--skip-checks", "--dry-run").contains(more[i])) args.add(more[i]);
            else options.put(more[i], more[++i]);
        }
        options.forEach((k, v) -> { args.add(k); args.add(v); });
        AirbyteSource s = new AirbyteSource();
        s.api.access.backoffMillis = 1;
        s.api.access.attempts = 3;
        return FakeApi.run(s, env, args.toArray(String[]::new));
    }

    Pg.Run create(String... more) { return create(credentials(), more); }

    @Test void createsTheSourceAfterATokenExchangeAndPrintsItsId() throws Exception {
        routes(List.of());
        Pg.Run r = create();
        assertEquals(0, r.exit(), r.all());
        assertEquals("new-source-id", r.out().strip());
        assertEquals(List.of("POST " + API + "/applications/token", "GET " + API + "/sources", "POST " + API + "/sources"), airbyte.log());

        FakeApi.Request token = airbyte.requests.get(0);
        assertNull(token.header("Authorization"));
        assertEquals("application/json", token.header("Content-Type"));
        assertEquals(FakeApi.JSON.readTree("{\"client_id\": \"" + CLIENT + "\", \"client_secret\": \"" + FakeApi.AIRBYTE_CLIENT_SECRET
                + "\", \"grant-type\": \"client_credentials\"}"), token.json());

        FakeApi.Request list = airbyte.requests.get(1);
        assertEquals("Bearer " + FakeApi.AIRBYTE_TOKEN, list.header("Authorization"));
        assertEquals("workspaceIds=" + WORKSPACE + "&limit=100&offset=0", list.query());

        FakeApi.Request post = airbyte.requests.get(2);
        assertEquals("Bearer " + FakeApi.AIRBYTE_TOKEN, post.header("Authorization"));
        assertEquals("application/json", post.header("Content-Type"));
        JsonNode body = post.json();
        assertEquals("shop", body.get("name").asText());
        assertEquals(WORKSPACE, body.get("workspaceId").asText());
        JsonNode c = body.get("configuration");
        assertEquals("postgres", c.get("sourceType").asText());
        assertEquals(Pg.OWNER_PASSWORD, c.get("password").asText(), "the password goes into the request body");
        assertEquals(db, c.get("database").asText());
        assertEquals(Pg.OWNER, c.get("username").asText());
        assertEquals(SLOT, c.get("replication_method").get("replication_slot").asText());
        assertEquals("airbyte_publication", c.get("replication_method").get("publication").asText());
        ObjectNode config = c.deepCopy();
        config.remove("sourceType");
        AirbyteSourceTest.assertValid(config);
        assertTrue(r.err().contains("created the Airbyte source \"shop\""), r.err());
    }

    @Test void aSourceOfThatNameIsUpdatedNotDuplicated() {
        routes(List.of(Map.of("sourceId", "other-id", "name", "another", "sourceType", "postgres", "workspaceId", WORKSPACE),
                Map.of("sourceId", "old-id", "name", "shop", "sourceType", "postgres", "workspaceId", WORKSPACE)));
        airbyte.on("PATCH " + API + "/sources/old-id", FakeApi.Reply.ok(Map.of("sourceId", "old-id", "name", "shop")));
        Pg.Run r = create();
        assertEquals(0, r.exit(), r.all());
        assertEquals("old-id", r.out().strip());
        assertEquals(List.of("POST " + API + "/applications/token", "GET " + API + "/sources", "PATCH " + API + "/sources/old-id"), airbyte.log());
        FakeApi.Request patch = airbyte.requests.get(2);
        assertEquals("Bearer " + FakeApi.AIRBYTE_TOKEN, patch.header("Authorization"));
        assertEquals("shop", patch.json().get("name").asText());
        assertEquals("postgres", patch.json().get("configuration").get("sourceType").asText());
        assertEquals(Pg.OWNER_PASSWORD, patch.json().get("configuration").get("password").asText());
        assertTrue(r.err().contains("updated, not duplicated"), r.err());
    }

    @Test void everyPageOfSourcesIsSearched() {
        List<Map<String, Object>> full = new ArrayList<>();
        for (int i = 0; i < 100; i++) full.add(Map.of("sourceId", "id-" + i, "name", "s" + i, "sourceType", "postgres"));
        routes(List.of());
        airbyte.on("GET " + API + "/sources", r -> FakeApi.Reply.ok(Map.of("data", r.query().endsWith("offset=0") ? full
                : List.of(Map.of("sourceId", "old-id", "name", "shop", "sourceType", "postgres")))));
        airbyte.on("PATCH " + API + "/sources/old-id", FakeApi.Reply.ok(Map.of("sourceId", "old-id")));
        Pg.Run r = create();
        assertEquals(0, r.exit(), r.all());
        List<FakeApi.Request> lists = airbyte.requests("GET " + API + "/sources");
        assertEquals(List.of("workspaceIds=" + WORKSPACE + "&limit=100&offset=0", "workspaceIds=" + WORKSPACE + "&limit=100&offset=100"),
                lists.stream().map(FakeApi.Request::query).toList());
        assertEquals(1, airbyte.requests("PATCH " + API + "/sources/old-id").size());
    }

    @Test void twoSourcesOfThatNameOrOneOfAnotherKindAreRefused() {
        routes(List.of(Map.of("sourceId", "a", "name", "shop", "sourceType", "postgres"), Map.of("sourceId", "b", "name", "shop", "sourceType", "postgres")));
        Pg.Run r = create();
        assertEquals(2, r.exit(), r.all());
        assertTrue(r.err().contains("2 sources are named \"shop\""), r.err());
        routes(List.of(Map.of("sourceId", "a", "name", "shop", "sourceType", "mysql")));
        assertEquals(2, create().exit());
        assertEquals(List.of(), airbyte.requests("POST " + API + "/sources"));
    }

    @Test void aStaticTokenNeedsNoExchange() {
        routes(List.of());
        Pg.Run r = create(Map.of("AIRBYTE_API_TOKEN", FakeApi.AIRBYTE_TOKEN));
        assertEquals(0, r.exit(), r.all());
        assertEquals(List.of("GET " + API + "/sources", "POST " + API + "/sources"), airbyte.log());
        for (FakeApi.Request q : airbyte.requests) assertEquals("Bearer " + FakeApi.AIRBYTE_TOKEN, q.header("Authorization"));
    }

    @Test void theChecksAirbyteRunsRefuseBeforeAnythingIsSent() {
        routes(List.of());
        Pg.Run noSlot = create("--slot", "no_such_slot");
        assertEquals(1, noSlot.exit(), noSlot.all());
        assertTrue(noSlot.out().contains("Expected exactly one replication slot but found 0"), noSlot.out());
        Pg.Run noPublication = create("--publication", "no_such_publication");
        assertEquals(1, noPublication.exit(), noPublication.all());
        assertTrue(noPublication.out().contains("Expected exactly one publication but found 0"), noPublication.out());
        Pg.Run noReplication = create("--url", Pg.url(db, Pg.READER, Pg.READER_PASSWORD));
        assertEquals(1, noReplication.exit(), noReplication.all());
        assertTrue(noReplication.out().contains("a replication connection as \"" + Pg.READER + "\" fails"), noReplication.out());
        assertEquals(List.of(), airbyte.log());
    }

    @Test void theSchemasAreCheckedFirstAndOneWithNothingToDiscoverIsAWarning() throws Exception {
        routes(List.of());
        Pg.Run typo = create("--schema", "pubic");
        assertEquals(2, typo.exit(), typo.all());
        assertEquals("airbyte-source: --schema 'pubic' does not exist in database " + db + " (nothing was sent); did you mean public?",
                typo.err().strip());
        assertEquals(List.of(), airbyte.log(), "nothing was sent, not even the token exchange");

        Pg.Run empty = create("--schema", "nothing_yet");
        assertEquals(0, empty.exit(), empty.all());
        assertTrue(empty.err().contains("warning: schema 'nothing_yet' has no tables or views yet: Airbyte would discover nothing there"), empty.err());
        assertEquals(List.of("nothing_yet"), FakeApi.JSON.convertValue(airbyte.requests("POST " + API + "/sources").get(0).json()
                .get("configuration").get("schemas"), List.class));

        Pg.Run unchecked = create("--schema", "pubic", "--skip-checks");
        assertEquals(0, unchecked.exit(), "--skip-checks does not connect, so the names are not checked: " + unchecked.all());
    }

    @Test void skipChecksNeedsNoDatabase() throws Exception {
        routes(List.of());
        int closed;
        try (ServerSocket s = new ServerSocket(0)) { closed = s.getLocalPort(); }
        Pg.Run r = create("--url", "postgresql://alex:" + Pg.OWNER_PASSWORD + "@localhost:" + closed + "/x?sslmode=disable", "--skip-checks");
        assertEquals(0, r.exit(), r.all());
        assertEquals(Pg.OWNER_PASSWORD, airbyte.requests("POST " + API + "/sources").get(0).json().get("configuration").get("password").asText());
    }

    @Test void dryRunLooksUpAndPrintsTheRequestWithoutThePassword() {
        routes(List.of());
        Pg.Run r = create("--dry-run");
        assertEquals(0, r.exit(), r.all());
        assertEquals(List.of("POST " + API + "/applications/token", "GET " + API + "/sources"), airbyte.log());
        assertTrue(r.out().contains("Would send POST " + airbyte.url(API + "/sources")) && r.out().contains("\"password\" : \"****\""), r.out());
    }

    @Test void refusedCredentialsNameTheFixAndAreNeverPrinted() {
        airbyte.on("POST " + API + "/applications/token", FakeApi.Reply.json(401, Map.of("detail", "bad secret " + FakeApi.AIRBYTE_CLIENT_SECRET)));
        Pg.Run r = create();
        assertEquals(3, r.exit(), r.all());
        assertTrue(r.err().contains("AIRBYTE_CLIENT_ID / AIRBYTE_CLIENT_SECRET"), r.err());

        routes(List.of());
        airbyte.on("GET " + API + "/sources", FakeApi.Reply.json(401, Map.of("detail", "token " + FakeApi.AIRBYTE_TOKEN + " expired")));
        r = create(Map.of("AIRBYTE_API_TOKEN", FakeApi.AIRBYTE_TOKEN));
        assertEquals(3, r.exit(), r.all());
        assertTrue(r.err().contains("AIRBYTE_API_TOKEN"), r.err());
    }

    @Test void aRejectedConfigurationShowsAirbytesMessageWithoutThePassword() {
        routes(List.of());
        airbyte.on("POST " + API + "/sources", r -> FakeApi.Reply.json(422, Map.of("title", "bad configuration",
                "detail", "cannot connect with password " + r.json().get("configuration").get("password").asText())));
        Pg.Run r = create();
        assertEquals(4, r.exit(), r.all());
        assertTrue(r.err().contains("HTTP 422") && r.err().contains("cannot connect with password ****"), r.err());
    }

    @Test void anUnknownWorkspaceIs404AndBadInput() {
        routes(List.of());
        airbyte.on("GET " + API + "/sources", FakeApi.Reply.json(404, Map.of("title", "workspace not found")));
        Pg.Run r = create();
        assertEquals(2, r.exit(), r.all());
        assertTrue(r.err().contains("--workspace-id"), r.err());
    }

    @Test void rateLimitedIsRetriedAndOtherFailuresAreOneLine() {
        routes(List.of());
        airbyte.on("POST " + API + "/sources", FakeApi.Reply.json(429, Map.of("title", "slow down")), FakeApi.Reply.ok(Map.of("sourceId", "late-id")));
        Pg.Run r = create();
        assertEquals(0, r.exit(), r.all());
        assertEquals("late-id", r.out().strip());
        assertEquals(2, airbyte.requests("POST " + API + "/sources").size());

        airbyte.on("POST " + API + "/sources", new FakeApi.Reply(200, "not json", "text/plain"));
        r = create();
        assertEquals(3, r.exit(), r.all());
        assertTrue(r.err().contains("not JSON") && r.err().contains("--api-url"), r.err());

        airbyte.on("POST " + API + "/sources", FakeApi.Reply.HANG);
        r = create("--api-timeout", "1");
        assertEquals(3, r.exit(), r.all());
        assertTrue(r.err().contains("did not answer POST /sources within 1 s"), r.err());
    }

    @Test void whatIsMissingIsBadInputAndNothingIsSent() {
        routes(List.of());
        assertEquals(2, create(Map.of()).exit(), "no credentials");
        assertEquals(2, create(Map.of("AIRBYTE_CLIENT_ID", CLIENT)).exit(), "no secret");
        assertEquals(2, create("--url", "postgresql://alex@localhost:" + Pg.port() + "/" + db + "?sslmode=disable").exit(), "no password");
        AirbyteSource s = new AirbyteSource();
        assertEquals(2, FakeApi.run(s, credentials(), "--url", Pg.url(db), "--create").exit(), "no workspace");
        assertEquals(List.of(), airbyte.log());
    }

    @Test void cloudIsTheDefaultAndSelfManagedGetsItsPublicApi() {
        AirbyteApi.Access o = new AirbyteApi.Access();
        assertEquals("https://api.airbyte.com/v1", o.base());
        o.apiUrl = "http://airbyte.internal:8000/";
        assertEquals("http://airbyte.internal:8000/api/public/v1", o.base());
        o.apiUrl = "https://airbyte.example/api/public/v1";
        assertEquals("https://airbyte.example/api/public/v1", o.base());
    }

    @Test void cloudShapedPathsWork() {
        airbyte.on("GET /v1/sources", FakeApi.Reply.ok(Map.of("data", List.of())));
        airbyte.on("POST /v1/sources", FakeApi.Reply.ok(Map.of("sourceId", "cloud-id")));
        Map<String, String> env = new HashMap<>(Map.of("AIRBYTE_API_TOKEN", FakeApi.AIRBYTE_TOKEN));
        Pg.Run r = create(env, "--api-url", airbyte.url("/v1"));
        assertEquals(0, r.exit(), r.all());
        assertEquals("cloud-id", r.out().strip());
    }
}
