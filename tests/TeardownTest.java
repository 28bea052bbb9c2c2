import static org.junit.jupiter.api.Assertions.*;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

@org.junit.jupiter.api.Tag(AllTests.MAJORS) // its behaviour depends on the major: see tests/README.md
class TeardownTest {
    /** The role Airbyte connects as: REPLICATION, owns nothing. */
    static final String AIR = "lifecycle_air";

    @BeforeAll static void role() throws Exception {
        if (Pg.value("postgres", "SELECT 1 FROM pg_roles WHERE rolname = '" + AIR + "'") == null)
            Pg.sql("postgres", "CREATE ROLE " + AIR + " LOGIN REPLICATION PASSWORD 'air-Secret-pw-3141'");
    }

    /** Slots are cluster-wide: each test leaves none of its own behind. */
    @AfterEach void dropSlots() throws Exception {
        Pg.sql("postgres", "SELECT pg_terminate_backend(active_pid, 10000) FROM pg_replication_slots WHERE slot_name LIKE 'teardown%' AND active",
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'teardown%'");
        Pg.sql("postgres", "REVOKE " + Pg.APP + " FROM " + Pg.OWNER);
    }

    /** public.orders and sales.invoices owned by alex, sales.legacy by app_owner; all with rows. */
    static String shop() throws Exception {
        String db = Pg.freshDatabase("teardown");
        Pg.sql(db, "SET ROLE " + Pg.OWNER, "CREATE SCHEMA sales",
                "CREATE TABLE public.orders (id int PRIMARY KEY)", "INSERT INTO public.orders SELECT generate_series(1, 5)",
                "CREATE TABLE sales.invoices (id int PRIMARY KEY)", "INSERT INTO sales.invoices VALUES (1), (2)",
                "RESET ROLE", "CREATE TABLE sales.legacy (id int PRIMARY KEY)", "INSERT INTO sales.legacy VALUES (1)",
                "ALTER TABLE sales.legacy OWNER TO " + Pg.APP);
        return db;
    }

    static Pg.Run setup(String db, String slot) throws SQLException {
        Pg.sql("postgres", "GRANT " + Pg.APP + " TO " + Pg.OWNER); // to grant on, and publish, app_owner's table
        Pg.Run r = Pg.run(new Setup(), "--url", Pg.url(db), "--role", AIR, "--schema", "public", "--schema", "sales", "--slot", slot);
        assertEquals(0, r.exit(), r.all());
        return r;
    }

    static Pg.Run teardown(String db, String slot, String... more) {
        List<String> args = new java.util.ArrayList<>(List.of("--url", Pg.url(db), "--slot", slot));
        args.addAll(List.of(more));
        return Pg.run(new Teardown(), args.toArray(String[]::new));
    }

    /**
     * Every privilege on the tables and schemas and every default privilege, as aclexplode sees them (a NULL ACL as
     * its default): equal snapshots mean the same rights, whatever the ACL's spelling.
     */
    static String privileges(String db) throws SQLException {
        return String.join("\n", Pg.column(db, """
                SELECT format('%s %s: %s', kind, name, (SELECT string_agg(p, ' ' ORDER BY p) FROM aclexplode(acl) a,
                              format('%s>%s %s%s', a.grantor::regrole, CASE a.grantee WHEN 0 THEN 'PUBLIC'
                                     ELSE a.grantee::regrole::text END, a.privilege_type,
                                     CASE WHEN a.is_grantable THEN '*' ELSE '' END) p))
                  FROM (SELECT 'table' kind, c.oid::regclass::text name, coalesce(c.relacl, acldefault('r', c.relowner)) acl
                          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE n.nspname IN ('public', 'sales') AND c.relkind = 'r'
                        UNION ALL SELECT 'schema', nspname, coalesce(nspacl, acldefault('n', nspowner)) FROM pg_namespace
                        UNION ALL SELECT 'default', format('%s %s', defaclrole::regrole, defaclnamespace::regnamespace), defaclacl
                          FROM pg_default_acl) x ORDER BY 1"""));
    }

    static List<String> rows(String db) throws SQLException {
        return Pg.column(db, "SELECT (SELECT count(*) FROM public.orders) || ' ' || (SELECT count(*) FROM sales.invoices) "
                + "|| ' ' || (SELECT count(*) FROM sales.legacy)");
    }

    static List<String> slots(String slot) throws SQLException {
        return Pg.column("postgres", "SELECT slot_name FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
    }

    static List<String> publications(String db) throws SQLException { return Pg.column(db, "SELECT pubname FROM pg_publication"); }

    static String readable(String db, String role) throws SQLException {
        return Pg.value(db, "SELECT string_agg(c.oid::regclass::text, ' ' ORDER BY c.oid::regclass::text) FROM pg_class c JOIN pg_namespace n "
                + "ON n.oid = c.relnamespace WHERE n.nspname IN ('public', 'sales') AND c.relkind = 'r' "
                + "AND has_table_privilege('" + role + "', c.oid, 'SELECT')");
    }

    @Test void removesTheSlotThePublicationAndTheGrantsAndASecondRunIsAlreadyDone() throws Exception {
        String db = shop();
        String privileges = privileges(db);
        setup(db, "teardown_all");
        assertEquals("orders sales.invoices sales.legacy", readable(db, AIR));
        assertEquals("3", Pg.value(db, "SELECT count(*) FROM pg_default_acl d, aclexplode(d.defaclacl) a WHERE a.grantee = '" + AIR + "'::regrole"));

        Pg.Run r = teardown(db, "teardown_all", "--revoke", "--role", AIR, "--schema", "public", "--schema", "sales", "--yes");
        assertEquals(0, r.exit(), r.all());
        assertEquals(List.of(), slots("teardown_all"));
        assertEquals(List.of(), publications(db));
        assertNull(readable(db, AIR), "has_table_privilege is false everywhere");
        assertEquals("0", Pg.value(db, "SELECT count(*) FROM pg_default_acl d, aclexplode(d.defaclacl) a WHERE a.grantee = '" + AIR + "'::regrole"));
        assertEquals(privileges, privileges(db), "the rights are those from before setup");
        assertEquals(List.of("5 2 1"), rows(db), "tables and rows stay");
        assertTrue(r.out().contains("frees the "), r.out());

        String catalog = Pg.catalog(db);
        Pg.Run again = teardown(db, "teardown_all", "--revoke", "--role", AIR, "--schema", "public", "--schema", "sales");
        assertEquals(0, again.exit(), again.all());
        assertTrue(again.out().contains("already done"), again.out());
        assertEquals(catalog, Pg.catalog(db));
    }

    @Test void withoutATerminalAndWithoutYesNothingChanges() throws Exception {
        String db = shop();
        setup(db, "teardown_noyes");
        String before = Pg.catalog(db);
        Pg.Run r = teardown(db, "teardown_noyes", "--revoke", "--role", AIR);
        assertEquals(1, r.exit(), r.all());
        assertEquals(before, Pg.catalog(db));
        assertTrue(r.err().contains("--yes"), r.err());
        assertTrue(r.out().contains("pg_drop_replication_slot('teardown_noyes')"), "it shows what it would drop: " + r.out());
    }

    @Test void onATerminalItAsksAndOnlyYesDrops() throws Exception {
        String db = shop();
        setup(db, "teardown_ask");
        String before = Pg.catalog(db);
        assertEquals(1, Pg.run(answering(false), "--url", Pg.url(db), "--slot", "teardown_ask").exit());
        assertEquals(before, Pg.catalog(db));
        Pg.Run yes = Pg.run(answering(true), "--url", Pg.url(db), "--slot", "teardown_ask");
        assertEquals(0, yes.exit(), yes.all());
        assertEquals(List.of(), slots("teardown_ask"));
        assertEquals(List.of(), publications(db));
    }

    static Teardown answering(boolean answer) {
        return new Teardown() {
            @Override boolean terminal() { return true; }
            @Override Boolean ask(String question) { return answer; }
        };
    }

    @Test void dryRunChangesNothingAndPrintsTheSql() throws Exception {
        String db = shop();
        setup(db, "teardown_dry");
        String before = Pg.catalog(db);
        Pg.Run r = teardown(db, "teardown_dry", "--revoke", "--role", AIR, "--schema", "sales", "--dry-run");
        assertEquals(0, r.exit(), r.all());
        assertEquals(before, Pg.catalog(db));
        for (String sql : List.of("REVOKE SELECT ON ALL TABLES IN SCHEMA \"sales\" FROM \"lifecycle_air\";",
                "REVOKE USAGE ON SCHEMA \"sales\" FROM \"lifecycle_air\";",
                "ALTER DEFAULT PRIVILEGES FOR ROLE \"app_owner\" IN SCHEMA \"sales\" REVOKE SELECT ON TABLES FROM \"lifecycle_air\";",
                "DROP PUBLICATION \"airbyte_publication\";", "SELECT pg_drop_replication_slot('teardown_dry');"))
            assertTrue(r.out().contains(sql), sql + " in " + r.out());
        assertTrue(r.out().indexOf("pg_drop_replication_slot") > r.out().indexOf("DROP PUBLICATION"), "the slot goes last");
    }

    @Test void anActiveSlotIsRefusedAndDroppedWithForce() throws Exception {
        String db = shop();
        setup(db, "teardown_active");
        Db target = new Db();
        target.url = Pg.url(db);
        CdcStream stream = CdcStream.open(target.target(), "teardown_active", "airbyte_publication");
        try {
            String pid = Pg.value("postgres", "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'teardown_active'");
            assertNotNull(pid);
            String before = Pg.catalog(db);
            Pg.Run refused = teardown(db, "teardown_active", "--yes");
            assertEquals(1, refused.exit(), refused.all());
            assertTrue(refused.out().contains("pid " + pid), refused.out());
            assertFalse(refused.out().contains("not dropped:"), "the slot's own failure says it; no second, circular fix: " + refused.out());
            assertEquals(before, Pg.catalog(db), "the publication stays too: nothing changed");

            Pg.Run forced = teardown(db, "teardown_active", "--yes", "--force");
            assertEquals(0, forced.exit(), forced.all());
            assertEquals(List.of(), slots("teardown_active"));
            assertEquals(List.of(), publications(db));
            assertEquals(List.of(), Pg.column("postgres", "SELECT pid FROM pg_stat_activity WHERE pid = " + pid), "walsender terminated");
        } finally {
            try { stream.close(); } catch (SQLException terminated) { }
        }
    }

    @Test void dropsTheHeartbeatTableOnlyWhenAskedAndNothingElse() throws Exception {
        String db = shop();
        Pg.sql(db, "SET ROLE " + Pg.OWNER, "CREATE TABLE public.airbyte_heartbeat (id int PRIMARY KEY, at timestamptz)",
                "INSERT INTO public.airbyte_heartbeat VALUES (1, now())", "CREATE TABLE public.airbyte_heartbeat_log (id int PRIMARY KEY)");
        setup(db, "teardown_heartbeat");
        assertEquals("t", Pg.value(db, "SELECT EXISTS (SELECT FROM pg_publication_tables WHERE tablename = 'airbyte_heartbeat')"));
        String tables = "SELECT string_agg(oid::regclass::text, ' ' ORDER BY oid::regclass::text) FROM pg_class WHERE relkind = 'r' AND relnamespace IN ('public'::regnamespace, 'sales'::regnamespace)";

        assertEquals(0, teardown(db, "teardown_heartbeat", "--yes").exit());
        assertEquals("airbyte_heartbeat airbyte_heartbeat_log orders sales.invoices sales.legacy", Pg.value(db, tables));

        Pg.Run r = teardown(db, "teardown_heartbeat", "--yes", "--drop-heartbeat");
        assertEquals(0, r.exit(), r.all());
        assertEquals("airbyte_heartbeat_log orders sales.invoices sales.legacy", Pg.value(db, tables));
        assertEquals(List.of("5 2 1"), rows(db));
        assertEquals(0, teardown(db, "teardown_heartbeat", "--yes", "--drop-heartbeat").exit(), "already done");
    }

    /** A session that read the heartbeat table and stays open: teardown gives up within --lock-timeout, dropping nothing. */
    @Test void aTableInUseStopsItWithinTheLockTimeoutAndNothingIsDropped() throws Exception {
        String db = shop();
        Pg.sql(db, "SET ROLE " + Pg.OWNER, "CREATE TABLE public.airbyte_heartbeat (id int PRIMARY KEY, at timestamptz)");
        setup(db, "teardown_busy");
        try (Connection reader = Pg.superuser(db)) {
            reader.setAutoCommit(false);
            reader.createStatement().executeQuery("SELECT count(*) FROM public.airbyte_heartbeat").close();
            Pg.Run r = teardown(db, "teardown_busy", "--yes", "--drop-heartbeat", "--lock-timeout", "300ms");
            assertEquals(4, r.exit(), r.all());
            assertTrue(r.err().contains("could not take a lock within lock_timeout on airbyte_heartbeat: held by pid "
                    + reader.unwrap(org.postgresql.PGConnection.class).getBackendPID() + " (role postgres"), r.err());
            reader.rollback();
        }
        assertEquals(List.of("airbyte_publication"), publications(db));
        assertEquals(List.of("teardown_busy"), slots("teardown_busy"));
        assertEquals("1", Pg.value(db, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = 'airbyte_heartbeat'"));
        assertEquals(0, teardown(db, "teardown_busy", "--yes", "--drop-heartbeat", "--lock-timeout", "300ms").exit());
        assertEquals(List.of(), publications(db));
    }

    /**
     * Issue 12 (2): a mistyped --slot would drop the publication the real slot reads, which poisons that slot at the
     * next write. teardown stops (exit 1, nothing changed), names the slot and the command that drops both; that
     * command, run as printed, drops both. --force drops the publication anyway.
     */
    @Test void aMistypedSlotNeverDropsThePublicationAnotherSlotReads() throws Exception {
        String db = shop();
        setup(db, "teardown_real");
        String before = Pg.catalog(db);
        Pg.Run r = teardown(db, "teardown_typo", "--yes", "--json");
        assertEquals(1, r.exit(), r.all());
        assertEquals(before, Pg.catalog(db), "nothing changed");
        assertEquals("fail", Fixtures.status(r, "teardown", "publication"), r.out());
        assertTrue(Fixtures.finding(r, "teardown", "publication").get("message").asText().contains("teardown_real"), r.out());
        String fix = Fixtures.fix(r, "teardown", "publication");
        assertTrue(fix.contains("--slot teardown_real") && !fix.startsWith("or"), fix);
        assertEquals(0, Fixes.apply(fix, db, Pg.OWNER, Pg.OWNER_PASSWORD).exit());
        assertEquals(List.of(), publications(db));
        assertEquals(List.of(), slots("teardown_real"));

        setup(db, "teardown_real");
        Pg.Run forced = teardown(db, "teardown_typo", "--yes", "--force", "--json");
        assertEquals(0, forced.exit(), forced.all());
        assertEquals("warn", Fixtures.status(forced, "teardown", "publication"), forced.out());
        assertEquals(List.of(), publications(db));
        assertEquals(List.of("teardown_real"), slots("teardown_real"), "--force drops the publication only");
        assertEquals(0, teardown(db, "teardown_real", "--yes").exit());
    }

    /** Two slots, one dropped: the other may read the publication, so it stays unless --force. */
    /** A slot name that is another database's: the first fix stays here (this database's own slot), and works as printed. */
    @Test void aSlotOfAnotherDatabaseIsLeftAloneAndTheFixNamesThisDatabasesSlot() throws Exception {
        String db = shop();
        setup(db, "teardown_here");
        Pg.sql("postgres", "SELECT pg_create_logical_replication_slot('teardown_elsewhere', 'pgoutput')");
        try {
            Pg.Run r = teardown(db, "teardown_elsewhere", "--yes", "--json");
            assertEquals(1, r.exit(), r.all());
            String fix = Fixtures.json(r).get("steps").get(0).get("findings").findValues("fix").get(0).asText();
            assertTrue(fix.startsWith("if this database's slot is teardown_here:  "), fix);
            Fixes.Ran ran = Fixes.apply(fix, db, Pg.OWNER, Pg.OWNER_PASSWORD);
            assertEquals(0, ran.exit(), ran.all());
            assertEquals(List.of(), slots("teardown_here"));
            assertEquals(1, slots("teardown_elsewhere").size(), "the other database's slot stays");
        } finally {
            Pg.sql("postgres", "SELECT pg_drop_replication_slot('teardown_elsewhere')");
        }
    }

    @Test void anotherSlotInTheDatabaseKeepsThePublicationUnlessForced() throws Exception {
        String db = shop();
        setup(db, "teardown_one");
        assertEquals(0, Pg.run(new CreateSlot(), "--url", Pg.url(db), "--slot", "teardown_two").exit());
        Pg.Run r = teardown(db, "teardown_one", "--yes", "--json");
        assertEquals(1, r.exit(), r.all());
        assertEquals(List.of("teardown_one"), slots("teardown_one"), "nothing changed: the slot stays too");
        assertEquals(List.of("airbyte_publication"), publications(db));
        assertEquals(0, teardown(db, "teardown_one", "--yes", "--force").exit());
        assertEquals(List.of(), slots("teardown_one"));
        assertEquals(List.of("teardown_two"), slots("teardown_two"));
        assertEquals(List.of(), publications(db));
    }

    @Test void aHeartbeatNameInTwoSchemasIsBadInputAndNothingChanges() throws Exception {
        String db = shop();
        Pg.sql(db, "SET ROLE " + Pg.OWNER, "CREATE TABLE public.airbyte_heartbeat (id int)", "CREATE TABLE sales.airbyte_heartbeat (id int)");
        String before = Pg.catalog(db);
        Pg.Run r = teardown(db, "teardown_two", "--yes", "--drop-heartbeat");
        assertEquals(2, r.exit(), r.all());
        assertEquals(before, Pg.catalog(db));
        Pg.Run one = teardown(db, "teardown_two", "--yes", "--drop-heartbeat", "--heartbeat-table", "sales.airbyte_heartbeat");
        assertEquals(0, one.exit(), one.all());
        assertNotNull(Pg.value(db, "SELECT to_regclass('public.airbyte_heartbeat')"));
        assertNull(Pg.value(db, "SELECT to_regclass('sales.airbyte_heartbeat')"));
    }

    @Test void revokingFromAnOwnerKeepsWhatItHasAsOwner() throws Exception {
        String db = shop();
        Pg.sql("postgres", "GRANT " + Pg.APP + " TO " + Pg.OWNER);
        Pg.sql(db, "GRANT SELECT ON sales.legacy TO " + Pg.OWNER);
        Pg.Run r = teardown(db, "teardown_owner", "--revoke", "--role", Pg.OWNER, "--schema", "sales", "--yes");
        assertEquals(0, r.exit(), r.all());
        assertTrue(r.out().contains("an owner's rights are never revoked"), r.out());
        assertEquals("t", Pg.value(db, "SELECT has_table_privilege('" + Pg.OWNER + "', 'sales.invoices', 'SELECT')"));
        assertEquals("0", Pg.value(db, "SELECT count(*) FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = 'sales.legacy'::regclass "
                + "AND a.grantee = '" + Pg.OWNER + "'::regrole"), "its grant on a table it does not own is gone");
    }

    @Test void badInputIsCaughtBeforeConnecting() {
        String url = "postgresql://alex@localhost:1/x";
        for (List<String> args : List.of(List.of("--slot", "Bad-Slot"), List.of("--role", "air"), List.of("--schema", "s"),
                List.of("--revoke"), List.of("--revoke", "--role", ""), List.of("--heartbeat-table", "a.b.c"))) {
            List<String> all = new java.util.ArrayList<>(List.of("--url", url, "--wait", "0"));
            all.addAll(args);
            Pg.Run r = Pg.run(new Teardown(), all.toArray(String[]::new));
            assertEquals(2, r.exit(), args + ": " + r.all());
        }
    }

    @Test void anUnknownRoleOrSchemaIsBadInput() throws Exception {
        String db = shop();
        String before = Pg.catalog(db);
        assertEquals(2, teardown(db, "teardown_x", "--revoke", "--role", "nobody_here", "--yes").exit());
        assertEquals(2, teardown(db, "teardown_x", "--revoke", "--role", AIR, "--schema", "nope", "--yes").exit());
        assertEquals(before, Pg.catalog(db));
    }
}
