import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * fleet against several real databases, some broken on purpose and one unreachable, and against the fake Neon API
 * for --neon-projects; slot-status's metrics checked against the text exposition format's rules.
 */
class FleetTest {
    @TempDir Path dir;
    final List<String> slots = new ArrayList<>();

    @AfterEach void dropSlots() throws Exception {
        for (String s : slots)
            Pg.sql("postgres", "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + s + "' AND NOT active");
    }

    /** The password as the targets file gets it: from the environment, never written in the file. */
    static final Map<String, String> ENV = Map.of("FLEET_PASSWORD", Pg.OWNER_PASSWORD);

    static String url(String db) { return "postgresql://" + Pg.OWNER + ":${FLEET_PASSWORD}@localhost:" + Pg.port() + "/" + db + "?sslmode=disable"; }

    Path targets(String... lines) throws Exception {
        Path f = dir.resolve("databases.txt");
        Files.writeString(f, "# the test's databases\n\n" + String.join("\n", lines) + "\n");
        return f;
    }

    Pg.Run fleet(Map<String, String> env, String... args) {
        Fleet f = new Fleet();
        Pg.Run r = Pg.run(f, env, args);
        assertFalse(r.all().contains(Pg.OWNER_PASSWORD), "a password was printed: " + r.all());
        return r;
    }

    /** A shop set up with its own slot, ready for Airbyte. */
    String ready(String slot) throws Exception {
        String db = Fixtures.shop();
        slots.add(slot);
        assertEquals(0, Pg.run(new Setup(), "--url", Pg.url(db), "--slot", slot).exit());
        return db;
    }

    @Test void everyTargetGetsALineAndOneFailureNeverStopsTheOthers() throws Exception {
        String good = ready("fleet_good"), broken = Fixtures.shop();
        Path f = targets("good " + url(good) + " --slot fleet_good", "broken " + url(broken),
                "gone postgresql://alex:${FLEET_PASSWORD}@localhost:" + Pg.freePort() + "/neondb?sslmode=disable");
        String before = Pg.catalog(broken);
        Pg.Run r = fleet(ENV, "doctor", "--targets", f.toString(), "--parallel", "2");
        assertEquals(1, r.exit(), r.all());
        List<String> lines = r.out().lines().toList();
        assertTrue(lines.get(0).matches("target +exit +verdict +first failure or error"), r.out());
        assertTrue(lines.get(1).matches("good +0 +ok.*"), r.out());
        assertTrue(lines.get(2).matches("broken +1 +not ready +tables/grant-access: .*|broken +1 +not ready +\\S+/\\S+: .*"), r.out());
        assertTrue(lines.get(3).matches("gone +3 +cannot connect +cannot connect to .*"), r.out());
        assertEquals("total: 3 target(s), 1 ok, 1 not ready, 1 cannot connect", lines.get(4));
        assertTrue(r.err().contains("fleet doctor: 3/3 done, 2 not 0"), r.err());
        assertEquals(before, Pg.catalog(broken), "doctor changes nothing");
    }

    @Test void aTargetsOwnOptionsReplaceTheSharedOnes() throws Exception {
        String a = Fixtures.shop(), b = Fixtures.shop();
        slots.addAll(List.of("fleet_shared", "fleet_own"));
        Path f = targets("a " + url(a), "b " + url(b) + " --slot fleet_own");
        Pg.Run r = fleet(ENV, "setup", "--targets", f.toString(), "--slot", "fleet_shared", "--json");
        assertEquals(0, r.exit(), r.all());
        assertEquals(List.of("fleet_shared"), Pg.column(a, "SELECT slot_name FROM pg_replication_slots WHERE database = current_database()"));
        assertEquals(List.of("fleet_own"), Pg.column(b, "SELECT slot_name FROM pg_replication_slots WHERE database = current_database()"));
        JsonNode doc = Fixtures.json(r);
        assertEquals("setup", doc.get("command").asText());
        assertEquals(List.of("a", "b"), List.of(doc.at("/targets/0/target").asText(), doc.at("/targets/1/target").asText()));
        assertEquals(0, doc.at("/targets/1/exitCode").asInt());
        assertTrue(doc.at("/targets/1/result/steps").isArray(), "the command's own JSON: " + doc);
    }

    @Test void badInputIsExit2BeforeAnyTargetRuns() throws Exception {
        String db = Fixtures.shop();
        String before = Pg.catalog(db);
        Path missingVar = targets("a " + url(db), "b postgresql://alex:${NOT_SET_ANYWHERE}@localhost/x");
        Pg.Run r = fleet(ENV, "setup", "--targets", missingVar.toString());
        assertEquals(2, r.exit(), r.all());
        assertEquals("fleet: databases.txt line 4: ${NOT_SET_ANYWHERE} is not set: export it (its value goes into the line as it is)", r.err().strip());
        Path badOption = targets("a " + url(db) + " --no-such-option");
        assertEquals(2, fleet(ENV, "setup", "--targets", badOption.toString()).exit());
        Path ok = targets("a " + url(db));
        for (String[] bad : List.of(new String[] {"teardown", "--targets", ok.toString()},
                new String[] {"vacuum", "--targets", ok.toString()},
                new String[] {"doctor", "--targets", ok.toString(), "--url", Pg.url(db)},
                new String[] {"doctor", "--targets", ok.toString(), "--format", "prometheus"},
                new String[] {"doctor", "--targets", ok.toString(), "--dbname", "postgres"},
                new String[] {"doctor", "--targets", ok.toString(), "-U", "postgres"},
                new String[] {"doctor", "--targets", ok.toString(), "--neon-projects", "all"},
                new String[] {"doctor", "--targets", ok.toString(), "--database", "x"},
                new String[] {"doctor", "--targets", ok.toString(), "--slot"},
                new String[] {"slot-status", "--targets", ok.toString(), "--warn-at", "5XB"},
                new String[] {"doctor", "--targets", targets("a " + url(db) + " --port 5433").toString()},
                new String[] {"doctor"})) {
            Pg.Run bad1 = fleet(ENV, bad);
            assertEquals(2, bad1.exit(), String.join(" ", bad) + ": " + bad1.all());
            assertEquals(1, bad1.err().strip().lines().count(), bad1.err());
        }
        assertEquals(before, Pg.catalog(db), "nothing ran");
    }

    @Test void aTargetsFileServesEveryCommandItsOptionsLeftOutWhereTheCommandHasNone() throws Exception {
        String db = ready("fleet_any");
        Path f = targets("a " + url(db) + " --slot fleet_any --schema public");
        Pg.Run r = fleet(ENV, "check-wal", "--targets", f.toString());
        assertEquals(0, r.exit(), r.all());
        assertTrue(r.err().contains("fleet: a: --slot fleet_any is not an option of check-wal: left out"), r.err());
        assertEquals(0, fleet(ENV, "slot-status", "--targets", f.toString(), "--format", "prometheus").exit(),
                "every target read: 0, however its slots look");
    }

    @Test void theHelpShowsTheTargetsFilesVariablesAsWrittenNeverTheirValues() {
        System.setProperty("DB07_PASSWORD", "value-of-a-variable");
        try {
            String help = Pg.run(new Fleet(), "--help").out();
            assertTrue(help.contains("alex:${DB07_PASSWORD}@ep-a-1") && help.contains("(# comments; ${VAR} from"), help);
            assertFalse(help.contains("value-of-a-variable") || help.contains("null"), help);
        } finally {
            System.clearProperty("DB07_PASSWORD");
        }
    }

    @Test void slotStatusGivesPrometheusMetricsPerTargetAndAScrapeSuccessForEach() throws Exception {
        String a = ready("fleet_metrics_a"), b = ready("fleet_metrics_b");
        Path f = targets("a " + url(a) + " --slot fleet_metrics_a", "b " + url(b) + " --slot fleet_metrics_b",
                "gone postgresql://alex:${FLEET_PASSWORD}@localhost:" + Pg.freePort() + "/neondb?sslmode=disable");
        Pg.Run r = fleet(ENV, "slot-status", "--targets", f.toString(), "--format", "prometheus");
        assertEquals(1, r.exit(), "a target could not be read: " + r.all());
        Map<String, Double> samples = exposition(r.out());
        assertEquals(1.0, samples.get("cdc_scrape_success{target=\"a\"}"));
        assertEquals(0.0, samples.get("cdc_scrape_success{target=\"gone\"}"));
        assertEquals(1.0, samples.get("cdc_slots{target=\"a\"}"));
        assertTrue(r.err().contains("fleet: gone: cannot connect to "), "the unread target's error: " + r.err());
        assertEquals(0.0, samples.get("cdc_slot_active{database=\"" + b + "\",slot=\"fleet_metrics_b\",target=\"b\"}"));
        assertEquals(1.0, samples.get("cdc_slot_wal_status{database=\"" + a + "\",slot=\"fleet_metrics_a\",target=\"a\",wal_status=\"reserved\"}"));
        double retained = samples.get("cdc_slot_wal_retained_bytes{database=\"" + a + "\",slot=\"fleet_metrics_a\",target=\"a\"}");
        assertEquals(Double.parseDouble(Pg.value(a, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) FROM pg_replication_slots "
                + "WHERE slot_name = 'fleet_metrics_a'")), retained, 1e6, "the bytes the server counts, give or take what was written since");
    }

    @Test void oneDatabasesMetricsEscapeItsLabels() throws Exception {
        String odd = "fleet \"odd\\name";
        Pg.sql("postgres", "CREATE DATABASE \"fleet \"\"odd\\name\" OWNER " + Pg.OWNER);
        slots.add("fleet_odd");
        Pg.sql(odd, "SELECT pg_create_logical_replication_slot('fleet_odd', 'pgoutput')");
        String url = "postgresql://" + Pg.OWNER + ":" + Pg.OWNER_PASSWORD + "@localhost:" + Pg.port() + "/"
                + java.net.URLEncoder.encode(odd, java.nio.charset.StandardCharsets.UTF_8).replace("+", "%20") + "?sslmode=disable";
        Pg.Run r = Pg.run(new SlotStatus(), "--url", url, "--format", "prometheus");
        assertEquals(0, r.exit(), r.all());
        Map<String, Double> samples = exposition(r.out());
        assertEquals(0.0, samples.get("cdc_slot_active{database=\"fleet \\\"odd\\\\name\",slot=\"fleet_odd\",target=\"localhost/fleet \\\"odd\\\\name\"}"), r.out());
        Pg.Run none = Pg.run(new SlotStatus(), "--url", url, "--format", "prometheus", "--slot", "fleet_gone");
        assertEquals(0, none.exit(), "a slot that is not there is what the metrics say, as Neon's dropping one: " + none.all());
        assertEquals(0.0, exposition(none.out()).get("cdc_slots{target=\"localhost/fleet \\\"odd\\\\name\"}"), none.out());
        Pg.sql(odd, "SELECT pg_drop_replication_slot('fleet_odd')");
        Pg.sql("postgres", "DROP DATABASE \"fleet \"\"odd\\name\"");
    }

    @Test void neonProjectsAreTargetsThroughTheConnectionStringsNeonGives() throws Exception {
        String db = ready("fleet_neon");
        try (FakeApi neon = new FakeApi()) {
            neon.on("GET /api/v2/projects", FakeApi.Reply.ok(Map.of("projects", List.of(Map.of("id", "old-fire-1", "name", "one"),
                    Map.of("id", "young-sea-2", "name", "two")), "pagination", Map.of("cursor", "young-sea-2"))));
            for (String id : List.of("old-fire-1", "young-sea-2"))
                neon.on("GET /api/v2/projects/" + id + "/connection_uri", FakeApi.Reply.ok(Map.of("uri", "postgresql://" + Pg.OWNER + ":"
                        + Pg.OWNER_PASSWORD + "@localhost:" + Pg.port() + "/" + db + "?sslmode=disable")));
            Map<String, String> env = new HashMap<>(neon.neonEnv());
            Pg.Run r = fleet(env, "slot-status", "--neon-projects", "all", "--role", Pg.OWNER, "--database", db, "--slot", "fleet_neon");
            assertEquals(1, r.exit(), "the slot is inactive, a warning: " + r.all());
            assertTrue(r.out().lines().anyMatch(l -> l.matches("old-fire-1 +1 +not ready +\\(warn\\) slot fleet_neon/active: .*")), r.out());
            assertTrue(r.out().lines().anyMatch(l -> l.startsWith("young-sea-2 ")), r.out());
            FakeApi.Request uri = neon.requests("GET /api/v2/projects/old-fire-1/connection_uri").get(0);
            assertEquals("database_name=" + db + "&role_name=" + Pg.OWNER, uri.query());
            assertEquals("Bearer " + FakeApi.NEON_KEY, uri.header("Authorization"));
            assertFalse(r.all().contains(FakeApi.NEON_KEY));
        }
    }

    /**
     * The text exposition format's rules: every line a # HELP, a # TYPE or a sample; a family's HELP and TYPE once each,
     * before its samples; names and label names as the format allows, label values escaped. Returns the samples.
     */
    static Map<String, Double> exposition(String text) {
        Pattern help = Pattern.compile("# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)"), type = Pattern.compile("# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (gauge|counter|untyped)");
        Pattern sample = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(?:[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\\\n]|\\\\[\"\\\\n])*\",?)*})? (\\S+)");
        Map<String, Double> samples = new LinkedHashMap<>();
        List<String> helped = new ArrayList<>(), typed = new ArrayList<>();
        for (String line : text.lines().toList()) {
            Matcher m;
            if ((m = help.matcher(line)).matches()) {
                assertFalse(helped.contains(m.group(1)), "HELP twice: " + line);
                helped.add(m.group(1));
            } else if ((m = type.matcher(line)).matches()) {
                assertFalse(typed.contains(m.group(1)), "TYPE twice: " + line);
                typed.add(m.group(1));
            } else if ((m = sample.matcher(line)).matches()) {
                assertTrue(typed.contains(m.group(1)) && helped.contains(m.group(1)), "a sample before its HELP and TYPE: " + line);
                samples.put(m.group(1) + (m.group(2) == null ? "" : m.group(2)), Double.parseDouble(m.group(3)));
            } else fail("not a line of the text format: " + line);
        }
        assertFalse(samples.isEmpty(), text);
        return samples;
    }
}
