import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * What the test classes share beyond the server (Pg) and the fix runner (Fixes): a small shop database, statements as
 * the Neon-like role, setup and doctor runs, and doctor's --json findings read by group and check.
 */
final class Fixtures {
    private Fixtures() {}

    /** The slot setup and doctor use here; doctor's tests drop every slot named doctor* after each test. */
    static final String SLOT = "doctor_slot";

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
}
