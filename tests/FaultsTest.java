import static org.junit.jupiter.api.Assertions.*;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.net.ServerSocket;
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
    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) { return s.getLocalPort(); }
    }

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
        int port = freePort();
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
        Pg.Run r = Pg.run(new CheckWal(), "--url", "postgresql://alex@localhost:" + freePort() + "/x", "--wait", "1");
        long ms = (System.nanoTime() - start) / 1_000_000;
        assertEquals(3, r.exit(), r.all());
        assertTrue(ms >= 1000 && ms < 15_000, ms + " ms");
    }

    /** The server stops while create-publication's transaction is open: nothing is half applied; a rerun completes. */
    @Test void aServerStoppedMidPlanLeavesNothingHalfDoneAndARerunCompletes() throws Exception {
        Path data = Files.createTempDirectory("midplan");
        int port = freePort();
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

    static List<String> rows(Connection c, String sql) throws Exception {
        List<String> out = new java.util.ArrayList<>();
        try (var rs = c.createStatement().executeQuery(sql)) {
            while (rs.next()) out.add(rs.getString(1));
        }
        return out;
    }

    /** Two setups at once take turns on an advisory lock: both succeed, and the database is set up once. */
    @Test void twoSetupsAtOnceBothSucceedAndSetUpOnce() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(System.getProperty("pg.version", "17.6.0").startsWith("17"), "runs once, on 17");
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
