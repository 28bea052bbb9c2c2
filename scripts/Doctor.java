///usr/bin/env jbang "$0" "$@" ; exit $?
//SOURCES Setup.java lib/AirbyteCheck.java lib/DoctorChecks.java lib/DoctorSlot.java lib/DoctorAirbyte.java
//DESCRIPTION Every check at once, read-only: why Airbyte's CDC sync fails or is silent, and what to type

import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "doctor", mixinStandardHelpOptions = true, version = "doctor 1.0",
        description = {Doctor.DESCRIPTION,
                "For a failed or silent Airbyte sync: one line per check (ok, warn, fail) with the fix, as SQL or as the "
                + "command to run. It checks the connection (TLS, Neon, pooler, primary or standby), the server "
                + "(wal_level, free slots and WAL senders), the role (login, REPLICATION, CONNECT), read access to the "
                + "schemas, the publication and its tables' replica identity, the slot (state, reader, retained WAL, "
                + "invalidation, Neon's removal of idle slots, heartbeat), and reproduces Airbyte's own connection test. "
                + "Each guide step's own check runs too: a step with something left to do is a failure naming the command to run.",
                "It changes nothing, ever: every read runs in a READ ONLY transaction that is rolled back at the end. "
                + "--deep decodes every change the slot holds (pg_logical_slot_peek_binary_changes), which never consumes "
                + "a change nor moves what the slot has confirmed, and only while no client is reading the slot.",
                "The commands it suggests carry the connection options you gave doctor, without a password (a password "
                + "given in the URL becomes --password, which prompts)."},
        footer = {"%nExamples (the URL can also come from $DATABASE_URL):",
                "  jbang doctor --url \"$DATABASE_URL\" --deep",
                "  jbang doctor --role airbyte --schema public --schema sales",
                "  jbang doctor --table public.orders --table public.customers --json",
                "  AIRBYTE_API_TOKEN=... jbang doctor --url \"$DATABASE_URL\" --airbyte-connection 5f0c...e2"})
class Doctor implements Callable<Exit>, Exit.Documented {
    static final String DESCRIPTION = "Every check at once, read-only: why Airbyte's CDC sync fails or is silent, and what to type";

    @Mixin Db db = new Db();
    @Option(names = "--json", description = "Print the findings as JSON, for programs.") boolean json;
    @Option(names = "--role", description = "The role Airbyte connects as (default: the connected user).") String role;
    @Mixin Tables.Choice tables = new Tables.Choice();
    @Mixin Flags.Publication publication = new Flags.Publication();
    @Mixin Flags.Slot slot = new Flags.Slot();
    @Option(names = "--heartbeat-table", defaultValue = Defaults.HEARTBEAT_TABLE, paramLabel = "[SCHEMA.]TABLE",
            description = "The heartbeat table that keeps an idle database's slot moving, looked for in the publication "
                    + "(without a schema: in any schema) (default: ${DEFAULT-VALUE}).")
    String heartbeatTable = Defaults.HEARTBEAT_TABLE;
    @Option(names = "--deep", description = "Also decode every change the slot holds, without consuming any (only while no "
            + "client reads it): a slot made before its publication, or whose publication was dropped and made again, "
            + "fails for ever with \"publication ... does not exist\" on the changes written in between.") boolean deep;
    @Option(names = "--peek-timeout", defaultValue = Defaults.PEEK_TIMEOUT, paramLabel = "DURATION", description = "How "
            + "long --deep may decode: digits with ms, s or min (default: ${DEFAULT-VALUE}).")
    String peekTimeout = Defaults.PEEK_TIMEOUT;
    @Option(names = "--airbyte-connection", paramLabel = "ID", description = "Also check Airbyte's side of this connection "
            + "through Airbyte's API (AIRBYTE_CLIENT_ID and AIRBYTE_CLIENT_SECRET, or AIRBYTE_API_TOKEN): its source reads this "
            + "database, slot and publication; every selected stream is published; its CDC settings; its last sync.")
    String airbyteConnection;
    @Mixin AirbyteApi.Access airbyte = new AirbyteApi.Access();

    public Map<Exit, String> exitCodes() {
        return Map.of(Exit.OK, "Airbyte's CDC would work (warnings allowed)",
                Exit.NOT_READY, "a check failed, including a role, schema, table, publication or slot that does not exist "
                        + "(the fix is printed)",
                Exit.BAD_INPUT, "bad input: an option doctor cannot use (a slot name PostgreSQL rejects, a --table without its "
                        + "schema; --airbyte-connection without Airbyte credentials)",
                Exit.REFUSED, "not used: doctor changes nothing",
                Exit.INTERRUPTED, "interrupted (Ctrl-C, SIGTERM): its reads were cancelled on the server; nothing was changed");
    }

    /** The check groups, in the order a person reads them; each becomes one block of output. */
    static final List<String> GROUPS = List.of("connection", "server", "role", "tables", "publication",
            "replica identity", "slot", "airbyte check", "airbyte");

    /** What the run is asked to check: setup's inputs, so that doctor checks exactly what setup would do. */
    Setup.Inputs inputs() {
        return new Setup.Inputs(db.target(), role, tables.asked(), publication.name, slot.name, false, false, false,
                Defaults.LOCK_TIMEOUT, false, null);
    }

    /** The role Airbyte connects as. */
    String roleName() { return role != null ? Input.name("--role", role) : db.target().user; }

    /** A step's command with doctor's options and connection (without a password), then {@code extra}. */
    String command(String step, String... extra) {
        List<String> args = new ArrayList<>();
        switch (step) {
            case "grant-access" -> {
                if (role != null) args.addAll(List.of("--role", role));
                for (String n : inputs().grantedSchemas()) args.addAll(List.of("--schema", n));
            }
            case "create-publication" -> {
                args.addAll(List.of("--publication", publication.name));
                if (tables.tables != null) for (String t : tables.tables) args.addAll(List.of("--table", t));
                else for (String n : inputs().grantedSchemas()) args.addAll(List.of("--schema", n));
                if (tables.excluded != null) for (String t : tables.excluded) args.addAll(List.of("--exclude-table", t));
            }
            case "create-slot" -> args.addAll(List.of("--slot", slot.name, "--publication", publication.name));
            default -> { }
        }
        return Invocation.current().other(step, Invocation.merged(args, extra));
    }

    public Exit call() throws SQLException {
        Input.slotName(slot.name);
        Input.name("--publication", publication.name);
        Input.tableName("--heartbeat-table", heartbeatTable);
        Input.duration("--peek-timeout", peekTimeout);
        tables.validate();
        if (airbyteConnection != null) {
            AirbyteApi.id("--airbyte-connection", airbyteConnection, "the id in the connection's URL in Airbyte");
            airbyte.requireCredentials();
        }
        Setup.Inputs in = inputs();
        List<String> schemas = in.grantedSchemas(); // a --table without its schema is bad input here
        Setup.Steps steps = Setup.steps(in, name -> extra -> command(name, extra));
        // create-slot's own validation refuses a pooler host; doctor reports it instead (check-wal's warning).
        for (Runbook.Step s : List.of(steps.wal(), steps.grant(), steps.publication())) s.validate();
        Map<String, List<Runbook.Finding>> report = new LinkedHashMap<>();
        try (Connection c = db.connect()) {
            c.setReadOnly(true);
            c.setAutoCommit(false); // pgjdbc now opens every transaction with BEGIN READ ONLY
            // A savepoint before every query, sent with it (no round trip of its own); a refused query rolls back to it.
            c.unwrap(org.postgresql.PGConnection.class).setAutosave(org.postgresql.jdbc.AutoSave.ALWAYS);
            DoctorChecks.Context x = new DoctorChecks.Context(c, db.target(), roleName(), schemas, in.asked(), publication.name,
                    slot.name, heartbeatTable, deep, peekTimeout, this::command);
            Pipeline p = new Pipeline(c);
            Reads reads = read(p, x, steps);
            Progress.phase("doctor: reading the catalog");
            p.runEach();
            diagnose(x, steps, reads, report);
        } // closing ends the read-only transaction: nothing to roll back, and no round trip to do it
        List<Runbook.Outcome> outcomes = new ArrayList<>();
        for (String g : GROUPS) {
            List<Runbook.Finding> fs = report.getOrDefault(g, List.of());
            if (fs.isEmpty()) continue;
            boolean failed = fs.stream().anyMatch(f -> f.status() == Runbook.Status.FAIL);
            outcomes.add(new Runbook.Outcome(g, failed ? Exit.NOT_READY : Exit.OK, fs, Runbook.Plan.none(), false));
        }
        Output out = new Output();
        out.json = json;
        out.print(outcomes);
        return outcomes.stream().anyMatch(o -> o.exit() != Exit.OK) ? Exit.NOT_READY : Exit.OK;
    }

    /** What every check group reads, all sent to the server at once. */
    private record Reads(int major, Pipeline.Answer<DoctorChecks.Server> server, Runbook.Reading wal, Pipeline.Answer<DoctorChecks.Role> role,
                         Runbook.Reading grant, DoctorChecks.Reads publication, Runbook.Reading publicationStep,
                         Runbook.Reading slotStep, Pipeline.Answer<DoctorSlot.Slot> slot, Runbook.Reading airbyteCheck) {}

    private static Reads read(Pipeline p, DoctorChecks.Context x, Setup.Steps steps) {
        return new Reads(p.major(), DoctorChecks.connection(p, x.target()), steps.wal().read(p), DoctorChecks.role(p, x.role()),
                steps.grant().read(p), DoctorChecks.reads(p, x), steps.publication().read(p), steps.slot().apply(false).read(p),
                DoctorSlot.read(p, x), DoctorSlot.airbyteCheck(p, x));
    }

    /**
     * Every check group in turn, each part that reads on its own guarded, so that a refused query hides no other
     * check: it is a warning, "could not check", and what can be checked still is.
     */
    private void diagnose(DoctorChecks.Context x, Setup.Steps steps, Reads r, Map<String, List<Runbook.Finding>> report) throws SQLException {
        DoctorChecks.Server server = guard(x, report, "connection", () -> {
            DoctorChecks.Server s = r.server().get();
            add(report, "connection", s.connection());
            return s;
        }, null);
        guard(x, report, "server", () -> step(x, report, "server", steps.wal(), r.wal()), null);
        if (server != null) add(report, "server", DoctorChecks.standby(server));
        boolean neon = server != null ? server.neon() : x.target().isNeonHost();
        boolean roleExists = guard(x, report, "role", () -> {
            List<Runbook.Finding> found = DoctorChecks.role(x, r.role().get(), neon);
            add(report, "role", found);
            return found.stream().noneMatch(f -> f.check().equals("role"));
        }, true);
        if (roleExists) guard(x, report, "tables", () -> step(x, report, "tables", steps.grant(), r.grant()), null); // else its FAIL says so
        DoctorChecks.Publication pub = guard(x, report, "publication", () -> {
            DoctorChecks.Publication p = DoctorChecks.publication(x, r.publication());
            add(report, "publication", p.findings());
            return p;
        }, null);
        boolean identitiesChecked = guard(x, report, "replica identity", () -> {
            if (pub == null) { // create-publication's check, below, names those of the tables asked for
                add(report, "replica identity", List.of(Runbook.Finding.warn("replica identity", "not known for the "
                        + "published tables: the publication could not be read", null)));
                return false;
            }
            add(report, "replica identity", DoctorChecks.replicaIdentity(x, pub, r.major(), r.publication().details().get()));
            return true;
        }, false);
        guard(x, report, "publication", () -> step(x, report, "publication", steps.publication(), r.publicationStep(),
                identitiesChecked), null);
        guard(x, report, "slot", () -> step(x, report, "slot", steps.slot().apply(false), r.slotStep()), null);
        guard(x, report, "slot", () -> add(report, "slot", DoctorSlot.slot(x, r.slot().get())), null);
        guard(x, report, "airbyte check", () -> add(report, "airbyte check", r.airbyteCheck().get().findings()), null);
        if (airbyteConnection != null) guard(x, report, "airbyte", () -> add(report, "airbyte",
                DoctorAirbyte.check(x, airbyteConnection.strip(), airbyte, java.util.Collections.unmodifiableMap(report))), null);
    }

    private static <T> T add(Map<String, List<Runbook.Finding>> report, String group, List<Runbook.Finding> findings) {
        report.computeIfAbsent(group, g -> new ArrayList<>()).addAll(findings);
        return null;
    }

    /**
     * A guide step's assessment: its problems as they are, its plan (when not empty) as a failure naming the command
     * that does it with the SQL as the fix. Of its ok lines, doctor keeps those that describe what is there.
     */
    private static Void step(DoctorChecks.Context x, Map<String, List<Runbook.Finding>> report, String group, Runbook.Step s,
                             Runbook.Reading reading) throws SQLException {
        return step(x, report, group, s, reading, false);
    }

    /** {@code identitiesChecked}: the replica identity group has checked every table, so the step's own lines on it are left out. */
    private static Void step(DoctorChecks.Context x, Map<String, List<Runbook.Finding>> report, String group, Runbook.Step s,
                             Runbook.Reading reading, boolean identitiesChecked) throws SQLException {
        Runbook.Assessment a;
        try {
            a = reading.get();
        } catch (Failure e) { // a name that does not exist: for doctor, a finding like any other
            return add(report, group, List.of(Runbook.Finding.fail(s.name(), e.getMessage(), null)));
        }
        boolean describes = s.readOnly() || s.name().equals("grant-access"), failureShown = false;
        for (Runbook.Finding f : a.findings()) {
            // the replica identity group covers these, for every published table, when it could read them
            if (identitiesChecked && List.of("replica identity", "toast", "generated columns").contains(f.check())) continue;
            failureShown |= f.status() == Runbook.Status.FAIL;
            if (f.status() != Runbook.Status.OK || describes)
                add(report, s.name().equals("grant-access") && f.check().equals("replication") ? "role" : group, List.of(f));
        }
        // A step whose own check failed would fail if run now: its failure's fix comes first, and ends with the command.
        // When that failure is one another group shows (a replica identity) and the publication lacks tables or options,
        // that is said too, as commands only (its SQL could publish a table whose UPDATEs then fail): first the one that
        // also gives the tables without a primary key REPLICA IDENTITY FULL, as the replica identity fix's first way does.
        String command = x.commands().step(s.name());
        boolean publishes = a.plan().statements().stream().anyMatch(q -> q.subject() != null && q.subject().startsWith("publication "));
        if (!a.plan().isEmpty() && !failureShown && (!a.failed() || publishes)) add(report, group, List.of(Runbook.Finding.fail(
                s.name(), a.failed() ? "not done: the publication lacks asked tables or options (the command below adds them)"
                        : "not done: run  " + command, !a.failed() ? a.plan().script().strip()
                        : "log whole old rows of the tables without a primary key, and publish:  "
                        + x.commands().step(s.name(), "--replica-identity", "full")
                        + "\nor, after the replica identity fix below:  " + command)));
        return null;
    }

    interface Check<T> { T run() throws SQLException; }

    /**
     * Runs one check group so that a check the server refuses (a privilege, a timeout) becomes a warning and the checks
     * after it still run in the same read-only transaction: pgjdbc's automatic savepoint has undone the refused query.
     */
    private static <T> T guard(DoctorChecks.Context x, Map<String, List<Runbook.Finding>> report, String group, Check<T> check,
                               T otherwise) throws SQLException {
        Progress.phase("doctor: checking " + group);
        try {
            return check.run();
        } catch (SQLException e) {
            if (Pipeline.ends(e, x.c())) throw e;
            add(report, group, List.of(Runbook.Finding.warn(group, "could not check: " + Output.firstLine(e.getMessage()), null)));
            return otherwise;
        }
    }

    public static void main(String... args) { Cli.launch(new Doctor(), args); }
}
