import static org.junit.jupiter.api.Assertions.*;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/** What happens when the server is not there yet, goes away in the middle of a plan, or two setups race. */
class FaultsTest {
    static EmbeddedPostgres start(int port, Path data) throws Exception {
        return EmbeddedPostgres.builder().setPort(port).setDataDirectory(data).setCleanDataDirectory(false)
                .setServerConfig("wal_level", "logical").start();
    }

    /** Polls a condition that the database will reach, for at most 3 minutes (a first ./jbang run compiles). */
    static void await(String what, BooleanSupplier condition) throws InterruptedException {
        for (long end = System.currentTimeMillis() + 180_000; !condition.getAsBoolean(); Thread.sleep(20))
            if (System.currentTimeMillis() > end) fail("timed out waiting for " + what);
    }

    @Test void aServerThatComesUpLateIsReachedWithinTheWaitLikeAWakingNeonCompute() throws Exception {
        int port = Pg.freePort();
        String url = "postgresql://postgres@localhost:" + port + "/postgres?sslmode=disable";
        CompletableFuture<Pg.Run> run = CompletableFuture.supplyAsync(() -> Pg.run(new CheckWal(), "--url", url, "--wait", "60"));
        Path data = Files.createTempDirectory("late");
        try (EmbeddedPostgres late = start(port, data)) { // initdb and start take longer than the first attempts
            Pg.Run r = run.get();
            assertEquals(0, r.exit(), r.all());
            assertTrue(r.err().contains("retrying"), "it retried: " + r.err());
        }
    }

    @Test void itGivesUpWithExit3AfterTheWait() throws Exception {
        long start = System.nanoTime();
        Pg.Run r = Pg.run(new CheckWal(), "--url", "postgresql://alex@localhost:" + Pg.freePort() + "/x", "--wait", "1");
        long ms = (System.nanoTime() - start) / 1_000_000;
        assertEquals(3, r.exit(), r.all());
        assertTrue(ms >= 1000 && ms < 15_000, ms + " ms");
    }

    /** The server stops while create-publication's transaction is open: nothing is half applied; a rerun completes. */
    @Test void aServerStoppedMidPlanLeavesNothingHalfDoneAndARerunCompletes() throws Exception {
        Path data = Files.createTempDirectory("midplan");
        int port = Pg.freePort();
        EmbeddedPostgres pg = start(port, data);
        String jdbc = "jdbc:postgresql://localhost:" + port + "/postgres";
        try (Connection c = DriverManager.getConnection(jdbc, "postgres", ""); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE a (v text); CREATE TABLE t (v text)");
        }
        String url = "postgresql://postgres@localhost:" + port + "/postgres?sslmode=disable";
        Connection reader = DriverManager.getConnection(jdbc, "postgres", "");
        reader.setAutoCommit(false);
        reader.createStatement().execute("SELECT * FROM t"); // holds a lock that ALTER TABLE t waits behind
        CompletableFuture<Pg.Run> run = CompletableFuture.supplyAsync(() -> Pg.run(new CreatePublication(),
                "--url", url, "--table", "public.a", "--table", "public.t", "--replica-identity", "full", "--lock-timeout", "60s"));
        try (Connection watch = DriverManager.getConnection(jdbc, "postgres", "")) {
            await("the step to wait for its lock on t", () -> {
                try (var rs = watch.createStatement().executeQuery("SELECT count(*) FROM pg_stat_activity "
                        + "WHERE wait_event_type = 'Lock' AND application_name = 'airbyte-runbook'")) {
                    rs.next();
                    return rs.getInt(1) == 1;
                } catch (Exception e) { return false; }
            });
        }
        pg.close(); // the server stops with the step's transaction open (ALTER TABLE a already done inside it)
        Pg.Run interrupted = run.get();
        assertNotEquals(0, interrupted.exit(), interrupted.all());
        try { reader.close(); } catch (Exception ignored) { }

        pg = start(port, data);
        try (Connection c = DriverManager.getConnection(jdbc, "postgres", "")) {
            assertEquals(List.of("a d", "t d"), rows(c, "SELECT relname || ' ' || relreplident::text FROM pg_class WHERE relname IN ('a', 't') ORDER BY 1"));
            assertEquals(List.of(), rows(c, "SELECT pubname FROM pg_publication"));
            Pg.Run again = Pg.run(new CreatePublication(), "--url", url, "--table", "public.a", "--table", "public.t",
                    "--replica-identity", "full");
            assertEquals(0, again.exit(), again.all());
            assertEquals(List.of("a f", "t f"), rows(c, "SELECT relname || ' ' || relreplident::text FROM pg_class WHERE relname IN ('a', 't') ORDER BY 1"));
            assertEquals(List.of("a", "t"), rows(c, "SELECT tablename FROM pg_publication_tables ORDER BY 1"));
        } finally {
            pg.close();
        }
    }

    /**
     * Long work says what it is doing: a step held up (here by a lock, as thousands of tables or a slow link would)
     * shows its phase on stderr while it waits, and then completes. With the usual threshold a quick run shows nothing.
     */
    @Test void aStepThatTakesAWhileShowsWhatItIsDoing() throws Exception {
        String db = Pg.freshDatabase("faults_progress");
        Fixtures.as(db, "CREATE TABLE t (v text)");
        String[] args = {"--url", Pg.url(db), "--table", "public.t", "--replica-identity", "full", "--lock-timeout", "60s"};
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        java.io.PrintStream stderr = System.err;
        long threshold = Progress.afterMillis;
        try (Connection reader = Pg.superuser(db)) {
            reader.setAutoCommit(false);
            reader.createStatement().execute("SELECT * FROM t"); // ALTER TABLE t waits behind this
            System.setErr(new java.io.PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8));
            Progress.afterMillis = 0;
            CompletableFuture<Integer> run = CompletableFuture.supplyAsync(() -> Cli.cli(new CreatePublication()).execute(args));
            await("the waiting step to say it is applying", () -> err.toString().contains("create-publication: applying 3 statement(s) in one transaction ("));
            assertFalse(run.isDone(), "it is still waiting for its lock");
            reader.commit();
            assertEquals(0, run.get());
        } finally {
            System.setErr(stderr);
            Progress.afterMillis = threshold;
        }
        try (Connection c = Pg.superuser(db)) {
            assertEquals(List.of("t f"), rows(c, "SELECT relname || ' ' || relreplident::text FROM pg_class WHERE relname = 't'"));
            assertEquals(List.of("t"), rows(c, "SELECT tablename FROM pg_publication_tables"));
        }
        Pg.Run quick = Pg.run(new CreatePublication(), args);
        assertEquals(0, quick.exit(), quick.all());
        assertFalse(quick.err().contains("reading the catalog"), quick.err());
    }

    // ---- setup cut short ---------------------------------------------------------------------------------

    static final String ROLE = "faults_airbyte";

    /** A database with a role to grant to and a table whose replica identity setup must change; the role is new. */
    static String setupDatabase(String slot) throws Exception {
        Pg.sql("postgres", "DROP ROLE IF EXISTS " + ROLE, "CREATE ROLE " + ROLE + " LOGIN REPLICATION");
        String db = Pg.freshDatabase("faults");
        Fixtures.as(db, "CREATE TABLE orders (id int PRIMARY KEY)", "CREATE TABLE \"Busy\" (id int PRIMARY KEY)",
                "ALTER TABLE \"Busy\" REPLICA IDENTITY NOTHING");
        return db;
    }

    static void dropSetup(String... dbs) throws Exception {
        Pg.sql("postgres", "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'faults%' AND NOT active");
        for (String db : dbs) Pg.sql(db, "DROP OWNED BY " + ROLE);
        Pg.sql("postgres", "DROP ROLE IF EXISTS " + ROLE);
    }

    static Pg.Run setup(String db, String slot, String lockTimeout) {
        return Pg.run(new Setup(), "--url", Pg.url(db), "--role", ROLE, "--slot", slot, "--lock-timeout", lockTimeout);
    }

    /** The catalog, with the database's own slot shown by plugin only: comparable between two databases. */
    static String settled(String db) throws Exception {
        String slots = String.join(",", Pg.column(db, "SELECT plugin FROM pg_replication_slots WHERE database = current_database()"));
        return Pg.catalog(db).lines().filter(l -> !l.startsWith("slot ")).collect(java.util.stream.Collectors.joining("\n"))
                + "\nslots here: " + slots;
    }

    /**
     * The slot comes after setup's commit, and waits for every open transaction that has written: when one outlasts
     * --lock-timeout, setup ends with exit 4 saying that the grants and the publication are in place (they are), and
     * a rerun once that transaction has ended makes the slot.
     */
    @Test void aSlotKeptWaitingPastTheLockTimeoutSaysWhatSetupLeftInPlace() throws Exception {
        String db = setupDatabase("faults_waiting");
        try {
            try (Connection writer = Pg.superuser("postgres")) {
                writer.setAutoCommit(false);
                writer.createStatement().execute("CREATE TEMP TABLE held (v int)"); // an open transaction that has written
                Pg.Run r = setup(db, "faults_waiting", "300ms");
                assertEquals(4, r.exit(), r.all());
                assertTrue(r.err().startsWith("setup: slot faults_waiting (a new slot waits for every open transaction that "
                        + "has written; open when it looked: "), r.err());
                assertTrue(r.err().contains("could not take a lock within lock_timeout"), r.err());
                assertTrue(r.err().strip().endsWith("the grants, the replica identities and the publication are in place: run setup again to make the slot"), r.err());
                assertFalse(r.err().contains("nothing was changed"), r.err());
                assertEquals(List.of("Busy", "orders"), Pg.column(db, "SELECT tablename FROM pg_publication_tables ORDER BY 1"));
                assertEquals("true", Pg.value(db, "SELECT has_table_privilege('" + ROLE + "', 'public.orders', 'SELECT')::text"));
                assertEquals(List.of(), Pg.column(db, "SELECT slot_name FROM pg_replication_slots WHERE database = current_database()"));
                writer.rollback();
            }
            Pg.Run again = setup(db, "faults_waiting", "300ms");
            assertEquals(0, again.exit(), again.all());
            assertEquals(List.of("faults_waiting"), Pg.column(db, "SELECT slot_name FROM pg_replication_slots WHERE database = current_database()"));
        } finally {
            dropSetup(db);
        }
    }

    /** setup's own backend once it waits on a lock of {@code type} ('relation' for a table, 'transactionid' for a slot). */
    static int waitingSetup(Connection watch, String db, String type) throws Exception {
        int[] pid = {0};
        await("setup to wait on a " + type + " lock", () -> {
            try (var rs = watch.createStatement().executeQuery("SELECT a.pid FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid "
                    + "WHERE a.application_name = 'airbyte-runbook' AND a.datname = '" + db + "' AND NOT l.granted AND l.locktype = '" + type + "'")) {
                if (rs.next()) pid[0] = rs.getInt(1);
                return pid[0] != 0;
            } catch (Exception e) { return false; }
        });
        return pid[0];
    }

    /** create-publication's lock timeout ends setup with exit 4 naming the table, and the grants made before are undone too. */
    /**
     * One transaction locks every table it publishes, and PostgreSQL's lock table has room for about
     * max_locks_per_transaction x max_connections locks: a server with a small one plays a database with more tables
     * than that. The step fails in one line that says so and how to do it in parts, changes nothing, and the parts work.
     */
    @Test void moreTablesThanTheLockTableHoldsFailsInOneLineAndPartsWork() throws Exception {
        Path data = Files.createTempDirectory("faults-locks").resolve("data");
        try (EmbeddedPostgres pg = EmbeddedPostgres.builder().setDataDirectory(data).setServerConfig("wal_level", "logical")
                .setServerConfig("max_locks_per_transaction", "10").setServerConfig("max_connections", "10").start();
             Connection c = DriverManager.getConnection("jdbc:postgresql://localhost:" + pg.getPort() + "/postgres", "postgres", "");
             Statement st = c.createStatement()) {
            int tables = 3000;
            for (int i = 0; i < tables; i += 50)
                st.execute("DO $$ BEGIN FOR i IN " + i + ".." + (i + 49) + " LOOP EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY)', i); END LOOP; END $$");
            String url = "postgresql://postgres@localhost:" + pg.getPort() + "/postgres?sslmode=disable";

            Pg.Run all = Pg.run(new CreatePublication(), "--url", url);
            assertEquals(4, all.exit(), all.all());
            assertEquals(1, all.err().lines().count(), all.err());
            assertTrue(all.err().contains("lock table is full") && all.err().contains("in parts") && all.err().contains("nothing was changed"), all.err());
            try (var rs = st.executeQuery("SELECT count(*) FROM pg_publication")) {
                rs.next();
                assertEquals(0, rs.getInt(1));
            }

            for (int i = 0; i < tables; i += 200) {
                java.util.List<String> args = new java.util.ArrayList<>(List.of("--url", url, "--add"));
                for (int t = i; t < i + 200; t++) args.addAll(List.of("--table", "public.t" + t));
                Pg.Run part = Pg.run(new CreatePublication(), args.toArray(String[]::new));
                assertEquals(0, part.exit(), part.all());
            }
            try (var rs = st.executeQuery("SELECT count(*) FROM pg_publication_tables")) {
                rs.next();
                assertEquals(tables, rs.getInt(1));
            }
            Pg.Run again = Pg.run(new CreatePublication(), "--url", url);
            assertEquals(0, again.exit(), "every table is in it now: " + again.all());
        }
    }

    /**
     * A step that creates a table, in one transaction or not, and whose second look fails on the server: in the
     * pipeline that applies the plan, or afterwards with a query of its own (as teardown's does).
     */
    static Runbook.Step failingSecondLook(boolean transactional, boolean inThePipeline) {
        return new Runbook.Step() {
            public String name() { return "made-up"; }
            public Runbook.Reading read(Pipeline p) {
                return () -> new Runbook.Assessment(List.of(), new Runbook.Plan(List.of(new Runbook.Sql("CREATE TABLE made (id int)",
                        "table made")), transactional));
            }
            public Runbook.Looking verify(Pipeline p) {
                if (!inThePipeline) return () -> {
                    p.connection().createStatement().execute("SELECT 1 / 0");
                    return List.of();
                };
                Pipeline.Answer<Integer> broken = p.query("SELECT 1 / 0 AS n", Pipeline.one(rs -> rs.getInt("n")));
                return () -> List.of(Runbook.Finding.ok("n", String.valueOf(broken.get())));
            }
        };
    }

    static Failure secondLookFails(String db, boolean transactional, boolean inThePipeline) throws Exception {
        try (Connection c = Pg.as(db, Pg.OWNER, Pg.OWNER_PASSWORD)) {
            return assertThrows(Failure.class, () -> Runbook.runOn(c, failingSecondLook(transactional, inThePipeline),
                    Runbook.Mode.APPLY, Runbook.Transaction.OWN));
        }
    }

    static final String APPLIED = "; the plan was applied and committed; only the second look failed: run made-up again to check";

    /** The second look goes in the plan's transaction: when it fails, nothing stays, and the message says so. */
    @Test void aSecondLookThatFailsUndoesItsPlan() throws Exception {
        String db = Pg.freshDatabase("second_look");
        Failure f = secondLookFails(db, true, true);
        assertEquals(Failure.NOTHING_CHANGED, f.aftermath, f.getMessage());
        assertEquals("0", Pg.value(db, "SELECT count(*) FROM pg_class WHERE relname = 'made'"));
    }

    /**
     * A look after the commit (a plan that cannot be one transaction, as the slot's; or a look of its own, as
     * teardown's) that fails: the plan stays, and the message says it was applied.
     */
    @Test void aSecondLookThatFailsAfterTheCommitSaysThePlanWasApplied() throws Exception {
        for (boolean transactional : new boolean[] {false, true}) {
            String db = Pg.freshDatabase("second_look_after");
            Failure f = secondLookFails(db, transactional, !transactional);
            assertTrue(f.getMessage().endsWith(APPLIED), f.getMessage());
            assertEquals("1", Pg.value(db, "SELECT count(*) FROM pg_class WHERE relname = 'made'"));
        }
    }

    /** A second look of setup that fails (here: a grant undone as soon as it is made) rolls all of setup back. */
    @Test void aSecondLookThatFailsInSetupLeavesTheDatabaseAsItWas() throws Exception {
        String db = setupDatabase("faults_look");
        Pg.sql(db, "CREATE FUNCTION undo_grants() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN "
                        + "REVOKE SELECT ON public.\"Busy\" FROM " + ROLE + "; END $$",
                "CREATE EVENT TRIGGER undo_grants ON ddl_command_end WHEN TAG IN ('GRANT') EXECUTE FUNCTION undo_grants()");
        try {
            String before = Pg.catalog(db);
            Pg.Run r = setup(db, "faults_look", "5s");
            assertEquals(1, r.exit(), r.all());
            assertTrue(r.out().contains("rolled back: nothing of setup's changes stays"), r.out());
            assertFalse(r.out().contains("next, Airbyte's source configuration"), r.out());
            assertEquals(before, Pg.catalog(db), "no grant, no publication, no slot");
        } finally {
            Pg.sql(db, "DROP EVENT TRIGGER undo_grants");
            dropSetup(db);
        }
    }

    @Test void aLockTimeoutInSetupNamesTheTableAndChangesNothing() throws Exception {
        String db = setupDatabase("faults_lock");
        try {
            String before = Pg.catalog(db);
            try (Connection reader = Pg.superuser(db)) {
                reader.setAutoCommit(false);
                reader.createStatement().executeQuery("SELECT count(*) FROM \"Busy\"").close();
                Pg.Run r = setup(db, "faults_lock", "200ms");
                assertEquals(4, r.exit(), r.all());
                assertEquals(1, r.err().lines().count(), r.err());
                assertTrue(r.err().startsWith("setup: could not take a lock within lock_timeout on \"Busy\": held by pid "
                        + reader.unwrap(org.postgresql.PGConnection.class).getBackendPID() + " (role postgres"), r.err());
                assertEquals(before, Pg.catalog(db), "the grants of the step before are rolled back with it");
                reader.commit();
            }
            assertEquals(0, setup(db, "faults_lock", "200ms").exit());
            assertEquals("t", Pg.value(db, "SELECT has_table_privilege('" + ROLE + "', 'public.\"Busy\"', 'SELECT')"));
        } finally {
            dropSetup(db);
        }
    }

    /**
     * The connection is lost while setup waits, after grant-access applied its grants: inside create-publication (one
     * transaction with the grants: nothing stays), then between the publication's commit and the slot. Each time
     * setup ends in one line with exit 3, and a rerun ends as a clean run on a twin database does.
     */
    @Test void aConnectionLostInSetupLeavesNothingHalfDoneAndARerunEqualsACleanRun() throws Exception {
        String clean = setupDatabase("faults_clean");
        String db = Pg.freshDatabase("faults");
        try {
            Fixtures.as(db, "CREATE TABLE orders (id int PRIMARY KEY)", "CREATE TABLE \"Busy\" (id int PRIMARY KEY)",
                    "ALTER TABLE \"Busy\" REPLICA IDENTITY NOTHING");
            assertEquals(0, setup(clean, "faults_clean", "5s").exit());
            String before = Pg.catalog(db);
            try (Connection watch = Pg.superuser("postgres")) {
                // 1. In create-publication's ALTER TABLE, behind a reader of "Busy".
                try (Connection reader = Pg.superuser(db)) {
                    reader.setAutoCommit(false);
                    reader.createStatement().executeQuery("SELECT count(*) FROM \"Busy\"").close();
                    CompletableFuture<Pg.Run> run = CompletableFuture.supplyAsync(() -> setup(db, "faults_lost", "60s"));
                    watch.createStatement().execute("SELECT pg_terminate_backend(" + waitingSetup(watch, db, "relation") + ")");
                    Pg.Run lost = run.get();
                    assertEquals(3, lost.exit(), lost.all());
                    assertEquals(1, lost.err().lines().count(), lost.err());
                    assertTrue(lost.err().startsWith("setup: connection lost:") && lost.err().contains("run the command again"), lost.err());
                    assertEquals(before, Pg.catalog(db), "the grants were rolled back with the publication");
                }
                // 2. In create-slot, which waits for a transaction that has written (the publication is committed by then).
                try (Connection writer = Pg.superuser(db)) {
                    writer.setAutoCommit(false);
                    writer.createStatement().execute("INSERT INTO orders VALUES (1)");
                    CompletableFuture<Pg.Run> run = CompletableFuture.supplyAsync(() -> setup(db, "faults_lost", "60s"));
                    watch.createStatement().execute("SELECT pg_terminate_backend(" + waitingSetup(watch, db, "transactionid") + ")");
                    Pg.Run lost = run.get();
                    assertEquals(3, lost.exit(), lost.all());
                    assertTrue(lost.err().startsWith("setup: connection lost:"), lost.err());
                    assertEquals(List.of("Busy", "orders"), Pg.column(db, "SELECT tablename FROM pg_publication_tables ORDER BY 1"));
                    assertEquals(List.of(), Pg.column(db, "SELECT slot_name FROM pg_replication_slots WHERE database = current_database()"));
                    writer.rollback();
                }
            }
            Pg.Run again = setup(db, "faults_lost", "5s");
            assertEquals(0, again.exit(), again.all());
            assertEquals(settled(clean), settled(db));
        } finally {
            dropSetup(clean, db);
        }
    }

    static List<String> rows(Connection c, String sql) throws Exception {
        List<String> out = new java.util.ArrayList<>();
        try (var rs = c.createStatement().executeQuery(sql)) {
            while (rs.next()) out.add(rs.getString(1));
        }
        return out;
    }

    /** Two setups at once take turns on an advisory lock: both succeed, and the database is set up once. */
    @Test void twoSetupsAtOnceBothSucceedAndSetUpOnce() throws Exception {
        String db = Pg.freshDatabase("race");
        Pg.sql(db, "CREATE TABLE public.orders (id int PRIMARY KEY)", "ALTER TABLE public.orders OWNER TO " + Pg.OWNER);
        String url = Pg.url(db);
        assertEquals(0, launch("setup", "--version").exit(), "build the script once: two first runs would both compile it");
        try (Connection gate = Pg.superuser(db); Connection watch = Pg.superuser(db)) {
            gate.createStatement().execute("SELECT pg_advisory_lock(hashtext('airbyte-runbook setup'))");
            CompletableFuture<LauncherTest.Result> one = CompletableFuture.supplyAsync(() -> launch("setup", "--url", url, "--slot", "race_slot"));
            CompletableFuture<LauncherTest.Result> two = CompletableFuture.supplyAsync(() -> launch("setup", "--url", url, "--slot", "race_slot"));
            await("both setups to queue on the lock", () -> {
                try (var rs = watch.createStatement().executeQuery(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")) {
                    rs.next();
                    return rs.getInt(1) == 2;
                } catch (Exception e) { return false; }
            });
            gate.createStatement().execute("SELECT pg_advisory_unlock_all()");
            for (LauncherTest.Result r : List.of(one.get(), two.get())) assertEquals(0, r.exit(), r.out() + r.err());
            assertEquals(List.of("race_slot pgoutput"), Pg.column(db, "SELECT slot_name || ' ' || plugin FROM pg_replication_slots WHERE database = current_database()"));
        } finally {
            Pg.sql("postgres", "SELECT pg_drop_replication_slot('race_slot') FROM pg_replication_slots WHERE slot_name = 'race_slot'");
        }
        assertEquals(List.of("airbyte_publication public.orders"), Pg.column(db,
                "SELECT pubname || ' ' || schemaname || '.' || tablename FROM pg_publication_tables"));
    }

    static LauncherTest.Result launch(String... args) {
        try {
            return LauncherTest.jbang(args);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
