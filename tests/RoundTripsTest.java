import static org.junit.jupiter.api.Assertions.*;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every command's round trips, counted by the benchmark's proxy (without its delay), within its budget
 * (bench/Budgets.java): a SCRAM login, a read, and a plan that does something, in two schemas with a table without a
 * primary key. The benchmark checks the same at 10 to 10,000 tables over a slow link.
 */
class RoundTripsTest {
    static final String AIRBYTE = "round_trips_airbyte";
    static LatencyProxy proxy;

    @BeforeAll static void start() throws Exception {
        Pg.sql("postgres", "DROP ROLE IF EXISTS " + AIRBYTE, "CREATE ROLE " + AIRBYTE + " LOGIN REPLICATION");
        proxy = new LatencyProxy(Pg.port(), 0, null);
    }

    @AfterAll static void stop() throws Exception { proxy.close(); }

    /** A database of two schemas, one table without a primary key, and its URL through the proxy. */
    static String database(String prefix) throws Exception {
        String db = Pg.freshDatabase(prefix);
        Fixtures.as(db, "CREATE TABLE public.orders (id int PRIMARY KEY, note text)", "CREATE TABLE public.notes (body text)",
                "CREATE SCHEMA sales", "CREATE TABLE sales.items (id int PRIMARY KEY)");
        return db;
    }

    static String url(String db) {
        return "postgresql://" + Pg.OWNER + ":" + Pg.OWNER_PASSWORD + "@127.0.0.1:" + proxy.port() + "/" + db + "?sslmode=disable";
    }

    static long roundTrips(Callable<?> command, String... args) throws Exception {
        proxy.takeCounts();
        Pg.Run r = Pg.run(command, args);
        assertEquals(0, r.exit(), r.all());
        return proxy.takeCounts()[0];
    }

    @Test void everyCommandStaysWithinItsRoundTripBudget() throws Exception {
        String db = database("round_trips"), url = url(db), fresh = database("round_trips_setup");
        String[] schemas = {"--schema", "public", "--schema", "sales"};
        Map<String, Long> took = new LinkedHashMap<>();
        took.put("check-wal", roundTrips(new CheckWal(), "--url", url));
        took.put("grant-access", roundTrips(new GrantAccess(), "--url", url, "--role", AIRBYTE, schemas[0], schemas[1], schemas[2], schemas[3]));
        took.put("create-publication", roundTrips(new CreatePublication(), "--url", url, "--replica-identity", "full",
                schemas[0], schemas[1], schemas[2], schemas[3]));
        took.put("create-slot", roundTrips(new CreateSlot(), "--url", url, "--slot", "round_trips_slot"));
        took.put("doctor", roundTrips(new Doctor(), "--url", url, "--role", AIRBYTE, "--slot", "round_trips_slot",
                schemas[0], schemas[1], schemas[2], schemas[3]));
        took.put("setup", roundTrips(new Setup(), "--url", url(fresh), "--role", AIRBYTE, "--replica-identity", "full",
                "--slot", "round_trips_setup_slot", schemas[0], schemas[1], schemas[2], schemas[3]));
        try {
            // Each applied its plan, so that the count holds one: the grants, the publication, the slots.
            for (String d : new String[] {db, fresh}) {
                assertEquals("t", Pg.value(d, "SELECT has_table_privilege('" + AIRBYTE + "', 'sales.items', 'SELECT')"));
                assertEquals("3", Pg.value(d, "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'airbyte_publication'"));
                assertEquals("f", Pg.value(d, "SELECT relreplident::text FROM pg_class WHERE relname = 'notes'"));
            }
            took.forEach((command, n) -> assertTrue(n <= (command.equals("doctor") ? Budgets.DOCTOR
                    : command.equals("setup") ? Budgets.SETUP : Budgets.GUIDE_STEP), command + " took " + n + " round trips: " + took));
        } finally {
            Pg.sql(db, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'round_trips%'");
        }
    }
}
