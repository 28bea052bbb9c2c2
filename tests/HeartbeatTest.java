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

    /**
     * Issue 12 (10): the first --heartbeat run counts the table it creates, as the runs after it do: a partitioned
     * table's two leaves, and every table's replica identity, counted on the state after the change.
     */
    @Test void theFirstRunCountsTheTablesAsTheStateAfterItHasThem() throws Exception {
        String db = database();
        Pg.sql(db, "SET ROLE " + Pg.OWNER, "CREATE TABLE public.events (id int, day date, PRIMARY KEY (id, day)) PARTITION BY RANGE (day)",
                "CREATE TABLE public.events_a PARTITION OF public.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
                "CREATE TABLE public.events_b PARTITION OF public.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')");
        Pg.Run first = Pg.run(new CreatePublication(), "--url", Pg.url(db), "--heartbeat", "--json");
        assertEquals(0, first.exit(), first.all());
        Pg.Run second = Pg.run(new CreatePublication(), "--url", Pg.url(db), "--heartbeat", "--json", "--dry-run");
        for (String check : List.of("tables", "replica identity")) // the counts, before the names
            assertEquals(Fixtures.finding(second, "create-publication", check).get("message").asText().split(": ")[0],
                    Fixtures.finding(first, "create-publication", check).get("message").asText().split(": ")[0], check);
        assertTrue(Fixtures.finding(first, "create-publication", "tables").get("message").asText()
                .contains("3 to publish (1 partitioned, published through the root; replica identity checked on their 2 leaf partition(s))"), first.out());
        assertTrue(Fixtures.finding(first, "create-publication", "replica identity").get("message").asText()
                .startsWith("4 of 4 already DEFAULT"), first.out());
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
        Pg.Run setup = Pg.run(new Setup(), "--url", Pg.url(db), "--heartbeat", "--role", "Air Byte", "--slot", SLOT);
        assertEquals(0, setup.exit(), setup.all());
        // the configuration comes from the airbyte-source command setup names, as printed
        Pg.Run source = Fixes.run(setup.out().lines().reduce((x, y) -> y).orElseThrow().strip(), Pg.OWNER_PASSWORD);
        assertEquals(0, source.exit(), source.all());
        JsonNode configuration = new ObjectMapper().readTree(source.out());
        assertEquals("Air Byte", configuration.get("username").asText());
        String query = configuration.get("replication_method").get("heartbeat_action_query").asText();
        AirbyteSourceTest.assertValid(configuration);

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
