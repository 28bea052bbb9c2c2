///usr/bin/env jbang "$0" "$@" ; exit $?
//SOURCES Doctor.java SlotStatus.java Teardown.java lib/Targets.java lib/Captured.java
//DESCRIPTION Run check-wal, doctor, setup, slot-status or teardown on many databases at once, in one JVM: one table (or JSON, or Prometheus metrics) for all of them

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Unmatched;

@Command(name = "fleet", mixinStandardHelpOptions = true, version = "fleet 1.0",
        description = {Fleet.DESCRIPTION,
                "Runs the command on every target, at most --parallel at once, each with its own connection; one target's "
                + "failure never stops or changes the others. Prints one line per target (exit code, verdict, the first "
                + "failing finding or the error) and a total; with --json, each target's own JSON. Exit 0 when every "
                + "target is 0, else 1.",
                "Targets: --targets FILE, one a line: NAME URL [options for that target] (# comments; $${VAR} from the "
                + "environment, so passwords stay out of the file; a target's options replace the shared ones), or "
                + "--neon-projects all|ID,... with --role and --database: each project's default branch through its "
                + "read-write compute, the connection string from Neon's API (NEON_API_KEY).",
                "Every option fleet does not know is the command's own, given to every target. teardown needs --yes."},
        footer = {"%nExamples:",
                "  jbang fleet doctor --targets databases.txt --parallel 16",
                "  jbang fleet setup --targets databases.txt --role airbyte --json > setup.json",
                "  jbang fleet slot-status --targets databases.txt --format prometheus > slots.prom.tmp; mv slots.prom.tmp slots.prom",
                "  NEON_API_KEY=... jbang fleet check-wal --neon-projects all --role alex --database neondb",
                "%nA targets file:",
                "  # NAME  URL                                                          options for this one",
                "  db07    postgresql://alex:$${DB07_PASSWORD}@ep-a-1.us-east-2.aws.neon.tech/neondb   --slot slot_db07",
                "  db08    postgresql://alex:$${DB08_PASSWORD}@ep-b-2.us-east-2.aws.neon.tech/neondb"})
class Fleet implements Callable<Exit>, Exit.Documented {
    static final String DESCRIPTION = "Run check-wal, doctor, setup, slot-status or teardown on many databases at once, in "
            + "one JVM: one table (or JSON, or Prometheus metrics) for all of them";

    public Map<Exit, String> exitCodes() {
        return Map.of(Exit.OK, "every target's exit code was 0",
                Exit.NOT_READY, "at least one target's was not (each one's is in the table and the JSON); with --format prometheus: "
                        + "a target could not be read",
                Exit.BAD_INPUT, "bad input (also when every target refused the same option): the command, an option, a line of the targets file, a $${VAR} not set; nothing ran",
                Exit.CANNOT_CONNECT, "with --neon-projects: Neon's API unreachable, or the key refused",
                Exit.REFUSED, "not used: each target's own code is in the table",
                Exit.INTERRUPTED, "interrupted (Ctrl-C, SIGTERM): every target's statement was cancelled on the server");
    }

    /** The commands a fleet runs, by alias. */
    static final Map<String, Supplier<Callable<?>>> COMMANDS = Map.of("check-wal", CheckWal::new, "doctor", Doctor::new,
            "setup", Setup::new, "slot-status", SlotStatus::new, "teardown", Teardown::new);

    @Parameters(index = "0", arity = "0..1", paramLabel = "COMMAND", description = "check-wal, doctor, setup, slot-status or teardown.")
    String command;
    @Unmatched List<String> shared = new ArrayList<>();
    @Option(names = "--targets", paramLabel = "FILE", description = "The targets, one a line: NAME URL [options].") Path targetsFile;
    @Option(names = "--neon-projects", paramLabel = "all|ID,...", description = "The targets are Neon projects (NEON_API_KEY): "
            + "every one the key sees, or those listed.") String neonProjects;
    @Option(names = "--database", paramLabel = "NAME", description = "With --neon-projects: the database (default: neondb).")
    String database;
    @Option(names = "--role", paramLabel = "ROLE", description = "With --neon-projects: the role to connect as. doctor, setup "
            + "and teardown get it too (the role Airbyte connects as).") String role;
    @Option(names = "--parallel", paramLabel = "N", defaultValue = "8", description = "Targets at once (default: ${DEFAULT-VALUE}).")
    int parallel = 8;
    @Option(names = "--json", description = "One entry per target: its name, exit code and the command's own JSON.") boolean json;
    @Option(names = "--format", paramLabel = "table|prometheus", defaultValue = "table", description = "prometheus (slot-status): "
            + "every target's slots as Prometheus metrics, labelled target, database and slot, and cdc_scrape_success per target.")
    String format = "table";

    /** Where ${VAR}, NEON_API_KEY and the commands' PG* variables are read; tests put their own. */
    Map<String, String> env = System.getenv();
    /** Neon's API when the targets are its projects (tests point it elsewhere through NEON_API_HOST in env). */
    final NeonApi.Options neon = new NeonApi.Options();

    /** A target's run: its exit code, the command's JSON (null when it printed none), and its error line. */
    record Result(Targets.Target target, int exit, JsonNode json, String error) {}

    public Exit call() throws Exception {
        if (command == null)
            throw Failure.badInput(shared.isEmpty() ? "give the command to run: fleet check-wal|doctor|setup|slot-status|teardown (see --help)"
                    : "Unknown option: '" + shared.get(0) + "', or the command is missing: fleet COMMAND [options] (see --help)");
        if (!COMMANDS.containsKey(command))
            throw Failure.badInput("fleet runs check-wal, doctor, setup, slot-status or teardown, not '" + command + "'");
        if (parallel < 1 || parallel > 256) throw Failure.badInput("--parallel " + parallel + ": give 1 to 256");
        boolean metrics = switch (format) {
            case "table" -> false;
            case "prometheus" -> true;
            default -> throw Failure.badInput("--format '" + format + "' is not table or prometheus");
        };
        if (metrics && !command.equals("slot-status")) throw Failure.badInput("--format prometheus is slot-status's: fleet slot-status ... --format prometheus");
        if (metrics && json) throw Failure.badInput("--format prometheus does not go with --json");
        if (command.equals("teardown") && !shared.contains("--yes"))
            throw Failure.badInput("fleet teardown drops slots and publications on every target without asking: add --yes");
        String taken = taken(shared);
        if (taken != null) throw Failure.badInput(taken);
        if (targetsFile != null && neonProjects != null) throw Failure.badInput("give the targets one way: --targets FILE or --neon-projects, not both");
        if (targetsFile == null && neonProjects == null) throw Failure.badInput("give the targets: --targets FILE or --neon-projects all|ID,...");
        if (neonProjects != null && role == null) throw Failure.badInput("--neon-projects needs --role: the role to connect as");
        if (neonProjects == null && database != null) throw Failure.badInput("--database goes with --neon-projects: with --targets each URL names its database");
        parser = new CommandLine(COMMANDS.get(command).get());
        for (var c : COMMANDS.values()) known.addAll(new CommandLine(c.get()).getCommandSpec().optionsMap().keySet());
        validateShared();

        List<Targets.Target> targets;
        if (targetsFile != null) targets = Targets.read(targetsFile, env);
        else {
            neon.env = env;
            targets = Targets.neon(neon.api(), neonProjects, database == null ? "neondb" : database, role);
        }
        List<List<String>> args = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        for (Targets.Target t : targets) args.add(arguments(t, skipped));
        skipped.forEach(Progress::line);

        List<Result> results = runAll(targets, args);
        if (results.stream().allMatch(r -> r.exit() == Exit.BAD_INPUT.code) && results.stream().map(Result::error).distinct().count() == 1)
            throw Failure.badInput(results.get(0).error() + " (every target refused it)");
        if (metrics) {
            List<SlotMetrics.Scrape> scrapes = new ArrayList<>();
            for (Result r : results) {
                boolean read = r.json() != null && r.exit() <= 1;
                if (!read) Progress.line("fleet: " + r.target().name() + ": " + detail(r));
                scrapes.add(new SlotMetrics.Scrape(r.target().name(), read, r.json() == null ? null : r.json().path("slots")));
            }
            System.out.print(SlotMetrics.text(scrapes));
            return scrapes.stream().allMatch(SlotMetrics.Scrape::success) ? Exit.OK : Exit.NOT_READY;
        }
        if (json) System.out.println(json(results));
        else System.out.print(table(results));
        return results.stream().allMatch(r -> r.exit() == 0) ? Exit.OK : Exit.NOT_READY;
    }

    /**
     * Options fleet gives itself (the URL, --json, --format) or that would send a target elsewhere than its URL says:
     * the first one found, as an error line; null when none.
     */
    static String taken(List<String> words) {
        for (String a : words) {
            String name = a.replaceFirst("=.*", "");
            if (List.of("--url", "--password").contains(name))
                return name + " is the targets': each one's URL is in the targets file, its password as ${VAR} (or from Neon's API)";
            // Of the connection options, only how to connect may be shared: where to, each target's URL says.
            if (Invocation.CONNECTION.contains(name) && !List.of("--sslmode", "--connect-timeout", "--wait").contains(name))
                return name + " would send every target to the same place: each target's URL says where it is";
            if (List.of("--json", "--format", "--watch").contains(name)) return name + " is fleet's to give: remove it";
        }
        return null;
    }

    /** The command's options, to check each target's command line (the parse itself is thrown away). */
    private CommandLine parser;
    /** Every option name of every command fleet runs. */
    private final Set<String> known = new java.util.HashSet<>();

    /** The shared options alone, parsed for the command: a bad one is said once, not for each target. */
    private void validateShared() {
        try {
            parser.parseArgs(shared.toArray(String[]::new));
        } catch (CommandLine.ParameterException e) {
            throw Failure.badInput(Secrets.hideUrlPasswords(e.getMessage()) + " (an option given to every " + command + ")");
        }
    }

    /**
     * The command line of a target: the shared options with the target's replacing those of the same name, then its
     * URL and --json; parsed here, so that a bad option is bad input before anything runs.
     */
    List<String> arguments(Targets.Target t, List<String> skipped) {
        CommandLine.Model.CommandSpec spec = parser.getCommandSpec();
        String taken = taken(t.options());
        if (taken != null) throw Failure.badInput(t.where() + " (" + t.name() + "): " + taken);
        // A targets file serves every command: an option of the file that this command does not have, but another
        // command of fleet's does, is left out; one that none has is a typo, and bad input.
        List<String> mine = new ArrayList<>();
        for (int i = 0; i < t.options().size(); i++) {
            String a = t.options().get(i), name = a.replaceFirst("=.*", "");
            boolean elsewhere = known.contains(name);
            if (!a.startsWith("-") || spec.findOption(name) != null || !elsewhere) { mine.add(a); continue; }
            boolean value = !a.contains("=") && i + 1 < t.options().size() && !t.options().get(i + 1).startsWith("-");
            skipped.add("fleet: " + t.name() + ": " + a + (value ? " " + t.options().get(i + 1) : "") + " is not an option of " + command + ": left out");
            if (value) i++;
        }
        if (role != null && spec.findOption("--role") != null && !mine.contains("--role")) mine.addAll(List.of("--role", role));
        List<String> own = new ArrayList<>();
        for (String a : mine) if (a.startsWith("--")) own.add(a.replaceFirst("=.*", ""));
        List<String> all = new ArrayList<>();
        for (int i = 0; i < shared.size(); i++) {
            String a = shared.get(i), name = a.replaceFirst("=.*", "");
            CommandLine.Model.OptionSpec o = a.startsWith("-") ? spec.findOption(name) : null;
            int values = o == null || a.contains("=") ? 0 : o.arity().max() == 0 ? 0 : 1;
            if (own.contains(name)) { i += values; continue; } // the target's own replaces it
            all.add(a);
            for (int k = 0; k < values && i + 1 < shared.size(); k++) all.add(shared.get(++i));
        }
        all.addAll(mine);
        all.addAll(List.of("--url", t.url(), "--json"));
        try {
            parser.parseArgs(all.toArray(String[]::new));
        } catch (CommandLine.ParameterException e) {
            throw Failure.badInput(t.where() + " (" + t.name() + "): " + Secrets.hideUrlPasswords(e.getMessage()));
        }
        return all;
    }

    /** Every target, at most --parallel at once, each printing into its own buffers; a line on stderr as they end. */
    List<Result> runAll(List<Targets.Target> targets, List<List<String>> args) throws Exception {
        long mutedBefore = Progress.afterMillis;
        Progress.afterMillis = Long.MAX_VALUE / 2_000_000L; // a target's long phase is in its own buffer, not on the screen
        Captured.install();
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(parallel, targets.size()));
        int[] done = {0, 0};
        long[] shown = {0};
        try {
            List<Future<Result>> futures = new ArrayList<>();
            for (int i = 0; i < targets.size(); i++) {
                Targets.Target t = targets.get(i);
                List<String> a = args.get(i);
                futures.add(pool.submit(() -> {
                    Result r = run(t, a);
                    synchronized (done) {
                        done[0]++;
                        if (r.exit() != 0) done[1]++;
                        long now = System.nanoTime();
                        if (done[0] == targets.size() || now - shown[0] > 1_000_000_000L) {
                            shown[0] = now;
                            Progress.line("fleet " + command + ": " + done[0] + "/" + targets.size() + " done, " + done[1] + " not 0");
                        }
                    }
                    return r;
                }));
            }
            List<Result> results = new ArrayList<>();
            for (Future<Result> f : futures) results.add(f.get());
            return results;
        } finally {
            pool.shutdownNow();
            Captured.uninstall();
            Progress.afterMillis = mutedBefore;
        }
    }

    /** One target: the command in this thread, with the fleet's environment, and nobody to type a password. */
    private Result run(Targets.Target t, List<String> args) {
        Callable<?> c = COMMANDS.get(command).get();
        CommandLine cl = Cli.cli(c);
        if (cl.getCommandSpec().mixins().get("db") != null && cl.getCommandSpec().mixins().get("db").userObject() instanceof Db d) {
            d.env = env;
            d.prompt = prompt -> null; // a password goes in the URL, as ${VAR}
        }
        Interrupts.scope(t.name()); // what it commits is named with the target in the line Ctrl-C prints
        Invocation.hiding("--json"); // fleet's own, not for the fixes a person pastes
        try {
            Captured.Run r = Captured.run(() -> cl.execute(args.toArray(String[]::new)));
            JsonNode json = null;
            try {
                if (!r.out().isBlank()) json = new ObjectMapper().readTree(r.out());
            } catch (java.io.IOException notJson) {
                // an error before any report: its line on stderr says it
            }
            String error = r.err().lines().filter(l -> !l.isBlank()).reduce((a, b) -> b).orElse("");
            return new Result(t, r.exit(), json, Secrets.redact(error.replaceFirst("^" + command + ": ", "")));
        } catch (Exception e) {
            return new Result(t, Exit.BUG.code, null, Secrets.redact("unexpected error: " + e));
        } finally {
            Interrupts.scope(null);
            Invocation.hiding();
        }
    }

    /** One line per target, then the total. */
    String table(List<Result> results) {
        int width = Math.max(6, results.stream().mapToInt(r -> r.target().name().length()).max().orElse(6));
        StringBuilder b = new StringBuilder(String.format("%-" + width + "s  %4s  %-15s %s%n", "target", "exit", "verdict", "first failure or error"));
        Map<String, Integer> verdicts = new LinkedHashMap<>();
        for (Result r : results) {
            String verdict = verdict(r.exit());
            verdicts.merge(verdict, 1, Integer::sum);
            b.append(String.format("%-" + width + "s  %4d  %-15s %s%n", r.target().name(), r.exit(), verdict, detail(r)).stripTrailing()).append('\n');
        }
        b.append("total: ").append(results.size()).append(" target(s)");
        verdicts.forEach((v, n) -> b.append(", ").append(n).append(' ').append(v));
        return b.append('\n').toString();
    }

    static String verdict(int exit) {
        for (Exit e : Exit.values())
            if (e.code == exit) return switch (e) {
                case OK -> "ok";
                case NOT_READY -> "not ready";
                case BAD_INPUT -> "bad input";
                case CANNOT_CONNECT -> "cannot connect";
                case REFUSED -> "refused";
                case BUG -> "bug";
                case INTERRUPTED -> "interrupted";
            };
        return "exit " + exit;
    }

    /** The first failing finding ("group/check: message"), else the first warning, else the error line. */
    static String detail(Result r) {
        if (r.json() != null)
            for (String status : List.of("fail", "warn"))
                for (JsonNode step : r.json().path("steps"))
                    for (JsonNode f : step.path("findings"))
                        if (f.path("status").asText().equals(status)) {
                            String line = step.path("step").asText() + "/" + f.path("check").asText() + ": " + f.path("message").asText();
                            return (status.equals("warn") ? "(warn) " : "") + (line.length() > 160
                                    ? line.substring(0, 140) + "... (--json has it whole)" : line);
                        }
        return r.error();
    }

    String json(List<Result> results) throws Exception {
        List<Map<String, Object>> entries = new ArrayList<>();
        for (Result r : results) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("target", r.target().name());
            e.put("exitCode", r.exit());
            e.put("verdict", verdict(r.exit()));
            e.put("result", r.json());
            e.put("error", r.error().isEmpty() ? null : r.error());
            entries.add(e);
        }
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("command", command);
        doc.put("exitCode", results.stream().allMatch(r -> r.exit() == 0) ? 0 : 1);
        doc.put("targets", entries);
        return new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(doc);
    }

    public static void main(String... args) { Cli.launch(new Fleet(), args); }
}
