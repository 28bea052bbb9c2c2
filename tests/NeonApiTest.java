import static org.junit.jupiter.api.Assertions.*;

import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The Neon include against a local fake of Neon's API: the endpoint id from hosts, finding a project, and every
 * failure (401, 403, 404, 423 then success, 503 exhausted, not JSON, a timeout, unreachable), through
 * allow-airbyte-ips as a user runs it. No output may hold the key (FakeApi.run checks every run).
 */
class NeonApiTest {
    static final String PROJECT = "old-fire-32990194";
    static final String SETTINGS = "{\"allowed_ips\": {\"ips\": [\"203.0.113.7\"], \"protected_branches_only\": false}}";
    final FakeApi neon = new FakeApi();

    NeonApiTest() throws Exception {}

    @AfterEach void stop() { neon.close(); }

    static AllowAirbyteIps script() {
        AllowAirbyteIps s = new AllowAirbyteIps();
        s.neon.backoffMillis = 1;
        s.neon.attempts = 3;
        return s;
    }

    Pg.Run allow(String... more) {
        List<String> args = new ArrayList<>(List.of("--project-id", PROJECT, "--region", "eu"));
        args.addAll(List.of(more));
        return FakeApi.run(script(), neon.neonEnv(), args.toArray(String[]::new));
    }

    static String endpointOf(String url) {
        Db d = new Db();
        d.url = url;
        d.env = Map.of();
        return NeonApi.endpointId(d.target());
    }

    @Test void theEndpointIdIsTheHostsFirstLabelWithoutPooler() {
        assertEquals("ep-cool-darkness-123456", endpointOf("postgresql://a@ep-cool-darkness-123456.us-east-2.aws.neon.tech/db"));
        assertEquals("ep-cool-darkness-123456", endpointOf("postgresql://a@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech/db"));
        assertEquals("ep-cool-darkness-123456", endpointOf("postgresql://a@ep-cool-darkness-123456-pooler.c-2.us-east-2.aws.neon.tech/db"));
        assertEquals("ep-cool-darkness-123456", endpointOf("postgresql://a@c-3.ep-cool-darkness-123456.us-east-2.aws.neon.tech/db"));
        assertEquals("ep-quiet-tree-42", endpointOf("postgresql://a@10.0.0.5/db?options=endpoint%3Dep-quiet-tree-42"));
        assertNull(endpointOf("postgresql://a@db.example.com/db"));
        assertNull(endpointOf("postgresql://a@localhost/db"));
    }

    @Test void theApiAddressComesFromNeonApiHostElseNeonsOwn() {
        NeonApi.Options o = new NeonApi.Options();
        o.env = Map.of();
        assertEquals("https://console.neon.tech/api/v2", o.host());
        o.env = Map.of("NEON_API_HOST", "https://neon.example/api/v2/");
        assertEquals("https://neon.example/api/v2", new NeonApi(new HttpJson("x", o.host(), "y", 1, java.util.Set.of())).http.base);
    }

    @Test void everyRequestCarriesTheKeyAsABearerToken() {
        neon.neonProject(PROJECT, "shop", SETTINGS);
        assertEquals(0, allow().exit());
        assertEquals(List.of("GET /api/v2/projects/" + PROJECT, "PATCH /api/v2/projects/" + PROJECT), neon.log());
        for (FakeApi.Request r : neon.requests) {
            assertEquals("Bearer " + FakeApi.NEON_KEY, r.header("Authorization"), r.toString());
            assertEquals("application/json", r.header("Accept"), r.toString());
        }
        assertEquals("application/json", neon.requests.get(1).header("Content-Type"));
    }

    @Test void noKeyIsBadInputAndNothingIsSent() {
        Map<String, String> env = new HashMap<>(neon.neonEnv());
        env.remove("NEON_API_KEY");
        Pg.Run r = FakeApi.run(script(), env, "--project-id", PROJECT, "--region", "eu");
        assertEquals(2, r.exit(), r.all());
        assertTrue(r.err().contains("NEON_API_KEY is not set"), r.err());
        assertEquals(List.of(), neon.log());
    }

    @Test void aKeyAHeaderCannotCarryIsRefusedWithoutShowingIt() {
        Map<String, String> env = new HashMap<>(neon.neonEnv());
        env.put("NEON_API_KEY", "napi_first\n" + FakeApi.NEON_KEY);
        Pg.Run r = FakeApi.run(script(), env, "--project-id", PROJECT, "--region", "eu");
        assertEquals(2, r.exit(), r.all());
        assertFalse(r.all().contains("napi_first"), r.all());
        assertEquals(List.of(), neon.log());
    }

    @Test void aRefusedKeyNamesTheFixAndNeverTheKeyEvenWhenTheServerEchoesIt() {
        neon.on("GET /api/v2/projects/" + PROJECT, FakeApi.Reply.json(401, Map.of("message", "invalid key " + FakeApi.NEON_KEY)));
        Pg.Run r = allow();
        assertEquals(3, r.exit(), r.all());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("NEON_API_KEY was refused") && r.err().contains("API keys"), r.err());
        assertEquals(1, neon.requests.size(), "401 is not retried");
    }

    @Test void anyOtherErrorShowsNeonsMessageWithTheKeyBlankedOut() {
        neon.on("GET /api/v2/projects/" + PROJECT, FakeApi.Reply.json(400, Map.of("message",
                "request with Authorization: Bearer " + FakeApi.NEON_KEY + " is malformed (key " + FakeApi.NEON_KEY + ")")));
        Pg.Run r = allow();
        assertEquals(4, r.exit(), r.all());
        assertTrue(r.err().contains("HTTP 400") && r.err().contains("is malformed (key ****)"), r.err());
    }

    @Test void forbiddenIsRefusedAndNotFoundNamesTheProjectId() {
        neon.on("GET /api/v2/projects/" + PROJECT, FakeApi.Reply.json(403, Map.of("message", "not allowed")));
        Pg.Run r = allow();
        assertEquals(4, r.exit(), r.all());
        assertTrue(r.err().contains("HTTP 403") && r.err().contains("organization"), r.err());

        neon.on("GET /api/v2/projects/" + PROJECT, FakeApi.Reply.json(404, Map.of("message", "project not found")));
        r = allow();
        assertEquals(2, r.exit(), r.all());
        assertTrue(r.err().contains("--project-id") && r.err().contains("/projects/" + PROJECT), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }

    @Test void locked423IsRetriedThenSucceedsAndThePatchIsResentWhole() {
        neon.neonProject(PROJECT, "shop", SETTINGS);
        FakeApi.Reply busy = FakeApi.Reply.json(423, Map.of("message", "project already has running operations"));
        var get = new java.util.concurrent.atomic.AtomicInteger();
        neon.on("GET /api/v2/projects/" + PROJECT, r -> get.incrementAndGet() == 1 ? busy
                : FakeApi.Reply.ok(Map.of("project", neon.project(PROJECT))));
        var patch = new java.util.concurrent.atomic.AtomicInteger();
        neon.on("PATCH /api/v2/projects/" + PROJECT, r -> {
            if (patch.incrementAndGet() <= 2) return busy;
            return FakeApi.Reply.ok(Map.of("project", Map.of("settings", r.json().path("project").path("settings"))));
        });
        Pg.Run r = allow();
        assertEquals(0, r.exit(), r.all());
        assertEquals(2, neon.requests("GET /api/v2/projects/" + PROJECT).size());
        List<FakeApi.Request> patches = neon.requests("PATCH /api/v2/projects/" + PROJECT);
        assertEquals(3, patches.size());
        for (FakeApi.Request p : patches) assertEquals(patches.get(0).json(), p.json());
        assertTrue(r.err().contains("HTTP 423"), r.err());
    }

    @Test void unavailable503IsRetriedABoundedNumberOfTimes() {
        neon.on("GET /api/v2/projects/" + PROJECT, FakeApi.Reply.json(503, Map.of("message", "service unavailable")));
        Pg.Run r = allow();
        assertEquals(3, r.exit(), r.all());
        assertEquals(3, neon.requests.size(), "attempts = 3");
        assertTrue(r.err().lines().reduce((a, b) -> b).orElse("").contains("HTTP 503, 3 attempts"), r.err());
    }

    @Test void anAnswerThatIsNotJsonIsOneClearLine() {
        neon.on("GET /api/v2/projects/" + PROJECT, new FakeApi.Reply(200, "<html><body>Sign in</body></html>", "text/html"));
        Pg.Run r = allow();
        assertEquals(3, r.exit(), r.all());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("not JSON") && r.err().contains("NEON_API_HOST"), r.err());
    }

    @Test void jsonWithoutTheProjectIsAClearError() {
        neon.on("GET /api/v2/projects/" + PROJECT, FakeApi.Reply.ok(Map.of("something", "else")));
        Pg.Run r = allow();
        assertEquals(3, r.exit(), r.all());
        assertTrue(r.err().contains("has no \"project\""), r.err());
    }

    @Test void aServerThatNeverAnswersEndsAtTheTimeout() {
        neon.on("GET /api/v2/projects/" + PROJECT, FakeApi.Reply.HANG);
        long start = System.nanoTime();
        Pg.Run r = allow("--api-timeout", "1");
        long seconds = (System.nanoTime() - start) / 1_000_000_000L;
        assertEquals(3, r.exit(), r.all());
        assertTrue(r.err().contains("did not answer") && r.err().contains("within 1 s"), r.err());
        assertTrue(seconds < 10, seconds + " s");
        assertEquals(1, neon.requests.size(), "a timeout is not retried");
    }

    @Test void anUnreachableApiIsExit3() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) { port = s.getLocalPort(); }
        Pg.Run r = FakeApi.run(script(), Map.of("NEON_API_KEY", FakeApi.NEON_KEY, "NEON_API_HOST", "http://127.0.0.1:" + port + "/api/v2"),
                "--project-id", PROJECT, "--region", "eu");
        assertEquals(3, r.exit(), r.all());
        assertTrue(r.err().contains("cannot reach Neon API at 127.0.0.1"), r.err());
    }

    @Test void theProjectIsFoundByItsEndpointAcrossPages() {
        List<Map<String, Object>> first = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
            String id = "p-" + i;
            first.add(Map.of("id", id, "name", "n" + i));
            neon.on("GET /api/v2/projects/" + id + "/endpoints", FakeApi.Reply.ok(Map.of("endpoints",
                    List.of(Map.of("id", "ep-other-" + i, "host", "ep-other-" + i + ".aws.neon.tech")))));
        }
        neon.on("GET /api/v2/projects", r -> r.query().contains("cursor=")
                ? FakeApi.Reply.ok(Map.of("projects", List.of(Map.of("id", PROJECT, "name", "shop")), "pagination", Map.of("cursor", PROJECT)))
                : FakeApi.Reply.ok(Map.of("projects", first, "pagination", Map.of("cursor", "p-399"))));
        neon.on("GET /api/v2/projects/" + PROJECT + "/endpoints", FakeApi.Reply.ok(Map.of("endpoints",
                List.of(Map.of("id", "ep-cool-darkness-123456", "type", "read_write")))));
        neon.neonProject(PROJECT, "shop", SETTINGS);

        Pg.Run r = FakeApi.run(script(), neon.neonEnv(), "--region", "eu",
                "--url", "postgresql://alex:" + Pg.OWNER_PASSWORD + "@ep-cool-darkness-123456-pooler.c-2.us-east-2.aws.neon.tech/db");
        assertEquals(0, r.exit(), r.all());
        List<FakeApi.Request> lists = neon.requests("GET /api/v2/projects");
        assertEquals(2, lists.size());
        assertEquals("limit=400", lists.get(0).query());
        assertEquals("limit=400&cursor=p-399", lists.get(1).query());
        assertEquals(1, neon.requests("PATCH /api/v2/projects/" + PROJECT).size());
        assertTrue(r.err().contains("belongs to project " + PROJECT), r.err());
    }

    @Test void anEndpointInNoProjectIsAClearError() {
        neon.on("GET /api/v2/projects", FakeApi.Reply.ok(Map.of("projects", List.of(Map.of("id", "p-1")), "pagination", Map.of())));
        neon.on("GET /api/v2/projects/p-1/endpoints", FakeApi.Reply.ok(Map.of("endpoints", List.of(Map.of("id", "ep-other-1")))));
        Pg.Run r = FakeApi.run(script(), neon.neonEnv(), "--region", "eu", "--host", "ep-cool-darkness-123456.us-east-2.aws.neon.tech");
        assertEquals(2, r.exit(), r.all());
        assertTrue(r.err().contains("none of the 1 Neon project(s)") && r.err().contains("--project-id"), r.err());
        assertEquals(List.of("GET /api/v2/projects", "GET /api/v2/projects/p-1/endpoints"), neon.log());
    }

    @Test void aKeyThatCannotListProjectsSaysToGiveTheProjectId() {
        neon.on("GET /api/v2/projects", FakeApi.Reply.json(400, Map.of("message", "org_id is required")));
        Pg.Run r = FakeApi.run(script(), neon.neonEnv(), "--region", "eu", "--host", "ep-cool-darkness-123456.us-east-2.aws.neon.tech");
        assertEquals(4, r.exit(), r.all());
        assertTrue(r.err().contains("org_id is required") && r.err().contains("--project-id"), r.err());
    }

    @Test void withoutProjectIdOrANeonHostItSaysWhatToGive() {
        Pg.Run r = FakeApi.run(script(), neon.neonEnv(), "--region", "eu");
        assertEquals(2, r.exit(), r.all());
        assertTrue(r.err().contains("--project-id"), r.err());
        assertEquals(List.of(), neon.log());
    }
}
