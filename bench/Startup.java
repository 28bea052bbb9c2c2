import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Start-up time, side by side: a cached {@code ./jbang check-wal --version}, a cached hello-world picocli script
 * through the same launcher, and check-wal's own cached jar and dependencies started with {@code java -cp}.
 * Runs are interleaved (one of each kind in turn) so that a busy machine slows all kinds alike; medians are compared.
 */
final class Startup {
    private final Path repo;
    private final int runs;

    Startup(Path repo, int runs) {
        this.repo = repo;
        this.runs = runs;
    }

    void run() throws IOException, InterruptedException {
        String jbang = repo.resolve("jbang").toString();
        exec(List.of(jbang, "build", "scripts/CheckWal.java")); // info tools names the jar only once it is built
        JsonNode info = new ObjectMapper().readTree(exec(List.of(jbang, "info", "tools", "scripts/CheckWal.java")));
        List<String> cp = new ArrayList<>(List.of(info.get("applicationJar").asText()));
        info.get("resolvedDependencies").forEach(d -> cp.add(d.asText()));
        List<String> direct = new ArrayList<>(List.of(Path.of(info.get("availableJdkPath").asText(), "bin", "java").toString()));
        if (info.has("runtimeOptions")) info.get("runtimeOptions").forEach(o -> direct.add(o.asText()));
        direct.addAll(List.of("-cp", String.join(File.pathSeparator, cp), info.get("mainClass").asText(), "--version"));

        Map<String, List<String>> kinds = new LinkedHashMap<>();
        kinds.put("./jbang bench/Hello.java --version", List.of(jbang, "bench/Hello.java", "--version"));
        kinds.put("./jbang check-wal --version", List.of(jbang, "check-wal", "--version"));
        kinds.put("./jbang scripts/CheckWal.java --version", List.of(jbang, "scripts/CheckWal.java", "--version"));
        kinds.put("java -cp <check-wal's jar and deps> CheckWal --version", direct);
        for (List<String> command : kinds.values()) exec(command); // builds and caches, not timed
        Map<String, List<Long>> times = new LinkedHashMap<>();
        for (int i = 0; i < runs; i++)
            for (var k : kinds.entrySet()) {
                long t = System.nanoTime();
                exec(k.getValue());
                times.computeIfAbsent(k.getKey(), x -> new ArrayList<>()).add((System.nanoTime() - t) / 1_000_000);
            }

        System.out.println("\nStart-up, median of " + runs + " runs each (interleaved), cached:\n");
        System.out.println("| command | median ms | min ms | max ms |");
        System.out.println("|---|---:|---:|---:|");
        Map<String, Long> median = new LinkedHashMap<>();
        times.forEach((k, ts) -> {
            List<Long> sorted = ts.stream().sorted().toList();
            median.put(k, sorted.get(sorted.size() / 2));
            System.out.printf("| `%s` | %,d | %,d | %,d |%n", k, median.get(k), sorted.get(0), sorted.get(sorted.size() - 1));
        });
        List<Long> m = new ArrayList<>(median.values());
        double overHello = (double) m.get(1) / m.get(0), launcher = (double) m.get(1) / m.get(3);
        System.out.printf("%ncheck-wal / hello through ./jbang: %.2f (overhead %+.0f %%); ./jbang / java -cp for check-wal: %.2f%n",
                overHello, (overHello - 1) * 100, launcher);
        System.out.println(Bench.verdict(overHello <= 1.15, "check-wal starts within 15 % of a hello-world script"));
    }

    /** Runs a command in the repository, returns its stdout; a failure is an exception with its stderr. */
    private String exec(List<String> command) throws IOException, InterruptedException {
        Path err = java.nio.file.Files.createTempFile("startup", ".err");
        try {
            Process p = new ProcessBuilder(command).directory(repo.toFile()).redirectError(err.toFile()).start();
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor() != 0)
                throw new IOException(String.join(" ", command) + " exited " + p.exitValue() + ": " + java.nio.file.Files.readString(err));
            return out;
        } finally {
            java.nio.file.Files.delete(err);
        }
    }
}
