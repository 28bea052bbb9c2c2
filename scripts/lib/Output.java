import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * What a command prints: findings on stdout, one line each with the fix underneath (text for people, --json for
 * programs, a psql script for --dry-run); progress and errors go to stderr. Also the few rules for writing a finding:
 * a long list of names, a number of bytes, the first line of a server message.
 */
final class Output {
    @Option(names = "--json", description = "Print the findings as JSON, for programs.") boolean json;
    @Option(names = "--dry-run", description = "Change nothing; print what would run: SQL as a script for psql, an API "
            + "request as JSON.") boolean dryRun;

    void print(List<Runbook.Outcome> outcomes) { print(outcomes, Map.of()); }

    /** Prints the outcomes, then each extra document (e.g. slot-status's numbers, an API request) under its name. */
    void print(List<Runbook.Outcome> outcomes, Map<String, Object> extra) {
        if (json) { System.out.println(json(outcomes, extra)); return; }
        var report = new java.io.ByteArrayOutputStream();
        var stdout = new java.io.PrintStream(report, true, java.nio.charset.StandardCharsets.UTF_8);
        for (Runbook.Outcome o : outcomes) text(stdout, o);
        extra.forEach((name, doc) -> stdout.println("\n" + name + ":\n" + pretty(doc)));
        String text = report.toString(java.nio.charset.StandardCharsets.UTF_8);
        // A dry run's whole output is a psql script: the report above the SQL is made of comments.
        if (dryRun) text = text.replaceAll("(?m)^", "-- ").replaceAll("(?m)^-- $", "--");
        System.out.print(text);
        // A dry run that failed prints no SQL: run as a script, part of it would do what the real run would not.
        if (dryRun && outcomes.stream().allMatch(o -> o.exit() == Exit.OK) && outcomes.stream().anyMatch(o -> !o.plan().isEmpty()))
            System.out.print(script(outcomes));
    }

    private void text(java.io.PrintStream stdout, Runbook.Outcome o) {
        boolean color = Cli.terminal() && System.getenv("NO_COLOR") == null;
        stdout.println(o.step() + (o.applied() ? "" : dryRun ? " (dry run)" : ""));
        for (Runbook.Finding f : o.findings()) {
            String label = f.status().name().toLowerCase();
            String shown = !color ? label : (f.status() == Runbook.Status.OK ? "\u001b[32m" : f.status() == Runbook.Status.WARN
                    ? "\u001b[33m" : "\u001b[31m") + label + "\u001b[0m";
            stdout.printf("  %s%s  %-20s %s%n", shown, " ".repeat(4 - label.length()), f.check(), f.message());
            // The fix's first line is marked; its other lines are indented only, so that a block pastes as it is.
            if (f.fix() != null) {
                String[] lines = f.fix().split("\n");
                for (int i = 0; i < lines.length; i++) stdout.println((i == 0 ? "        fix: " : "             ") + lines[i]);
            }
        }
    }

    static String json(List<Runbook.Outcome> outcomes, Map<String, Object> extra) {
        List<Object> steps = new ArrayList<>();
        Exit exit = Exit.OK;
        for (Runbook.Outcome o : outcomes) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("step", o.step());
            m.put("exitCode", o.exit().code);
            m.put("applied", o.applied());
            List<Object> fs = new ArrayList<>();
            for (Runbook.Finding f : o.findings()) {
                Map<String, Object> fm = new LinkedHashMap<>();
                fm.put("check", f.check());
                fm.put("status", f.status().name().toLowerCase());
                fm.put("message", f.message());
                fm.put("fix", f.fix());
                fs.add(fm);
            }
            m.put("findings", fs);
            m.put("sql", o.plan().statements().stream().map(Runbook.Sql::text).toList());
            steps.add(m);
            if (exit == Exit.OK) exit = o.exit();
        }
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("exitCode", exit.code);
        root.put("steps", steps);
        root.putAll(extra);
        return pretty(root);
    }

    static String pretty(Object document) {
        try {
            return new com.fasterxml.jackson.databind.ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(document);
        } catch (java.io.IOException e) { // not Jackson's subclass: verifying Output would load it on every start
            throw new IllegalStateException(e);
        }
    }

    /** The plans as one commented SQL script a person can read, then paste into psql. */
    static String script(List<Runbook.Outcome> outcomes) {
        StringBuilder b = new StringBuilder("\n-- Dry run: nothing has been changed. Review, then run with psql -v ON_ERROR_STOP=1 -f <file>\n");
        for (Runbook.Outcome o : outcomes) {
            if (o.plan().isEmpty()) continue;
            b.append("\n-- ").append(o.step()).append('\n').append(o.plan().script());
        }
        return b.toString();
    }

    // ---- writing a finding -------------------------------------------------------------------------------

    /** How many names a finding spells out before it only counts them. */
    static final int SHOWN = 10;

    /** The first {@link #SHOWN} items, then a count: a finding stays one readable line with 10,000 names. */
    static String few(List<String> items, String separator) {
        return String.join(separator, items.subList(0, Math.min(SHOWN, items.size())))
                + (items.size() > SHOWN ? " and " + (items.size() - SHOWN) + " more" : "");
    }

    static String few(List<String> items) { return few(items, ", "); }

    /** A number of bytes as pg_size_pretty writes it: bytes below 10 kB, then kB, MB, GB, TB. */
    static String size(long bytes) {
        String[] units = {"bytes", "kB", "MB", "GB", "TB"};
        double v = bytes;
        int i = 0;
        while (Math.abs(v) >= 10 * 1024 && i < units.length - 1) { v /= 1024; i++; }
        return Math.round(v) + " " + units[i];
    }

    /** A server message's first line, without its "ERROR: " prefix. */
    static String firstLine(String s) {
        if (s == null) return "";
        s = s.replaceFirst("^ERROR: ", "");
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
