import static org.junit.jupiter.api.Assertions.*;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Issue 12 (4): Ctrl-C (SIGINT) and SIGTERM behave like psql's: the statement running on the server is cancelled, one
 * line says what became of the database, the exit code is 130, and nothing the command started appears after it has
 * exited. The commands run as their own process (a signal ends a JVM), started from this JVM's class path.
 */
class InterruptTest {
    @AfterEach void dropSlots() throws Exception {
        Pg.sql("postgres", "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'interrupt%'");
    }

    /** A command in a process of its own; stdout and stderr go to files. */
    record Child(Process process, Path out, Path err) {
        String stderr() throws Exception { return Files.readString(err, StandardCharsets.UTF_8); }

        /** The last line on stderr (a long wait may have shown its phase before it). */
        String lastLine() throws Exception { return stderr().lines().reduce((a, b) -> b).orElse(""); }
    }

    static Child start(String mainClass, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), mainClass));
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile("interrupt", ".out"), err = Files.createTempFile("interrupt", ".err");
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        return new Child(p, out, err);
    }

    /** Whether this JVM was started with SIGINT ignored (a background job of a non-interactive shell): its children are too. */
    static boolean sigintIgnored() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status")))
            if (line.startsWith("SigIgn:")) return (Long.parseUnsignedLong(line.substring(7).strip(), 16) & 2L) != 0;
        return false;
    }

    /** The backend of the runbook's connection once it waits on a lock: {@code what} in its query. */
    static String waitingBackend(String db, String what) throws Exception {
        for (long end = System.currentTimeMillis() + 60_000; System.currentTimeMillis() < end; Thread.onSpinWait()) {
            String pid = Pg.value("postgres", "SELECT pid FROM pg_stat_activity WHERE datname = '" + db + "' AND application_name "
                    + "= 'airbyte-runbook' AND wait_event_type = 'Lock' AND query LIKE '%" + what + "%'");
            if (pid != null) return pid;
        }
        fail("the command never waited on its lock");
        return null;
    }

    static void signal(Child c, String signal) throws Exception {
        assertEquals(0, new ProcessBuilder("kill", "-" + signal, String.valueOf(c.process().pid())).start().waitFor());
        assertTrue(c.process().waitFor(30, TimeUnit.SECONDS), "it exits after the signal");
    }

    /** create-slot waits for an open transaction that has written; the signal cancels that wait: no slot, ever. */
    void interruptedSlotNeverAppears(String signal) throws Exception {
        String db = Pg.freshDatabase("interrupt");
        String slot = "interrupt_" + signal.toLowerCase();
        Pg.sql(db, "SET ROLE " + Pg.OWNER, "CREATE TABLE t (id int PRIMARY KEY)", "CREATE PUBLICATION airbyte_publication FOR TABLE t");
        try (Connection writer = Pg.superuser(db)) {
            writer.setAutoCommit(false);
            writer.createStatement().execute("INSERT INTO t VALUES (1)"); // a slot waits for this transaction to end
            Child c = start("CreateSlot", "--url", Pg.url(db), "--slot", slot, "--lock-timeout", "10min");
            String backend = waitingBackend(db, "pg_create_logical_replication_slot");
            signal(c, signal);
            assertEquals(130, c.process().exitValue(), c.stderr());
            assertEquals("create-slot: interrupted; cancelled on the server: nothing was changed", c.lastLine(), c.stderr());
            assertNull(Pg.value("postgres", "SELECT pid FROM pg_stat_activity WHERE pid = " + backend + " AND state = 'active'"),
                    "the server stopped waiting");
            writer.commit(); // what the slot waited for ends now
        }
        assertEquals(List.of(), Pg.column("postgres", "SELECT slot_name FROM pg_replication_slots WHERE slot_name = '" + slot + "'"));
    }

    @Test void sigtermCancelsTheSlotCreationOnTheServer() throws Exception { interruptedSlotNeverAppears("TERM"); }

    @Test void ctrlCCancelsTheSlotCreationOnTheServer() throws Exception {
        Assumptions.assumeFalse(sigintIgnored(), "this JVM (and so its children) ignores SIGINT: a background job");
        interruptedSlotNeverAppears("INT");
    }

    /** setup interrupted while its slot waits: it says the grants and the publication were committed before, no more. */
    @Test void setupSaysWhatWasCommittedBeforeTheInterrupt() throws Exception {
        String db = Pg.freshDatabase("interrupt");
        Pg.sql(db, "SET ROLE " + Pg.OWNER, "CREATE TABLE t (id int PRIMARY KEY)");
        try (Connection writer = Pg.superuser(db)) {
            writer.setAutoCommit(false);
            writer.createStatement().execute("INSERT INTO t VALUES (1)");
            Child c = start("Setup", "--url", Pg.url(db), "--slot", "interrupt_setup", "--lock-timeout", "10min");
            waitingBackend(db, "pg_create_logical_replication_slot");
            signal(c, "TERM");
            assertEquals(130, c.process().exitValue(), c.stderr());
            assertEquals("setup: interrupted; cancelled on the server: what was committed before stays: the grants and the "
                    + "publication; nothing else was changed", c.lastLine(), c.stderr());
            writer.commit();
        }
        assertEquals(List.of("public.t"), Pg.column(db, "SELECT schemaname || '.' || tablename FROM pg_publication_tables"));
        assertEquals(List.of(), Pg.column("postgres", "SELECT slot_name FROM pg_replication_slots WHERE slot_name = 'interrupt_setup'"));
    }

    /** create-publication waiting for a table's lock: cancelled, its transaction rolled back, the catalog as it was. */
    @Test void aStepWaitingForALockLeavesTheDatabaseAsItWas() throws Exception {
        String db = Pg.freshDatabase("interrupt");
        Pg.sql(db, "SET ROLE " + Pg.OWNER, "CREATE TABLE t (id int PRIMARY KEY)", "ALTER TABLE t REPLICA IDENTITY NOTHING");
        String before = Pg.catalog(db);
        try (Connection reader = Pg.superuser(db)) {
            reader.setAutoCommit(false);
            reader.createStatement().executeQuery("SELECT count(*) FROM t").close(); // ALTER TABLE waits behind this
            Child c = start("CreatePublication", "--url", Pg.url(db), "--lock-timeout", "10min");
            waitingBackend(db, "REPLICA IDENTITY");
            signal(c, "TERM");
            assertEquals(130, c.process().exitValue(), c.stderr());
            assertEquals("create-publication: interrupted; cancelled on the server: nothing was changed", c.lastLine(), c.stderr());
            reader.commit();
        }
        assertEquals(before, Pg.catalog(db));
    }
}
