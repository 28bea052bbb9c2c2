import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * The launcher's kept commands (.jbang/commands/): a script started through {@code ./jbang} runs the command JBang
 * printed for it last time, without JBang, only while nothing it was made from changed. Each test makes a small
 * script with a nested //SOURCES include in a folder of its own and runs it as a user would, by path. Scripts of the
 * same content share JBang's build, so only the edits below cost a compile.
 */
class LauncherCacheTest {
    static final Path CACHE = Pg.repoRoot().resolve(".jbang/commands");
    static final List<Path> MADE = new ArrayList<>();

    record Result(int exit, String out, String err) {}

    /** Main.java, which sources lib/Value.java, which sources Deep.java (next to it); it prints the three and its arguments. */
    static Path project(String main, String value, String deep) throws IOException {
        Path dir = Files.createTempDirectory("launcher-cache");
        MADE.add(dir);
        Files.createDirectories(dir.resolve("lib"));
        write(dir.resolve("Main.java"), "//SOURCES lib/Value.java\nclass Main {\n    public static void main(String... args) {\n"
                + "        System.out.println(\"" + main + " \" + Value.TEXT + \" \" + Deep.TEXT + \" \" + String.join(\"|\", args));\n    }\n}\n");
        write(dir.resolve("lib/Value.java"), "//SOURCES Deep.java\nclass Value { static final String TEXT = \"" + value + "\"; }\n");
        write(dir.resolve("lib/Deep.java"), "class Deep { static final String TEXT = \"" + deep + "\"; }\n");
        return dir.resolve("Main.java");
    }

    static void write(Path file, String text) throws IOException { Files.writeString(file, text, StandardCharsets.UTF_8); }

    static Result run(Path script, String... args) throws IOException, InterruptedException { return run(Map.of(), script, args); }

    /** {@code ./jbang <script> args} from the script's folder, stdin closed; RUNBOOK_OWN_JBANG unless env says otherwise
     * (an empty value removes a variable). */
    static Result run(Map<String, String> env, Path script, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Pg.repoRoot().resolve("jbang").toString(), script.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(script.getParent().toFile());
        pb.environment().remove("RUNBOOK_JBANG_CACHE");
        pb.environment().put("RUNBOOK_OWN_JBANG", "1"); // a jbang installed on this machine is not what is tested here
        env.forEach((k, v) -> { if (v.isEmpty()) pb.environment().remove(k); else pb.environment().put(k, v); });
        Path err = Files.createTempFile("launcher-cache", ".err");
        try {
            Process p = pb.redirectError(err.toFile()).start();
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            return new Result(p.waitFor(), out, Files.readString(err));
        } finally {
            Files.delete(err);
        }
    }

    /** The kept command of a script, as the launcher names it: the absolute path with % and / escaped. */
    static Path entry(Path script) {
        return CACHE.resolve(script.toAbsolutePath().toString().replace("%", "%25").replace("/", "%2F"));
    }

    /** The entry's identity on disk: the launcher replaces an entry by renaming a new file onto it, so a run that
     * asked JBang again changes it, and a run served from the entry does not. */
    static Object identity(Path entry) throws IOException {
        BasicFileAttributes a = Files.readAttributes(entry, BasicFileAttributes.class);
        return List.of(String.valueOf(a.fileKey()), a.lastModifiedTime(), Files.readString(entry));
    }

    static void assertPrints(String expected, Result r) {
        assertEquals(0, r.exit(), r.out() + r.err());
        assertEquals(expected, r.out().strip(), r.err());
    }

    @Test void anEditedIncludeOrScriptNeverRunsStale() throws Exception {
        Path main = project("main-1", "value-1", "deep-1");
        assertPrints("main-1 value-1 deep-1 a|b c", run(main, "a", "b c"));
        Object kept = identity(entry(main));
        assertPrints("main-1 value-1 deep-1 again", run(main, "again"));
        assertEquals(kept, identity(entry(main)), "the second run is served from the kept command, not from JBang");

        // an include of an include, edited: same length, same second
        write(main.resolveSibling("lib/Deep.java"), "class Deep { static final String TEXT = \"deep-2\"; }\n");
        assertPrints("main-1 value-1 deep-2 x", run(main, "x"));
        write(main, Files.readString(main).replace("main-1", "main-2"));
        assertPrints("main-2 value-1 deep-2 y", run(main, "y"));
        // an include that now sources one more file, which is then edited too
        write(main.resolveSibling("lib/Extra.java"), "class Extra { static final String TEXT = \"extra-1\"; }\n");
        write(main.resolveSibling("lib/Value.java"), "//SOURCES Deep.java Extra.java\nclass Value { static final String TEXT = \"value-1 \" + Extra.TEXT; }\n");
        assertPrints("main-2 value-1 extra-1 deep-2 z", run(main, "z"));
        write(main.resolveSibling("lib/Extra.java"), "class Extra { static final String TEXT = \"extra-2\"; }\n");
        assertPrints("main-2 value-1 extra-2 deep-2 z", run(main, "z"));
    }

    @Test void theKeptCommandHoldsNoArgument() throws Exception {
        Path main = project("main-1", "value-1", "deep-1");
        String url = "postgresql://alex:Fake-Pa55word-1@db.example.com/shop", quoted = "it's \"$HOME\" `x` *";
        assertPrints("main-1 value-1 deep-1 --url|" + url + "|" + quoted, run(main, "--url", url, quoted));
        assertTrue(Files.exists(entry(main)), "the command was kept");
        assertPrints("main-1 value-1 deep-1 --url|" + url.replace("-1@", "-2@"), run(main, "--url", url.replace("-1@", "-2@")));
        try (Stream<Path> files = Files.list(CACHE)) {
            for (Path f : files.toList()) {
                String text;
                try {
                    text = Files.readString(f);
                } catch (java.nio.file.NoSuchFileException e) {
                    continue; // another run's temporary file, renamed meanwhile
                }
                for (String secret : List.of("Fake-Pa55word", "db.example.com", "it's"))
                    assertFalse(text.contains(secret), f + " holds an argument: " + secret);
            }
        }
    }

    @Test void aMissingPathOrACorruptEntryFallsBackToJBang() throws Exception {
        Path main = project("main-1", "value-1", "deep-1");
        assertPrints("main-1 value-1 deep-1 1", run(main, "1"));
        Path entry = entry(main);
        String good = Files.readString(entry);

        Files.writeString(entry, good.substring(0, good.lastIndexOf("\narg ") + 1)); // cut short: no main class
        assertPrints("main-1 value-1 deep-1 2", run(main, "2"));
        assertEquals(good, Files.readString(entry), "JBang's command is kept again");
        Files.writeString(entry, "not a kept command\n");
        assertPrints("main-1 value-1 deep-1 3", run(main, "3"));
        assertEquals(good, Files.readString(entry));

        // The kept command names a copy of the script's jar: it runs from it, and once the copy is gone, JBang's again.
        String jar = good.lines().filter(l -> l.startsWith("arg ") && l.endsWith("/Main.jar")).findFirst().orElseThrow().substring(4);
        Path copy = Files.createTempDirectory("launcher-cache").resolve("Main.jar");
        MADE.add(copy.getParent());
        Files.copy(Path.of(jar), copy);
        Files.writeString(entry, good.replace("arg " + jar + "\n", "arg " + copy + "\n"));
        Object edited = identity(entry);
        assertPrints("main-1 value-1 deep-1 4", run(main, "4"));
        assertEquals(edited, identity(entry), "the edited entry is still valid while its jar exists");
        Files.delete(copy);
        assertPrints("main-1 value-1 deep-1 5", run(main, "5"));
        assertEquals(good, Files.readString(entry));
    }

    /**
     * A jbang on PATH with its jar next to it (JBang's installer, SDKMAN!) is asked the same way, and its command kept;
     * one without (Homebrew's wrapper, a native binary) is run as it is. The fake one here notes each call.
     */
    @Test void anInstalledJBangIsAskedTheSameWay() throws Exception {
        Path main = project("main-1", "value-1", "deep-1");
        Path bin = Files.createTempDirectory("launcher-cache-bin");
        MADE.add(bin);
        Path calls = bin.resolve("calls");
        write(bin.resolve("jbang"), "#!/usr/bin/env bash\necho called >> '" + calls + "'\nRUNBOOK_OWN_JBANG=1 exec '"
                + Pg.repoRoot().resolve("jbang") + "' \"$@\"\n");
        bin.resolve("jbang").toFile().setExecutable(true);
        Path jar;
        try (Stream<Path> jars = Files.list(Pg.repoRoot().resolve(".jbang"))) {
            jar = jars.filter(p -> p.getFileName().toString().matches("jbang-cli-.*-all\\.jar")).findFirst().orElseThrow();
        }
        Files.createSymbolicLink(bin.resolve("jbang.jar"), jar);
        Map<String, String> env = Map.of("PATH", bin + ":" + System.getenv("PATH"), "RUNBOOK_OWN_JBANG", "");

        assertPrints("main-1 value-1 deep-1 1", run(env, main, "1"));
        assertTrue(Files.readString(entry(main)).contains("\njbang " + bin.toRealPath().resolve("jbang") + "\n"), Files.readString(entry(main)));
        Object kept = identity(entry(main));
        assertPrints("main-1 value-1 deep-1 2", run(env, main, "2"));
        assertEquals(kept, identity(entry(main)));
        assertFalse(Files.exists(calls), "the installed jbang's script is not needed while its jar is there");

        Files.delete(bin.resolve("jbang.jar"));
        assertPrints("main-1 value-1 deep-1 3", run(env, main, "3"));
        assertEquals(List.of("called"), Files.readAllLines(calls));
    }

    @AfterAll static void cleanUp() throws IOException {
        for (Path dir : MADE) {
            Path main = dir.resolve("Main.java");
            Files.deleteIfExists(entry(main));
            try (Stream<Path> all = Files.walk(dir)) {
                for (Path p : all.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
            }
        }
    }
}
