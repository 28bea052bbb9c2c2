//JAVA 17+
//JAVA_OPTIONS -XX:TieredStopAtLevel=1 -XX:+UseSerialGC
//DEPS info.picocli:picocli:4.7.7
//DEPS org.postgresql:postgresql:42.7.14
//DEPS com.fasterxml.jackson.core:jackson-databind:2.20.2
//SOURCES Db.java Progress.java Secrets.java Invocation.java Interrupts.java Locks.java

import java.nio.charset.StandardCharsets;
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/**
 * The shared include of every runbook script (its connection half is Db.java): exit codes, findings and plans, the flow
 * every step follows (inspect, then dry-run or apply), output, and quoting. Nothing step-specific lives here.
 */
final class Runbook {
    static final int OK = 0, NOT_READY = 1, BAD_INPUT = 2, CANNOT_CONNECT = 3, REFUSED = 4;

    static final String EXIT_CODES = "%nExit codes:%n"
            + "  0  done, already done, or ready%n"
            + "  1  not ready: a check failed, e.g. something the step needs is missing (its fix is printed); nothing changed%n"
            + "  2  bad input: an option, or a role, schema or table to act on that does not exist; nothing changed%n"
            + "  3  cannot connect or authenticate (host, port, database, password, TLS)%n"
            + "  4  the database refused the change (privilege, lock timeout); its transaction was rolled back%n"
            + "  130  interrupted (Ctrl-C, SIGTERM): cancelled on the server; the last line says what became of the database%n";

    private Runbook() {}

    /** pgjdbc logs some failures (a host name its verifier rejects) to the console; the runbook says them in its own line. */
    private static final java.util.logging.Logger PGJDBC = java.util.logging.Logger.getLogger("org.postgresql");
    static { PGJDBC.setUseParentHandlers(false); }

    /**
     * An expected problem: one line for the user and the exit code that goes with it. Its aftermath, when it has one,
     * says what became of the database; a caller that knows more (setup, after its commit) says it instead.
     */
    static final class Failure extends RuntimeException {
        final int exitCode;
        final String reason, aftermath;
        Failure(int exitCode, String message) { this(exitCode, message, null); }
        Failure(int exitCode, String reason, String aftermath) {
            super(aftermath == null ? reason : reason + "; " + aftermath, null, false, false);
            this.exitCode = exitCode;
            this.reason = reason;
            this.aftermath = aftermath;
        }
        Failure after(String what) { return new Failure(exitCode, reason, what); }
    }

    static final String NOTHING_CHANGED = "nothing was changed";

    static Failure badInput(String message) { return new Failure(BAD_INPUT, message); }

    enum Status { OK, WARN, FAIL }

    /** One line of a report: what was checked, what was found, and the fix (SQL or a command). */
    record Finding(String check, Status status, String message, String fix) {
        static Finding ok(String check, String message) { return new Finding(check, Status.OK, message, null); }
        static Finding warn(String check, String message, String fix) { return new Finding(check, Status.WARN, message, fix); }
        static Finding fail(String check, String message, String fix) { return new Finding(check, Status.FAIL, message, fix); }
    }

    /**
     * One SQL statement of a plan; {@code subject} names what it touches, for error messages; {@code tables} (quoted
     * names) are the tables it locks in {@code mode}, so that a lock timeout can name who holds them.
     */
    record Sql(String text, String subject, List<String> tables, String mode) {
        Sql(String text, String subject) { this(text, subject, List.of(), null); }
    }

    /** The statements that bring the database to the goal; empty means already done. */
    record Plan(List<Sql> statements, boolean transactional) {
        static Plan none() { return new Plan(List.of(), true); }
        boolean isEmpty() { return statements.isEmpty(); }

        /** The statements as SQL to paste into psql, one a line, inside BEGIN/COMMIT when they are one transaction. */
        String script() {
            StringBuilder b = new StringBuilder(transactional ? "BEGIN;\n" : "");
            for (Sql s : statements) b.append(s.text()).append(";\n");
            return b.append(transactional ? "COMMIT;\n" : "").toString();
        }
    }

    record Assessment(List<Finding> findings, Plan plan) {
        boolean failed() { return findings.stream().anyMatch(f -> f.status() == Status.FAIL); }
    }

    /** A guide step: reads the database (never writes) and says what it found and what it would run. */
    interface Step {
        String name();
        /** A step that only checks (check-wal) never says "already done". */
        default boolean readOnly() { return false; }
        /** Checks that need no database (names, option combinations); throws {@link Failure}. */
        default void validate() {}
        Assessment assess(Connection c) throws SQLException;
        /** Read-only checks of the outcome, after a successful apply, on the same connection. */
        default List<Finding> verify(Connection c) throws SQLException { return List.of(); }
    }

    /** What running one step came to. */
    record Outcome(String step, int exitCode, List<Finding> findings, Plan plan, boolean applied) {}

    // ---- the flow of a step ---------------------------------------------------------------------------

    static int run(Step step, Db db, Output out) {
        step.validate();
        try (Connection c = db.connect()) {
            Outcome o = runOn(c, step, out.dryRun);
            out.print(List.of(o));
            return o.exitCode();
        } catch (SQLException e) {
            throw refused(e, null);
        }
    }

    /** Inspects, then applies the plan unless {@code dryRun}. Every step and setup go through here. */
    static Outcome runOn(Connection c, Step step, boolean dryRun) throws SQLException {
        Progress.phase(step.name() + ": reading the catalog");
        Assessment a = step.assess(c);
        List<Finding> findings = new ArrayList<>(a.findings());
        if (a.failed()) return new Outcome(step.name(), NOT_READY, findings, Plan.none(), false);
        if (a.plan().isEmpty()) {
            if (!step.readOnly()) findings.add(Finding.ok("result", "already done: nothing to change"));
            return new Outcome(step.name(), OK, findings, a.plan(), false);
        }
        if (dryRun) return new Outcome(step.name(), OK, findings, a.plan(), false);
        Progress.phase(String.format("%s: applying %,d statement(s)%s", step.name(), a.plan().statements().size(),
                a.plan().transactional() ? " in one transaction" : ""));
        apply(c, a.plan());
        if (c.getAutoCommit()) Interrupts.committed(step.name() + " (applied)");
        findings.add(Finding.ok("result", "applied " + a.plan().statements().size() + " statement(s)"));
        Progress.phase(step.name() + ": taking a second look");
        List<Finding> verified;
        try {
            verified = step.verify(c);
        } catch (SQLException e) {
            Failure f = refused(e, null);
            throw c.getAutoCommit() ? f.after("the plan was applied and committed; only the second look failed: run "
                    + step.name() + " again to check") : f; // in setup's transaction: it rolls back
        }
        findings.addAll(verified);
        int code = verified.stream().anyMatch(f -> f.status() == Status.FAIL) ? NOT_READY : OK;
        return new Outcome(step.name(), code, findings, a.plan(), true);
    }

    /**
     * Runs a plan in one round trip. A transactional plan goes to the server as one DO block, which PostgreSQL runs as
     * one transaction: pgjdbc splits a JDBC batch into a round trip per ~250 statements (to keep the server's replies
     * from filling the socket buffers) and commits in one more, so thousands of tables would cost dozens of them.
     * On a connection already in a transaction (setup's), a transactional plan joins it: the caller commits, and a
     * failure rolls it all back.
     */
    static void apply(Connection c, Plan plan) throws SQLException {
        if (Interrupts.requested()) throw new Failure(Interrupts.EXIT, "interrupted", NOTHING_CHANGED);
        boolean auto = c.getAutoCommit(), joined = !auto && plan.transactional();
        if (!joined) c.setAutoCommit(true);
        try (var st = c.createStatement()) {
            if (plan.transactional()) st.execute(block(plan));
            else {
                for (Sql s : plan.statements()) st.addBatch(s.text());
                st.executeBatch();
            }
        } catch (BatchUpdateException e) {
            throw refused(e.getNextException() != null ? e.getNextException() : e, culprit(e, plan));
        } catch (SQLException e) {
            if (joined) rollback(c);
            Sql culprit = plan.transactional() ? culpritInBlock(e, plan) : null;
            throw refused(e, culprit, "55P03".equals(e.getSQLState()) ? Locks.holders(c, culprit) : null);
        } finally {
            try {
                if (!c.isClosed()) c.setAutoCommit(auto);
            } catch (SQLException lost) { } // the connection broke: the failure being thrown says so
        }
    }

    /**
     * The plan as one DO block that EXECUTEs each statement of an array in turn. One EXECUTE per statement would
     * cost PL/pgSQL a plan of its own for each (about 70 us: 70 ms for a thousand tables to alter).
     */
    static String block(Plan plan) {
        String statements = plan.statements().stream().map(s -> literal(s.text())).collect(Collectors.joining(",\n"));
        return "DO " + literal("DECLARE s text;\nBEGIN\nFOREACH s IN ARRAY ARRAY[" + statements + "]::text[] LOOP\n"
                + "EXECUTE s;\nEND LOOP;\nEND");
    }

    /**
     * The statement a DO block failed on. The server names it: in the error's context ({@code SQL statement "..."}),
     * or, when the error points into it, as the internal query. Of several statements that match, the longest.
     */
    static Sql culpritInBlock(SQLException e, Plan plan) {
        var server = serverError(e);
        if (server == null) return null;
        String where = String.valueOf(server.getWhere()), query = server.getInternalQuery();
        Sql found = null;
        for (Sql s : plan.statements())
            if ((s.text().equals(query) || where.contains("SQL statement \"" + s.text() + "\""))
                    && (found == null || s.text().length() > found.text().length())) found = s;
        return found;
    }

    /** The server's error fields (context, hint), when the server sent them. */
    static org.postgresql.util.ServerErrorMessage serverError(SQLException e) {
        return e instanceof org.postgresql.util.PSQLException p ? p.getServerErrorMessage() : null;
    }

    /** Rolls a failed plan's transaction back; on a lost connection the server has done it already. */
    private static void rollback(Connection c) {
        try {
            if (!c.isClosed()) c.rollback();
        } catch (SQLException lost) { }
    }

    /**
     * The statement a batch failed on. In a transaction pgjdbc marks every entry EXECUTE_FAILED, so the update counts
     * cannot tell; its message quotes the failing statement ("Batch entry 2 ALTER TABLE ... was aborted"), in any locale.
     */
    static Sql culprit(BatchUpdateException e, Plan plan) {
        int done = e.getUpdateCounts() == null ? -1 : e.getUpdateCounts().length;
        if (done >= 0 && done < plan.statements().size()) return plan.statements().get(done);
        String m = e.getMessage() == null ? "" : e.getMessage();
        Sql found = null;
        for (Sql s : plan.statements())
            if (m.contains(s.text()) && (found == null || s.text().length() > found.text().length())) found = s;
        return found;
    }

    static Failure refused(SQLException e, Sql culprit) { return refused(e, culprit, null); }

    /**
     * A database error during a change: exit 4 (3 if the connection broke), one line naming the object; for a lock
     * timeout, {@code holders} (see {@link Locks#holders}) names the tables and the sessions that hold them.
     */
    static Failure refused(SQLException e, Sql culprit, String holders) {
        String state = e.getSQLState() == null ? "" : e.getSQLState();
        String what = culprit == null || culprit.subject() == null ? "" : culprit.subject() + ": ";
        String msg = firstLine(e.getMessage());
        if (state.equals("55P03") && holders != null) return new Failure(REFUSED, holders); // it says what became of the database
        if (state.equals("55P03"))
            return new Failure(REFUSED, what + "could not take a lock within lock_timeout: another session holds it "
                    + "(see pg_locks / pg_stat_activity) - retry when it is done", NOTHING_CHANGED);
        if (state.equals("42501"))
            return new Failure(REFUSED, what + msg + " - run as the owner or a role with that privilege", NOTHING_CHANGED);
        var server = serverError(e);
        if (state.equals("53200") && server != null && String.valueOf(server.getHint()).contains("max_locks_per_transaction"))
            return new Failure(REFUSED, what + "PostgreSQL's lock table is full: one transaction locks every table it "
                    + "changes, and the server has room for about max_locks_per_transaction x max_connections locks - "
                    + "publish in parts first (create-publication with some of the --schema or --table at a time), "
                    + "or raise max_locks_per_transaction", NOTHING_CHANGED);
        if (state.startsWith("08") || state.equals("57P01"))
            return new Failure(CANNOT_CONNECT, "connection lost: " + msg + " - run the command again (safe: what was "
                    + "done is not done twice, and a transaction cut short was rolled back)");
        return new Failure(REFUSED, what + msg, NOTHING_CHANGED);
    }

    /**
     * A duration as PostgreSQL takes it (digits, then ms, s or min; no unit is ms), stripped; anything else, or more
     * than the server's limit, is bad input.
     */
    static String duration(String option, String value) {
        var m = java.util.regex.Pattern.compile("(\\d+)(ms|s|min)?").matcher(value == null ? "" : value.strip());
        if (!m.matches())
            throw badInput(option + " '" + value + "' is not a duration: write digits with ms, s or min (e.g. 5s, 200ms)");
        long unit = m.group(2) == null || m.group(2).equals("ms") ? 1 : m.group(2).equals("s") ? 1000 : 60_000;
        if (m.group(1).length() > 10 || Long.parseLong(m.group(1)) * unit > Integer.MAX_VALUE)
            throw badInput(option + " '" + value + "' is too long: PostgreSQL takes at most 2147483647ms (about 24 days)");
        return value.strip();
    }

    /** A duration that {@link #duration} accepted, in milliseconds. */
    static long millis(String value) {
        var m = java.util.regex.Pattern.compile("(\\d+)(ms|s|min)?").matcher(duration("duration", value));
        m.matches();
        return Long.parseLong(m.group(1)) * (m.group(2) == null || m.group(2).equals("ms") ? 1 : m.group(2).equals("s") ? 1000 : 60_000);
    }

    /** A plan's first statement: give up on a lock not granted within --lock-timeout (LOCAL: for its transaction only). */
    static Sql lockTimeout(String value, boolean local) {
        return new Sql("SET " + (local ? "LOCAL " : "") + "lock_timeout = " + literal(duration("--lock-timeout", value)), null);
    }

    /**
     * The one fix for objects owned by roles we are not a member of: membership in them, which lets us alter, publish
     * and grant on what they own. (Running as the owner instead can fail on what we own, a publication say: a loop.)
     */
    static String membership(java.util.Collection<String> owners, String me, String then) {
        return "GRANT " + String.join(", ", owners.stream().map(Runbook::ident).toList()) + " TO " + me + ";  (as a "
                + "superuser, or a role with ADMIN OPTION on it; on Neon, the role that created it)\nthen:  " + then;
    }

    /** A number of bytes as pg_size_pretty writes it: bytes below 10 kB, then kB, MB, GB, TB. */
    static String size(long bytes) {
        String[] units = {"bytes", "kB", "MB", "GB", "TB"};
        double v = bytes;
        int i = 0;
        while (Math.abs(v) >= 10 * 1024 && i < units.length - 1) { v /= 1024; i++; }
        return Math.round(v) + " " + units[i];
    }

    /** The first five, then a count: a message stays one readable line with 10,000 names. */
    static String few(List<String> items, String separator) {
        int shown = 5;
        return String.join(separator, items.subList(0, Math.min(shown, items.size())))
                + (items.size() > shown ? " and " + (items.size() - shown) + " more" : "");
    }

    static String firstLine(String s) {
        if (s == null) return "";
        s = s.replaceFirst("^ERROR: ", "");
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    // ---- quoting: the only way user input becomes SQL text ----------------------------------------------

    /** An identifier quoted the PostgreSQL way, always: {@code we"ird -> "we""ird"}. */
    static String ident(String name) {
        if (name.isEmpty() || name.indexOf('\0') >= 0) throw badInput("a name is empty or contains a NUL character");
        return '"' + name.replace("\"", "\"\"") + '"';
    }

    static String qualified(String schema, String name) { return ident(schema) + "." + ident(name); }

    /**
     * Quoted names as comma-separated lists of at most 1,000, one list per statement. PostgreSQL's work on one
     * statement grows faster than its list (a publication checks each table against those listed before it): at
     * 10,000 tables, ten statements of 1,000 were 15 % (publication) and 10 % (GRANT) faster than one.
     */
    static List<String> nameLists(List<String> quoted) { return chunks(quoted).stream().map(l -> String.join(", ", l)).toList(); }

    /** The names 1,000 at a time (see {@link #nameLists}). */
    static List<List<String>> chunks(List<String> quoted) {
        List<List<String>> lists = new ArrayList<>();
        for (int i = 0; i < quoted.size(); i += 1000) lists.add(quoted.subList(i, Math.min(quoted.size(), i + 1000)));
        return lists;
    }

    /** A string literal that is safe whatever standard_conforming_strings says. */
    static String literal(String s) {
        if (s.indexOf('\0') >= 0) throw badInput("a value contains a NUL character");
        String q = "'" + s.replace("'", "''") + "'";
        return s.indexOf('\\') < 0 ? q : "E" + q.replace("\\", "\\\\");
    }

    /** A name as the user wrote it: taken literally (case-sensitive), or double-quoted with "" for ". */
    static String name(String option, String raw) {
        String s = raw.strip();
        if (s.length() >= 2 && s.startsWith("\"") && s.endsWith("\"")) s = s.substring(1, s.length() - 1).replace("\"\"", "\"");
        if (s.isEmpty()) throw badInput(option + " is empty: give a name");
        if (s.getBytes(StandardCharsets.UTF_8).length > 63)
            throw badInput(option + " '" + raw + "' is longer than PostgreSQL's 63-byte limit for names: shorten it");
        return s;
    }

    /** PostgreSQL's own rule for slot names (ReplicationSlotValidateName), checked before connecting. */
    static String slotName(String raw) {
        if (raw == null || !raw.matches("[a-z0-9_]{1,63}"))
            throw badInput("--slot '" + raw + "' is not a valid replication slot name: use lower-case letters, "
                    + "digits and underscores, at most 63 characters (e.g. airbyte_slot)");
        return raw;
    }

    /**
     * {@code schema.table}, either part double-quoted when it holds a dot; no schema gives {@code [null, table]}.
     * A part is quoted only when it starts with a double quote ({@code ""} inside it is one quote), as in SQL.
     */
    static String[] tableName(String option, String raw) {
        String s = raw.strip();
        int dot = -1;
        for (int i = 0, start = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            if (ch == '"' && i == start) { // on to the closing quote, or the end
                int close = i + 1;
                while (close < s.length() && (s.charAt(close) != '"' || close + 1 < s.length() && s.charAt(close + 1) == '"'))
                    close += s.charAt(close) == '"' ? 2 : 1;
                i = close;
            } else if (ch == '.') {
                if (dot >= 0) throw badInput(option + " '" + raw + "' has more than one dot: write schema.table (quote a name that holds a dot)");
                dot = i;
                start = i + 1;
            }
        }
        if (dot < 0) return new String[] {null, name(option, s)};
        return new String[] {name(option, s.substring(0, dot)), name(option, s.substring(dot + 1))};
    }

    // ---- output -----------------------------------------------------------------------------------------

    /** Output options every script shares. Findings go to stdout; progress and errors to stderr. */
    static final class Output {
        @Option(names = "--json", description = "Print the findings as JSON, for programs.") boolean json;
        @Option(names = "--dry-run", description = "Change nothing; print what would run: SQL as a script for psql, an API request as JSON.") boolean dryRun;

        void print(List<Outcome> outcomes) { print(outcomes, Map.of()); }

        /** Prints the outcomes, then each extra document (e.g. setup's Airbyte configuration) under its name. */
        void print(List<Outcome> outcomes, Map<String, Object> extra) {
            if (json) { System.out.println(json(outcomes, extra)); return; }
            var report = new java.io.ByteArrayOutputStream();
            var stdout = new java.io.PrintStream(report, true, java.nio.charset.StandardCharsets.UTF_8);
            for (Outcome o : outcomes) text(stdout, o);
            extra.forEach((name, doc) -> stdout.println("\n" + name + ":\n" + pretty(doc)));
            String text = report.toString(java.nio.charset.StandardCharsets.UTF_8);
            // A dry run's whole output is a psql script: the report above the SQL is made of comments.
            if (dryRun) text = text.replaceAll("(?m)^", "-- ").replaceAll("(?m)^-- $", "--");
            System.out.print(text);
            if (dryRun && outcomes.stream().anyMatch(o -> !o.plan().isEmpty())) System.out.print(script(outcomes));
        }

        private void text(java.io.PrintStream stdout, Outcome o) {
            boolean color = terminal() && System.getenv("NO_COLOR") == null;
            stdout.println(o.step() + (o.applied() ? "" : dryRun ? " (dry run)" : ""));
            for (Finding f : o.findings()) {
                String label = f.status().name().toLowerCase();
                String shown = !color ? label : (f.status() == Status.OK ? "\u001b[32m" : f.status() == Status.WARN
                        ? "\u001b[33m" : "\u001b[31m") + label + "\u001b[0m";
                stdout.printf("  %s%s  %-20s %s%n", shown, " ".repeat(4 - label.length()), f.check(), f.message());
                if (f.fix() != null) for (String line : f.fix().split("\n")) stdout.println("        fix: " + line);
            }
        }

        static String json(List<Outcome> outcomes, Map<String, Object> extra) {
            List<Object> steps = new ArrayList<>();
            int exit = OK;
            for (Outcome o : outcomes) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("step", o.step());
                m.put("exitCode", o.exitCode());
                m.put("applied", o.applied());
                List<Object> fs = new ArrayList<>();
                for (Finding f : o.findings()) {
                    Map<String, Object> fm = new LinkedHashMap<>();
                    fm.put("check", f.check());
                    fm.put("status", f.status().name().toLowerCase());
                    fm.put("message", f.message());
                    fm.put("fix", f.fix());
                    fs.add(fm);
                }
                m.put("findings", fs);
                m.put("sql", o.plan().statements().stream().map(Sql::text).toList());
                steps.add(m);
                if (exit == OK) exit = o.exitCode();
            }
            Map<String, Object> root = new LinkedHashMap<>();
            root.put("exitCode", exit);
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
        static String script(List<Outcome> outcomes) {
            StringBuilder b = new StringBuilder("\n-- Dry run: nothing has been changed. Review, then run with psql -v ON_ERROR_STOP=1 -f <file>\n");
            for (Outcome o : outcomes) {
                if (o.plan().isEmpty()) continue;
                b.append("\n-- ").append(o.step()).append('\n').append(o.plan().script());
            }
            return b.toString();
        }
    }

    // ---- picocli ----------------------------------------------------------------------------------------

    /** A CommandLine with the runbook's exit codes (a command may list its own): bad options exit 2; expected failures print one line. */
    static CommandLine cli(Callable<Integer> command) {
        CommandLine cmd = new CommandLine(command);
        cmd.setExitCodeExceptionMapper(t -> t instanceof Failure f ? f.exitCode : REFUSED);
        cmd.setExecutionStrategy(parsed -> {
            Invocation.started(parsed.commandSpec().name(), parsed.originalArgs());
            try {
                return new CommandLine.RunLast().execute(parsed);
            } finally {
                Progress.phase(null);
                Interrupts.finished(); // after Ctrl-C, the interrupt handler says what became of the database and exits
            }
        });
        cmd.setParameterExceptionHandler((ex, args) -> {
            boolean url = ex instanceof CommandLine.UnmatchedArgumentException u && u.getUnmatched().stream().anyMatch(a -> a.contains("://"));
            ex.getCommandLine().getErr().println(Secrets.hideUrlPasswords(ex.getCommandLine().getCommandName() + ": " + ex.getMessage()
                    + (url ? " (a connection string goes after --url)" : " (see --help)")));
            return BAD_INPUT;
        });
        cmd.setExecutionExceptionHandler((ex, c, parsed) -> {
            Failure f = ex instanceof Failure x ? x : ex instanceof SQLException s ? refused(s, null) : null;
            if (f == null) {
                unexpected(c.getCommandName(), ex, c.getErr(), System.getenv("RUNBOOK_DEBUG") != null);
                return REFUSED;
            }
            c.getErr().println(c.getCommandName() + ": " + f.getMessage());
            return f.exitCode;
        });
        var usage = cmd.getCommandSpec().usageMessage();
        List<String> footer = new ArrayList<>(List.of(usage.footer()));
        if (footer.stream().noneMatch(l -> l.contains("Exit codes:"))) footer.add(String.format(EXIT_CODES)); // unless its own
        usage.footer(footer.toArray(String[]::new));
        return cmd;
    }

    /** A command's main: Ctrl-C and SIGTERM cancel what runs on the server (see {@link Interrupts}), then its exit code. */
    static void launch(Callable<Integer> command, String... args) {
        CommandLine cmd = cli(command);
        Interrupts.install(cmd.getCommandName());
        System.exit(cmd.execute(args));
    }

    /**
     * A bug or an error nobody foresaw: one line, and with RUNBOOK_DEBUG the stack trace. Both pass through
     * {@link Secrets#redact}, as whatever threw may have put a password or a key in its message.
     */
    static void unexpected(String command, Throwable ex, java.io.PrintWriter err, boolean stackTrace) {
        err.println(Secrets.redact(command + ": unexpected error: " + ex.getClass().getSimpleName() + ": " + firstLine(ex.getMessage())));
        if (stackTrace) {
            java.io.StringWriter trace = new java.io.StringWriter();
            ex.printStackTrace(new java.io.PrintWriter(trace));
            err.print(Secrets.redact(trace.toString()));
        }
        err.flush();
    }

    /** Setups and teardowns on one database run one after the other (a session-level advisory lock). */
    static void serialise(Connection c) throws SQLException {
        try (var st = c.createStatement()) {
            st.execute("SELECT pg_advisory_lock(hashtext('airbyte-runbook setup'))");
        }
    }

    /** A person at a terminal. From Java 22 System.console() is not null for pipes too; isTerminal() tells them apart. */
    static boolean terminal() {
        java.io.Console console = System.console();
        if (console == null) return false;
        try {
            return (Boolean) java.io.Console.class.getMethod("isTerminal").invoke(console);
        } catch (ReflectiveOperationException before22) {
            return true;
        }
    }

    /** Asks a yes/no question on the terminal: true for yes or y; null when there is no terminal to ask on. */
    static Boolean confirm(String question) {
        if (!terminal()) return null;
        String answer;
        Interrupts.prompting(true);
        try {
            answer = System.console().readLine("%s Type yes to go on: ", question);
        } finally {
            Interrupts.prompting(false);
        }
        return answer != null && (answer.strip().equalsIgnoreCase("yes") || answer.strip().equalsIgnoreCase("y"));
    }
}
