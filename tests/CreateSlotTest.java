import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class CreateSlotTest {
    static String db;

    @BeforeAll static void database() throws Exception {
        db = Pg.freshDatabase("slot");
        Pg.sql(db, "CREATE TABLE public.t (id int PRIMARY KEY)", "ALTER TABLE public.t OWNER TO " + Pg.OWNER,
                "CREATE PUBLICATION airbyte_publication FOR TABLE public.t");
    }

    @AfterEach void dropSlots() throws Exception {
        Pg.sql("postgres", "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active");
    }

    static List<String> slots() throws Exception {
        return Pg.column("postgres", "SELECT format('%s %s %s %s', slot_name, plugin, database, temporary) FROM pg_replication_slots ORDER BY 1");
    }

    @Test void createsAPgoutputSlotAndASecondRunIsAlreadyDone() throws Exception {
        assertEquals(0, Pg.run(new CreateSlot(), "--url", Pg.url(db)).exit());
        assertEquals(List.of("airbyte_slot pgoutput " + db + " f"), slots());
        Pg.Run again = Pg.run(new CreateSlot(), "--url", Pg.url(db));
        assertEquals(0, again.exit(), again.all());
        assertTrue(again.out().contains("already done"), again.out());
        assertEquals(1, slots().size());
    }

    /** Neon, known by its setting whatever the host name (a custom domain, a tunnel): the retention line gives Neon's rule. */
    @Test void onNeonKnownByItsSettingTheRetentionLineGivesNeonsRule() throws Exception {
        String neon = Pg.freshDatabase("slot_neon");
        Pg.sql(neon, "CREATE TABLE public.t (id int PRIMARY KEY)", "CREATE PUBLICATION airbyte_publication FOR TABLE public.t");
        Pg.sql("postgres", "ALTER DATABASE " + neon + " SET neon.endpoint_id = 'ep-custom-domain-123456'");
        for (String database : List.of(db, neon)) {
            Pg.Run r = Pg.run(new CreateSlot(), "--url", Pg.url(database), "--dry-run", "--json");
            assertEquals(0, r.exit(), r.all());
            String retention = Fixtures.finding(r, "create-slot", "retention").get("message").asText();
            assertEquals(database.equals(neon), retention.contains("Neon drops a slot"), retention);
        }
    }

    @Test void dryRunCreatesNothingAndPrintsTheSql() throws Exception {
        Pg.Run r = Pg.run(new CreateSlot(), "--url", Pg.url(db), "--slot", "s_dry", "--dry-run");
        assertEquals(0, r.exit(), r.all());
        assertTrue(r.out().contains("SET lock_timeout = '5s';\nSELECT pg_create_logical_replication_slot('s_dry', 'pgoutput');"), r.out());
        assertEquals(List.of(), slots());
    }

    @Test void refusesBeforeThePublicationExistsUnlessForced() throws Exception {
        String before = Pg.catalog(db);
        Pg.Run r = Pg.run(new CreateSlot(), "--url", Pg.url(db), "--publication", "Not Yet");
        assertEquals(1, r.exit(), r.all());
        assertEquals(before, Pg.catalog(db));
        assertEquals(0, Pg.run(new CreateSlot(), "--url", Pg.url(db), "--publication", "Not Yet", "--force").exit());
        assertEquals(1, slots().size());
    }

    /**
     * A new slot waits for every transaction that has written and is still open, in any database (an 'idle in
     * transaction' session would keep it waiting for ever): --lock-timeout ends the wait with exit 4 and no slot;
     * once that transaction ends, the same command makes the slot.
     */
    @Test void anOpenTransactionThatHasWrittenEndsTheWaitAtTheLockTimeout() throws Exception {
        try (var writer = Pg.superuser("postgres")) {
            writer.setAutoCommit(false);
            writer.createStatement().execute("CREATE TEMP TABLE held (v int)"); // a write: the transaction has an xid
            String pid = value(writer, "SELECT pg_backend_pid()::text");
            Pg.Run r = Pg.run(new CreateSlot(), "--url", Pg.url(db), "--lock-timeout", "300ms");
            assertEquals(4, r.exit(), r.all());
            assertTrue(r.err().startsWith("create-slot: slot airbyte_slot (a new slot waits for every open transaction "
                    + "that has written; open when it looked: "), r.err());
            assertTrue(r.err().contains("pid " + pid + " (postgres)") && r.err().contains("could not take a lock within lock_timeout"), r.err());
            assertEquals(List.of(), slots());
            writer.rollback();
        }
        Pg.Run after = Pg.run(new CreateSlot(), "--url", Pg.url(db), "--lock-timeout", "300ms");
        assertEquals(0, after.exit(), after.all());
        assertEquals(List.of("airbyte_slot pgoutput " + db + " f"), slots());
    }

    static String value(java.sql.Connection c, String sql) throws Exception {
        try (var rs = c.createStatement().executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    @Test void anExistingPhysicalSlotIsAFailureAndIsKept() throws Exception {
        Pg.sql(db, "SELECT pg_create_physical_replication_slot('airbyte_slot')");
        Pg.Run r = Pg.run(new CreateSlot(), "--url", Pg.url(db), "--json");
        assertEquals(1, r.exit(), r.all());
        assertTrue(r.out().contains("pg_drop_replication_slot('airbyte_slot')"), r.out());
        assertEquals(List.of("airbyte_slot   f"), slots());
    }

    /** The way out it prints, another name, works as pasted: also when --slot was typed (it replaces it). */
    @Test void aSlotOfAnotherDatabaseIsAFailure() throws Exception {
        Pg.sql("postgres", "SELECT pg_create_logical_replication_slot('airbyte_slot', 'pgoutput')");
        try {
            Pg.Run r = Pg.run(new CreateSlot(), "--url", Pg.url(db), "--slot", "airbyte_slot", "--force", "--json");
            assertEquals(1, r.exit(), r.all());
            assertEquals(List.of("airbyte_slot pgoutput postgres f"), slots());
            String fix = CheckWalTest.find(new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.out()).get("steps").get(0), "slot")
                    .get("fix").asText();
            String another = fix.lines().filter(l -> l.startsWith("or choose another name:  ")).findFirst().orElseThrow();
            Pg.Run made = Fixes.run(another.substring(another.indexOf("jbang ")), Pg.OWNER_PASSWORD);
            assertEquals(0, made.exit(), another + "\n" + made.all());
            assertEquals("t", Pg.value(db, "SELECT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = 'airbyte_slot_2')"));
        } finally {
            Pg.sql("postgres", "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'airbyte_slot%'");
        }
    }

    @Test void invalidSlotNamesAreRejectedBeforeConnecting() throws Exception {
        for (String bad : List.of("Airbyte", "airbyte-slot", "x".repeat(64), "a; DROP TABLE t", "")) {
            // port 1: nothing listens there, so exit 2 proves the name was checked before connecting
            Pg.Run r = Pg.run(new CreateSlot(), "--url", "postgresql://alex@localhost:1/x", "--slot", bad, "--wait", "0");
            assertEquals(2, r.exit(), bad + ": " + r.all());
            assertEquals(1, r.err().strip().lines().count(), r.err());
        }
    }

    @Test void refusesANeonPoolerHostAndNamesTheDirectOne() {
        Pg.Run r = Pg.run(new CreateSlot(), "--url",
                "postgresql://alex@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech/dbname", "--wait", "0");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("ep-cool-darkness-123456.us-east-2.aws.neon.tech"), r.err());
    }

    @Test void aRoleWithoutReplicationCannotCreateTheSlot() throws Exception {
        Pg.Run r = Pg.run(new CreateSlot(), "--url", Pg.url(db, Pg.READER, Pg.READER_PASSWORD));
        assertEquals(1, r.exit(), r.all());
        assertEquals(List.of(), slots());
    }

    @Test void noFreeSlotIsAFailureListingTheSlotsInUse() throws Exception {
        int max = Integer.parseInt(Pg.value("postgres", "SHOW max_replication_slots"));
        int used = slots().size();
        for (int i = used; i < max; i++) Pg.sql("postgres", "SELECT pg_create_physical_replication_slot('filler_" + i + "')");
        try {
            Pg.Run r = Pg.run(new CreateSlot(), "--url", Pg.url(db));
            assertEquals(1, r.exit(), r.all());
            assertTrue(r.out().contains("filler_" + used), r.out());
            assertFalse(slots().stream().anyMatch(s -> s.startsWith("airbyte_slot")));
        } finally {
            Pg.sql("postgres", "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'filler%'");
        }
    }
}
