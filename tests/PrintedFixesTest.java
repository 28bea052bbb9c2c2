import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 12 (6): every fix works when run as printed. A database with the traps a new user meets (a schema and tables
 * owned by another role, a table without a primary key, an unlogged table); doctor, then setup, are followed fix by
 * fix, as printed (connection options included, the password typed at the prompt), until they pass. A fix that does
 * not work, or that sends the user back to a fix already taken (a loop), fails the test.
 */
@org.junit.jupiter.api.Tag(AllTests.MAJORS) // its behaviour depends on the major: see tests/README.md
class PrintedFixesTest {
    static final String SLOT = "fixes_slot";

    @AfterEach void cleanUp() throws Exception {
        Pg.sql("postgres", "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'fixes%' AND NOT active",
                "REVOKE " + Pg.APP + " FROM " + Pg.OWNER);
    }

    /** Schema "owned" and its tables belong to app_owner, of which the connected role (alex) is not a member. */
    static String ownedElsewhere() throws Exception {
        String db = Pg.freshDatabase("fixes");
        Pg.sql("postgres", "REVOKE " + Pg.APP + " FROM " + Pg.OWNER);
        Pg.sql(db, "CREATE SCHEMA owned AUTHORIZATION " + Pg.APP, "SET ROLE " + Pg.APP,
                "CREATE TABLE owned.items (id int PRIMARY KEY, v text)", "CREATE TABLE owned.logs (line text)",
                "CREATE UNLOGGED TABLE owned.scratch (id int PRIMARY KEY)", "INSERT INTO owned.logs VALUES ('a')");
        return db;
    }

    /** The first failing finding that has a fix, as group/check and its fix. */
    static String[] firstFailure(Pg.Run r) {
        for (JsonNode step : Fixtures.json(r).get("steps"))
            for (JsonNode f : step.get("findings"))
                if (f.get("status").asText().equals("fail") && !f.get("fix").isNull())
                    return new String[] {step.get("step").asText() + "/" + f.get("check").asText(), f.get("fix").asText()};
        return null;
    }

    /**
     * Runs {@code tool} with {@code args}, then, while it fails, the first fix it prints; a fix that reruns the tool
     * itself (with other options) becomes the next run. Returns the last run, which passed.
     */
    static Pg.Run followFixes(String db, String alias, List<String> args) throws Exception {
        Pg.Run r = Fixes.run(Invocation.line(alias, args), Pg.OWNER_PASSWORD);
        Set<String> taken = new HashSet<>();
        for (int i = 0; r.exit() != 0; i++) {
            assertTrue(i < 10, "still failing after 10 fixes: " + r.all());
            String[] failure = firstFailure(r);
            assertNotNull(failure, "a failure without a fix to follow: " + r.all());
            assertTrue(taken.add(failure[0] + "\n" + failure[1]), "the same fix again, a loop: " + failure[0] + ": " + failure[1]);
            Fixes.Ran ran = Fixes.apply(failure[1], db, Pg.OWNER, Pg.OWNER_PASSWORD);
            boolean rerun = ran != null && ran.alias().equals(alias);
            if (ran != null && !rerun) assertEquals(0, ran.exit(), "the fix's command failed: " + failure[1] + "\n" + ran.all());
            if (rerun) args = Fixes.words(lastCommand(failure[1])).subList(2, Fixes.words(lastCommand(failure[1])).size());
            r = rerun ? ran.run() : Fixes.run(Invocation.line(alias, args), Pg.OWNER_PASSWORD);
        }
        return r;
    }

    /** The command line a fix runs last. */
    static String lastCommand(String fix) {
        String last = null;
        for (String line : fix.split("\n")) if (line.contains("jbang ")) last = line.substring(line.indexOf("jbang "));
        return last;
    }

    @Test void doctorsFixesTakenAsPrintedEndInAWorkingSetup() throws Exception {
        String db = ownedElsewhere();
        Pg.Run done = followFixes(db, "doctor", new ArrayList<>(List.of("--url", Pg.url(db), "--schema", "owned",
                "--slot", SLOT, "--json")));
        assertEquals(List.of(), Fixtures.failures(done));
        assertEquals(List.of("owned.items", "owned.logs", "owned.scratch"), Pg.column(db,
                "SELECT schemaname || '.' || tablename FROM pg_publication_tables ORDER BY 1"));
        assertEquals(List.of(SLOT), Pg.column(db, "SELECT slot_name FROM pg_replication_slots WHERE database = current_database()"));
        Fixtures.as(db, "UPDATE owned.logs SET line = 'b'", "DELETE FROM owned.items");
    }

    @Test void setupsFixesTakenAsPrintedEndInAWorkingSetup() throws Exception {
        String db = ownedElsewhere();
        Pg.Run first = Pg.run(new Setup(), "--url", Pg.url(db), "--schema", "owned", "--slot", SLOT, "--json");
        assertEquals(1, first.exit(), first.all());
        String[] failure = firstFailure(first);
        assertTrue(failure[1].startsWith("GRANT \"app_owner\" TO \"alex\";"), "membership, the one fix: " + failure[1]);
        followFixes(db, "setup", List.of("--url", Pg.url(db), "--schema", "owned", "--slot", SLOT, "--json"));
        assertEquals(List.of(SLOT), Pg.column(db, "SELECT slot_name FROM pg_replication_slots WHERE database = current_database()"));
        assertEquals("3", Pg.value(db, "SELECT count(*) FROM pg_publication_tables"));
    }

    /** Leaving the unlogged table out: its fix's second way reruns doctor with --exclude-table, which then passes. */
    @Test void leavingAnUnloggedTableOutIsAnOptionDoctorCarriesToItsCommands() throws Exception {
        String db = ownedElsewhere();
        Pg.sql("postgres", "GRANT " + Pg.APP + " TO " + Pg.OWNER);
        List<String> args = List.of("--url", Pg.url(db), "--schema", "owned", "--slot", SLOT, "--json");
        Pg.Run r = Pg.run(new Doctor(), args.toArray(String[]::new));
        String fix = Fixtures.fix(r, "publication", "unlogged");
        String leaveOut = fix.lines().filter(l -> l.startsWith("or leave them out:")).findFirst().orElseThrow().substring(3);
        Pg.Run excluded = Fixes.apply(leaveOut, db, Pg.OWNER, Pg.OWNER_PASSWORD).run();
        assertNull(Fixtures.finding(excluded, "publication", "unlogged"), excluded.out());
        String command = Fixtures.fix(excluded, "airbyte check", "publication query");
        assertTrue(command.startsWith("jbang create-publication ") && command.endsWith("--exclude-table owned.scratch"), command);
        List<String> withExclude = new ArrayList<>(args);
        withExclude.addAll(List.of("--exclude-table", "owned.scratch"));
        Pg.Run done = followFixes(db, "doctor", withExclude);
        assertEquals(List.of(), Fixtures.failures(done));
        assertEquals(List.of("owned.items", "owned.logs"), Pg.column(db,
                "SELECT schemaname || '.' || tablename FROM pg_publication_tables ORDER BY 1"));
        assertNull(Fixtures.finding(done, "publication", "left out"), "left out on purpose: " + done.out());
    }
}
