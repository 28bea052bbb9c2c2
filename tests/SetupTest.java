import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import org.junit.jupiter.api.Test;

class SetupTest {
    /** Slots are cluster-wide: each test starts without one. */
    @org.junit.jupiter.api.AfterEach void dropSlots() throws Exception {
        Pg.sql("postgres", "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active");
    }

    static String newDatabase(boolean withTableWithoutKey) throws Exception {
        String db = Pg.freshDatabase("setup");
        Pg.sql(db, "CREATE TABLE public.customers (id int PRIMARY KEY, name text)",
                "CREATE TABLE public.orders (id int PRIMARY KEY, customer int)",
                "ALTER TABLE public.customers OWNER TO " + Pg.OWNER, "ALTER TABLE public.orders OWNER TO " + Pg.OWNER);
        if (withTableWithoutKey) Pg.sql(db, "CREATE TABLE public.audit (note text)", "ALTER TABLE public.audit OWNER TO " + Pg.OWNER);
        return db;
    }

    static List<String> published(String db) throws Exception {
        return Pg.column(db, "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = 'airbyte_publication' ORDER BY 1");
    }

    static List<String> slot(String db) throws Exception {
        return Pg.column(db, "SELECT slot_name || ' ' || plugin FROM pg_replication_slots WHERE database = current_database()");
    }

    @Test void setsUpEverythingThenASecondRunChangesNothing() throws Exception {
        String db = newDatabase(false);
        Pg.Run r = Pg.run(new Setup(), "--url", Pg.url(db), "--json");
        assertEquals(0, r.exit(), r.all());
        assertEquals(List.of("public.customers", "public.orders"), published(db));
        assertEquals(List.of("airbyte_slot pgoutput"), slot(db));
        JsonNode json = new ObjectMapper().readTree(r.out()); // all of stdout is one JSON document
        assertEquals(List.of("exitCode", "steps"), fields(json));
        assertEquals(4, json.get("steps").size());
        assertFalse(r.all().contains(Pg.OWNER_PASSWORD));

        String before = Pg.catalog(db);
        Pg.Run again = Pg.run(new Setup(), "--url", Pg.url(db));
        assertEquals(0, again.exit(), again.all());
        assertEquals(before, Pg.catalog(db));
    }

    static List<String> fields(JsonNode json) {
        List<String> names = new java.util.ArrayList<>();
        json.fieldNames().forEachRemaining(names::add);
        return names;
    }

    /**
     * Issue 12 (11): setup prints a report, and only JSON with --json; Airbyte's configuration is airbyte-source's
     * output, and the report ends with that command, which works when run as printed.
     */
    @Test void theReportEndsWithTheAirbyteSourceCommandWhichWorksAsPrinted() throws Exception {
        String db = newDatabase(false);
        Pg.Run r = Pg.run(new Setup(), "--url", Pg.url(db), "--schema", "public");
        assertEquals(0, r.exit(), r.all());
        String next = r.out().lines().reduce((a, b) -> b).orElseThrow().strip();
        assertTrue(next.startsWith("jbang airbyte-source --url ") && next.endsWith(" > source.json"), r.out());
        assertFalse(r.out().contains("\"replication_method\""), "no configuration in setup's report: " + r.out());
        Pg.Run source = Fixes.run(next, Pg.OWNER_PASSWORD);
        assertEquals(0, source.exit(), source.all());
        JsonNode configuration = new ObjectMapper().readTree(source.out());
        assertEquals("airbyte_slot", configuration.get("replication_method").get("replication_slot").asText());
        AirbyteSourceTest.assertValid(configuration);
    }

    /**
     * Issue 12 (3): running setup again with fewer schemas keeps the tables already published; they are listed as
     * published but not asked. Only --remove-unlisted takes them out.
     */
    @Test void runningSetupAgainNeverUnpublishesTablesUnlessAskedByName() throws Exception {
        String db = newDatabase(false);
        Pg.sql(db, "CREATE SCHEMA sales AUTHORIZATION " + Pg.OWNER, "CREATE TABLE sales.invoices (id int PRIMARY KEY)",
                "ALTER TABLE sales.invoices OWNER TO " + Pg.OWNER);
        assertEquals(0, Pg.run(new Setup(), "--url", Pg.url(db), "--schema", "public", "--schema", "sales").exit());
        List<String> all = List.of("public.customers", "public.orders", "sales.invoices");
        assertEquals(all, published(db));

        Pg.Run again = Pg.run(new Setup(), "--url", Pg.url(db), "--schema", "public", "--json");
        assertEquals(0, again.exit(), again.all());
        assertEquals(all, published(db), "sales.invoices stays published");
        assertEquals("ok", Fixtures.status(again, "create-publication", "not asked"), again.out());
        assertTrue(Fixtures.finding(again, "create-publication", "not asked").get("message").asText()
                .contains("\"sales\".\"invoices\""), again.out());

        Pg.Run removed = Pg.run(new Setup(), "--url", Pg.url(db), "--schema", "public", "--remove-unlisted", "--json");
        assertEquals(0, removed.exit(), removed.all());
        assertEquals(List.of("public.customers", "public.orders"), published(db));
        assertEquals("warn", Fixtures.status(removed, "create-publication", "publication"), removed.out());
    }

    @Test void dryRunChangesNothingAndPrintsOneScriptWithThePublicationBeforeTheSlot() throws Exception {
        String db = newDatabase(false);
        String before = Pg.catalog(db);
        Pg.Run r = Pg.run(new Setup(), "--url", Pg.url(db), "--dry-run");
        assertEquals(0, r.exit(), r.all());
        assertEquals(before, Pg.catalog(db));
        int publication = r.out().indexOf("CREATE PUBLICATION"), slot = r.out().indexOf("pg_create_logical_replication_slot");
        assertTrue(publication > 0 && slot > publication, r.out());
        assertFalse(r.out().contains(Pg.OWNER_PASSWORD));
    }

    /** The dry run's whole output is a script: run as it is, it does what setup would, and setup then finds nothing to do. */
    @Test void theDryRunOutputRunAsSqlSetsTheDatabaseUp() throws Exception {
        String db = newDatabase(true);
        Pg.Run dry = Pg.run(new Setup(), "--url", Pg.url(db), "--replica-identity", "full", "--heartbeat", "--dry-run");
        assertEquals(0, dry.exit(), dry.all());
        try (var c = Pg.as(db, Pg.OWNER, Pg.OWNER_PASSWORD); var st = c.createStatement()) {
            st.execute(dry.out());
        }
        String after = Pg.catalog(db);
        Pg.Run again = Pg.run(new Setup(), "--url", Pg.url(db), "--replica-identity", "full", "--heartbeat");
        assertEquals(0, again.exit(), again.all());
        assertEquals(after, Pg.catalog(db), "setup found something the script had not done");
        assertEquals(List.of("public.airbyte_heartbeat", "public.audit", "public.customers", "public.orders"), published(db));
    }

    @Test void aTableWithoutPrimaryKeyStopsSetupBeforeAnythingChanges() throws Exception {
        String db = newDatabase(true);
        String before = Pg.catalog(db);
        Pg.Run dry = Pg.run(new Setup(), "--url", Pg.url(db), "--dry-run");
        assertEquals(1, dry.exit(), dry.all());
        assertEquals(List.of(), dry.out().lines().filter(l -> !l.startsWith("--") && !l.isBlank()).toList(),
                "a dry run that fails prints no SQL: part of a script would do what the real run does not");
        Pg.Run r = Pg.run(new Setup(), "--url", Pg.url(db));
        assertEquals(1, r.exit(), r.all());
        assertEquals(before, Pg.catalog(db));
        Pg.Run fixed = Pg.run(new Setup(), "--url", Pg.url(db), "--replica-identity", "full");
        assertEquals(0, fixed.exit(), fixed.all());
        assertEquals("f", Pg.value(db, "SELECT relreplident FROM pg_class WHERE oid = 'public.audit'::regclass"));
        assertEquals(List.of("public.audit", "public.customers", "public.orders"), published(db));
    }

    @Test void aMissingSchemaIsBadInputAndChangesNothing() throws Exception {
        String db = newDatabase(false);
        String before = Pg.catalog(db);
        assertEquals(2, Pg.run(new Setup(), "--url", Pg.url(db), "--schema", "nope").exit());
        assertEquals(before, Pg.catalog(db));
    }

    @Test void badInputIsCaughtBeforeConnecting() {
        assertEquals(2, Pg.run(new Setup(), "--url", "postgresql://alex@localhost:1/x", "--slot", "Bad-Slot", "--wait", "0").exit());
        assertEquals(2, Pg.run(new Setup(), "--url", "postgresql://alex@localhost:1/x", "--table", "orders", "--wait", "0").exit());
    }
}
