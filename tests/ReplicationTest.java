import static org.junit.jupiter.api.Assertions.*;

import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The outcome that matters: after grant-access, create-publication and create-slot, a CDC client reading the
 * slot with the replication protocol (as Airbyte does) receives every published table's inserts, updates and deletes.
 */
@org.junit.jupiter.api.Tag(AllTests.MAJORS) // its behaviour depends on the major: see tests/README.md
class ReplicationTest {
    static String db;
    static final List<String> TABLES = List.of("public.orders", "\"Sales Data\".\"Line \"\"Items\"\" 2\"",
            "public.events", "public.measurements");

    @BeforeAll static void database() throws Exception {
        db = Pg.freshDatabase("replication");
        try (Connection c = Pg.as(db, Pg.OWNER, Pg.OWNER_PASSWORD); Statement st = c.createStatement()) {
            st.execute("""
                    CREATE TABLE public.orders (id int PRIMARY KEY, status text);
                    CREATE SCHEMA "Sales Data";
                    CREATE TABLE "Sales Data"."Line ""Items"" 2" (id int PRIMARY KEY, qty int);
                    CREATE TABLE public.events (at int, note text);
                    CREATE TABLE public.measurements (id int, taken date, value int, PRIMARY KEY (id, taken))
                        PARTITION BY RANGE (taken);
                    CREATE TABLE public.measurements_2025 PARTITION OF public.measurements
                        FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
                    CREATE TABLE public.measurements_2026 PARTITION OF public.measurements
                        FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');""");
        }
    }

    @Test void everyPublishedTableStreamsInsertsUpdatesAndDeletes() throws Exception {
        String url = Pg.url(db);
        assertEquals(0, Pg.run(new GrantAccess(), "--url", url, "--schema", "public", "--schema", "Sales Data").exit());
        List<String> pubArgs = new java.util.ArrayList<>(List.of("--url", url, "--replica-identity", "full"));
        for (String t : TABLES) { pubArgs.add("--table"); pubArgs.add(t); }
        Pg.Run pub = Pg.run(new CreatePublication(), pubArgs.toArray(String[]::new));
        assertEquals(0, pub.exit(), pub.all());
        Pg.Run slot = Pg.run(new CreateSlot(), "--url", url, "--slot", "replication_test");
        assertEquals(0, slot.exit(), slot.all());

        Db target = new Db();
        target.url = url;
        try (CdcStream stream = CdcStream.open(target.target(), "replication_test", "airbyte_publication");
             Connection c = Pg.as(db, Pg.OWNER, Pg.OWNER_PASSWORD); Statement st = c.createStatement()) {
            st.execute("""
                    INSERT INTO public.orders VALUES (1, 'new');
                    UPDATE public.orders SET status = 'paid' WHERE id = 1;
                    DELETE FROM public.orders WHERE id = 1;
                    INSERT INTO "Sales Data"."Line ""Items"" 2" VALUES (1, 5);
                    UPDATE "Sales Data"."Line ""Items"" 2" SET qty = 6;
                    DELETE FROM "Sales Data"."Line ""Items"" 2";
                    INSERT INTO public.events VALUES (1, 'hello');
                    UPDATE public.events SET note = 'bye';
                    DELETE FROM public.events;
                    INSERT INTO public.measurements VALUES (1, '2025-06-01', 10), (2, '2026-06-01', 20);
                    UPDATE public.measurements SET value = value + 1;
                    DELETE FROM public.measurements;""");
            List<CdcStream.Change> changes = stream.read(15, 20_000);
            Set<String> seen = new TreeSet<>();
            for (CdcStream.Change ch : changes) seen.add(ch.table() + " " + ch.op());
            Set<String> expected = new TreeSet<>();
            for (String table : List.of("public.orders", "Sales Data.Line \"Items\" 2", "public.events", "public.measurements"))
                for (String op : List.of("insert", "update", "delete")) expected.add(table + " " + op);
            assertEquals(expected, seen, changes.toString());
            assertEquals(15, changes.size(), changes.toString());
            assertEquals("paid", changes.get(1).values().get("status"));
        }
    }
}
