//JAVA 17+
//JAVA_OPTIONS -XX:TieredStopAtLevel=1 -XX:+UseSerialGC
//DEPS info.picocli:picocli:4.7.7
//DEPS org.postgresql:postgresql:42.7.14
//DEPS com.fasterxml.jackson.core:jackson-databind:2.20.2
//SOURCES Exit.java Cli.java Output.java Input.java Defaults.java Flags.java Catalog.java
//SOURCES Db.java Target.java UrlParams.java Progress.java Secrets.java Invocation.java Interrupts.java Locks.java Pipeline.java

import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The step model every command follows: a step reads the database and returns what it found and the plan that would
 * bring it to the goal; the flow here prints that, or applies the plan and takes a second look. Nothing step-specific.
 */
final class Runbook {
    private Runbook() {}

    enum Status { OK, WARN, FAIL }

    /** One line of a report: what was checked, what was found, and the fix (SQL or a command, as it is pasted). */
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

    /** What a step read, as its assessment, once the pipeline its reads went into has run. */
    interface Reading { Assessment get() throws SQLException; }

    /** The second look's findings, once the pipeline that applied the plan has run. */
    interface Looking { List<Finding> get() throws SQLException; }

    /**
     * A guide step, built from its inputs: adds its reads (never a write) to a pipeline, and says from their answers
     * what it found and would run. Its reads go to the server in one round trip, with those of the steps beside it.
     */
    interface Step {
        String name();
        /** A step that only checks (check-wal) never says "already done". */
        default boolean readOnly() { return false; }
        /** Checks that need no database (names, option combinations); throws {@link Failure}. */
        default void validate() {}
        Reading read(Pipeline p);
        /**
         * Read-only checks of the outcome, added to the pipeline that applies the plan, after it: in the plan's own
         * transaction when it is one.
         */
        default Looking verify(Pipeline p) { return List::of; }
    }

    /** What running one step came to. */
    record Outcome(String step, Exit exit, List<Finding> findings, Plan plan, boolean applied) {}

    /** Where a plan runs: in its own transaction, committed when it succeeds, or in one its caller owns and commits. */
    enum Transaction { OWN, CALLERS }

    /** Dry run (the plan is printed, nothing runs), or apply. */
    enum Mode { DRY_RUN, APPLY }

    static final String SECOND_LOOK_FAILED = "the plan was applied and committed; only the second look failed: run it again to check";

    /** A step on its own: its connection, its transaction, its report. */
    static Exit run(Step step, Db db, Output out) {
        step.validate();
        try (Connection c = db.connect()) {
            Outcome o = runOn(c, step, out.dryRun ? Mode.DRY_RUN : Mode.APPLY, Transaction.OWN);
            out.print(List.of(o));
            return o.exit();
        } catch (SQLException e) {
            throw refused(e, null);
        }
    }

    /** Reads (one round trip), then applies the plan unless a dry run, with the second look (one more). */
    static Outcome runOn(Connection c, Step step, Mode mode, Transaction tx) throws SQLException {
        Progress.phase(step.name() + ": reading the catalog");
        Pipeline reads = new Pipeline(c);
        Reading reading = step.read(reads);
        reads.run();
        return settle(c, step, reading.get(), mode, tx);
    }

    /** What an assessment comes to: unless there is nothing to apply, its plan applied with the second look. */
    static Outcome settle(Connection c, Step step, Assessment a, Mode mode, Transaction tx) throws SQLException {
        Outcome settled = unapplied(step, a, mode);
        if (settled != null) return settled;
        if (!a.plan().transactional()) return applyAlone(c, step, a);
        Pipeline apply = new Pipeline(c);
        Applied applied = stage(apply, step, a);
        run(apply, a.plan(), tx);
        if (tx == Transaction.CALLERS) return applied.get(); // the caller commits, or rolls back what fails
        Interrupts.committed(step.name() + " (applied)");
        return committed(step, applied::get);
    }

    /** The outcome of a plan committed already: what fails from here on is its second look, and the plan stays. */
    private static Outcome committed(Step step, Applied outcome) throws SQLException {
        String stays = SECOND_LOOK_FAILED.replace("run it", "run " + step.name());
        try {
            return outcome.get();
        } catch (SQLException e) {
            throw refused(e, null).after(stays);
        } catch (Failure f) {
            throw f.after(stays);
        }
    }

    /** What an assessment comes to when there is nothing to apply: a failure, "already done", or a dry run's plan; else null. */
    static Outcome unapplied(Step step, Assessment a, Mode mode) {
        List<Finding> findings = new ArrayList<>(a.findings());
        if (a.failed()) return new Outcome(step.name(), Exit.NOT_READY, findings, Plan.none(), false);
        if (a.plan().isEmpty()) {
            if (!step.readOnly()) findings.add(Finding.ok("result", "already done: nothing to change"));
            return new Outcome(step.name(), Exit.OK, findings, a.plan(), false);
        }
        if (mode == Mode.DRY_RUN) return new Outcome(step.name(), Exit.OK, findings, a.plan(), false);
        return null;
    }

    /** A step's outcome once the pipeline its plan went into has run. */
    interface Applied { Outcome get() throws SQLException; }

    /** Adds a transactional plan (as one DO block) and the step's second look after it to {@code p}. */
    static Applied stage(Pipeline p, Step step, Assessment a) {
        Progress.phase(String.format("%s: applying %,d statement(s) in one transaction", step.name(), a.plan().statements().size()));
        p.statement(block(a.plan()));
        Looking look = step.verify(p);
        return () -> outcome(step, a, look.get());
    }

    private static Outcome outcome(Step step, Assessment a, List<Finding> verified) {
        List<Finding> findings = new ArrayList<>(a.findings());
        findings.add(Finding.ok("result", "applied " + a.plan().statements().size() + " statement(s)"));
        findings.addAll(verified);
        Exit exit = verified.stream().anyMatch(f -> f.status() == Status.FAIL) ? Exit.NOT_READY : Exit.OK;
        return new Outcome(step.name(), exit, findings, a.plan(), true);
    }

    /**
     * A plan that cannot be one transaction (the slot), in autocommit: its statements in one round trip, then the
     * second look in another, as what the plan did stays even when the look fails.
     */
    private static Outcome applyAlone(Connection c, Step step, Assessment a) throws SQLException {
        Progress.phase(String.format("%s: applying %,d statement(s)", step.name(), a.plan().statements().size()));
        Pipeline apply = new Pipeline(c);
        for (Sql s : a.plan().statements()) apply.statement(s.text());
        run(apply, a.plan(), Transaction.OWN);
        Interrupts.committed(step.name() + " (applied)");
        Progress.phase(step.name() + ": taking a second look");
        return committed(step, () -> {
            Pipeline look = new Pipeline(c);
            Looking looking = step.verify(look);
            look.run();
            return outcome(step, a, looking.get());
        });
    }

    /**
     * Runs a pipeline that applies {@code plan}, in one round trip: in its own transaction (autocommit: the pipeline's
     * implicit one, committed at its end), or in the caller's, which a failure rolls back (the caller commits what
     * succeeds). A transactional plan is one DO block: pgjdbc splits a JDBC batch into a round trip per ~250
     * statements (to keep the server's replies from filling the socket buffers), so thousands of tables would cost
     * dozens of them. A failure names the statement it came from, and for a lock timeout who holds the lock.
     */
    static void run(Pipeline p, Plan plan, Transaction tx) throws SQLException {
        Connection c = p.connection();
        if (Interrupts.requested()) throw new Failure(Exit.INTERRUPTED, "interrupted", Failure.NOTHING_CHANGED);
        boolean joined = tx == Transaction.CALLERS && plan.transactional(), auto = c.getAutoCommit();
        if (!joined) c.setAutoCommit(true);
        try {
            p.run();
        } catch (SQLException e) {
            if (joined) rollback(c);
            Sql culprit = plan.transactional() ? culpritInBlock(e, plan) : culprit(plan);
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
        String statements = plan.statements().stream().map(s -> Input.literal(s.text())).collect(Collectors.joining(",\n"));
        return "DO " + Input.literal("DECLARE s text;\nBEGIN\nFOREACH s IN ARRAY ARRAY[" + statements + "]::text[] LOOP\n"
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

    /** The statement a plan run statement by statement (the slot) failed on: its one statement that names a subject. */
    static Sql culprit(Plan plan) {
        List<Sql> named = plan.statements().stream().filter(s -> s.subject() != null).toList();
        return named.size() == 1 ? named.get(0) : null;
    }

    static Failure refused(SQLException e, Sql culprit) { return refused(e, culprit, null); }

    /**
     * A database error during a change: exit 4 (3 if the connection broke), one line naming the object; for a lock
     * timeout, {@code holders} (see {@link Locks#holders}) names the tables and the sessions that hold them.
     */
    static Failure refused(SQLException e, Sql culprit, String holders) {
        String state = e.getSQLState() == null ? "" : e.getSQLState();
        String what = culprit == null || culprit.subject() == null ? "" : culprit.subject() + ": ";
        String msg = Output.firstLine(e.getMessage());
        if (state.equals("55P03") && holders != null) return new Failure(Exit.REFUSED, holders); // it says what became of the database
        if (state.equals("55P03"))
            return new Failure(Exit.REFUSED, what + "could not take a lock within lock_timeout: another session holds it "
                    + "(see pg_locks / pg_stat_activity) - retry when it is done", Failure.NOTHING_CHANGED);
        if (state.equals("42501"))
            return new Failure(Exit.REFUSED, what + msg + " - run as the owner or a role with that privilege", Failure.NOTHING_CHANGED);
        var server = serverError(e);
        if (state.equals("53200") && server != null && String.valueOf(server.getHint()).contains("max_locks_per_transaction"))
            return new Failure(Exit.REFUSED, what + "PostgreSQL's lock table is full: one transaction locks every table it "
                    + "changes, and the server has room for about max_locks_per_transaction x max_connections locks - "
                    + "do it in parts (some of the --schema or --table at a time), or raise max_locks_per_transaction",
                    Failure.NOTHING_CHANGED);
        if (state.startsWith("08") || state.equals("57P01"))
            return new Failure(Exit.CANNOT_CONNECT, "connection lost: " + msg + " - run the command again (safe: what was "
                    + "done is not done twice, and a transaction cut short was rolled back)");
        return new Failure(Exit.REFUSED, what + msg, Failure.NOTHING_CHANGED);
    }

    /** A plan's first statement: give up on a lock not granted within --lock-timeout (LOCAL: for its transaction only). */
    static Sql lockTimeout(String value, boolean local) {
        return new Sql("SET " + (local ? "LOCAL " : "") + "lock_timeout = " + Input.literal(Input.duration("--lock-timeout", value)), null);
    }
}
