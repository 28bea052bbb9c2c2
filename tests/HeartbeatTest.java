import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The heartbeat table keeps a quiet database's slot advancing, which Airbyte needs between syncs. */
class HeartbeatTest {
    static final String SLOT = "heartbeat_test";

    @org.junit.jupiter.api.BeforeAll static void role() throws Exception {
        Pg.sql("postgres", "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'Air Byte') THEN "
                + "CREATE ROLE \"Air Byte\" LOGIN REPLICATION PASSWORD 'Air-Byte-pw-5521'; END IF; END $$");
    }

    @AfterEach void dropSlot() throws Exception {
        Pg.sql("postgres", "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + SLOT + "' AND NOT active");
    }

    static String database() throws Exception {
        String db = Pg.freshDatabase("heartbeat");
        Pg.sql(db, "CREATE TABLE public.orders (id int PRIMARY KEY)", "ALTER TABLE public.orders OWNER TO " + Pg.OWNER);
        return db;
    }

    @Test void createPublicationMakesPublishesAndGrantsTheTableOnce() throws Exception {
        String db = database();
        Pg.Run r = Pg.run(new CreatePublication(), "--url", Pg.url(db), "--heartbeat", "--role", "Air Byte");
        assertEquals(0, r.exit(), r.all());
        assertEquals(List.of("public.airbyte_heartbeat", "public.orders"), Pg.column(db,
                "SELECT schemaname || '.' || tablename FROM pg_publication_tables ORDER BY 1"));
        assertEquals("t", Pg.value(db, "SELECT has_table_privilege('Air Byte', 'public.airbyte_heartbeat', 'INSERT')"
                + " AND has_table_privilege('Air Byte', 'public.airbyte_heartbeat', 'UPDATE')"));
        assertEquals(Pg.OWNER, Pg.value(db, "SELECT relowner::regrole::text FROM pg_class WHERE oid = 'public.airbyte_heartbeat'::regclass"));

        String before = Pg.catalog(db);
        Pg.Run again = Pg.run(new CreatePublication(), "--url", Pg.url(db), "--heartbeat", "--role", "Air Byte");
        assertEquals(0, again.exit(), again.all());
        assertEquals(before, Pg.catalog(db));
    }

    @Test void dryRunCreatesNoTable() throws Exception {
        String db = database();
        String before = Pg.catalog(db);
        Pg.Run r = Pg.run(new CreatePublication(), "--url", Pg.url(db), "--heartbeat", "--dry-run");
        assertEquals(0, r.exit(), r.all());
        assertTrue(r.out().contains("CREATE TABLE \"public\".\"airbyte_heartbeat\""), r.out());
        assertEquals(before, Pg.catalog(db));
    }

    @Test void aTableOfThatNameWithOtherColumnsIsNotTakenOver() throws Exception {
        String db = database();
        Pg.sql(db, "CREATE TABLE public.airbyte_heartbeat (ts timestamptz)", "ALTER TABLE public.airbyte_heartbeat OWNER TO " + Pg.OWNER);
        String before = Pg.catalog(db);
        assertEquals(1, Pg.run(new CreatePublication(), "--url", Pg.url(db), "--heartbeat").exit());
        assertEquals(before, Pg.catalog(db));
    }

    /** With no other writes, Airbyte's heartbeat query gives the slot a change to confirm, and the slot advances. */
    @Test void theHeartbeatQueryAdvancesTheSlotOnAQuietDatabase() throws Exception {
        String db = database();
        Pg.Run setup = Pg.run(new Setup(), "--url", Pg.url(db), "--heartbeat", "--role", "Air Byte", "--slot", SLOT, "--json");
        assertEquals(0, setup.exit(), setup.all());
        JsonNode cdc = new ObjectMapper().readTree(setup.out()).get("airbyteSource").get("replication_method");
        String query = cdc.get("heartbeat_action_query").asText();
        AirbyteSourceTest.assertValid(new ObjectMapper().readTree(setup.out()).get("airbyteSource"));

        String confirmedBefore = Pg.value(db, "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '" + SLOT + "'");
        Db airbyte = new Db();
        airbyte.url = Pg.url(db, "Air%20Byte", "Air-Byte-pw-5521");
        try (CdcStream stream = CdcStream.open(airbyte.target(), SLOT, "airbyte_publication");
             Connection c = Pg.as(db, "Air Byte", "Air-Byte-pw-5521"); Statement st = c.createStatement()) {
            st.execute(query);
            st.execute(query);
            List<CdcStream.Change> changes = stream.read(2, 20_000);
            assertEquals(List.of("insert public.airbyte_heartbeat", "update public.airbyte_heartbeat"),
                    changes.stream().map(ch -> ch.op() + " " + ch.table()).toList());
            // The stream has confirmed what it read; the server records it asynchronously: poll, bounded.
            String confirmed = confirmedBefore;
            for (int i = 0; i < 200 && confirmed.equals(confirmedBefore); i++) {
                Thread.onSpinWait();
                stream.read(0, 50);
                confirmed = Pg.value(db, "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '" + SLOT + "'");
            }
            assertTrue(Pg.value(db, "SELECT '" + confirmed + "'::pg_lsn > '" + confirmedBefore + "'::pg_lsn").equals("t"),
                    confirmedBefore + " -> " + confirmed);
        }
        assertEquals("1", Pg.value(db, "SELECT count(*) FROM public.airbyte_heartbeat"), "one row for ever");
    }
}
