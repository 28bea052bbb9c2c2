import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

@org.junit.jupiter.api.Tag(AllTests.MAJORS) // its behaviour depends on the major: see tests/README.md
class SlotStatusTest {
    /** Slots are cluster-wide: end any stream a test left (waiting for its walsender to exit), then drop ours. */
    @AfterEach void dropSlots() throws Exception {
        Pg.sql("postgres", "SELECT pg_terminate_backend(active_pid, 10000) FROM pg_replication_slots WHERE slot_name LIKE 'status%' AND active",
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'status%'");
    }

    /** A database with a published table and, when given, a pgoutput slot made after the publication. */
    static String database(String slot) throws Exception {
        String db = Pg.freshDatabase("status");
        Pg.sql(db, "SET ROLE " + Pg.OWNER, "CREATE TABLE public.t (id int PRIMARY KEY, note text)",
                "CREATE PUBLICATION airbyte_publication FOR TABLE public.t");
        if (slot != null) Pg.sql(db, "SELECT pg_create_logical_replication_slot('" + slot + "', 'pgoutput')");
        return db;
    }

    static Pg.Run status(String db, String... more) {
        String[] args = new String[more.length + 2];
        args[0] = "--url";
        args[1] = Pg.url(db);
        System.arraycopy(more, 0, args, 2, more.length);
        return Pg.run(new SlotStatus(), args);
    }

    static CdcStream stream(String db, String slot) throws Exception {
        Db target = new Db();
        target.url = Pg.url(db);
        return CdcStream.open(target.target(), slot, "airbyte_publication");
    }

    /** Enough rows to move the server's WAL position by tens of kB. */
    static void write(String db) throws Exception {
        try (Connection c = Pg.as(db, Pg.OWNER, Pg.OWNER_PASSWORD); Statement st = c.createStatement()) {
            st.execute("INSERT INTO public.t SELECT i, repeat('x', 100) FROM generate_series(1, 1000) i");
        }
    }

    static long retained(String db, String slot) throws Exception {
        return Long.parseLong(Pg.value(db, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint "
                + "FROM pg_replication_slots WHERE slot_name = '" + slot + "'"));
    }

    @Test void anInactiveSlotWarns() throws Exception {
        String db = database("status_idle");
        Pg.Run r = status(db);
        assertEquals(1, r.exit(), r.all());
        assertTrue(r.out().contains("slot status_idle"), r.out());
        assertTrue(r.out().contains("no consumer is connected"), r.out());
        assertFalse(r.out().contains("40 hours"), "not Neon: " + r.out());
    }

    @Test void onNeonAnInactiveSlotWarnsOfThe40HourRule() throws Exception {
        String db = database("status_neon");
        Pg.sql("postgres", "ALTER DATABASE " + db + " SET neon.endpoint_id = 'ep-cool-darkness-123456'");
        Pg.Run r = status(db);
        assertEquals(1, r.exit(), r.all());
        assertTrue(r.out().contains("Neon drops a slot that has not advanced for about 40 hours"), r.out());
    }

    @Test void anActiveSlotUnderTheThresholdIsOkAndNamesItsConsumer() throws Exception {
        String db = database("status_live");
        try (CdcStream s = stream(db, "status_live")) {
            String pid = Pg.value("postgres", "SELECT pid FROM pg_stat_replication WHERE pid = "
                    + "(SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'status_live')");
            assertNotNull(pid);
            Pg.Run r = status(db, "--slot", "status_live");
            assertEquals(0, r.exit(), r.all());
            assertTrue(r.out().contains("yes, pid " + pid + " (user " + Pg.OWNER), r.out());
            assertTrue(r.out().contains("progress hidden"), "alex lacks pg_read_all_stats: " + r.out());

            Pg.sql("postgres", "GRANT pg_read_all_stats TO " + Pg.OWNER);
            try {
                JsonNode slot = new ObjectMapper().readTree(status(db, "--slot", "status_live", "--json").out()).get("slots").get(0);
                assertTrue(slot.get("active").asBoolean());
                assertEquals(Long.parseLong(pid), slot.get("activePid").asLong());
                JsonNode consumer = slot.get("consumer");
                assertEquals(Pg.OWNER, consumer.get("user").asText());
                assertTrue(List.of("catchup", "streaming").contains(consumer.get("state").asText()), consumer.toString());
                assertTrue(consumer.get("sentLsn").asText().matches("[0-9A-F]+/[0-9A-F]+"), consumer.toString());
                assertTrue(consumer.get("sentNotConfirmedBytes").isNumber(), consumer.toString());
            } finally {
                Pg.sql("postgres", "REVOKE pg_read_all_stats FROM " + Pg.OWNER);
            }
        }
    }

    @Test void moreRetainedWalThanWarnAtWarns() throws Exception {
        String db = database("status_grow");
        try (CdcStream s = stream(db, "status_grow")) {
            write(db);
            long held = retained(db, "status_grow");
            assertTrue(held > 16 * 1024, "the writes grew the retained WAL: " + held);
            assertEquals(0, status(db, "--slot", "status_grow", "--warn-at", held + 1_000_000 + "").exit(), "under the threshold");
            Pg.Run r = status(db, "--slot", "status_grow", "--warn-at", "16kB");
            assertEquals(1, r.exit(), r.all());
            assertTrue(r.out().contains("more than --warn-at 16 kB"), r.out());
        }
    }

    @Test void jsonCarriesTheNumbers() throws Exception {
        String db = database("status_json");
        write(db);
        long before = retained(db, "status_json");
        Pg.Run r = status(db, "--json", "--warn-at", "2MB");
        long after = retained(db, "status_json");
        assertEquals(1, r.exit(), r.all());
        JsonNode json = new ObjectMapper().readTree(r.out());
        assertEquals(1, json.get("exitCode").asInt());
        assertEquals(2L * 1024 * 1024, json.get("warnAtBytes").asLong());
        JsonNode slot = json.get("slots").get(0);
        assertEquals("status_json", slot.get("slot").asText());
        assertEquals("pgoutput", slot.get("plugin").asText());
        assertFalse(slot.get("active").asBoolean());
        assertTrue(slot.get("consumer").isNull());
        assertEquals(Pg.value(db, "SELECT restart_lsn::text FROM pg_replication_slots WHERE slot_name = 'status_json'"),
                slot.get("restartLsn").asText());
        long shown = slot.get("retainedBytes").asLong();
        assertTrue(shown >= before && shown <= after, before + " <= " + shown + " <= " + after);
        assertEquals(Pg.major() >= 17, !slot.get("inactiveSince").isNull(), "inactive_since exists from PostgreSQL 17");
    }

    @Test void watchRefreshes() throws Exception {
        String db = database("status_watch");
        Pg.Run r = status(db, "--watch", "1", "--count", "2");
        assertEquals(1, r.exit(), r.all());
        assertEquals(2, r.out().lines().filter(l -> l.equals("slot status_watch")).count(), r.out());
        assertEquals(2, r.out().lines().filter(l -> l.matches("every 1 s, Ctrl-C to stop: \\d\\d:\\d\\d:\\d\\d")).count(), r.out());
    }

    @Test void badWarnAtIsBadInputBeforeConnecting() {
        for (String bad : new String[] {"1 GiB", "lots", "-1GB", "1G", ""}) {
            Pg.Run r = Pg.run(new SlotStatus(), "--url", "postgresql://alex@localhost:1/x", "--wait", "0", "--warn-at", bad);
            assertEquals(2, r.exit(), bad + ": " + r.all());
        }
        assertEquals(1536L * 1024 * 1024, SlotStatus.bytes("--warn-at", "1.5GB"));
        assertEquals(512 * 1024, SlotStatus.bytes("--warn-at", "512 kB"));
    }

    @Test void anUnknownSlotIsBadInputNamingTheSlotsThereAre() throws Exception {
        String db = database("status_known");
        Pg.Run r = status(db, "--slot", "status_nope");
        assertEquals(2, r.exit(), r.all());
        assertTrue(r.err().contains("status_nope") && r.err().contains("status_known"), r.err());
    }

    @Test void noLogicalSlotIsNotReadyWithTheFix() throws Exception {
        String db = database(null);
        Pg.Run r = status(db);
        assertEquals(1, r.exit(), r.all());
        assertTrue(r.out().contains("jbang create-slot"), r.out());
    }
}
