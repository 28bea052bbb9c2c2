import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.sql.Connection;
import java.sql.ResultSet;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

@org.junit.jupiter.api.Tag(AllTests.MAJORS) // its behaviour depends on the major: see tests/README.md
class GrantAccessTest {
    /** A reader role with REPLICATION whose name needs quoting (space, capitals, double quotes). */
    static final String AIR = "Air \"byte\" User", AIR_PASSWORD = "air-Secret-pw-5531";
    static final String AIR_SQL = "\"Air \"\"byte\"\" User\"";
    /** A role that is only a member of a role with REPLICATION. */
    static final String MEMBER = "Member Only", GROUP = "repl group";

    @BeforeAll static void roles() throws Exception {
        if (Pg.value("postgres", "SELECT 1 FROM pg_roles WHERE rolname = 'Air \"byte\" User'") == null)
            Pg.sql("postgres", "CREATE ROLE " + AIR_SQL + " LOGIN REPLICATION PASSWORD '" + AIR_PASSWORD + "'");
        if (Pg.value("postgres", "SELECT 1 FROM pg_roles WHERE rolname = 'Member Only'") == null)
            Pg.sql("postgres", "CREATE ROLE \"repl group\" NOLOGIN REPLICATION", "CREATE ROLE \"Member Only\" LOGIN IN ROLE \"repl group\"");
    }

    /** public and "Sales Data" owned by alex, with alex's tables (one partitioned, one with a quote in its name). */
    static String salesDb() throws Exception {
        String db = Pg.freshDatabase("grant");
        Pg.sql(db, "SET ROLE " + Pg.OWNER,
                "CREATE SCHEMA \"Sales Data\"",
                "CREATE TABLE public.orders (id int PRIMARY KEY)",
                "CREATE TABLE public.events (id int, at date) PARTITION BY RANGE (at)",
                "CREATE TABLE public.events_2025 PARTITION OF public.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
                "CREATE TABLE \"Sales Data\".\"Big Orders\" (id int PRIMARY KEY)",
                "CREATE TABLE \"Sales Data\".\"we\"\"ird\" (id int)",
                "GRANT CREATE ON SCHEMA public, \"Sales Data\" TO " + Pg.APP);
        return db;
    }

    static Pg.Run grant(String db, String... more) {
        List<String> args = new java.util.ArrayList<>(List.of("--url", Pg.url(db), "--role", AIR, "--schema", "public",
                "--schema", "Sales Data"));
        args.addAll(List.of(more));
        return Pg.run(new GrantAccess(), args.toArray(String[]::new));
    }

    /** Tables of public and "Sales Data" the role cannot read, per has_table_privilege. */
    static List<String> unreadable(String db, String role) throws Exception {
        return Pg.column(db, "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                + "WHERE n.nspname IN ('public', 'Sales Data') AND c.relkind IN ('r', 'p') AND NOT has_table_privilege("
                + "(SELECT oid FROM pg_roles WHERE rolname = '" + role.replace("'", "''") + "'), c.oid, 'SELECT') ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\"");
    }

    static long tables(String db) throws Exception {
        return Long.parseLong(Pg.value(db, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                + "WHERE n.nspname IN ('public', 'Sales Data') AND c.relkind IN ('r', 'p')"));
    }

    @Test void grantsTheRoleEveryTableNowAndLater() throws Exception {
        String db = salesDb();
        Pg.sql(db, "CREATE TABLE \"Sales Data\".legacy (id int)", "ALTER TABLE \"Sales Data\".legacy OWNER TO " + Pg.APP);
        Pg.sql("postgres", "GRANT " + Pg.APP + " TO " + Pg.OWNER);
        try {
            assertEquals(List.of("\"Sales Data\".\"Big Orders\"", "\"Sales Data\".legacy", "\"Sales Data\".\"we\"\"ird\"",
                    "public.events", "public.events_2025", "public.orders"), unreadable(db, AIR));
            Pg.Run r = grant(db);
            assertEquals(0, r.exit(), r.all());
            assertEquals(List.of(), unreadable(db, AIR));
            assertEquals("t", Pg.value(db, "SELECT has_schema_privilege('Air \"byte\" User', 'Sales Data', 'USAGE')"));

            // Tables created later, by the connected role and by the other owner, are readable too.
            Pg.sql(db, "SET ROLE " + Pg.OWNER, "CREATE TABLE \"Sales Data\".later_alex (id int)", "CREATE TABLE public.later_alex (id int)",
                    "SET ROLE " + Pg.APP, "CREATE TABLE \"Sales Data\".later_app (id int)");
            assertEquals(List.of(), unreadable(db, AIR));
            assertEquals(9, tables(db));

            // The role itself can read them all, over its own connection.
            try (Connection c = Pg.as(db, AIR, AIR_PASSWORD); var st = c.createStatement()) {
                for (String t : Pg.column(db, "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
                        + "WHERE schemaname IN ('public', 'Sales Data')"))
                    try (ResultSet rs = st.executeQuery("SELECT count(*) FROM " + t)) { assertTrue(rs.next(), t); }
            }
        } finally {
            Pg.sql("postgres", "REVOKE " + Pg.APP + " FROM " + Pg.OWNER);
        }
    }

    @Test void secondRunPlansNothing() throws Exception {
        String db = salesDb();
        assertEquals(0, grant(db).exit());
        String before = Pg.catalog(db);
        // The same role written the quoted way is the same role.
        Pg.Run again = Pg.run(new GrantAccess(), "--url", Pg.url(db), "--role", AIR_SQL, "--schema", "public", "--schema", "\"Sales Data\"");
        assertEquals(0, again.exit(), again.all());
        assertTrue(again.out().contains("already done"), again.out());
        assertEquals(before, Pg.catalog(db));
    }

    @Test void theConnectedRoleByDefaultOnPublicHasNothingToDo() throws Exception {
        String db = salesDb();
        String before = Pg.catalog(db);
        Pg.Run r = Pg.run(new GrantAccess(), "--url", Pg.url(db), "--json");
        assertEquals(0, r.exit(), r.all());
        JsonNode step = new ObjectMapper().readTree(r.out()).get("steps").get(0);
        assertEquals(0, step.get("sql").size(), r.out());
        assertEquals(before, Pg.catalog(db));
    }

    @Test void dryRunPrintsTheScriptAndChangesNothing() throws Exception {
        String db = salesDb();
        String before = Pg.catalog(db);
        Pg.Run r = grant(db, "--dry-run");
        assertEquals(0, r.exit(), r.all());
        assertEquals(before, Pg.catalog(db));
        assertTrue(r.out().contains("BEGIN;\n"), r.out());
        assertTrue(r.out().contains("\nGRANT USAGE ON SCHEMA \"Sales Data\" TO " + AIR_SQL + ";\n"), r.out());
        assertTrue(r.out().contains("ALTER DEFAULT PRIVILEGES IN SCHEMA \"Sales Data\" GRANT SELECT ON TABLES TO " + AIR_SQL + ";"), r.out());
        assertEquals(5, unreadable(db, AIR).size());
    }

    @Test void missingSchemaIsExit2AndGrantsNothing() throws Exception {
        String db = salesDb();
        String before = Pg.catalog(db);
        Pg.Run r = Pg.run(new GrantAccess(), "--url", Pg.url(db), "--role", AIR, "--schema", "public", "--schema", "sales data");
        assertEquals(2, r.exit(), r.all());
        assertTrue(r.err().contains("\"sales data\" does not exist"), r.err());
        assertEquals(before, Pg.catalog(db));
    }

    @Test void missingRoleIsExit2() throws Exception {
        String db = salesDb();
        String before = Pg.catalog(db);
        Pg.Run r = Pg.run(new GrantAccess(), "--url", Pg.url(db), "--role", "air byte user");
        assertEquals(2, r.exit(), r.all());
        assertTrue(r.err().contains("\"air byte user\" does not exist"), r.err());
        assertEquals(before, Pg.catalog(db));
    }

    @Test void roleWithoutReplicationFailsAndChangesNothing() throws Exception {
        String db = salesDb();
        String before = Pg.catalog(db);
        Pg.Run r = Pg.run(new GrantAccess(), "--url", Pg.url(db), "--role", Pg.READER);
        assertEquals(1, r.exit(), r.all());
        assertTrue(r.out().contains("ALTER ROLE \"reader\" REPLICATION;"), r.out());
        assertEquals(before, Pg.catalog(db));
    }

    @Test void replicationThroughMembershipIsNotInherited() throws Exception {
        String db = salesDb();
        String before = Pg.catalog(db);
        Pg.Run r = Pg.run(new GrantAccess(), "--url", Pg.url(db), "--role", MEMBER, "--json");
        assertEquals(1, r.exit(), r.all());
        JsonNode f = CheckWalTest.find(new ObjectMapper().readTree(r.out()).get("steps").get(0), "replication");
        assertEquals("fail", f.get("status").asText());
        assertTrue(f.get("message").asText().contains("member of \"repl group\", which has it, but REPLICATION is a role "
                + "attribute and is not inherited"), f.toString());
        assertEquals(before, Pg.catalog(db));
    }

    @Test void onNeonTheFixIsANeonRoleNotAlterRole() throws Exception {
        String db = salesDb();
        Pg.sql("postgres", "ALTER DATABASE " + db + " SET neon.endpoint_id = 'ep-cool-darkness-123456'");
        Pg.Run r = Pg.run(new GrantAccess(), "--url", Pg.url(db), "--role", Pg.READER);
        assertEquals(1, r.exit(), r.all());
        assertTrue(r.out().contains("Neon console"), r.out());
        assertFalse(r.out().contains("ALTER ROLE"), r.out());
    }

    @Test void tablesOfARoleWeCannotActForFailBeforeAnyChange() throws Exception {
        String db = salesDb();
        Pg.sql("postgres", "REVOKE " + Pg.APP + " FROM " + Pg.OWNER);
        Pg.sql(db, "SET ROLE " + Pg.APP, "CREATE TABLE public.app_table (id int)");
        String before = Pg.catalog(db);
        Pg.Run r = grant(db, "--json");
        assertEquals(1, r.exit(), r.all());
        assertEquals(before, Pg.catalog(db));
        JsonNode step = new ObjectMapper().readTree(r.out()).get("steps").get(0);
        JsonNode warn = CheckWalTest.find(step, "default privileges");
        assertEquals("warn", warn.get("status").asText());
        assertTrue(warn.get("message").asText().startsWith("\"app_owner\" owns tables in schema \"public\""), warn.toString());
        assertTrue(warn.get("fix").asText().contains("GRANT \"app_owner\" TO \"alex\""), warn.toString());
        JsonNode fail = CheckWalTest.find(step, "schema \"public\"");
        assertEquals("fail", fail.get("status").asText(), step.toString());
        assertTrue(fail.get("message").asText().contains("\"public\".\"app_table\" (owned by \"app_owner\")"), fail.toString());

        // verify() (run after a change) lists the same table from the catalog.
        Runbook.Step step2 = GrantAccess.step(new GrantAccess.Options(null, AIR, List.of("public"), Defaults.LOCK_TIMEOUT, Again.typed()));
        try (Connection c = Pg.as(db, Pg.OWNER, Pg.OWNER_PASSWORD)) {
            Pipeline look = new Pipeline(c);
            Runbook.Looking looking = step2.verify(look);
            look.run();
            List<Runbook.Finding> verified = looking.get();
            assertEquals(1, verified.size(), verified.toString());
            assertEquals(Runbook.Status.FAIL, verified.get(0).status());
            assertTrue(verified.get(0).message().contains("\"public\".\"app_table\""), verified.toString());
        }
    }

    /** Why grant-access checks first: PostgreSQL refuses the whole GRANT when one table is not ours to grant. */
    @Test void postgresqlRefusesGrantOnAllTablesWithOneTableNotOurs() throws Exception {
        String db = salesDb();
        Pg.sql("postgres", "REVOKE " + Pg.APP + " FROM " + Pg.OWNER);
        Pg.sql(db, "SET ROLE " + Pg.APP, "CREATE TABLE public.app_table (id int)");
        try (Connection c = Pg.as(db, Pg.OWNER, Pg.OWNER_PASSWORD); var st = c.createStatement()) {
            var e = assertThrows(java.sql.SQLException.class, () -> st.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO " + AIR_SQL));
            assertEquals("42501", e.getSQLState());
        }
    }

    @Test void aSchemaWeMayNotGrantUsageOnFails() throws Exception {
        String db = salesDb();
        Pg.sql(db, "CREATE SCHEMA \"App Schema\" AUTHORIZATION " + Pg.APP, "GRANT USAGE ON SCHEMA \"App Schema\" TO " + Pg.OWNER);
        String before = Pg.catalog(db);
        Pg.Run r = Pg.run(new GrantAccess(), "--url", Pg.url(db), "--role", AIR, "--schema", "App Schema", "--json");
        assertEquals(1, r.exit(), r.all());
        assertEquals(before, Pg.catalog(db));
        // Issue 12 (6): the one fix that works when pasted: membership in the schema's owner, then the same command.
        String fix = CheckWalTest.find(new ObjectMapper().readTree(r.out()).get("steps").get(0), "schema \"App Schema\"").get("fix").asText();
        assertTrue(fix.startsWith("GRANT \"app_owner\" TO \"alex\";"), fix);
        try {
            Pg.Run fixed = Fixes.apply(fix, db, Pg.OWNER, Pg.OWNER_PASSWORD).run();
            assertEquals(0, fixed.exit(), fixed.all());
            assertEquals("t", Pg.value(db, "SELECT has_schema_privilege('Air \"byte\" User', 'App Schema', 'USAGE')"));
        } finally {
            Pg.sql("postgres", "REVOKE " + Pg.APP + " FROM " + Pg.OWNER);
        }
    }

    /** Issue 12 (7): what the guide's GRANT SELECT ON ALL TABLES IN SCHEMA gives: views, materialized views, foreign tables. */
    @Test void viewsMaterializedViewsAndForeignTablesAreReadableToo() throws Exception {
        String db = salesDb();
        Pg.sql(db, "CREATE FOREIGN DATA WRAPPER runbook_fdw", "CREATE SERVER runbook_server FOREIGN DATA WRAPPER runbook_fdw",
                "GRANT USAGE ON FOREIGN SERVER runbook_server TO " + Pg.OWNER);
        Pg.sql(db, "SET ROLE " + Pg.OWNER, "CREATE VIEW public.order_ids AS SELECT id FROM public.orders",
                "CREATE MATERIALIZED VIEW public.order_count AS SELECT count(*) FROM public.orders",
                "CREATE FOREIGN TABLE public.remote_orders (id int) SERVER runbook_server");
        String readable = "SELECT string_agg(c.relname || '=' || has_table_privilege('Air \"byte\" User', c.oid, 'SELECT'), ' ' "
                + "ORDER BY c.relname) FROM pg_class c WHERE c.relname IN ('order_ids', 'order_count', 'remote_orders')";
        assertEquals("order_count=false order_ids=false remote_orders=false", Pg.value(db, readable));
        Pg.Run r = grant(db);
        assertEquals(0, r.exit(), r.all());
        assertEquals("order_count=true order_ids=true remote_orders=true", Pg.value(db, readable));
        assertEquals(0, grant(db).exit());
        assertTrue(grant(db).out().contains("already done"), "a second run finds nothing to grant");
    }
    /**
     * Another session altered a table and has not committed: the GRANT would wait on that catalog row for ever. It
     * gives up within --lock-timeout with exit 4, granting nothing; once that session ends, a rerun grants.
     */
    @Test void aTableAlteredInAnOpenTransactionStopsItWithinTheLockTimeout() throws Exception {
        String db = salesDb();
        String before = Pg.catalog(db);
        try (Connection other = Pg.superuser(db)) {
            other.setAutoCommit(false);
            other.createStatement().execute("ALTER TABLE public.orders ADD COLUMN note text");
            Pg.Run r = grant(db, "--lock-timeout", "300ms");
            assertEquals(4, r.exit(), r.all());
            assertTrue(r.err().contains("could not take a lock within lock_timeout"), r.err());
            // Issue 12 (5): the table, and who holds it
            int pid = other.unwrap(org.postgresql.PGConnection.class).getBackendPID();
            assertTrue(r.err().contains("on orders: held by pid " + pid + " (role postgres"), r.err());
            assertTrue(r.err().endsWith("; nothing was changed. Wait for it to end and run this again, or end that session (as a "
                    + "superuser, a member of its role, or of pg_signal_backend):  SELECT pg_terminate_backend(" + pid + ");\n"), r.err());
            other.rollback();
        }
        assertEquals(before, Pg.catalog(db));
        assertEquals(0, grant(db, "--lock-timeout", "300ms").exit());
        assertEquals("t", Pg.value(db, "SELECT has_table_privilege('" + AIR.replace("'", "''") + "', 'public.orders', 'SELECT')"));
    }
}
