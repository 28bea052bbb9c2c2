import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every alias once through the repo's own launcher, as a user meets it: catalog, //SOURCES and //DEPS wiring. It runs
 * from a directory outside the repository, where JBang finds no catalog: the launcher itself resolves the aliases.
 */
class LauncherTest {
    static String db;
    /** The aliases run through the launcher so far. */
    static final java.util.Set<String> RAN = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** The aliases of jbang-catalog.json. */
    static java.util.Set<String> catalog() throws IOException {
        java.util.Set<String> names = new java.util.TreeSet<>();
        new ObjectMapper().readTree(Pg.repoRoot().resolve("jbang-catalog.json").toFile()).get("aliases").fieldNames().forEachRemaining(names::add);
        return names;
    }

    @BeforeAll static void database() throws Exception {
        db = Pg.freshDatabase("launcher");
        Pg.sql(db, "CREATE TABLE public.orders (id int PRIMARY KEY)", "ALTER TABLE public.orders OWNER TO " + Pg.OWNER);
    }

    record Result(int exit, String out, String err) {}

    static Result jbang(String... args) throws IOException, InterruptedException { return jbang(java.util.Map.of(), args); }

    static Result jbang(java.util.Map<String, String> env, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Pg.repoRoot().resolve("jbang").toString()));
        cmd.addAll(List.of(args));
        RAN.add(args[0]);
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(java.nio.file.Files.createTempDirectory("elsewhere").toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("PG") || k.equals("DATABASE_URL"));
        pb.environment().put("NO_COLOR", "1");
        pb.environment().putAll(env);
        java.nio.file.Path err = java.nio.file.Files.createTempFile("jbang", ".err");
        Process p = pb.redirectError(err.toFile()).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int exit = p.waitFor();
        return new Result(exit, out, java.nio.file.Files.readString(err));
    }

    @Test void everyAliasRunsThroughTheLauncher() throws Exception {
        String url = Pg.url(db);
        Result wal = jbang("check-wal", "--url", url);
        assertEquals(0, wal.exit(), wal.out() + wal.err());

        String before = Pg.catalog(db);
        Result dry = jbang("setup", "--url", url, "--dry-run");
        assertEquals(0, dry.exit(), dry.out() + dry.err());
        assertEquals(before, Pg.catalog(db));

        for (String alias : List.of("grant-access", "create-publication", "create-slot")) {
            Result r = jbang(alias, "--url", url, "--json");
            assertEquals(0, r.exit(), alias + ": " + r.out() + r.err());
        }
        assertEquals(List.of("public.orders"), Pg.column(db, "SELECT schemaname || '.' || tablename FROM pg_publication_tables"));
        assertEquals("pgoutput", Pg.value(db, "SELECT plugin FROM pg_replication_slots WHERE slot_name = 'airbyte_slot'"));

        Result source = jbang("airbyte-source", "--url", url);
        assertEquals(0, source.exit(), source.err());
        assertEquals(db, new ObjectMapper().readTree(source.out()).get("database").asText());

        try (FakeApi neon = new FakeApi(); FakeApi airbyte = new FakeApi()) {
            neon.neonProject("old-fire-32990194", "shop", "{\"allowed_ips\": {\"ips\": [\"203.0.113.7\"]}}");
            Result allow = jbang(neon.neonEnv(), "allow-airbyte-ips", "--project-id", "old-fire-32990194", "--region", "eu");
            assertEquals(0, allow.exit(), allow.out() + allow.err());
            assertEquals(4, neon.project("old-fire-32990194").path("settings").path("allowed_ips").path("ips").size());
            airbyte.on("GET /v1/sources", FakeApi.Reply.ok(java.util.Map.of("data", List.of())));
            airbyte.on("POST /v1/sources", FakeApi.Reply.ok(java.util.Map.of("sourceId", "new-id")));
            Result create = jbang(java.util.Map.of("AIRBYTE_API_TOKEN", FakeApi.AIRBYTE_TOKEN), "airbyte-source", "--url", url,
                    "--create", "--workspace-id", "w-1", "--api-url", airbyte.url("/v1"));
            assertEquals(0, create.exit(), create.out() + create.err());
            assertEquals("new-id", create.out().strip());
            FakeAirbyte fake = new FakeAirbyte(airbyte, db);
            fake.source("shop", Pg.OWNER, List.of("public"), "airbyte_slot", "airbyte_publication");
            Result connection = jbang(java.util.Map.of("AIRBYTE_API_TOKEN", FakeApi.AIRBYTE_TOKEN), "airbyte-connection", "--url", url,
                    "--workspace-id", FakeAirbyte.WORKSPACE, "--source-name", "shop", "--destination-id", FakeAirbyte.DESTINATION,
                    "--api-url", airbyte.url(""), "--sync");
            assertEquals(0, connection.exit(), connection.out() + connection.err());
            assertEquals(List.of("public.orders"), fake.connections.values().stream().flatMap(c -> AirbyteConnectionTest.streams(c).stream())
                    .map(s -> s.split(" ")[0]).toList());
            assertEquals(1, fake.jobs.size(), "the sync was started");
            for (Result r : List.of(allow, create, connection))
                for (String secret : FakeApi.SECRETS) assertFalse((r.out() + r.err()).contains(secret));
        }

        Path targets = Files.createTempFile("targets", ".txt");
        Files.writeString(targets, "shop " + url.replace(Pg.OWNER_PASSWORD, "${SHOP_PASSWORD}") + "\n");
        Result fleet = jbang(java.util.Map.of("SHOP_PASSWORD", Pg.OWNER_PASSWORD), "fleet", "check-wal", "--targets", targets.toString());
        assertEquals(0, fleet.exit(), fleet.out() + fleet.err());
        assertTrue(fleet.out().lines().anyMatch(l -> l.matches("shop +0 +ok.*")), fleet.out());

        Result again = jbang("setup", "--url", url);
        assertEquals(0, again.exit(), again.out() + again.err());
        Result doctor = jbang("doctor", "--url", url, "--deep");
        assertEquals(0, doctor.exit(), doctor.out() + doctor.err());
        Result status = jbang("slot-status", "--url", url, "--json");
        assertEquals(1, status.exit(), "the slot is inactive: " + status.out() + status.err());
        assertEquals("airbyte_slot", new ObjectMapper().readTree(status.out()).get("slots").get(0).get("slot").asText());
        Result teardown = jbang("teardown", "--url", url, "--yes");
        assertEquals(0, teardown.exit(), teardown.out() + teardown.err());
        assertEquals(List.of(), Pg.column(db, "SELECT slot_name FROM pg_replication_slots WHERE slot_name = 'airbyte_slot'"));
        for (Result r : List.of(wal, dry, source, fleet, again, doctor, status, teardown)) assertFalse((r.out() + r.err()).contains(Pg.OWNER_PASSWORD));

        // The catalog is walked: an alias added to it without a run here fails this test.
        java.util.Set<String> missing = catalog();
        missing.removeAll(RAN);
        missing.remove("demo"); // its own test below
        assertEquals(java.util.Set.of(), missing, "aliases of jbang-catalog.json that no launcher test runs");
    }

    @Test void thePasswordComesFromAPgpassFile() throws Exception {
        java.nio.file.Path pgpass = java.nio.file.Files.createTempFile("pgpass", "");
        java.nio.file.Files.writeString(pgpass, "localhost:" + Pg.port() + ":" + db + ":" + Pg.OWNER + ":" + Pg.OWNER_PASSWORD + "\n");
        String url = "postgresql://" + Pg.OWNER + "@localhost:" + Pg.port() + "/" + db + "?sslmode=disable";
        Result r = jbang(java.util.Map.of("PGPASSFILE", pgpass.toString()), "check-wal", "--url", url);
        assertEquals(0, r.exit(), r.out() + r.err());
        assertEquals(3, jbang("check-wal", "--url", url, "--wait", "0").exit(), "without the file there is no password");
        Result prompt = jbang("check-wal", "--url", url, "--password"); // no terminal: stdin is closed
        assertEquals(2, prompt.exit(), prompt.out() + prompt.err());
        assertTrue(prompt.err().contains("read no password") && prompt.err().contains("PGPASSWORD"), prompt.err());
        assertTrue(prompt.err().startsWith("Password for user alex: ") && prompt.out().isEmpty(), "the prompt is never on stdout: "
                + prompt.out());
    }

    /**
     * A Neon pooler host, which no DNS here knows: the JVMs resolve it to 127.0.0.1 through a hosts file
     * (jdk.net.hosts.file). doctor connects through the name and warns that replication needs the direct host.
     */
    @Test void doctorOnANeonPoolerHostNamesTheDirectHost() throws Exception {
        String pooler = "ep-pooled-test-123456-pooler.us-east-2.aws.neon.tech", direct = pooler.replace("-pooler", "");
        java.nio.file.Path hosts = java.nio.file.Files.createTempFile("hosts", "");
        java.nio.file.Files.writeString(hosts, "127.0.0.1 " + pooler + "\n");
        String url = "postgresql://" + Pg.OWNER + ":" + Pg.OWNER_PASSWORD + "@" + pooler + ":" + Pg.port() + "/" + db + "?sslmode=disable";
        Result r = jbang(java.util.Map.of("JAVA_TOOL_OPTIONS", "-Djdk.net.hosts.file=" + hosts), "doctor", "--url", url, "--json");
        var findings = new ObjectMapper().readTree(r.out()).get("steps");
        List<String> hostFixes = new ArrayList<>();
        String connected = null;
        for (var step : findings)
            for (var f : step.get("findings")) {
                if (f.get("check").asText().equals("host")) hostFixes.add(f.get("status").asText() + ": " + f.get("fix").asText());
                if (f.get("check").asText().equals("connected")) connected = f.get("message").asText();
            }
        assertEquals(List.of("warn: use " + direct + " in --url and in Airbyte"), hostFixes, r.out() + r.err());
        assertTrue(connected != null && connected.endsWith(" on " + pooler + ":" + Pg.port()), r.out());
    }

    @Test void theDemoShowsChangesArrivingThroughTheSlot() throws Exception {
        Result demo = jbang("demo");
        assertEquals(0, demo.exit(), demo.out() + demo.err());
        assertEquals(5, demo.out().lines().filter(l -> l.strip().startsWith("cdc<")).count(), demo.out());
    }
}
