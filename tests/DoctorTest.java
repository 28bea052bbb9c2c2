import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Doctor on a real PostgreSQL: each check made to fail, then passing once the fix it prints is applied (or the step it
 * names is run); and doctor changing nothing, --deep included.
 */
class DoctorTest {
    /** A role like the one Airbyte connects as; roles are cluster-wide, so the name is this class's own. */
    static final String ROLE = "doctor_airbyte", ROLE_PASSWORD = "doctor-Secret-pw-3391";

    @BeforeAll static void role() throws Exception {
        Pg.sql("postgres", "DROP ROLE IF EXISTS " + ROLE);
    }

    @AfterEach void dropSlots() throws Exception {
        Pg.sql("postgres", "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'doctor%' AND NOT active");
    }

    @AfterAll static void dropRole() throws Exception {
        for (String db : Pg.column("postgres", "SELECT datname FROM pg_database WHERE datname LIKE 'doctor%'"))
            Pg.sql(db, "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '" + ROLE + "') THEN DROP OWNED BY " + ROLE + "; END IF; END $$");
        Pg.sql("postgres", "DROP ROLE IF EXISTS " + ROLE);
    }

    @Test void afterSetupDoctorPassesAndDeepChangesNothing() throws Exception {
        String db = Fixtures.shop();
        Fixtures.setup(db);
        Fixtures.as(db, "INSERT INTO public.customers VALUES (1, 'Ada')", "UPDATE public.customers SET name = 'Ada L.'");
        String catalog = Pg.catalog(db), confirmed = Fixtures.confirmed(Fixtures.SLOT), pending = Fixtures.pending(db, Fixtures.SLOT);
        assertNotEquals("0", pending);

        Pg.Run r = Fixtures.doctor(db, "--deep");
        assertEquals(0, r.exit(), r.all());
        assertEquals(List.of(), Fixtures.failures(r));
        assertEquals("ok", Fixtures.status(r, "slot", "decoding"), r.out());
        assertEquals("ok", Fixtures.status(r, "airbyte check", "verdict"), r.out());
        assertEquals(catalog, Pg.catalog(db));
        assertEquals(confirmed, Fixtures.confirmed(Fixtures.SLOT));
        assertEquals(pending, Fixtures.pending(db, Fixtures.SLOT), "the change is still there to be read");

        Pg.Run text = Pg.run(new Doctor(), "--url", Pg.url(db), "--slot", Fixtures.SLOT);
        assertEquals(0, text.exit(), text.all());
        assertTrue(text.out().contains("Airbyte's connection test would pass"), text.out());
        assertFalse(text.all().contains(Pg.OWNER_PASSWORD));
    }

    @Test void aCheckTheServerRefusesIsAWarningAndTheChecksAfterItStillRun() throws Exception {
        String db = Fixtures.shop();
        Fixtures.setup(db);
        // Only doctor's publication reads call pg_partition_root; without EXECUTE on it, the server refuses them.
        Pg.sql(db, "REVOKE EXECUTE ON FUNCTION pg_partition_root(regclass) FROM PUBLIC");
        Pg.Run r = Fixtures.doctor(db);
        JsonNode refused = Fixtures.finding(r, "publication", "publication");
        assertNotNull(refused, r.out());
        assertEquals("warn", refused.get("status").asText());
        assertTrue(refused.get("message").asText().equals("could not check: permission denied for function pg_partition_root"), r.out());
        assertEquals("ok", Fixtures.status(r, "slot", "wal"), r.out());
        assertEquals("ok", Fixtures.status(r, "airbyte check", "verdict"), r.out());
        assertEquals(List.of(), Fixtures.failures(r));
    }

    /**
     * A refused query hides no check that can still run: without pg_partition_root the publication cannot be read, yet
     * create-publication's own check finds a published table whose UPDATEs would fail, and doctor says it is not ready.
     */
    @Test void aRefusedPublicationReadStillFindsAMissingReplicaIdentity() throws Exception {
        String db = Fixtures.shop();
        Fixtures.setup(db);
        Fixtures.as(db, "CREATE TABLE public.notes (body text)", "ALTER PUBLICATION airbyte_publication ADD TABLE public.notes");
        Pg.sql(db, "REVOKE EXECUTE ON FUNCTION pg_partition_root(regclass) FROM PUBLIC");
        Pg.Run r = Fixtures.doctor(db);
        assertEquals(1, r.exit(), r.out());
        assertEquals("warn", Fixtures.status(r, "publication", "publication"), r.out());
        assertEquals("warn", Fixtures.status(r, "replica identity", "replica identity"), r.out());
        assertTrue(Fixtures.finding(r, "publication", "replica identity").get("message").asText()
                .contains("\"public\".\"notes\""), r.out());
    }

    /** Airbyte's own check is refused when its role may not read pg_replication_slots: that is Airbyte failing, not ok. */
    @Test void airbytesCheckRefusedByTheServerFailsAndItsFixWorks() throws Exception {
        String db = Fixtures.shop();
        Fixtures.setup(db);
        Pg.sql(db, "REVOKE SELECT ON pg_catalog.pg_replication_slots FROM PUBLIC");
        Pg.Run r = Fixtures.doctor(db);
        assertEquals(1, r.exit(), r.out());
        assertEquals("fail", Fixtures.status(r, "airbyte check", "slot query"), r.out());
        assertEquals("fail", Fixtures.status(r, "airbyte check", "verdict"), r.out());
        Fixes.apply(Fixtures.fix(r, "airbyte check", "slot query"), db, Pg.OWNER, Pg.OWNER_PASSWORD);
        assertEquals(0, Fixtures.doctor(db).exit());
    }

    @Test void catalogReadsDoNotGrowWithTheNumberOfTables() throws Exception {
        String db = Fixtures.shop();
        Fixtures.setup(db);
        Fixtures.as(db, "INSERT INTO public.customers VALUES (1, 'pending')"); // --deep decodes what is pending: something
        int few = Pg.statements(() -> assertEquals(0, Fixtures.doctor(db, "--deep").exit()));
        List<String> more = new ArrayList<>();
        for (int i = 0; i < 40; i++) more.add("CREATE TABLE public.t" + i + " (id int PRIMARY KEY)");
        Fixtures.as(db, more.toArray(String[]::new));
        Fixtures.setup(db);
        Fixtures.as(db, "INSERT INTO public.customers VALUES (2, 'pending')");
        int many = Pg.statements(() -> assertEquals(0, Fixtures.doctor(db, "--deep").exit()));
        assertTrue(few > 10, "the counter sees doctor's statements: " + few);
        assertEquals(few, many, "42 tables take as many statements as 2");
    }

    @Test void aMissingRoleIsAFindingAndTheFixCreatesIt() throws Exception {
        String db = Fixtures.shop();
        Fixtures.setup(db);
        Pg.Run r = Fixtures.doctor(db, "--role", ROLE);
        assertEquals(1, r.exit(), r.all());
        assertEquals("fail", Fixtures.status(r, "role", "role"), r.out());
        assertNull(Fixtures.finding(r, "tables", "grant-access"), "a missing role is one finding, not a cascade");
        String fix = Fixtures.fix(r, "role", "role");
        assertTrue(fix.contains("CREATE ROLE \"" + ROLE + "\" LOGIN REPLICATION PASSWORD '<password>';"), fix);
        Pg.sql("postgres", fix.substring(fix.indexOf("CREATE ROLE")).replace("<password>", ROLE_PASSWORD));
        Pg.Run after = Fixtures.doctor(db, "--role", ROLE);
        assertEquals("ok", Fixtures.status(after, "role", "login"), after.out());
        assertEquals("ok", Fixtures.status(after, "role", "replication"), after.out());
        Pg.sql(db, "DROP OWNED BY " + ROLE);
        Pg.sql("postgres", "DROP ROLE " + ROLE);
    }

    @Test void aRoleThatCannotLogInConnectOrReplicateFailsUntilFixed() throws Exception {
        String db = Fixtures.shop();
        Fixtures.setup(db);
        Pg.sql("postgres", "CREATE ROLE " + ROLE + " NOLOGIN");
        Pg.sql("postgres", "REVOKE CONNECT ON DATABASE " + db + " FROM PUBLIC");
        Pg.sql(db, "GRANT SELECT ON ALL TABLES IN SCHEMA public TO " + ROLE,
                "ALTER DEFAULT PRIVILEGES FOR ROLE " + Pg.OWNER + " IN SCHEMA public GRANT SELECT ON TABLES TO " + ROLE);
        Pg.Run r = Fixtures.doctor(db, "--role", ROLE);
        assertEquals(1, r.exit(), r.all());
        assertEquals("fail", Fixtures.status(r, "role", "login"), r.out());
        assertEquals("fail", Fixtures.status(r, "role", "connect"), r.out());
        assertEquals("fail", Fixtures.status(r, "role", "replication"), r.out());
        assertEquals(List.of("role/login=fail", "role/connect=fail", "role/replication=fail"), Fixtures.failures(r));

        Pg.sql("postgres", Fixtures.fix(r, "role", "login"));
        Fixtures.as(db, Fixtures.fix(r, "role", "connect"));
        assertTrue(Fixtures.fix(r, "role", "replication").contains("ALTER ROLE \"" + ROLE + "\" REPLICATION;"), r.out());
        Pg.sql("postgres", "ALTER ROLE " + ROLE + " REPLICATION");
        Pg.Run after = Fixtures.doctor(db, "--role", ROLE);
        assertEquals(0, after.exit(), after.all());
        Pg.sql(db, "DROP OWNED BY " + ROLE);
        Pg.sql("postgres", "DROP ROLE " + ROLE);
    }

    @Test void tablesTheRoleCannotReadNowOrLaterFailUntilGrantAccessSqlRuns() throws Exception {
        String db = Fixtures.shop();
        Fixtures.as(db, "CREATE SCHEMA sales", "CREATE TABLE sales.invoices (id int PRIMARY KEY)");
        Fixtures.setup(db, "--schema", "public", "--schema", "sales");
        Pg.sql("postgres", "CREATE ROLE " + ROLE + " LOGIN REPLICATION");
        Pg.Run r = Fixtures.doctor(db, "--role", ROLE, "--schema", "public", "--schema", "sales");
        assertEquals(1, r.exit(), r.all());
        assertEquals(List.of("tables/grant-access=fail"), Fixtures.failures(r));
        String sql = Fixtures.fix(r, "tables", "grant-access");
        assertTrue(sql.contains("GRANT USAGE ON SCHEMA \"sales\""), sql);
        assertTrue(sql.contains("ALTER DEFAULT PRIVILEGES IN SCHEMA \"public\" GRANT SELECT ON TABLES TO \"" + ROLE + "\""), sql);
        String command = Fixtures.finding(r, "tables", "grant-access").get("message").asText();
        assertTrue(command.startsWith("not done: run  jbang grant-access --url ") && command.endsWith(
                " --role doctor_airbyte --schema public --schema sales"), command);

        Fixtures.as(db, sql);
        Pg.Run after = Fixtures.doctor(db, "--role", ROLE, "--schema", "public", "--schema", "sales");
        assertEquals(0, after.exit(), after.all());
        assertEquals("t", Pg.value(db, "SELECT has_table_privilege('" + ROLE + "', 'sales.invoices', 'SELECT')"));
        Pg.sql(db, "DROP OWNED BY " + ROLE);
        Pg.sql("postgres", "DROP ROLE " + ROLE);
    }

    /**
     * A publication that lacks an asked table while another asked table has no replica identity: both are failures, and
     * the publication's fix is a command that sets the identity and publishes in one (its SQL alone could publish the
     * table before its identity is set).
     */
    @Test void aPublicationLackingTablesIsNamedEvenWhenAReplicaIdentityFailsToo() throws Exception {
        String db = Fixtures.shop();
        Fixtures.as(db, "CREATE TABLE public.audit (note text)", "CREATE PUBLICATION airbyte_publication FOR TABLE public.customers");
        Pg.Run r = Fixtures.doctor(db);
        assertEquals(1, r.exit(), r.all());
        assertTrue(Fixtures.failures(r).containsAll(List.of("publication/create-publication=fail", "replica identity/missing=fail")), r.out());
        String fix = Fixtures.fix(r, "publication", "create-publication");
        assertTrue(fix.startsWith("log whole old rows of the tables without a primary key, and publish:  jbang create-publication --url "), fix);
        assertTrue(fix.lines().toList().get(0).endsWith(" --replica-identity full"), fix);
        assertTrue(fix.lines().toList().get(1).startsWith("or, after the replica identity fix below:  jbang create-publication "), fix);
        assertFalse(fix.contains("ALTER PUBLICATION"), "no SQL that publishes a table before its identity is set: " + fix);

        Fixes.Ran ran = Fixes.apply(fix, db, Pg.OWNER, Pg.OWNER_PASSWORD);
        assertEquals(0, ran.exit(), ran.all());
        assertEquals(List.of("audit", "customers", "orders"), Pg.column(db,
                "SELECT tablename FROM pg_publication_tables WHERE pubname = 'airbyte_publication' ORDER BY 1"));
        assertEquals("f", Pg.value(db, "SELECT relreplident::text FROM pg_class WHERE relname = 'audit'"));
        Pg.Run after = Fixtures.doctor(db);
        assertEquals(List.of(), Fixtures.failures(after).stream().filter(f -> !f.startsWith("slot/") && !f.startsWith("airbyte check/")).toList());
    }

    @Test void anUnknownSchemaIsAFindingNotAnAbort() throws Exception {
        String db = Fixtures.shop();
        Pg.Run r = Fixtures.doctor(db, "--schema", "nope");
        assertEquals(1, r.exit(), r.all());
        assertEquals("fail", Fixtures.status(r, "tables", "grant-access"), r.out());
        assertNotNull(Fixtures.finding(r, "airbyte check", "verdict"), "the checks after it still ran: " + r.out());
    }

    @Test void badOptionsAreExit2BeforeConnecting() {
        for (String[] bad : List.of(new String[] {"--slot", "Bad-Slot"}, new String[] {"--peek-timeout", "soon"},
                new String[] {"--table", "orders"}, new String[] {"--role", ""})) {
            List<String> args = new ArrayList<>(List.of("--url", "postgresql://alex@localhost:1/x", "--wait", "0"));
            args.addAll(List.of(bad));
            Pg.Run r = Pg.run(new Doctor(), args.toArray(String[]::new));
            assertEquals(2, r.exit(), String.join(" ", bad) + ": " + r.all());
        }
    }

    @Test void helpSaysItChangesNothingAndGivesTheExitCodes() {
        Pg.Run r = Pg.run(new Doctor(), "--help");
        assertEquals(0, r.exit());
        assertTrue(r.out().contains("It changes nothing, ever"), r.out());
        assertTrue(r.out().matches("(?s).*\\n  0 +Airbyte's CDC would work \\(warnings allowed\\)\\n.*"), r.out());
        assertTrue(r.out().contains("Exit codes:"), r.out());
        assertFalse(r.out().contains("--dry-run"), "doctor has nothing to dry-run");
    }
}
