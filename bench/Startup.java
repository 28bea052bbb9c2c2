import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Start-up time, side by side: {@code ./jbang check-wal --version} by alias and by path, served from the command the
 * launcher kept (no JBang), the same through JBang ({@code RUNBOOK_JBANG_CACHE=off}), a hello-world picocli script
 * through the launcher, and check-wal's own jar and dependencies started with {@code java -cp}. Runs are interleaved
 * (one of each kind in turn) so that a busy machine slows all kinds alike; medians are compared.
 */
final class Startup {
    /** The most a kept {@code ./jbang check-wal} may take, in times {@code java -cp}'s median. */
    static final double LAUNCHER_RATIO = 1.5;
    /**
     * The most check-wal may take, in times the hello-world script's median, both through {@code ./jbang}: a shared
     * include that did work when loaded would show here. It was 1.15 while JBang's own ~0.8 s was part of both; without
     * it, check-wal's larger command line alone is 1.07 to 1.2 times hello.
     */
    static final double HELLO_RATIO = 1.3;

    private final Path repo;
    private final int runs;

    Startup(Path repo, int runs) {
        this.repo = repo;
        this.runs = runs;
    }

    record Kind(List<String> command, Map<String, String> env) {}

    /** Prints the table, the ratios and the verdicts; returns how many verdicts failed. */
    int run() throws IOException, InterruptedException {
        String jbang = repo.resolve("jbang").toString();
        exec(List.of(jbang, "build", "scripts/CheckWal.java"), Map.of()); // info tools names the jar only once it is built
        JsonNode info = new ObjectMapper().readTree(exec(List.of(jbang, "info", "tools", "scripts/CheckWal.java"), Map.of()));
        List<String> cp = new ArrayList<>(List.of(info.get("applicationJar").asText()));
        info.get("resolvedDependencies").forEach(d -> cp.add(d.asText()));
        List<String> direct = new ArrayList<>(List.of(Path.of(info.get("availableJdkPath").asText(), "bin", "java").toString()));
        if (info.has("runtimeOptions")) info.get("runtimeOptions").forEach(o -> direct.add(o.asText()));
        direct.addAll(List.of("-cp", String.join(File.pathSeparator, cp), info.get("mainClass").asText(), "--version"));

        Map<String, String> kept = Map.of("RUNBOOK_JBANG_CACHE", ""), throughJBang = Map.of("RUNBOOK_JBANG_CACHE", "off");
        String checkWal = "`./jbang check-wal --version`", java = "`java -cp <check-wal's jar and deps> CheckWal --version`",
                hello = "`./jbang bench/Hello.java --version` (a hello-world picocli script)";
        Map<String, Kind> kinds = new LinkedHashMap<>();
        kinds.put(checkWal, new Kind(List.of(jbang, "check-wal", "--version"), kept));
        kinds.put("`./jbang scripts/CheckWal.java --version`", new Kind(List.of(jbang, "scripts/CheckWal.java", "--version"), kept));
        kinds.put(hello, new Kind(List.of(jbang, "bench/Hello.java", "--version"), kept));
        kinds.put("`RUNBOOK_JBANG_CACHE=off ./jbang check-wal --version` (through JBang)",
                new Kind(List.of(jbang, "check-wal", "--version"), throughJBang));
        kinds.put(java, new Kind(direct, Map.of()));
        for (Kind k : kinds.values()) exec(k.command(), k.env()); // builds and keeps the commands, not timed
        List<String> keptNames;
        try (var files = Files.list(repo.resolve(".jbang/commands"))) {
            keptNames = files.map(f -> f.getFileName().toString()).toList();
        } catch (java.nio.file.NoSuchFileException e) {
            keptNames = List.of();
        }
        boolean keptBoth = keptNames.stream().anyMatch(n -> n.endsWith("%2Fscripts%2FCheckWal.java"))
                && keptNames.stream().anyMatch(n -> n.endsWith("%2Fbench%2FHello.java"));
        Map<String, List<Long>> times = new LinkedHashMap<>();
        for (int i = 0; i < runs; i++)
            for (var k : kinds.entrySet()) {
                long t = System.nanoTime();
                exec(k.getValue().command(), k.getValue().env());
                times.computeIfAbsent(k.getKey(), x -> new ArrayList<>()).add((System.nanoTime() - t) / 1_000_000);
            }

        System.out.println("\nStart-up, median of " + runs + " runs of each, interleaved, everything built:\n");
        System.out.println("| command | median ms | min ms | max ms |");
        System.out.println("|---|---:|---:|---:|");
        Map<String, Long> median = new LinkedHashMap<>();
        times.forEach((k, ts) -> {
            List<Long> sorted = ts.stream().sorted().toList();
            median.put(k, sorted.get(sorted.size() / 2));
            System.out.printf("| %s | %,d | %,d | %,d |%n", k, median.get(k), sorted.get(0), sorted.get(sorted.size() - 1));
        });
        double launcher = (double) median.get(checkWal) / median.get(java), overHello = (double) median.get(checkWal) / median.get(hello);
        System.out.printf("%n./jbang check-wal / java -cp: %.2f; check-wal / hello through ./jbang: %.2f%n", launcher, overHello);
        List<Boolean> verdicts = List.of(
                say(keptBoth, "./jbang keeps the commands of check-wal and the hello script (.jbang/commands/)"),
                say(launcher <= LAUNCHER_RATIO, String.format("./jbang check-wal starts within %.1f times java -cp (%.2f)", LAUNCHER_RATIO, launcher)),
                say(overHello <= HELLO_RATIO, String.format("check-wal starts within %.1f times a hello-world script (%.2f)", HELLO_RATIO, overHello)));
        return (int) verdicts.stream().filter(ok -> !ok).count();
    }

    private static boolean say(boolean ok, String what) {
        System.out.println(Bench.verdict(ok, what));
        return ok;
    }

    /** Runs a command in the repository (env: an empty value removes a variable), returns its stdout; a failure is an
     * exception with its stderr. */
    private String exec(List<String> command, Map<String, String> env) throws IOException, InterruptedException {
        Path err = Files.createTempFile("startup", ".err");
        try {
            ProcessBuilder pb = new ProcessBuilder(command).directory(repo.toFile()).redirectError(err.toFile());
            env.forEach((k, v) -> { if (v.isEmpty()) pb.environment().remove(k); else pb.environment().put(k, v); });
            Process p = pb.start();
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor() != 0)
                throw new IOException(String.join(" ", command) + " exited " + p.exitValue() + ": " + Files.readString(err));
            return out;
        } finally {
            Files.delete(err);
        }
    }
}
