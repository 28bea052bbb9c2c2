import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.sql.Connection;
import java.sql.Statement;
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
    static final String SLOT = "doctor_slot";

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

    // ---- helpers shared by the doctor test classes ----------------------------------------------------------

    /** A database with two tables with primary keys, owned by the Neon-like role. */
    static String shop() throws Exception {
        String db = Pg.freshDatabase("doctor");
        as(db, "CREATE TABLE public.customers (id int PRIMARY KEY, name text)",
                "CREATE TABLE public.orders (id int PRIMARY KEY, customer int)");
        return db;
    }

    /** Runs statements as the Neon-like role (not a superuser), as a user applying a printed fix would. */
    static void as(String db, String... statements) throws Exception {
        try (Connection c = Pg.as(db, Pg.OWNER, Pg.OWNER_PASSWORD); Statement st = c.createStatement()) {
            for (String s : statements) st.execute(s);
        }
    }

    static Pg.Run setup(String db, String... more) {
        List<String> args = new ArrayList<>(List.of("--url", Pg.url(db), "--slot", SLOT));
        args.addAll(List.of(more));
        Pg.Run r = Pg.run(new Setup(), args.toArray(String[]::new));
        assertEquals(0, r.exit(), r.all());
        return r;
    }

    /** Doctor as the Neon-like role, with --json and the test slot. */
    static Pg.Run doctor(String db, String... more) {
        return doctorAt(Pg.url(db), more);
    }

    static Pg.Run doctorAt(String url, String... more) {
        List<String> args = new ArrayList<>(List.of("--url", url, "--slot", SLOT, "--json"));
        args.addAll(List.of(more));
        return Pg.run(new Doctor(), args.toArray(String[]::new));
    }

    static JsonNode json(Pg.Run r) {
        try {
            return new ObjectMapper().readTree(r.out());
        } catch (Exception e) {
            throw new AssertionError("not JSON: " + r.all(), e);
        }
    }

    /** The finding of a group's check, or null. */
    static JsonNode finding(Pg.Run r, String group, String check) {
        for (JsonNode step : json(r).get("steps"))
            if (step.get("step").asText().equals(group))
                for (JsonNode f : step.get("findings")) if (f.get("check").asText().equals(check)) return f;
        return null;
    }

    static String status(Pg.Run r, String group, String check) {
        JsonNode f = finding(r, group, check);
        return f == null ? null : f.get("status").asText();
    }

    static String fix(Pg.Run r, String group, String check) {
        JsonNode f = finding(r, group, check);
        assertNotNull(f, group + "/" + check + " in " + r.out());
        return f.get("fix").asText();
    }

    static List<String> statuses(Pg.Run r) {
        List<String> all = new ArrayList<>();
        for (JsonNode step : json(r).get("steps"))
            for (JsonNode f : step.get("findings")) all.add(step.get("step").asText() + "/" + f.get("check").asText() + "=" + f.get("status").asText());
        return all;
    }

    static List<String> failures(Pg.Run r) {
        return statuses(r).stream().filter(s -> s.endsWith("=fail")).toList();
    }

    static String confirmed(String slot) throws Exception {
        return Pg.value("postgres", "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
    }

    /** How many changes wait in the slot, peeked as the superuser. */
    static String pending(String db, String slot) throws Exception {
        return Pg.value(db, "SELECT count(*) FROM pg_logical_slot_peek_binary_changes('" + slot + "', NULL, NULL, "
                + "'proto_version', '1', 'publication_names', 'airbyte_publication')");
    }

    // ---- the tests --------------------------------------------------------------------------------------

    @Test void afterSetupDoctorPassesAndDeepChangesNothing() throws Exception {
        String db = shop();
        setup(db);
        as(db, "INSERT INTO public.customers VALUES (1, 'Ada')", "UPDATE public.customers SET name = 'Ada L.'");
        String catalog = Pg.catalog(db), confirmed = confirmed(SLOT), pending = pending(db, SLOT);
        assertNotEquals("0", pending);

        Pg.Run r = doctor(db, "--deep");
        assertEquals(0, r.exit(), r.all());
        assertEquals(List.of(), failures(r));
        assertEquals("ok", status(r, "slot", "decoding"), r.out());
        assertEquals("ok", status(r, "airbyte check", "verdict"), r.out());
        assertEquals(catalog, Pg.catalog(db));
        assertEquals(confirmed, confirmed(SLOT));
        assertEquals(pending, pending(db, SLOT), "the change is still there to be read");

        Pg.Run text = Pg.run(new Doctor(), "--url", Pg.url(db), "--slot", SLOT);
        assertEquals(0, text.exit(), text.all());
        assertTrue(text.out().contains("Airbyte's connection test would pass"), text.out());
        assertFalse(text.all().contains(Pg.OWNER_PASSWORD));
    }

    @Test void aCheckTheServerRefusesIsAWarningAndTheChecksAfterItStillRun() throws Exception {
        String db = shop();
        setup(db);
        // Only the publication check calls pg_partition_root; without EXECUTE on it, that check is refused.
        Pg.sql(db, "REVOKE EXECUTE ON FUNCTION pg_partition_root(regclass) FROM PUBLIC");
        Pg.Run r = doctor(db);
        JsonNode refused = finding(r, "publication", "publication");
        assertNotNull(refused, r.out());
        assertEquals("warn", refused.get("status").asText());
        assertTrue(refused.get("message").asText().equals("could not check: permission denied for function pg_partition_root"), r.out());
        assertEquals("ok", status(r, "slot", "wal"), r.out());
        assertEquals("ok", status(r, "airbyte check", "verdict"), r.out());
        assertEquals(List.of(), failures(r));
    }

    @Test void catalogReadsDoNotGrowWithTheNumberOfTables() throws Exception {
        String db = shop();
        setup(db);
        as(db, "INSERT INTO public.customers VALUES (1, 'pending')"); // --deep decodes what is pending: something
        int few = Pg.statements(() -> assertEquals(0, doctor(db, "--deep").exit()));
        List<String> more = new ArrayList<>();
        for (int i = 0; i < 40; i++) more.add("CREATE TABLE public.t" + i + " (id int PRIMARY KEY)");
        as(db, more.toArray(String[]::new));
        setup(db);
        as(db, "INSERT INTO public.customers VALUES (2, 'pending')");
        int many = Pg.statements(() -> assertEquals(0, doctor(db, "--deep").exit()));
        assertTrue(few > 10, "the counter sees doctor's statements: " + few);
        assertEquals(few, many, "42 tables take as many statements as 2");
    }

    @Test void aMissingRoleIsAFindingAndTheFixCreatesIt() throws Exception {
        String db = shop();
        setup(db);
        Pg.Run r = doctor(db, "--role", ROLE);
        assertEquals(1, r.exit(), r.all());
        assertEquals("fail", status(r, "role", "role"), r.out());
        assertNull(finding(r, "tables", "grant-access"), "a missing role is one finding, not a cascade");
        String fix = fix(r, "role", "role");
        assertTrue(fix.contains("CREATE ROLE \"" + ROLE + "\" LOGIN REPLICATION PASSWORD '<password>';"), fix);
        Pg.sql("postgres", fix.substring(fix.indexOf("CREATE ROLE")).replace("<password>", ROLE_PASSWORD));
        Pg.Run after = doctor(db, "--role", ROLE);
        assertEquals("ok", status(after, "role", "login"), after.out());
        assertEquals("ok", status(after, "role", "replication"), after.out());
        Pg.sql(db, "DROP OWNED BY " + ROLE);
        Pg.sql("postgres", "DROP ROLE " + ROLE);
    }

    @Test void aRoleThatCannotLogInConnectOrReplicateFailsUntilFixed() throws Exception {
        String db = shop();
        setup(db);
        Pg.sql("postgres", "CREATE ROLE " + ROLE + " NOLOGIN");
        Pg.sql("postgres", "REVOKE CONNECT ON DATABASE " + db + " FROM PUBLIC");
        Pg.sql(db, "GRANT SELECT ON ALL TABLES IN SCHEMA public TO " + ROLE,
                "ALTER DEFAULT PRIVILEGES FOR ROLE " + Pg.OWNER + " IN SCHEMA public GRANT SELECT ON TABLES TO " + ROLE);
        Pg.Run r = doctor(db, "--role", ROLE);
        assertEquals(1, r.exit(), r.all());
        assertEquals("fail", status(r, "role", "login"), r.out());
        assertEquals("fail", status(r, "role", "connect"), r.out());
        assertEquals("fail", status(r, "role", "replication"), r.out());
        assertEquals(List.of("role/login=fail", "role/connect=fail", "role/replication=fail"), failures(r));

        Pg.sql("postgres", fix(r, "role", "login"));
        as(db, fix(r, "role", "connect"));
        assertTrue(fix(r, "role", "replication").contains("ALTER ROLE \"" + ROLE + "\" REPLICATION;"), r.out());
        Pg.sql("postgres", "ALTER ROLE " + ROLE + " REPLICATION");
        Pg.Run after = doctor(db, "--role", ROLE);
        assertEquals(0, after.exit(), after.all());
        Pg.sql(db, "DROP OWNED BY " + ROLE);
        Pg.sql("postgres", "DROP ROLE " + ROLE);
    }

    @Test void tablesTheRoleCannotReadNowOrLaterFailUntilGrantAccessSqlRuns() throws Exception {
        String db = shop();
        as(db, "CREATE SCHEMA sales", "CREATE TABLE sales.invoices (id int PRIMARY KEY)");
        setup(db, "--schema", "public", "--schema", "sales");
        Pg.sql("postgres", "CREATE ROLE " + ROLE + " LOGIN REPLICATION");
        Pg.Run r = doctor(db, "--role", ROLE, "--schema", "public", "--schema", "sales");
        assertEquals(1, r.exit(), r.all());
        assertEquals(List.of("tables/grant-access=fail"), failures(r));
        String sql = fix(r, "tables", "grant-access");
        assertTrue(sql.contains("GRANT USAGE ON SCHEMA \"sales\""), sql);
        assertTrue(sql.contains("ALTER DEFAULT PRIVILEGES IN SCHEMA \"public\" GRANT SELECT ON TABLES TO \"" + ROLE + "\""), sql);
        String command = finding(r, "tables", "grant-access").get("message").asText();
        assertTrue(command.startsWith("not done: run  jbang grant-access --url ") && command.endsWith(
                " --role doctor_airbyte --schema public --schema sales"), command);

        as(db, sql);
        Pg.Run after = doctor(db, "--role", ROLE, "--schema", "public", "--schema", "sales");
        assertEquals(0, after.exit(), after.all());
        assertEquals("t", Pg.value(db, "SELECT has_table_privilege('" + ROLE + "', 'sales.invoices', 'SELECT')"));
        Pg.sql(db, "DROP OWNED BY " + ROLE);
        Pg.sql("postgres", "DROP ROLE " + ROLE);
    }

    @Test void anUnknownSchemaIsAFindingNotAnAbort() throws Exception {
        String db = shop();
        Pg.Run r = doctor(db, "--schema", "nope");
        assertEquals(1, r.exit(), r.all());
        assertEquals("fail", status(r, "tables", "grant-access"), r.out());
        assertNotNull(finding(r, "airbyte check", "verdict"), "the checks after it still ran: " + r.out());
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
        assertTrue(r.out().contains("0    Airbyte's CDC would work (warnings allowed)"), r.out());
        assertTrue(r.out().contains("Exit codes:"), r.out());
        assertFalse(r.out().contains("--dry-run"), "doctor has nothing to dry-run");
    }
}
