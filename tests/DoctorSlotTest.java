import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Doctor's publication, replica identity, slot and Airbyte-check findings: each made to fail, then fixed. */
@org.junit.jupiter.api.Tag(AllTests.MAJORS) // its behaviour depends on the major: see tests/README.md
class DoctorSlotTest {
    static final String SLOT = Fixtures.SLOT;

    @AfterEach void dropSlots() throws Exception {
        Pg.sql("postgres", "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'doctor%' AND NOT active");
    }

    static Pg.Run doctor(String db, String... more) { return Fixtures.doctor(db, more); }

    static String status(Pg.Run r, String group, String check) { return Fixtures.status(r, group, check); }

    @Test void noPublicationAndNoSlotFailAirbytesCheckUntilTheNamedStepsRun() throws Exception {
        String db = Fixtures.shop();
        Pg.Run r = doctor(db);
        assertEquals(1, r.exit(), r.all());
        assertEquals("fail", status(r, "publication", "create-publication"), r.out());
        assertEquals("fail", status(r, "slot", "publication"), "no slot before its publication: " + r.out());
        String verdict = Fixtures.finding(r, "airbyte check", "verdict").get("message").asText();
        assertEquals("Airbyte's connection test would fail with: Expected exactly one replication slot but found 0. "
                + "Please read the docs and add a replication slot to your database.", verdict);
        assertTrue(Fixtures.finding(r, "publication", "create-publication").get("message").asText()
                .endsWith(" --publication airbyte_publication --schema public"), r.out());

        assertEquals(0, Pg.run(new CreatePublication(), "--url", Pg.url(db)).exit());
        assertEquals(0, Pg.run(new CreateSlot(), "--url", Pg.url(db), "--slot", SLOT).exit());
        Pg.Run after = doctor(db);
        assertEquals(0, after.exit(), after.all());
        assertEquals("ok", status(after, "airbyte check", "verdict"), after.out());
    }

    @Test void aPublicationThatSkipsDeletesOrLeavesTablesOutIsReported() throws Exception {
        String db = Fixtures.shop();
        Fixtures.as(db, "CREATE TABLE public.notes (id int PRIMARY KEY)",
                "CREATE PUBLICATION airbyte_publication FOR TABLE public.customers, public.orders WITH (publish = 'insert, update')");
        assertEquals(0, Pg.run(new CreateSlot(), "--url", Pg.url(db), "--slot", SLOT).exit());
        Pg.Run r = doctor(db, "--table", "public.customers", "--table", "public.orders");
        assertEquals(1, r.exit(), r.all());
        assertEquals(List.of("publication/operations=fail", "publication/create-publication=fail"), Fixtures.failures(r));
        assertEquals("warn", status(r, "publication", "left out"), r.out());
        assertTrue(Fixtures.finding(r, "publication", "left out").get("message").asText().contains("full refresh only"));

        Fixes.apply(Fixtures.fix(r, "publication", "operations"), db, Pg.OWNER, Pg.OWNER_PASSWORD);
        Fixes.apply(Fixtures.fix(r, "publication", "left out"), db, Pg.OWNER, Pg.OWNER_PASSWORD);
        Pg.Run after = doctor(db, "--table", "public.customers", "--table", "public.orders");
        assertEquals(0, after.exit(), after.all());
        assertNull(status(after, "publication", "left out"), after.out());
        assertEquals("t", Pg.value(db, "SELECT pubdelete FROM pg_publication WHERE pubname = 'airbyte_publication'"));
        assertEquals(List.of("customers", "notes", "orders"), Pg.column(db, "SELECT tablename FROM pg_publication_tables ORDER BY 1"));
    }

    /**
     * A table left out that has no primary key: adding it as it is would make its UPDATEs fail, so the fix is
     * create-publication's command, which stops until told how to give it a replica identity. Following it changes nothing.
     */
    @Test void aLeftOutTableWithoutPrimaryKeyIsFixedByTheCommandThatAsksForItsIdentity() throws Exception {
        String db = Fixtures.shop();
        Fixtures.as(db, "CREATE TABLE public.scratch (v text)", "INSERT INTO public.scratch VALUES ('a')",
                "CREATE PUBLICATION airbyte_publication FOR TABLE public.customers, public.orders");
        Pg.Run r = doctor(db, "--table", "public.customers", "--table", "public.orders");
        String fix = Fixtures.fix(r, "publication", "left out");
        assertTrue(fix.startsWith("jbang create-publication --url "), fix);
        assertEquals(1, Fixes.apply(fix, db, Pg.OWNER, Pg.OWNER_PASSWORD).exit());
        Fixtures.as(db, "UPDATE public.scratch SET v = 'b'");
        assertEquals(List.of("customers", "orders"), Pg.column(db, "SELECT tablename FROM pg_publication_tables ORDER BY 1"));
    }

    @Test void aPartitionedTablePublishedByPartitionFailsUntilPublishedThroughItsRoot() throws Exception {
        String db = Pg.freshDatabase("doctor");
        Fixtures.as(db, "CREATE TABLE public.events (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)",
                "CREATE TABLE public.events_2025 PARTITION OF public.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
                "CREATE PUBLICATION airbyte_publication FOR TABLE public.events");
        assertEquals(0, Pg.run(new CreateSlot(), "--url", Pg.url(db), "--slot", SLOT).exit());
        Pg.Run r = doctor(db);
        assertEquals(1, r.exit(), r.all());
        assertEquals("fail", status(r, "publication", "partitions"), r.out());
        Fixtures.as(db, Fixtures.fix(r, "publication", "partitions"));
        Pg.Run after = doctor(db);
        assertEquals(0, after.exit(), after.all());
        assertEquals("ok", status(after, "publication", "partitions"), after.out());
        assertEquals("t", Pg.value(db, "SELECT pubviaroot FROM pg_publication"));
    }

    @Test void aForAllTablesPublicationIsReportedAndCoversEveryTable() throws Exception {
        String db = Fixtures.shop();
        Pg.sql(db, "CREATE PUBLICATION airbyte_publication FOR ALL TABLES"); // needs a superuser
        assertEquals(0, Pg.run(new CreateSlot(), "--url", Pg.url(db), "--slot", SLOT).exit());
        Pg.Run r = doctor(db);
        assertEquals(0, r.exit(), r.all());
        assertEquals("ok", status(r, "publication", "all tables"), r.out());
        assertTrue(Fixtures.finding(r, "publication", "tables").get("message").asText().startsWith("2 in"), r.out());
    }

    @Test void publishedTablesWithoutAUsableReplicaIdentityFailUntilThePrintedSqlRuns() throws Exception {
        String db = Fixtures.shop();
        Fixtures.as(db, "CREATE TABLE public.audit (note text)",
                "CREATE TABLE public.codes (code text NOT NULL UNIQUE, label text)",
                "ALTER TABLE public.codes REPLICA IDENTITY USING INDEX codes_code_key",
                "ALTER TABLE public.orders REPLICA IDENTITY NOTHING",
                "CREATE PUBLICATION airbyte_publication FOR TABLE public.audit, public.codes, public.customers, public.orders");
        assertEquals(0, Pg.run(new CreateSlot(), "--url", Pg.url(db), "--slot", SLOT).exit());
        Pg.Run r = doctor(db);
        assertEquals(1, r.exit(), r.all());
        // create-publication's own check fails on the same tables: its command is not offered before the fix
        assertEquals(List.of("replica identity/missing=fail"), Fixtures.failures(r));
        assertEquals("ok", status(r, "replica identity", "using index"), r.out());
        String fix = Fixtures.fix(r, "replica identity", "missing");
        assertTrue(fix.contains("ALTER TABLE \"public\".\"audit\" REPLICA IDENTITY FULL;"), fix);
        assertTrue(fix.contains("ALTER TABLE \"public\".\"orders\" REPLICA IDENTITY DEFAULT;"), fix);

        Fixtures.as(db, fix);
        Pg.Run after = doctor(db);
        assertEquals(0, after.exit(), after.all());
        assertEquals(List.of("audit f", "codes i", "customers d", "orders d"),
                Pg.column(db, "SELECT relname || ' ' || relreplident::text FROM pg_class WHERE relname IN ('audit', 'codes', 'customers', 'orders') ORDER BY 1"));
        Fixtures.as(db, "UPDATE public.audit SET note = 'x'", "DELETE FROM public.orders");
    }

    @Test void aSlotWithTheWrongPluginFailsUntilDroppedAndMadeAgain() throws Exception {
        String db = Fixtures.shop();
        Fixtures.as(db, "CREATE PUBLICATION airbyte_publication FOR TABLE public.customers, public.orders",
                "SELECT pg_create_logical_replication_slot('" + SLOT + "', 'test_decoding')");
        Pg.Run r = doctor(db);
        assertEquals(1, r.exit(), r.all());
        assertEquals(List.of("slot/slot=fail", "airbyte check/slot query=fail", "airbyte check/verdict=fail"), Fixtures.failures(r));

        String fix = Fixtures.fix(r, "slot", "slot");
        assertTrue(fix.startsWith("if nothing uses it, drop it:  SELECT pg_drop_replication_slot("), fix);
        assertEquals(0, Fixes.apply(fix, db, Pg.OWNER, Pg.OWNER_PASSWORD).exit(), "the fix drops the slot and makes it again");
        Pg.Run after = doctor(db);
        assertEquals(0, after.exit(), after.all());
        assertEquals("pgoutput", Pg.value(db, "SELECT plugin FROM pg_replication_slots WHERE slot_name = '" + SLOT + "'"));
    }

    @Test void aRoleWithoutReplicationFailsAirbytesReplicationConnectionUntilGranted() throws Exception {
        String db = Fixtures.shop();
        Fixtures.setup(db);
        String role = DoctorTest.ROLE;
        Pg.sql("postgres", "DROP ROLE IF EXISTS " + role, "CREATE ROLE " + role + " LOGIN PASSWORD '" + DoctorTest.ROLE_PASSWORD + "'");
        try {
            Pg.sql(db, "GRANT SELECT ON ALL TABLES IN SCHEMA public TO " + role);
            String url = Pg.url(db, role, DoctorTest.ROLE_PASSWORD);
            Pg.Run r = Fixtures.doctorAt(url);
            assertEquals(1, r.exit(), r.all());
            assertEquals("fail", status(r, "airbyte check", "replication"), r.out());
            String verdict = Fixtures.finding(r, "airbyte check", "verdict").get("message").asText();
            assertTrue(verdict.startsWith("Airbyte's connection test would fail with: "), verdict);
            if (Pg.major() < 16) assertTrue(verdict.contains("User '" + role + "' does not have enough privileges for CDC "
                    + "replication. Please read the docs and add required privileges."), verdict);
            assertTrue(Fixtures.fix(r, "airbyte check", "replication").contains("ALTER ROLE \"" + role + "\" REPLICATION;"));

            Pg.sql("postgres", "ALTER ROLE " + role + " REPLICATION");
            Pg.Run after = Fixtures.doctorAt(url);
            assertEquals("ok", status(after, "airbyte check", "replication"), after.out());
            assertEquals("ok", status(after, "airbyte check", "verdict"), after.out());
            assertFalse((r.all() + after.all()).contains(DoctorTest.ROLE_PASSWORD));
        } finally {
            Pg.sql(db, "DROP OWNED BY " + role);
            Pg.sql("postgres", "DROP ROLE " + role);
        }
    }

    /** FACTS.md: a pgoutput slot made before its publication is poisoned on PostgreSQL 14-17. */
    @Test void aSlotMadeBeforeItsPublicationIsFoundByDeepWithoutConsumingIt() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Pg.major() < 18, "PostgreSQL 18 skips a missing publication instead");
        String db = Fixtures.shop();
        Fixtures.as(db, "SELECT pg_create_logical_replication_slot('" + SLOT + "', 'pgoutput')",
                "INSERT INTO public.customers VALUES (1, 'before the publication')",
                "CREATE PUBLICATION airbyte_publication FOR TABLE public.customers, public.orders",
                "INSERT INTO public.customers VALUES (2, 'after')");
        Pg.Run shallow = doctor(db);
        assertEquals(0, shallow.exit(), "without --deep the slot is not read: " + shallow.all());
        assertEquals("warn", status(shallow, "slot", "decoding"), "the publication is newer than the slot: not known, never ok");
        assertTrue(Fixtures.fix(shallow, "slot", "decoding").endsWith(" --deep"), shallow.out());

        assertDeepFindsThePoisonAndItsFixWorks(db);
    }

    /**
     * doctor --deep fails on the poisoned slot, changing and consuming nothing; the fix it prints, run as printed,
     * gives a slot whose changes decode.
     */
    static void assertDeepFindsThePoisonAndItsFixWorks(String db) throws Exception {
        String catalog = Pg.catalog(db), confirmed = Fixtures.confirmed(SLOT);
        Pg.Run r = doctor(db, "--deep");
        assertEquals(1, r.exit(), r.all());
        assertEquals(List.of("slot/decoding=fail"), Fixtures.failures(r));
        assertTrue(Fixtures.finding(r, "slot", "decoding").get("message").asText()
                .contains("publication \"airbyte_publication\" does not exist"), r.out());
        assertEquals(catalog, Pg.catalog(db));
        assertEquals(confirmed, Fixtures.confirmed(SLOT), "nothing consumed");

        String fix = Fixtures.fix(r, "slot", "decoding");
        assertTrue(fix.contains("jbang create-slot --url ") && fix.contains(" --slot " + SLOT + " --publication airbyte_publication"), fix);
        assertEquals(0, Fixes.apply(fix, db, Pg.OWNER, Pg.OWNER_PASSWORD).exit());
        Fixtures.as(db, "INSERT INTO public.customers VALUES (100, 'after the new slot')");
        Pg.Run after = doctor(db, "--deep");
        assertEquals(0, after.exit(), after.all());
        assertTrue(Fixtures.finding(after, "slot", "decoding").get("message").asText().startsWith("decoded every pending change"), after.out());
    }

    /**
     * Issue 12 (1): the publication dropped and made again while the slot lives poisons the changes written in
     * between, though the slot's first pending change decodes fine. --deep decodes every pending change, and consumes
     * none; the fix it prints, run as printed, gives a slot that decodes.
     */
    @Test void aPublicationDroppedAndMadeAgainPoisonsTheChangesBetweenAndDeepFindsThem() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Pg.major() < 18, "PostgreSQL 18 skips a missing publication instead");
        String db = Fixtures.shop();
        Fixtures.setup(db);
        Fixtures.as(db, "INSERT INTO public.customers VALUES (1, 'decodes')", "DROP PUBLICATION airbyte_publication",
                "INSERT INTO public.customers VALUES (2, 'written while there was no publication')",
                "CREATE PUBLICATION airbyte_publication FOR TABLE public.customers, public.orders",
                "INSERT INTO public.customers VALUES (3, 'after')");
        assertDeepFindsThePoisonAndItsFixWorks(db);
    }

    /** A decode that cannot finish within --peek-timeout says how far it got and that the verdict is not known. */
    @Test void aDecodeCutShortByThePeekTimeoutIsNotKnownNeverOk() throws Exception {
        String db = Fixtures.shop();
        Fixtures.setup(db);
        Fixtures.as(db, "INSERT INTO public.customers SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g");
        String confirmed = Fixtures.confirmed(SLOT);
        Pg.Run r = doctor(db, "--deep", "--peek-timeout", "1ms");
        assertEquals(0, r.exit(), "a warning: " + r.all());
        assertEquals("warn", status(r, "slot", "decoding"), r.out());
        String message = Fixtures.finding(r, "slot", "decoding").get("message").asText();
        assertTrue(message.startsWith("not known: in 1ms it decoded ") && message.contains(" of the "), message);
        assertTrue(Fixtures.fix(r, "slot", "decoding").contains("--peek-timeout 10min"), r.out());
        assertEquals(confirmed, Fixtures.confirmed(SLOT));
    }

    /** A mistyped --slot or --publication: doctor names the one that is there, and its fix runs doctor on it. */
    @Test void aMistypedSlotOrPublicationNamesTheOneThatIsThere() throws Exception {
        String db = Fixtures.shop();
        Fixtures.setup(db);
        Pg.Run r = Pg.run(new Doctor(), "--url", Pg.url(db), "--slot", "doctor_slto", "--publication", "airbyte_publicaton", "--json");
        assertEquals(1, r.exit(), r.all());
        assertEquals("fail", status(r, "publication", "publication"), r.out());
        assertEquals("fail", status(r, "slot", "slot"), r.out());
        Fixes.Ran publication = Fixes.apply(Fixtures.fix(r, "publication", "publication"), db, Pg.OWNER, Pg.OWNER_PASSWORD);
        assertEquals("doctor", publication.alias());
        assertEquals("ok", status(publication.run(), "airbyte check", "publication query"), publication.out());
        Fixes.Ran slot = Fixes.apply(Fixtures.fix(publication.run(), "slot", "slot"), db, Pg.OWNER, Pg.OWNER_PASSWORD);
        assertEquals(0, slot.exit(), "both names right now: " + slot.all());
        assertEquals(List.of(SLOT), Pg.column("postgres", "SELECT slot_name FROM pg_replication_slots WHERE database = '" + db + "'"),
                "no second slot was made");
    }

    @Test void aSlotBeingReadIsReportedWithItsReaderAndNotPeeked() throws Exception {
        String db = Fixtures.shop();
        Fixtures.setup(db);
        Db target = new Db();
        target.url = Pg.url(db);
        try (CdcStream stream = CdcStream.open(target.target(), SLOT, "airbyte_publication")) {
            String pid = Pg.value("postgres", "SELECT active_pid FROM pg_replication_slots WHERE slot_name = '" + SLOT + "'");
            Pg.Run r = doctor(db, "--deep");
            assertEquals(0, r.exit(), r.all());
            assertTrue(Fixtures.finding(r, "slot", "reader").get("message").asText().contains("pid " + pid), r.out());
            assertEquals("warn", status(r, "slot", "decoding"), "a slot in use cannot be peeked: not known, never ok");
            assertTrue(Fixtures.finding(r, "slot", "decoding").get("message").asText().startsWith("not known"), r.out());
        }
    }

    @Test void onNeonAnInactiveSlotIsAWarningUntilAReaderConnects() throws Exception {
        String db = Fixtures.shop();
        Fixtures.setup(db);
        Pg.sql("postgres", "ALTER DATABASE " + db + " SET neon.endpoint_id = 'ep-cool-darkness-123456'");
        Pg.Run r = doctor(db);
        assertEquals(0, r.exit(), r.all());
        assertEquals("warn", status(r, "slot", "reader"), r.out());
        assertTrue(Fixtures.finding(r, "slot", "reader").get("message").asText().contains("40 hours"), r.out());
        assertTrue(Fixtures.finding(r, "server", "server").get("message").asText().contains("on Neon"), r.out());
        Db target = new Db();
        target.url = Pg.url(db);
        try (CdcStream stream = CdcStream.open(target.target(), SLOT, "airbyte_publication")) {
            assertEquals("ok", status(doctor(db), "slot", "reader"));
        }
    }

    @Test void anIdleSlotWithoutHeartbeatTableIsAWarningUntilOneIsPublished() throws Exception {
        String db = Fixtures.shop();
        Fixtures.setup(db);
        Fixtures.as(db, "CREATE TABLE public.unpublished (id int)", "INSERT INTO public.unpublished VALUES (1)");
        Pg.Run quiet = doctor(db, "--table", "public.customers", "--table", "public.orders");
        assertEquals("ok", status(quiet, "slot", "heartbeat"), "less than a WAL segment behind: " + quiet.out());
        // Writes elsewhere, the published tables quiet: two WAL segment switches put the slot a segment behind.
        Pg.sql(db, "SELECT pg_switch_wal()", "INSERT INTO public.unpublished VALUES (2)", "SELECT pg_switch_wal()");
        Pg.Run r = doctor(db, "--table", "public.customers", "--table", "public.orders");
        assertEquals(0, r.exit(), r.all());
        assertEquals("warn", status(r, "slot", "heartbeat"), r.out());
        String fix = Fixtures.fix(r, "slot", "heartbeat");
        assertTrue(fix.startsWith("jbang create-publication --url ") && fix.endsWith(" --publication airbyte_publication "
                + "--table public.customers --table public.orders --heartbeat"), fix);

        // what create-publication --heartbeat does: a one-row table, in the publication
        Fixtures.as(db, "CREATE SCHEMA ops", "CREATE TABLE ops.airbyte_heartbeat (id int PRIMARY KEY, text text)",
                "ALTER PUBLICATION airbyte_publication ADD TABLE ops.airbyte_heartbeat");
        Pg.Run after = doctor(db, "--table", "public.customers", "--table", "public.orders");
        assertEquals("ok", status(after, "slot", "heartbeat"), after.out());
        // with a schema, the name is looked for in that schema only, and the fix names it
        Pg.Run named = doctor(db, "--table", "public.customers", "--table", "public.orders", "--heartbeat-table", "ops.airbyte_heartbeat");
        assertEquals("ok", status(named, "slot", "heartbeat"), named.out());
        Pg.Run elsewhere = doctor(db, "--table", "public.customers", "--table", "public.orders", "--heartbeat-table", "public.airbyte_heartbeat");
        assertEquals("warn", status(elsewhere, "slot", "heartbeat"), elsewhere.out());
        assertTrue(Fixtures.fix(elsewhere, "slot", "heartbeat").endsWith(" --heartbeat --heartbeat-table public.airbyte_heartbeat"), elsewhere.out());
    }
}
