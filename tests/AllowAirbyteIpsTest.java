import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** allow-airbyte-ips against a fake Neon API that keeps the project's allowlist: read, merge, write back. */
class AllowAirbyteIpsTest {
    static final String PROJECT = "old-fire-32990194";
    final FakeApi neon = new FakeApi();

    AllowAirbyteIpsTest() throws Exception {}

    @AfterEach void stop() { neon.close(); }

    Pg.Run allow(String... args) {
        AllowAirbyteIps s = new AllowAirbyteIps();
        s.neon.backoffMillis = 1;
        return FakeApi.run(s, neon.neonEnv(), args);
    }

    List<String> allowlist() {
        List<String> ips = new ArrayList<>();
        neon.project(PROJECT).path("settings").path("allowed_ips").path("ips").forEach(n -> ips.add(n.asText()));
        return ips;
    }

    @Test void addsTheMissingAddressesAndKeepsEveryOneThatWasThere() {
        List<String> before = List.of("203.0.113.7", "198.51.100.0/24", "192.0.2.10-192.0.2.20", "13.37.4.46");
        neon.neonProject(PROJECT, "shop", "{\"allowed_ips\": {\"ips\": " + json(before) + ", \"protected_branches_only\": true},"
                + " \"enable_logical_replication\": true}");
        Pg.Run r = allow("--project-id", PROJECT, "--region", "eu");
        assertEquals(0, r.exit(), r.all());

        assertEquals(List.of("GET /api/v2/projects/" + PROJECT, "PATCH /api/v2/projects/" + PROJECT), neon.log());
        FakeApi.Request patch = neon.requests.get(1);
        assertEquals("Bearer " + FakeApi.NEON_KEY, patch.header("Authorization"));
        assertEquals("application/json", patch.header("Content-Type"));
        JsonNode sent = patch.json().path("project").path("settings").path("allowed_ips");
        List<String> ips = new ArrayList<>();
        sent.path("ips").forEach(n -> ips.add(n.asText()));
        for (String ip : before) assertTrue(ips.contains(ip), "the PATCH lost " + ip + ": " + ips);
        assertEquals(List.of("203.0.113.7", "198.51.100.0/24", "192.0.2.10-192.0.2.20", "13.37.4.46", "13.37.142.60", "35.181.124.238"), ips);
        assertTrue(sent.path("protected_branches_only").asBoolean(), "protected_branches_only kept");
        assertEquals(1, patch.json().path("project").path("settings").size(), "only the allowlist is sent: " + patch.body());

        assertEquals(ips, allowlist());
        assertTrue(neon.project(PROJECT).path("settings").path("enable_logical_replication").asBoolean());
        assertTrue(r.out().contains("before               4 address(es): 203.0.113.7"), r.out());
        assertTrue(r.out().contains("after                6 address(es): "), r.out());
    }

    @Test void aSecondRunSendsNothing() {
        neon.neonProject(PROJECT, "shop", "{\"allowed_ips\": {\"ips\": [\"203.0.113.7\"], \"protected_branches_only\": false}}");
        assertEquals(0, allow("--project-id", PROJECT, "--region", "all").exit());
        List<String> once = allowlist();
        assertEquals(1 + AirbyteApi.US.size() + AirbyteApi.EU.size(), once.size());
        neon.requests.clear();
        Pg.Run again = allow("--project-id", PROJECT, "--region", "all");
        assertEquals(0, again.exit(), again.all());
        assertEquals(List.of("GET /api/v2/projects/" + PROJECT), neon.log());
        assertTrue(again.out().contains("already done"), again.out());
        assertEquals(once, allowlist());
    }

    @Test void anAddressInsideARangeOrCidrAlreadyThereIsNotAddedAgain() {
        neon.neonProject(PROJECT, "shop", "{\"allowed_ips\": {\"ips\": [\"13.37.0.0/16\", \"35.181.124.230-35.181.124.240\"]}}");
        Pg.Run r = allow("--project-id", PROJECT, "--region", "eu");
        assertEquals(0, r.exit(), r.all());
        assertEquals(List.of("GET /api/v2/projects/" + PROJECT), neon.log());
        assertTrue(AllowAirbyteIps.covered("34.33.7.0/29", List.of("34.33.0.0/16")));
        assertFalse(AllowAirbyteIps.covered("34.33.7.0/29", List.of("34.33.7.4")));
        assertFalse(AllowAirbyteIps.covered("34.33.7.0/29", List.of("34.33.7.0/30")));
        assertFalse(AllowAirbyteIps.covered("13.37.4.46", List.of("2001:db8::/32", "not-an-ip", "13.37.4.47")));
    }

    @Test void anEmptyAllowlistIsNotTurnedIntoOnlyAirbyteWithoutRestrict() {
        neon.neonProject(PROJECT, "shop", "{\"allowed_ips\": {\"ips\": [], \"protected_branches_only\": false}}");
        Pg.Run r = allow("--project-id", PROJECT, "--region", "us");
        assertEquals(1, r.exit(), r.all());
        assertTrue(r.out().contains("every address may connect"), r.out());
        assertTrue(r.out().contains("--restrict"), r.out());
        assertEquals(List.of("GET /api/v2/projects/" + PROJECT), neon.log());
        assertEquals(List.of(), allowlist());

        r = allow("--project-id", PROJECT, "--region", "us", "--restrict");
        assertEquals(0, r.exit(), r.all());
        assertEquals(AirbyteApi.US, allowlist());
        assertFalse(neon.requests.get(neon.requests.size() - 1).json().path("project").path("settings").path("allowed_ips")
                .path("protected_branches_only").asBoolean(true));
    }

    @Test void noAllowlistAtAllCountsAsEmpty() {
        neon.neonProject(PROJECT, "shop", "{}");
        assertEquals(1, allow("--project-id", PROJECT, "--region", "eu").exit());
        assertEquals(1, neon.requests.size());
    }

    @Test void dryRunPrintsThePatchItWouldSendAndSendsIt() throws Exception {
        neon.neonProject(PROJECT, "shop", "{\"allowed_ips\": {\"ips\": [\"203.0.113.7\"], \"protected_branches_only\": false}}");
        Pg.Run r = allow("--project-id", PROJECT, "--region", "eu", "--dry-run", "--json");
        assertEquals(0, r.exit(), r.all());
        assertEquals(List.of("GET /api/v2/projects/" + PROJECT), neon.log());
        JsonNode request = FakeApi.JSON.readTree(r.out()).get("request");
        assertEquals("PATCH", request.get("method").asText());
        assertEquals(neon.url("/api/v2/projects/" + PROJECT), request.get("url").asText());
        assertEquals("Bearer $NEON_API_KEY", request.get("headers").get("Authorization").asText());
        assertEquals(FakeApi.JSON.readTree("{\"project\": {\"settings\": {\"allowed_ips\": {\"ips\": [\"203.0.113.7\", \"13.37.4.46\", "
                + "\"13.37.142.60\", \"35.181.124.238\"], \"protected_branches_only\": false}}}}"), request.get("body"));
        assertEquals(List.of("203.0.113.7"), allowlist());

        Pg.Run text = allow("--project-id", PROJECT, "--region", "eu", "--dry-run");
        assertTrue(text.out().contains("allow-airbyte-ips (dry run)") && text.out().contains("would be 4 address(es)"), text.out());
        assertEquals(2, neon.requests.size());
    }

    @Test void theProjectIdCanComeFromNeonProjectId() {
        neon.neonProject(PROJECT, "shop", "{\"allowed_ips\": {\"ips\": [\"203.0.113.7\"]}}");
        Map<String, String> env = new java.util.HashMap<>(neon.neonEnv());
        env.put("NEON_PROJECT_ID", PROJECT);
        AllowAirbyteIps s = new AllowAirbyteIps();
        Pg.Run r = FakeApi.run(s, env, "--region", "eu");
        assertEquals(0, r.exit(), r.all());
        assertEquals(4, allowlist().size());
    }

    @Test void aWrongOrMissingRegionIsBadInputAndNothingIsSent() {
        assertEquals(2, allow("--project-id", PROJECT, "--region", "asia").exit());
        assertEquals(2, allow("--project-id", PROJECT).exit());
        assertEquals(2, allow("--project-id", "no such/project", "--region", "eu").exit());
        assertEquals(List.of(), neon.log());
    }

    static String json(List<String> l) {
        try {
            return FakeApi.JSON.writeValueAsString(l);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
