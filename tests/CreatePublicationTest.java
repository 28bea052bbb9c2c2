import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class CreatePublicationTest {
    String db;

    @BeforeEach void database() throws Exception { db = Pg.freshDatabase("publication"); }

    /** Runs statements as the Neon-like default role, so it owns what they create. */
    void asOwner(String... statements) throws Exception {
        try (Connection c = Pg.as(db, Pg.OWNER, Pg.OWNER_PASSWORD); Statement st = c.createStatement()) {
            for (String s : statements) st.execute(s);
        }
    }

    Pg.Run run(String... args) {
        String[] all = new String[args.length + 2];
        all[0] = "--url";
        all[1] = Pg.url(db);
        System.arraycopy(args, 0, all, 2, args.length);
        return Pg.run(new CreatePublication(), all);
    }

    List<String> published(String pub) throws Exception {
        return Pg.column(db, "SELECT format('%s.%s', schemaname, tablename) FROM pg_publication_tables WHERE pubname = '"
                + pub + "' ORDER BY 1");
    }

    String identity(String regclass) throws Exception {
        return Pg.value(db, "SELECT relreplident FROM pg_class WHERE oid = '" + regclass.replace("'", "''") + "'::regclass");
    }

    @Test void weirdNamesArePublishedAndIdentitiesSetOnlyWhereNeeded() throws Exception {
        asOwner("CREATE SCHEMA \"Sales Data\"",
                "CREATE TABLE \"Sales Data\".\"we\"\"ird\" (id int PRIMARY KEY, v text)",
                "CREATE TABLE \"Sales Data\".\"Orders\" (id int PRIMARY KEY) ",
                "ALTER TABLE \"Sales Data\".\"Orders\" REPLICA IDENTITY NOTHING",
                "CREATE TABLE public.kept (id int PRIMARY KEY)",
                "ALTER TABLE public.kept REPLICA IDENTITY FULL",
                "CREATE TABLE public.other (id int PRIMARY KEY)");
        Pg.Run r = run("--table", "Sales Data.we\"ird", "--table", "\"Sales Data\".\"Orders\"", "--table", "kept");
        assertEquals(0, r.exit(), r.all());
        assertEquals(List.of("Sales Data.Orders", "Sales Data.we\"ird", "public.kept"), published("airbyte_publication"));
        assertEquals("d", identity("\"Sales Data\".\"Orders\""));
        assertEquals("d", identity("\"Sales Data\".\"we\"\"ird\""));
        assertEquals("f", identity("public.kept"), "an existing FULL is kept");
        assertTrue(r.out().contains("kept as they are"), r.out());

        String before = Pg.catalog(db);
        Pg.Run again = run("--table", "Sales Data.we\"ird", "--table", "\"Sales Data\".\"Orders\"", "--table", "kept");
        assertEquals(0, again.exit(), again.all());
        assertTrue(again.out().contains("already done"), again.out());
        assertEquals(before, Pg.catalog(db));
    }

    @Test void defaultIsEveryTableOfPublicAndDryRunChangesNothing() throws Exception {
        asOwner("CREATE TABLE a (id int PRIMARY KEY)", "CREATE TABLE b (id int PRIMARY KEY)",
                "ALTER TABLE b REPLICA IDENTITY NOTHING", "CREATE SCHEMA s", "CREATE TABLE s.c (id int PRIMARY KEY)");
        String before = Pg.catalog(db);
        Pg.Run dry = run("--dry-run");
        assertEquals(0, dry.exit(), dry.all());
        assertEquals(before, Pg.catalog(db));
        assertTrue(dry.out().contains("SET LOCAL lock_timeout = '5s';\nALTER TABLE \"public\".\"b\" REPLICA IDENTITY DEFAULT;\n"
                + "CREATE PUBLICATION \"airbyte_publication\" FOR TABLE \"public\".\"a\", \"public\".\"b\";"), dry.out());

        Pg.Run r = run();
        assertEquals(0, r.exit(), r.all());
        assertEquals(List.of("public.a", "public.b"), published("airbyte_publication"));
        assertEquals("d", identity("b"));
    }

    @Test void badNamesAreExit2AndChangeNothing() throws Exception {
        asOwner("CREATE TABLE a (id int PRIMARY KEY)", "CREATE SCHEMA x", "CREATE TABLE x.dup (id int PRIMARY KEY)",
                "CREATE SCHEMA y", "CREATE TABLE y.dup (id int PRIMARY KEY)", "CREATE SCHEMA empty",
                "ALTER TABLE a REPLICA IDENTITY NOTHING");
        String before = Pg.catalog(db);
        Pg.Run unknown = run("--table", "a", "--table", "public.nope");
        assertEquals(2, unknown.exit(), unknown.all());
        assertTrue(unknown.err().contains("'public.nope': no such table"), unknown.err());
        Pg.Run caps = run("--table", "A");
        assertEquals(2, caps.exit(), caps.all());
        Pg.Run schema = run("--schema", "nope");
        assertEquals(2, schema.exit(), schema.all());
        assertTrue(schema.err().contains("'nope': no such schema"), schema.err());
        Pg.Run empty = run("--schema", "empty");
        assertEquals(2, empty.exit(), empty.all());
        assertTrue(empty.err().contains("has no tables"), empty.err());
        Pg.Run ambiguous = run("--table", "dup");
        assertEquals(2, ambiguous.exit(), ambiguous.all());
        assertTrue(ambiguous.err().contains("ambiguous, write schema.table: it is in schemas x, y"), ambiguous.err());
        assertEquals(2, run("--table", "a", "--lock-timeout", "5 seconds").exit());
        assertEquals(2, run("--table", "a", "--replica-identity", "index").exit());
        assertEquals(before, Pg.catalog(db));

        Pg.Run qualified = run("--table", "x.dup", "--table", "public.a", "--table", "a");
        assertEquals(0, qualified.exit(), qualified.all());
        assertEquals(List.of("public.a", "x.dup"), published("airbyte_publication"));
    }

    @Test void tableWithoutPrimaryKeyFailsUntilFullIsAsked() throws Exception {
        asOwner("CREATE TABLE logs (at timestamptz, line text)", "CREATE TABLE ok (id int PRIMARY KEY)");
        String before = Pg.catalog(db);
        Pg.Run r = run("--table", "logs", "--table", "ok");
        assertEquals(1, r.exit(), r.all());
        assertTrue(r.out().contains("\"public\".\"logs\""), r.out());
        assertTrue(r.out().contains("--replica-identity full") && r.out().contains("ADD PRIMARY KEY")
                && r.out().contains("REPLICA IDENTITY USING INDEX"), r.out());
        assertEquals(before, Pg.catalog(db));

        Pg.Run full = run("--table", "logs", "--table", "ok", "--replica-identity", "full");
        assertEquals(0, full.exit(), full.all());
        assertEquals("f", identity("logs"));
        assertEquals("d", identity("ok"), "a table with a primary key keeps DEFAULT");
        assertEquals(List.of("public.logs", "public.ok"), published("airbyte_publication"));
        Pg.sql(db, "INSERT INTO logs VALUES (now(), 'a'), (now(), 'b')", "UPDATE logs SET line = 'c' WHERE line = 'a'",
                "DELETE FROM logs WHERE line = 'b'");
        assertEquals("c", Pg.value(db, "SELECT string_agg(line, ',') FROM logs"));
    }

    /** Issue 12 (3): an existing publication only gains tables; --remove-unlisted, and only it, takes tables out. */
    @Test void existingPublicationOnlyGainsTablesUnlessRemovingIsAskedByName() throws Exception {
        asOwner("CREATE TABLE a (id int PRIMARY KEY)", "CREATE TABLE b (id int PRIMARY KEY)",
                "CREATE TABLE extra (id int PRIMARY KEY)",
                "CREATE PUBLICATION keep FOR TABLE a, extra WITH (publish = 'insert')",
                "CREATE PUBLICATION airbyte_publication FOR TABLE a, extra");
        Pg.Run added = run("--publication", "keep", "--table", "a", "--table", "b", "--add");
        assertEquals(0, added.exit(), added.all());
        assertEquals(List.of("public.a", "public.b", "public.extra"), published("keep"));
        assertEquals("t", Pg.value(db, "SELECT pubinsert AND pubupdate AND pubdelete FROM pg_publication WHERE pubname = 'keep'"));

        Pg.Run kept = run("--table", "a", "--table", "b");
        assertEquals(0, kept.exit(), kept.all());
        assertEquals(List.of("public.a", "public.b", "public.extra"), published("airbyte_publication"), "extra stays");
        assertTrue(kept.out().contains("published but not asked, kept") && kept.out().contains("\"public\".\"extra\""), kept.out());
        assertFalse(kept.out().contains("warn"), kept.out());

        Pg.Run set = run("--table", "a", "--table", "b", "--remove-unlisted");
        assertEquals(0, set.exit(), set.all());
        assertTrue(set.out().contains("warn") && set.out().contains("takes \"public\".\"extra\" out"), set.out());
        assertEquals(List.of("public.a", "public.b"), published("airbyte_publication"));
    }

    /** PostgreSQL 15+: a publication made FOR TABLES IN SCHEMA (by a superuser, who alone may) elsewhere. */
    @Test void schemasPublishedAsAWholeCountAndAreOnlyRemovedWithAWarning() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Pg.major() >= 15, "FOR TABLES IN SCHEMA is PostgreSQL 15+");
        asOwner("CREATE TABLE a (id int PRIMARY KEY)", "CREATE TABLE b (id int PRIMARY KEY)", "CREATE SCHEMA sales",
                "CREATE TABLE sales.s1 (id int PRIMARY KEY)", "CREATE TABLE sales.s2 (id int PRIMARY KEY)");
        Pg.sql(db, "CREATE PUBLICATION airbyte_publication FOR TABLES IN SCHEMA sales, TABLE public.a");
        String superuser = "postgresql://postgres@localhost:" + Pg.port() + "/" + db + "?sslmode=disable";
        String schemas = "SELECT count(*) FROM pg_publication_namespace";

        Pg.Run added = Pg.run(new CreatePublication(), "--url", superuser, "--table", "a", "--table", "b", "--add");
        assertEquals(0, added.exit(), added.all());
        assertEquals(List.of("public.a", "public.b", "sales.s1", "sales.s2"), published("airbyte_publication"));
        assertEquals("1", Pg.value(db, schemas));

        String catalog = Pg.catalog(db);
        Pg.Run same = Pg.run(new CreatePublication(), "--url", superuser, "--schema", "public", "--schema", "sales");
        assertEquals(0, same.exit(), same.all());
        assertEquals(catalog, Pg.catalog(db), "the schema's tables count as published: nothing to do");
        assertEquals("1", Pg.value(db, schemas));

        Pg.Run kept = Pg.run(new CreatePublication(), "--url", superuser, "--table", "a");
        assertEquals(0, kept.exit(), kept.all());
        assertEquals(catalog, Pg.catalog(db), "nothing is taken out unless asked");

        Pg.Run set = Pg.run(new CreatePublication(), "--url", superuser, "--table", "a", "--remove-unlisted");
        assertEquals(0, set.exit(), set.all());
        assertEquals(List.of("public.a"), published("airbyte_publication"));
        assertEquals("0", Pg.value(db, schemas));
        assertTrue(set.out().contains("takes \"public\".\"b\" and TABLES IN SCHEMA \"sales\""), set.out());
    }

    /** The plan lists tables in the order asked, whatever their age; a partitioned table's leaves follow it, by name. */
    /**
     * Issue 12 (6): an unlogged table in a --schema cannot be published; the fix's second way leaves it out with
     * --exclude-table, and works as printed.
     */
    @Test void anUnloggedTableIsLeftOutWithExcludeTable() throws Exception {
        asOwner("CREATE TABLE a (id int PRIMARY KEY)", "CREATE UNLOGGED TABLE scratch (id int PRIMARY KEY)");
        String before = Pg.catalog(db);
        Pg.Run r = run("--schema", "public", "--json");
        assertEquals(1, r.exit(), r.all());
        assertEquals(before, Pg.catalog(db));
        String fix = Fixtures.fix(r, "create-publication", "unlogged");
        String leaveOut = fix.lines().filter(l -> l.startsWith("or leave them out:")).findFirst().orElseThrow();
        assertTrue(leaveOut.endsWith(" --schema public --json --password --exclude-table public.scratch"), leaveOut);
        Pg.Run left = Fixes.apply(leaveOut.substring(3), db, Pg.OWNER, Pg.OWNER_PASSWORD).run();
        assertEquals(0, left.exit(), left.all());
        assertEquals(List.of("public.a"), published("airbyte_publication"));
        assertEquals(2, run("--exclude-table", "public.nope").exit(), "an excluded table must exist too");
    }

    /**
     * Issue 12 (13): a table whose values are stored out of line (TOAST) and that logs only its key reaches Airbyte as
     * __debezium_unavailable_value on an UPDATE that leaves them unchanged. Named (not the table with small values),
     * and --full-for-toasted makes exactly those FULL.
     */
    @Test void tablesWithOutOfLineValuesAreNamedAndFullForToastedMakesExactlyThoseFull() throws Exception {
        asOwner("CREATE TABLE docs (id int PRIMARY KEY, body text)", "CREATE TABLE notes (id int PRIMARY KEY, body text)",
                "INSERT INTO docs SELECT 1, string_agg(md5(g::text), '') FROM generate_series(1, 2000) g",
                "INSERT INTO notes VALUES (1, 'short')");
        assertEquals("t", Pg.value(db, "SELECT pg_relation_size(reltoastrelid) > 0 FROM pg_class WHERE relname = 'docs'"));
        Pg.Run r = run("--json");
        assertEquals(0, r.exit(), r.all());
        assertEquals("warn", Fixtures.status(r, "create-publication", "toast"), r.out());
        String message = Fixtures.finding(r, "create-publication", "toast").get("message").asText();
        assertTrue(message.contains("\"public\".\"docs\"") && !message.contains("notes"), message);

        Pg.Run full = Fixes.apply(Fixtures.fix(r, "create-publication", "toast"), db, Pg.OWNER, Pg.OWNER_PASSWORD).run();
        assertEquals(0, full.exit(), full.all());
        assertEquals("f", identity("docs"));
        assertEquals("d", identity("notes"));
        assertNull(Fixtures.finding(full, "create-publication", "toast"), full.out());
    }

    /**
     * A publication made while a pgoutput slot already exists: that slot cannot decode what was written before it
     * (14-17). The step says so, with the doctor command that decodes what the slot holds.
     */
    @Test void makingThePublicationAfterASlotSaysToDecodeTheSlot() throws Exception {
        asOwner("CREATE TABLE a (id int PRIMARY KEY)", "SELECT pg_create_logical_replication_slot('publication_early', 'pgoutput')");
        try {
            Pg.Run r = run("--json");
            assertEquals(0, r.exit(), r.all());
            assertEquals("warn", Fixtures.status(r, "create-publication", "slots"), r.out());
            assertTrue(Fixtures.fix(r, "create-publication", "slots").contains("jbang doctor --url ")
                    && Fixtures.fix(r, "create-publication", "slots").endsWith("--deep --slot publication_early --publication airbyte_publication"), r.out());
        } finally {
            Pg.sql(db, "SELECT pg_drop_replication_slot('publication_early')");
        }
    }

    /** Issue 12 (14): stored generated columns are not published before PostgreSQL 18: the tables are named. */
    @Test void storedGeneratedColumnsAreNamedBeforePostgresql18() throws Exception {
        asOwner("CREATE TABLE prices (id int PRIMARY KEY, net int, gross int GENERATED ALWAYS AS (net * 2) STORED)",
                "CREATE TABLE plain (id int PRIMARY KEY)");
        Pg.Run r = run("--json");
        assertEquals(0, r.exit(), r.all());
        var finding = Fixtures.finding(r, "create-publication", "generated columns");
        assertNotNull(finding, r.out());
        assertTrue(finding.get("message").asText().contains("\"public\".\"prices\"") && !finding.get("message").asText().contains("plain"));
        if (Pg.major() < 18) assertEquals("warn", finding.get("status").asText());
        else assertEquals("t", Pg.value(db, "SELECT to_jsonb(p) ->> 'pubgencols' IN ('s', 'true') FROM pg_publication p"));
    }

    @Test void thePlanKeepsTheOrderAsked() throws Exception {
        asOwner("CREATE TABLE older (id int PRIMARY KEY)", "CREATE TABLE newer (id int PRIMARY KEY)",
                "CREATE TABLE parts (id int, day date) PARTITION BY RANGE (day)",
                "CREATE TABLE parts_b PARTITION OF parts FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
                "CREATE TABLE parts_a PARTITION OF parts FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')");
        Pg.Run dry = run("--table", "public.newer", "--table", "public.parts", "--table", "public.older",
                "--replica-identity", "full", "--dry-run");
        assertEquals(0, dry.exit(), dry.all());
        assertTrue(dry.out().contains("ALTER TABLE \"public\".\"parts_a\" REPLICA IDENTITY FULL;\n"
                + "ALTER TABLE \"public\".\"parts_b\" REPLICA IDENTITY FULL;\nCREATE PUBLICATION \"airbyte_publication\" "
                + "FOR TABLE \"public\".\"newer\", \"public\".\"parts\", \"public\".\"older\""), dry.out());
    }

    @Test void partitionedTableIsPublishedThroughItsRootAndItsLeavesGetTheIdentity() throws Exception {
        asOwner("CREATE TABLE events (id int, day date, PRIMARY KEY (id, day)) PARTITION BY RANGE (day)",
                "CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
                "CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
                "ALTER TABLE events_2025 REPLICA IDENTITY NOTHING",
                "CREATE TABLE metrics (at date, v int) PARTITION BY RANGE (at)",
                "CREATE TABLE metrics_2025 PARTITION OF metrics FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
                "CREATE PUBLICATION airbyte_publication FOR TABLE events");
        String before = Pg.catalog(db);
        Pg.Run noPk = run("--table", "events", "--table", "metrics");
        assertEquals(1, noPk.exit(), noPk.all());
        assertTrue(noPk.out().contains("\"public\".\"metrics_2025\""), noPk.out());
        assertEquals(before, Pg.catalog(db));

        Pg.Run r = run("--table", "events", "--table", "metrics", "--replica-identity", "full");
        assertEquals(0, r.exit(), r.all());
        assertEquals("t", Pg.value(db, "SELECT pubviaroot FROM pg_publication WHERE pubname = 'airbyte_publication'"));
        assertEquals(List.of("public.events", "public.metrics"), published("airbyte_publication"));
        assertEquals("d", identity("events_2025"));
        assertEquals("d", identity("events_2024"));
        assertEquals("f", identity("metrics_2025"));
        Pg.sql(db, "INSERT INTO metrics VALUES ('2025-02-01', 1)", "UPDATE metrics SET v = 2", "DELETE FROM metrics");
        String after = Pg.catalog(db);
        assertEquals(0, run("--table", "events", "--table", "metrics", "--replica-identity", "full").exit());
        assertEquals(after, Pg.catalog(db));
    }

    @Test void tablesOwnedBySomeoneElseFailBeforeAnyChange() throws Exception {
        asOwner("CREATE TABLE mine (id int PRIMARY KEY)", "ALTER TABLE mine REPLICA IDENTITY NOTHING");
        Pg.sql(db, "CREATE TABLE theirs (id int PRIMARY KEY)", "ALTER TABLE theirs OWNER TO " + Pg.APP);
        String before = Pg.catalog(db);
        Pg.Run r = run("--table", "mine", "--table", "theirs");
        assertEquals(1, r.exit(), r.all());
        assertTrue(r.out().contains("\"public\".\"theirs\" (owner \"app_owner\")"), r.out());
        assertTrue(r.out().contains("GRANT \"app_owner\" TO \"alex\";"), r.out());
        assertEquals(before, Pg.catalog(db));

        Pg.sql(db, "CREATE PUBLICATION airbyte_publication FOR TABLE theirs", "ALTER PUBLICATION airbyte_publication OWNER TO " + Pg.APP);
        String withPublication = Pg.catalog(db);
        Pg.Run pub = run("--table", "mine", "--add");
        assertEquals(1, pub.exit(), pub.all());
        assertTrue(pub.out().contains("publication \"airbyte_publication\" is owned by \"app_owner\""), pub.out());
        assertEquals(withPublication, Pg.catalog(db));
    }

    @Test void lockTimeoutNamesTheTableAndChangesNothing() throws Exception {
        asOwner("CREATE TABLE free (id int PRIMARY KEY)", "ALTER TABLE free REPLICA IDENTITY NOTHING",
                "CREATE TABLE \"Busy\" (id int PRIMARY KEY)", "ALTER TABLE \"Busy\" REPLICA IDENTITY NOTHING");
        String before = Pg.catalog(db);
        try (Connection reader = Pg.superuser(db)) {
            reader.setAutoCommit(false);
            reader.createStatement().executeQuery("SELECT count(*) FROM \"Busy\"").close();
            Pg.Run r = run("--lock-timeout", "200ms", "--table", "free", "--table", "Busy");
            assertEquals(4, r.exit(), r.all());
            String pid = Pg.value("postgres", "SELECT pid FROM pg_stat_activity WHERE datname = '" + db + "' AND usename = 'postgres' AND state = 'idle in transaction'");
            assertTrue(r.err().contains("could not take a lock within lock_timeout on \"Busy\": held by pid " + pid
                    + " (role postgres, "), r.err());
            assertTrue(r.err().contains("SELECT pg_terminate_backend(" + pid + ");"), r.err());
            assertEquals(before, Pg.catalog(db));
            reader.commit();
        }
        Pg.Run r = run("--lock-timeout", "200ms");
        assertEquals(0, r.exit(), r.all());
        assertEquals("d", identity("\"Busy\""));
        assertEquals(List.of("public.Busy", "public.free"), published("airbyte_publication"));
    }

    /**
     * A table dropped after the look, or a statement the server cannot parse: the failure names the statement's subject
     * (the server reports the first in the error's context, the second as its internal query) and nothing stays changed.
     */
    @Test void theStatementAPlanFailsOnIsNamedAndTheRestRolledBack() throws Exception {
        asOwner("CREATE TABLE kept (id int)");
        for (String bad : List.of("ALTER TABLE public.gone REPLICA IDENTITY FULL", "ALTER TABLE public.kept REPLICA IDENTITY SIDEWAYS")) {
            var plan = new Runbook.Plan(List.of(new Runbook.Sql("ALTER TABLE public.kept REPLICA IDENTITY FULL", "first"),
                    new Runbook.Sql(bad, "second"), new Runbook.Sql("CREATE PUBLICATION third FOR TABLE public.kept", "third")), true);
            try (Connection c = Pg.as(db, Pg.OWNER, Pg.OWNER_PASSWORD)) {
                Pipeline p = new Pipeline(c);
                p.statement(Runbook.block(plan));
                Failure f = assertThrows(Failure.class, () -> Runbook.run(p, plan, Runbook.Transaction.OWN));
                assertTrue(f.getMessage().startsWith("second: "), f.getMessage());
            }
            assertEquals("d", identity("kept"));
            assertEquals(List.of(), Pg.column(db, "SELECT pubname FROM pg_publication"));
        }
    }

    /**
     * A table published with a column list or a row filter (PostgreSQL 15+) sends Airbyte only part of its changes:
     * a warning, never changed unasked (it may keep columns from Airbyte), whose fix publishes the tables whole.
     */
    @Test void aColumnListOrRowFilterIsNamedAndItsFixPublishesTheTablesWhole() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Pg.major() >= 15, "column lists and row filters are PostgreSQL 15+");
        asOwner("CREATE TABLE public.orders (id int PRIMARY KEY, card text)", "CREATE TABLE public.regions (id int PRIMARY KEY, region text)",
                "CREATE PUBLICATION airbyte_publication FOR TABLE public.orders (id), public.regions WHERE (region = 'eu')");
        Pg.Run r = run("--json");
        assertEquals(0, r.exit(), r.all());
        JsonNode warn = CheckWalTest.find(new ObjectMapper().readTree(r.out()).get("steps").get(0), "column list");
        assertEquals("warn", warn.get("status").asText(), r.out());
        assertTrue(warn.get("message").asText().contains("\"public\".\"orders\", \"public\".\"regions\""), r.out());
        Fixes.apply(warn.get("fix").asText(), db, Pg.OWNER, Pg.OWNER_PASSWORD);
        assertEquals(List.of("f", "f"), Pg.column(db, "SELECT prattrs IS NOT NULL OR prqual IS NOT NULL FROM pg_publication_rel"));
        assertEquals(List.of("public.orders", "public.regions"), published("airbyte_publication"));
        Pg.Run again = run("--json");
        assertFalse(again.out().contains("column list"), again.out());
    }

    @Test void aliasRunsThroughTheRealLauncher() throws Exception {
        asOwner("CREATE TABLE a (id int PRIMARY KEY)");
        String before = Pg.catalog(db);
        Process p = new ProcessBuilder(Pg.repoRoot().resolve("jbang").toString(), "create-publication", "--url", Pg.url(db),
                "--dry-run").directory(Pg.repoRoot().toFile()).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), output);
        assertTrue(output.contains("CREATE PUBLICATION \"airbyte_publication\" FOR TABLE \"public\".\"a\";"), output);
        assertFalse(output.contains(Pg.OWNER_PASSWORD), output);
        assertEquals(before, Pg.catalog(db));
    }

    @Test void manyTablesAreSummarisedNotListed() throws Exception {
        asOwner("CREATE SCHEMA big", "DO $$ BEGIN FOR i IN 1..150 LOOP EXECUTE format("
                + "'CREATE TABLE big.t%s (id int PRIMARY KEY) WITH (autovacuum_enabled = false)', i); END LOOP; END $$",
                "ALTER TABLE big.t7 REPLICA IDENTITY NOTHING");
        Pg.Run r = run("--schema", "big");
        assertEquals(0, r.exit(), r.all());
        assertEquals("150", Pg.value(db, "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'airbyte_publication'"));
        assertEquals("d", identity("big.t7"));
        assertTrue(r.out().lines().count() < 12, r.out());
        assertTrue(r.out().contains("and 140 more"), r.out());
    }
}
