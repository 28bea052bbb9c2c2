import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * doctor --airbyte-connection against the fake Airbyte API and a database set up by setup: Airbyte's side is set
 * against what doctor sees, and each failure passes once its printed fix has run.
 */
class DoctorAirbyteTest {
    final FakeApi http = new FakeApi();

    DoctorAirbyteTest() throws Exception {}

    @AfterEach void stop() throws Exception {
        http.close();
        Pg.sql("postgres", "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'doctor%' AND NOT active");
    }

    /** A shop set up for CDC (slot doctor_slot), its source and a connection of its two tables, as Airbyte would hold them. */
    record Shop(FakeAirbyte airbyte, String source, String connection) {}

    Shop shop() throws Exception {
        String db = Fixtures.shop();
        Fixtures.setup(db);
        FakeAirbyte airbyte = new FakeAirbyte(http, db);
        String source = airbyte.source("shop", Pg.OWNER, List.of("public"), Fixtures.SLOT, "airbyte_publication");
        return new Shop(airbyte, source, airbyte.connection("shop", source, "public.customers incremental_deduped_history",
                "public.orders incremental_deduped_history"));
    }

    Pg.Run doctor(Shop s, String... more) {
        List<String> args = new ArrayList<>(List.of("--url", Pg.url(s.airbyte().db), "--slot", Fixtures.SLOT, "--json",
                "--airbyte-connection", s.connection(), "--api-url", http.url("")));
        args.addAll(List.of(more));
        Doctor d = new Doctor();
        d.airbyte.backoffMillis = 1;
        return FakeApi.run(d, s.airbyte().credentials(), args.toArray(String[]::new));
    }

    @Test void aConnectionThatReadsWhatDoctorSeesPasses() throws Exception {
        Shop s = shop();
        s.airbyte().finishedJob(s.connection(), "succeeded");
        Pg.Run r = doctor(s);
        assertEquals(0, r.exit(), r.all());
        for (String check : List.of("connection", "source", "streams", "initial wait", "lsn commit", "lost position", "last sync"))
            assertEquals("ok", Fixtures.status(r, "airbyte", check), check + " in " + r.out());
        assertTrue(Fixtures.finding(r, "airbyte", "last sync").get("message").asText().contains("succeeded"), r.out());
        assertEquals(List.of("GET " + FakeAirbyte.API + "/connections/" + s.connection(), "GET " + FakeAirbyte.API + "/sources/" + s.source(),
                "GET " + FakeAirbyte.API + "/jobs"), http.log().subList(1, 4));
        assertEquals("connectionId=" + s.connection() + "&jobType=sync&limit=1&orderBy=createdAt%7CDESC",
                http.requests("GET " + FakeAirbyte.API + "/jobs").get(0).query());
    }

    @Test void aSelectedStreamOutsideThePublicationFailsUntilThePrintedCommandPublishesIt() throws Exception {
        Shop s = shop();
        Fixtures.as(s.airbyte().db, "CREATE TABLE public.\"Line Items\" (id int PRIMARY KEY)");
        ((com.fasterxml.jackson.databind.node.ArrayNode) s.airbyte().connections.get(s.connection()).at("/configurations/streams")).addObject()
                .put("name", "Line Items").put("namespace", "public").put("syncMode", "incremental_deduped_history");
        Pg.Run r = doctor(s);
        assertEquals(1, r.exit(), r.all());
        assertEquals("fail", Fixtures.status(r, "airbyte", "streams"), r.out());
        assertTrue(Fixtures.finding(r, "airbyte", "streams").get("message").asText().contains("public.Line Items: their changes will never arrive"), r.out());
        Fixes.Ran ran = Fixes.apply(Fixtures.fix(r, "airbyte", "streams"), s.airbyte().db, Pg.OWNER, Pg.OWNER_PASSWORD);
        assertEquals(0, ran.exit(), ran.all());
        assertEquals("1", Pg.value(s.airbyte().db, "SELECT count(*) FROM pg_publication_tables WHERE tablename = 'Line Items'"));
        assertEquals("ok", Fixtures.status(doctor(s), "airbyte", "streams"));
    }

    @Test void aSourceReadingAnotherSlotFailsAndTheFixChecksThatOne() throws Exception {
        Shop s = shop();
        ((ObjectNode) s.airbyte().sources.get(s.source()).at("/configuration/replication_method")).put("replication_slot", "doctor_other");
        Pg.Run r = doctor(s);
        assertEquals(1, r.exit(), r.all());
        assertEquals("fail", Fixtures.status(r, "airbyte", "slot"), r.out());
        String fix = Fixtures.fix(r, "airbyte", "slot");
        assertTrue(fix.contains("jbang doctor ") && fix.contains("--slot doctor_other"), fix);
        Fixes.Ran ran = Fixes.apply(fix, s.airbyte().db, Pg.OWNER, Pg.OWNER_PASSWORD, s.airbyte().credentials());
        assertEquals("ok", Fixtures.status(ran.run(), "airbyte", "source"), "doctor now checks the slot Airbyte reads: " + ran.out());
        assertEquals("fail", Fixtures.status(ran.run(), "airbyte check", "slot query"), "which does not exist: " + ran.out());
    }

    @Test void theHeartbeatTableSelectedIsFineAndASchemaTheSourceLeavesOutFails() throws Exception {
        Shop s = shop();
        Fixtures.as(s.airbyte().db, "CREATE SCHEMA sales", "CREATE TABLE sales.invoices (id int PRIMARY KEY)",
                "CREATE TABLE public.airbyte_heartbeat (id int PRIMARY KEY, beat timestamptz)",
                "ALTER PUBLICATION airbyte_publication ADD TABLE sales.invoices, public.airbyte_heartbeat");
        ((com.fasterxml.jackson.databind.node.ArrayNode) s.airbyte().connections.get(s.connection()).at("/configurations/streams")).addObject()
                .put("name", "airbyte_heartbeat").put("namespace", "public").put("syncMode", "incremental_append");
        Pg.Run r = doctor(s);
        assertEquals("ok", Fixtures.status(r, "airbyte", "streams"), "the heartbeat table is published: " + r.out());
        assertEquals("fail", Fixtures.status(r, "airbyte", "schemas"), r.out());
        String fix = Fixtures.fix(r, "airbyte", "schemas");
        assertTrue(fix.contains("jbang airbyte-source ") && fix.contains("--workspace-id " + FakeAirbyte.WORKSPACE)
                && fix.contains("--role " + Pg.OWNER) && fix.contains("--schema public --schema sales")
                && fix.contains("--slot " + Fixtures.SLOT) && fix.contains("--api-url " + http.url("")), fix);
    }

    @Test void aFailedLastSyncIsExplainedByWhatDoctorFoundAndRiskySettingsAreWarnings() throws Exception {
        Shop s = shop();
        s.airbyte().finishedJob(s.connection(), "failed");
        ((ObjectNode) s.airbyte().sources.get(s.source()).at("/configuration/replication_method"))
                .put("lsn_commit_behaviour", "While reading Data").put("invalid_cdc_cursor_position_behavior", "Re-sync data");
        Pg.sql("postgres", "SELECT pg_drop_replication_slot('" + Fixtures.SLOT + "')");
        Pg.Run r = doctor(s);
        assertEquals(1, r.exit(), r.all());
        assertEquals("fail", Fixtures.status(r, "airbyte", "last sync"), r.out());
        assertTrue(Fixtures.fix(r, "airbyte", "last sync").contains("the slot failures above"), r.out());
        assertEquals("warn", Fixtures.status(r, "airbyte", "lsn commit"), r.out());
        assertTrue(Fixtures.finding(r, "airbyte", "lost position").get("message").asText().contains("synced again in full"), r.out());

        ((ObjectNode) s.airbyte().sources.get(s.source()).at("/configuration/replication_method")).put("publication", "other_publication");
        Pg.Run other = doctor(s);
        assertEquals("fail", Fixtures.status(other, "airbyte", "publication"), other.out());
        assertTrue(Fixtures.fix(other, "airbyte", "last sync").contains("the source's settings above"), other.out());
    }

    @Test void anApiThatCannotBeReachedIsNotKnownNeverOk() throws Exception {
        Shop s = shop();
        http.close();
        Pg.Run r = doctor(s, "--api-timeout", "1");
        assertEquals(0, r.exit(), "the database side is healthy: " + r.all());
        assertEquals("warn", Fixtures.status(r, "airbyte", "airbyte api"), r.out());
        assertTrue(Fixtures.finding(r, "airbyte", "airbyte api").get("message").asText().startsWith("not known: "), r.out());
    }

    @Test void withoutCredentialsItIsBadInputBeforeConnecting() throws Exception {
        Shop s = shop();
        Pg.Run r = FakeApi.run(new Doctor(), Map.of(), "--url", Pg.url(s.airbyte().db), "--airbyte-connection", s.connection());
        assertEquals(2, r.exit(), r.all());
        assertTrue(r.err().contains("AIRBYTE_CLIENT_ID"), r.err());
        assertEquals(List.of(), http.log());
    }
}
