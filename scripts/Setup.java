///usr/bin/env jbang "$0" "$@" ; exit $?
//SOURCES lib/Runbook.java CheckWal.java GrantAccess.java CreatePublication.java CreateSlot.java
//DESCRIPTION The whole runbook in the safe order: check-wal, grant-access, create-publication, create-slot; --dry-run prints it as one SQL script

import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "setup", mixinStandardHelpOptions = true, version = "setup 1.0",
        description = {Setup.DESCRIPTION,
                "create-slot runs after the publication: see create-slot --help. Every step is checked before any is "
                + "applied; the grants and the publication are one transaction, the slot comes after its commit. Stops at "
                + "the first step that fails, with that step's exit code. Running it again is safe: what is done is not "
                + "done twice, and no table is ever taken out of the publication unless --remove-unlisted.",
                "It prints a report (--json: only JSON) that ends with the airbyte-source command for Airbyte's configuration."},
        footer = {"%nExamples:",
                "  jbang setup --url \"$DATABASE_URL\" --dry-run > runbook.sql",
                "  jbang setup --url \"$DATABASE_URL\" --schema public --schema sales",
                "  jbang setup --url \"$DATABASE_URL\" --table public.orders --table public.customers --replica-identity full"})
class Setup implements Callable<Exit> {
    static final String DESCRIPTION = "The whole runbook in the safe order: check-wal, grant-access, create-publication, "
            + "create-slot; --dry-run prints it as one SQL script";

    @Mixin Db db = new Db();
    @Mixin Output out = new Output();
    @Option(names = "--role", description = "The role Airbyte connects as (default: the connected user).") String role;
    @Mixin Tables.Choice tables = new Tables.Choice();
    @Mixin Flags.Publication publication = new Flags.Publication();
    @Mixin Flags.Slot slot = new Flags.Slot();
    @Option(names = "--replica-identity", paramLabel = "full", description = "full: REPLICA IDENTITY FULL on tables "
            + "without a primary key.") String replicaIdentity;
    @Option(names = "--full-for-toasted", description = "REPLICA IDENTITY FULL for the tables that store values out of "
            + "line (TOAST), so that an UPDATE leaving them unchanged does not reach Airbyte as __debezium_unavailable_value.")
    boolean fullForToasted;
    @Option(names = "--remove-unlisted", description = "Take out of an existing publication every table not asked for now "
            + "(Airbyte stops receiving their changes). Without it nothing is removed.") boolean removeUnlisted;
    @Option(names = "--add", hidden = true, description = "The default now; kept so that older command lines work.") boolean add;
    @Mixin Flags.LockTimeout lockTimeout = new Flags.LockTimeout();
    @Option(names = "--force", description = "Passed to create-slot.") boolean force;
    @Mixin Heartbeat.Options heartbeat = new Heartbeat.Options();

    /** What setup is asked to do, which doctor checks too: the steps are built from it. */
    record Inputs(Target target, String role, Tables.Asked asked, String publication, String slot, boolean fullWithoutKey,
                  boolean fullForToasted, boolean removeUnlisted, String lockTimeout, boolean force, String heartbeatTable) {

        /** --schema, else the schemas of the --table names, else public. */
        List<String> grantedSchemas() {
            if (!asked.schemas().isEmpty() || asked.tables().isEmpty()) return Input.schemas(asked.schemas());
            Set<String> found = new LinkedHashSet<>();
            for (String t : asked.tables()) {
                String schema = Input.tableName("--table", t)[0];
                if (schema == null) throw Failure.badInput("--table '" + t + "' has no schema: write schema.table, which "
                        + "also says the schema to grant (e.g. " + Defaults.SCHEMA + "." + t + ")");
                found.add(schema);
            }
            return new ArrayList<>(found);
        }
    }

    /** The guide's steps, by name. The slot is built once it is known whether this run makes the publication. */
    record Steps(Runbook.Step wal, Runbook.Step grant, Runbook.Step publication, Function<Boolean, Runbook.Step> slot) {}

    /** The steps for {@code in}; {@code again} says, for each step's name, how its fixes say "run this again". */
    static Steps steps(Inputs in, Function<String, Again> again) {
        return new Steps(CheckWal.step(in.target()),
                GrantAccess.step(new GrantAccess.Options(in.target(), in.role(), in.grantedSchemas(), in.lockTimeout(),
                        again.apply("grant-access"))),
                CreatePublication.step(new CreatePublication.Options(in.publication(), in.asked(), in.fullWithoutKey(),
                        in.fullForToasted(), in.removeUnlisted(), in.lockTimeout(), in.heartbeatTable(),
                        in.heartbeatTable() == null ? null : in.role(), again.apply("create-publication"))),
                planned -> CreateSlot.step(new CreateSlot.Options(in.target(), in.slot(), in.publication(), in.lockTimeout(),
                        in.force(), planned, again.apply("create-slot"))));
    }

    Inputs inputs() {
        return new Inputs(db.target(), role, tables.asked(), publication.name, slot.name,
                CreatePublication.fullWithoutKey(replicaIdentity), fullForToasted, removeUnlisted, lockTimeout.value, force,
                heartbeat.enabled ? heartbeat.table : null);
    }

    /**
     * Every step is first assessed without changing anything, all in one round trip; only when none fails (and this is
     * no dry run) are they applied, in order, so a problem found by a late step leaves the database as it was. The
     * grants and the publication are applied in setup's one transaction, with their second looks, in one more round
     * trip, and committed only when every look is right (a lock timeout or a lost connection in create-publication
     * undoes the grants too); the slot, which cannot share a transaction that has written, comes after the commit.
     */
    public Exit call() throws SQLException {
        Inputs in = inputs();
        Steps steps = steps(in, name -> Again.typed()); // setup's fixes say "run setup again with ...": it takes every option
        for (Runbook.Step s : List.of(steps.wal(), steps.grant(), steps.publication(), steps.slot().apply(false))) s.validate();
        try (Connection c = db.connect()) {
            List<Runbook.Outcome> outcomes = runAll(c, steps, out.dryRun ? Runbook.Mode.DRY_RUN : Runbook.Mode.APPLY);
            Exit exit = outcomes.get(outcomes.size() - 1).exit();
            out.print(outcomes);
            if (exit == Exit.OK && !out.dryRun && !out.json) System.out.println("\nnext, Airbyte's source configuration:\n  " + sourceCommand(in));
            return exit;
        }
    }

    /** The airbyte-source command for what setup made: the same connection, slot, publication, schemas and heartbeat. */
    static String sourceCommand(Inputs in) {
        List<String> words = new ArrayList<>(List.of("--slot", in.slot(), "--publication", in.publication()));
        if (in.role() != null) words.addAll(List.of("--role", in.role()));
        for (String s : in.grantedSchemas()) words.addAll(List.of("--schema", s));
        if (in.heartbeatTable() != null) words.addAll(List.of("--heartbeat", "--heartbeat-table", in.heartbeatTable()));
        return Invocation.current().other("airbyte-source", words) + " > source.json";
    }

    /**
     * The steps on one connection: every one read in one round trip (after the lock that serialises setups); when one
     * fails, what each up to it found and would do, as a dry run; otherwise the grants and the publication applied and
     * checked in one more, committed, then the slot.
     */
    private static List<Runbook.Outcome> runAll(Connection c, Steps steps, Runbook.Mode mode) throws SQLException {
        boolean apply = mode == Runbook.Mode.APPLY;
        List<Runbook.Step> inOrder = List.of(steps.wal(), steps.grant(), steps.publication());
        if (apply) c.setAutoCommit(false);
        try {
            Pipeline reads = new Pipeline(c);
            if (apply) reads.statement(Catalog.SERIALISE);
            List<Runbook.Reading> readings = new ArrayList<>();
            for (Runbook.Step s : inOrder) readings.add(s.read(reads));
            // The slot is read now too, so that a problem with it stops setup before anything changes. What a missing
            // publication means to it depends on whether this run makes one: it is read both ways (one small query each).
            Runbook.Step slotIfMade = steps.slot().apply(true), slotOtherwise = steps.slot().apply(false);
            Runbook.Reading slotReadIfMade = slotIfMade.read(reads), slotReadOtherwise = slotOtherwise.read(reads);
            reads.run();

            List<Runbook.Assessment> found = new ArrayList<>();
            for (Runbook.Reading r : readings) found.add(r.get());
            boolean planned = !found.get(found.size() - 1).plan().isEmpty();
            Runbook.Step slot = planned ? slotIfMade : slotOtherwise;
            found.add((planned ? slotReadIfMade : slotReadOtherwise).get());
            List<Runbook.Step> all = new ArrayList<>(inOrder);
            all.add(slot);
            List<Runbook.Outcome> preview = new ArrayList<>();
            for (int i = 0; i < all.size(); i++) {
                preview.add(Runbook.unapplied(all.get(i), found.get(i), Runbook.Mode.DRY_RUN));
                if (preview.get(i).exit() != Exit.OK || !apply && i == all.size() - 1) return preview;
            }

            Pipeline changes = new Pipeline(c);
            List<Runbook.Applied> applied = new ArrayList<>();
            List<Runbook.Sql> statements = new ArrayList<>();
            for (int i = 0; i < inOrder.size(); i++) {
                Runbook.Outcome settled = Runbook.unapplied(inOrder.get(i), found.get(i), mode);
                if (settled != null) applied.add(() -> settled);
                else {
                    applied.add(Runbook.stage(changes, inOrder.get(i), found.get(i)));
                    statements.addAll(found.get(i).plan().statements());
                }
            }
            List<Runbook.Outcome> outcomes = new ArrayList<>();
            if (!statements.isEmpty()) Runbook.run(changes, new Runbook.Plan(statements, true), Runbook.Transaction.CALLERS);
            for (Runbook.Applied a : applied) {
                Runbook.Outcome o = a.get();
                if (o.exit() != Exit.OK) { // a second look failed: none of it stays, the steps before it said applied
                    c.rollback();
                    outcomes.replaceAll(before -> !before.applied() ? before : rolledBack(before, Runbook.Finding.warn("result",
                            "rolled back with the step below, whose second look failed", null)));
                    outcomes.add(rolledBack(o, Runbook.Finding.fail("result", "rolled back: nothing of setup's changes stays", null)));
                    return outcomes;
                }
                outcomes.add(o);
            }
            c.commit();
            String committed = committed(statements);
            if (!statements.isEmpty()) Interrupts.committed(committed);
            c.setAutoCommit(true);
            try { // the slot comes after the commit: what came before it stays
                outcomes.add(Runbook.settle(c, slot, found.get(found.size() - 1), mode, Runbook.Transaction.OWN));
            } catch (Failure f) {
                if (outcomes.stream().noneMatch(Runbook.Outcome::applied)) throw f;
                throw f.aftermath != null && !f.aftermath.equals(Failure.NOTHING_CHANGED) ? f
                        : f.after(committed + " are in place: run setup again to make the slot");
            }
            return outcomes;
        } finally {
            try { // a step failed before the commit: none of the changes stay
                if (!c.isClosed() && !c.getAutoCommit()) c.rollback();
            } catch (SQLException lost) { } // the server rolled it back: the failure being thrown says so
        }
    }

    private static Runbook.Outcome rolledBack(Runbook.Outcome o, Runbook.Finding why) {
        List<Runbook.Finding> f = new ArrayList<>(o.findings());
        f.add(why);
        return new Runbook.Outcome(o.step(), o.exit(), f, o.plan(), false);
    }

    /** What setup's transaction changed, in words: the grants, the replica identities it set, and the publication. */
    static String committed(List<Runbook.Sql> statements) {
        boolean identities = statements.stream().anyMatch(s -> s.text().contains(" REPLICA IDENTITY "));
        return "the grants" + (identities ? ", the replica identities" : "") + " and the publication";
    }

    public static void main(String... args) { Cli.launch(new Setup(), args); }
}
