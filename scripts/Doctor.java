///usr/bin/env jbang "$0" "$@" ; exit $?
//SOURCES Setup.java AirbyteCheck.java DoctorChecks.java DoctorSlot.java
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
        description = {"For a failed or silent Airbyte sync: runs every check at once and prints one line per check "
                + "(ok, warn, fail) with the fix, as SQL or as the command to run. It checks the connection (TLS, Neon, "
                + "pooler, primary or standby), the server (wal_level, free slots and WAL senders), the role (login, "
                + "REPLICATION, CONNECT), read access to the schemas, the publication and its tables' replica identity, "
                + "the slot (state, reader, retained WAL, invalidation, Neon's removal of idle slots, heartbeat), and "
                + "reproduces Airbyte's own connection test. Each guide step's own check runs too: a step with something "
                + "left to do is a failure naming the command to run.",
                "It changes nothing, ever: every read runs in a READ ONLY transaction that is rolled back at the end. "
                + "--deep only peeks at the slot (pg_logical_slot_peek_binary_changes), which never consumes a change "
                + "nor moves what the slot has confirmed, and only while no client is reading the slot.",
                "Exit 0 when Airbyte's CDC would work (warnings allowed); 1 when a check failed, including a role, "
                + "schema, table, publication or slot that does not exist. The commands it suggests carry the connection "
                + "options you gave doctor, without a password (a password given in the URL becomes --password, which prompts)."},
        footer = {"%nExamples (the URL can also come from $DATABASE_URL):",
                "  jbang doctor --url \"$DATABASE_URL\" --deep",
                "  jbang doctor --role airbyte --schema public --schema sales",
                "  jbang doctor --table public.orders --table public.customers --json",
                "%nExit codes:",
                "  0  Airbyte's CDC would work (warnings allowed)",
                "  1  a check failed, including a role, schema, table, publication or slot that does not exist (the fix is printed)",
                "  2  bad input: an option doctor cannot use (a slot name PostgreSQL rejects, a --table without its schema)",
                "  3  cannot connect or authenticate (host, port, database, password, TLS)",
                "  130  interrupted (Ctrl-C, SIGTERM): its reads were cancelled on the server; nothing was changed"})
class Doctor implements Callable<Integer> {
    @Mixin Db db = new Db();
    @Option(names = "--json", description = "Print the findings as JSON, for programs.") boolean json;
    @Option(names = "--role", description = "The role Airbyte connects as (default: the connected user).") String role;
    @Option(names = "--schema", description = "A schema Airbyte replicates (repeatable; default: public, or the schemas of --table).")
    List<String> schemas;
    @Option(names = "--table", paramLabel = "SCHEMA.TABLE", description = "A table that must be published (repeatable; "
            + "default: every table of the schemas).") List<String> tables;
    @Option(names = "--exclude-table", paramLabel = "SCHEMA.TABLE", description = "A table of the schemas that is left "
            + "out on purpose (repeatable), e.g. an unlogged table.") List<String> excluded;
    @Option(names = "--publication", defaultValue = "airbyte_publication", description = "Default: ${DEFAULT-VALUE}.")
    String publication = "airbyte_publication";
    @Option(names = "--slot", defaultValue = "airbyte_slot", description = "Default: ${DEFAULT-VALUE}.") String slot = "airbyte_slot";
    @Option(names = "--heartbeat-table", defaultValue = "airbyte_heartbeat", paramLabel = "[SCHEMA.]TABLE", description = "The "
            + "heartbeat table that keeps an idle database's slot moving, looked for in the publication (without a schema: "
            + "in any schema) (default: ${DEFAULT-VALUE}).")
    String heartbeatTable = "airbyte_heartbeat";
    @Option(names = "--deep", description = "Also peek at one change of the slot (only while no client reads it) to catch "
            + "a slot made before its publication, which fails for ever with \"publication ... does not exist\".") boolean deep;
    @Option(names = "--peek-timeout", defaultValue = "10s", paramLabel = "DURATION", description = "How long --deep may "
            + "decode: digits with ms, s or min (default: ${DEFAULT-VALUE}).") String peekTimeout = "10s";

    /** The check groups, in the order a person reads them; each becomes one block of output. */
    static final List<String> GROUPS = List.of("connection", "server", "role", "tables", "publication",
            "replica identity", "slot", "airbyte check");

    private final Map<String, List<Runbook.Finding>> report = new LinkedHashMap<>();

    void add(String group, Runbook.Finding f) { report.computeIfAbsent(group, g -> new ArrayList<>()).add(f); }

    /** Setup's own steps, configured from doctor's options: doctor checks exactly what setup would do. */
    Setup setup() {
        Setup s = new Setup();
        s.db = db;
        s.role = role;
        s.schemas = schemas;
        s.tables = tables;
        s.excluded = excluded;
        s.publication = publication;
        s.slot = slot;
        s.lockTimeout = "5s"; // unused: doctor applies nothing
        return s;
    }

    List<String> schemaNames() { return setup().grantedSchemas().stream().map(n -> Runbook.name("--schema", n)).toList(); }

    String roleName() { return role != null ? Runbook.name("--role", role) : db.target().user; }

    /** Options are checked before connecting; bad ones are exit 2. */
    List<Runbook.Step> validate() {
        Runbook.slotName(slot);
        Runbook.name("--publication", publication);
        Runbook.tableName("--heartbeat-table", heartbeatTable);
        Runbook.duration("--peek-timeout", peekTimeout);
        List<Runbook.Step> steps = setup().steps();
        // create-slot's own validation refuses a pooler host; doctor reports it instead (check-wal's warning).
        for (Runbook.Step s : steps) if (!(s instanceof CreateSlot)) s.validate();
        // A step's "run this again" is, in doctor, that step's own command.
        for (Runbook.Step s : steps) {
            if (s instanceof CreatePublication p) p.again = extra -> command(s.name(), extra);
            if (s instanceof GrantAccess g) g.again = extra -> command(s.name(), extra);
            if (s instanceof CreateSlot cs) cs.again = extra -> command(s.name(), extra);
        }
        return steps;
    }

    public Integer call() throws SQLException {
        List<Runbook.Step> steps = validate();
        try (Connection c = db.connect()) {
            c.setReadOnly(true);
            c.setAutoCommit(false); // pgjdbc now opens every transaction with BEGIN READ ONLY
            // A savepoint before every query, sent with it (no round trip of its own); a refused query rolls back to it.
            c.unwrap(org.postgresql.PGConnection.class).setAutosave(org.postgresql.jdbc.AutoSave.ALWAYS);
            try {
                diagnose(c, steps);
            } finally {
                if (!c.isClosed()) c.rollback();
            }
        }
        List<Runbook.Outcome> outcomes = new ArrayList<>();
        for (String g : GROUPS) {
            List<Runbook.Finding> fs = report.getOrDefault(g, List.of());
            if (fs.isEmpty()) continue;
            boolean failed = fs.stream().anyMatch(f -> f.status() == Runbook.Status.FAIL);
            outcomes.add(new Runbook.Outcome(g, failed ? Runbook.NOT_READY : Runbook.OK, fs, Runbook.Plan.none(), false));
        }
        Runbook.Output out = new Runbook.Output();
        out.json = json;
        out.print(outcomes);
        return outcomes.stream().anyMatch(o -> o.exitCode() != Runbook.OK) ? Runbook.NOT_READY : Runbook.OK;
    }

    private void diagnose(Connection c, List<Runbook.Step> steps) throws SQLException {
        DoctorChecks checks = new DoctorChecks(this, c);
        DoctorSlot slotChecks = new DoctorSlot(this, c);
        guard(c, "connection", () -> checks.connection());
        for (Runbook.Step s : steps) {
            if (s instanceof GrantAccess) {
                guard(c, "role", () -> checks.role());
                if (!checks.roleExists) continue; // its FAIL says so; grant-access cannot assess a missing role
            }
            if (s instanceof CreatePublication p) guard(c, "publication", () -> checks.publication(p));
            guard(c, group(s), () -> step(c, s));
            if (s instanceof CheckWal) guard(c, "server", () -> checks.standby());
            if (s instanceof CreatePublication) guard(c, "replica identity", () -> checks.replicaIdentity());
            if (s instanceof CreateSlot) guard(c, "slot", () -> slotChecks.slot());
        }
        guard(c, "airbyte check", () -> slotChecks.airbyteCheck());
    }

    static String group(Runbook.Step s) {
        return s instanceof CheckWal ? "server" : s instanceof GrantAccess ? "tables"
                : s instanceof CreatePublication ? "publication" : "slot";
    }

    /**
     * A guide step's assessment: its problems as they are, its plan (when not empty) as a failure naming the command
     * that does it with the SQL as the fix. Of its ok lines, doctor keeps those that describe what is there.
     */
    private void step(Connection c, Runbook.Step s) throws SQLException {
        Runbook.Assessment a;
        try {
            a = s.assess(c);
        } catch (Runbook.Failure e) { // a name that does not exist: for doctor, a finding like any other
            add(group(s), Runbook.Finding.fail(s.name(), e.getMessage(), null));
            return;
        }
        for (Runbook.Finding f : a.findings()) {
            // the replica identity group covers these, for every published table
            if (s instanceof CreatePublication && List.of("replica identity", "toast", "generated columns").contains(f.check())) continue;
            boolean shown = f.status() != Runbook.Status.OK || s.readOnly() || s instanceof GrantAccess;
            if (shown) add(s instanceof GrantAccess && f.check().equals("replication") ? "role" : group(s), f);
        }
        // A step whose own check failed would fail if run now: its failure's fix comes first, and ends with the command.
        if (!a.plan().isEmpty() && !a.failed()) add(group(s), Runbook.Finding.fail(s.name(), "not done: run  "
                + command(s.name()), a.plan().script().strip()));
    }

    /** A step's command with doctor's options and connection (without a password), then {@code extra}. */
    String command(String step, String... extra) {
        List<String> args = new ArrayList<>();
        if (step.equals("grant-access")) {
            if (role != null) args.addAll(List.of("--role", role));
            for (String n : schemaNames()) args.addAll(List.of("--schema", n));
        } else if (step.equals("create-publication")) {
            args.addAll(List.of("--publication", publication));
            if (tables != null) for (String t : tables) args.addAll(List.of("--table", t));
            else for (String n : schemaNames()) args.addAll(List.of("--schema", n));
            if (excluded != null) for (String t : excluded) args.addAll(List.of("--exclude-table", t));
        } else if (step.equals("create-slot")) {
            args.addAll(List.of("--slot", slot, "--publication", publication));
        }
        args.addAll(List.of(extra));
        return Invocation.current().other(step, args);
    }

    String publicationCommand(String... extra) { return command("create-publication", extra); }

    String slotCommand() { return command("create-slot"); }

    interface Check { void run() throws SQLException; }

    /**
     * Runs one check so that a check the server refuses (a privilege, a timeout) becomes a warning and the checks after
     * it still run in the same read-only transaction: pgjdbc's automatic savepoint has undone the refused query.
     */
    void guard(Connection c, String group, Check check) throws SQLException {
        Progress.phase("doctor: checking " + group);
        try {
            check.run();
        } catch (SQLException e) {
            String state = e.getSQLState() == null ? "" : e.getSQLState();
            if (state.startsWith("08") || c.isClosed() || Interrupts.requested()) throw e;
            add(group, Runbook.Finding.warn(group, "could not check: " + Runbook.firstLine(e.getMessage()), null));
        }
    }

    public static void main(String... args) { Runbook.launch(new Doctor(), args); }
}
