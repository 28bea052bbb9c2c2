///usr/bin/env jbang "$0" "$@" ; exit $?
//SOURCES Runbook.java CheckWal.java GrantAccess.java CreatePublication.java CreateSlot.java
//DESCRIPTION The whole runbook in the safe order: check-wal, grant-access, create-publication, create-slot

import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "setup", mixinStandardHelpOptions = true, version = "setup 1.0",
        description = {"Prepares the database for Airbyte's CDC by running every step of the guide, in the safe order: "
                + "check-wal, grant-access, create-publication, create-slot (after the publication: see create-slot "
                + "--help), then names the airbyte-source command that prints Airbyte's configuration.",
                "Stops at the first step that fails, with that step's exit code. Running it again is safe: what is "
                + "done is not done twice, and no table is ever taken out of the publication unless --remove-unlisted. "
                + "--dry-run prints the whole runbook as one SQL script; --json prints only JSON."},
        footer = {"%nExamples:",
                "  jbang setup --url \"$DATABASE_URL\" --dry-run > runbook.sql",
                "  jbang setup --url \"$DATABASE_URL\" --schema public --schema sales",
                "  jbang setup --url \"$DATABASE_URL\" --table public.orders --table public.customers --replica-identity full"})
class Setup implements Callable<Integer> {
    @Mixin Db db = new Db();
    @Mixin Runbook.Output out = new Runbook.Output();
    @Option(names = "--role", description = "The role Airbyte connects as (default: the connected user).") String role;
    @Option(names = "--schema", description = "A schema to grant and publish (repeatable; default: public, or the schemas of --table).")
    List<String> schemas;
    @Option(names = "--table", description = "Publish only these tables, as schema.table (repeatable).") List<String> tables;
    @Option(names = "--publication", defaultValue = "airbyte_publication", description = "Default: ${DEFAULT-VALUE}.") String publication;
    @Option(names = "--slot", defaultValue = "airbyte_slot", description = "Default: ${DEFAULT-VALUE}.") String slot;
    @Option(names = "--replica-identity", description = "full: REPLICA IDENTITY FULL on tables without a primary key.") String replicaIdentity;
    @Option(names = "--exclude-table", paramLabel = "SCHEMA.TABLE", description = "Leave this table out of the "
            + "publication (repeatable), e.g. an unlogged table.") List<String> excluded;
    @Option(names = "--full-for-toasted", description = "REPLICA IDENTITY FULL for the tables that store values out of "
            + "line (TOAST), so that an UPDATE leaving them unchanged does not reach Airbyte as __debezium_unavailable_value.")
    boolean fullForToasted;
    @Option(names = "--remove-unlisted", description = "Take out of an existing publication every table not asked for now "
            + "(Airbyte stops receiving their changes). Without it nothing is removed.") boolean removeUnlisted;
    @Option(names = "--add", hidden = true, description = "The default now; kept so that older command lines work.") boolean add;
    @Option(names = "--lock-timeout", defaultValue = "5s", description = "How long to wait for a table's lock, and for "
            + "the transactions open elsewhere that a new slot waits for (default: ${DEFAULT-VALUE}).")
    String lockTimeout;
    @Option(names = "--force", description = "Passed to create-slot.") boolean force;
    @Mixin Heartbeat.Options heartbeat = new Heartbeat.Options();

    /** The step objects, configured from this command's options; setup composes them and never copies their SQL. */
    List<Runbook.Step> steps() {
        CheckWal wal = new CheckWal();
        wal.db = db;
        GrantAccess grant = new GrantAccess();
        grant.db = db;
        grant.role = role;
        grant.schemas = grantedSchemas();
        grant.lockTimeout = lockTimeout;
        CreatePublication pub = new CreatePublication();
        pub.db = db;
        pub.publication = publication;
        pub.tables = tables;
        pub.schemas = tables == null ? schemas : null;
        pub.replicaIdentity = replicaIdentity;
        pub.excluded = excluded;
        pub.fullForToasted = fullForToasted;
        pub.removeUnlisted = removeUnlisted;
        pub.lockTimeout = lockTimeout;
        pub.heartbeat = heartbeat;
        pub.role = heartbeat.enabled ? role : null;
        CreateSlot createSlot = new CreateSlot();
        createSlot.db = db;
        createSlot.slot = slot;
        createSlot.publication = publication;
        createSlot.force = force;
        createSlot.lockTimeout = lockTimeout;
        return List.of(wal, grant, pub, createSlot);
    }

    /** --schema, else the schemas of the --table names, else public. */
    List<String> grantedSchemas() {
        if (schemas != null) return schemas;
        if (tables == null) return List.of("public");
        Set<String> found = new LinkedHashSet<>();
        for (String t : tables) {
            String schema = Runbook.tableName("--table", t)[0];
            if (schema == null) throw Runbook.badInput("--table '" + t + "' has no schema: write schema.table, which also "
                    + "says the schema to grant (e.g. public." + t + ")");
            found.add(schema);
        }
        return new ArrayList<>(found);
    }

    /**
     * Every step is first assessed without changing anything; only when none fails (and this is no dry run)
     * are they applied, in order, so a problem found by a late step leaves the database as it was. The grants and
     * the publication are applied in one transaction (a lock timeout or a lost connection in create-publication
     * undoes the grants too); the slot, which cannot share a transaction that has written, comes after its commit.
     */
    public Integer call() throws SQLException {
        List<Runbook.Step> steps = steps();
        for (Runbook.Step s : steps) s.validate();
        try (Connection c = db.connect()) {
            if (!out.dryRun) Runbook.serialise(c);
            List<Runbook.Outcome> preview = runAll(c, steps, true);
            Runbook.Outcome last = preview.get(preview.size() - 1);
            if (out.dryRun || last.exitCode() != Runbook.OK) {
                out.print(preview);
                return last.exitCode();
            }
            c.setAutoCommit(false);
            List<Runbook.Outcome> outcomes = runAll(c, steps, false);
            int exit = outcomes.get(outcomes.size() - 1).exitCode();
            if (!c.getAutoCommit()) c.rollback(); // a step failed before the slot: none of the changes stay
            out.print(outcomes);
            if (exit == Runbook.OK && !out.json) System.out.println("\nnext, Airbyte's source configuration:\n  " + sourceCommand());
            return exit;
        }
    }

    /** The airbyte-source command for what setup made: the same connection, slot, publication, schemas and heartbeat. */
    String sourceCommand() {
        List<String> words = new ArrayList<>(List.of("--slot", slot, "--publication", publication));
        if (role != null) words.addAll(List.of("--role", role));
        for (String s : grantedSchemas()) words.addAll(List.of("--schema", s));
        if (heartbeat.enabled) words.addAll(List.of("--heartbeat", "--heartbeat-table", heartbeat.table));
        return Invocation.current().other("airbyte-source", words) + " > source.json";
    }

    /** Runs the steps in order on one connection, up to the first that does not succeed. */
    private static List<Runbook.Outcome> runAll(Connection c, List<Runbook.Step> steps, boolean dryRun) throws SQLException {
        List<Runbook.Outcome> outcomes = new ArrayList<>();
        for (Runbook.Step s : steps) {
            if (s instanceof CreateSlot && !c.getAutoCommit()) {
                c.commit();
                c.setAutoCommit(true);
                if (outcomes.stream().anyMatch(Runbook.Outcome::applied)) Interrupts.committed("the grants and the publication");
            }
            Runbook.Outcome o;
            try {
                o = Runbook.runOn(c, s, dryRun);
            } catch (Runbook.Failure f) { // the slot comes after the commit: what came before it stays
                if (!(s instanceof CreateSlot) || outcomes.stream().noneMatch(Runbook.Outcome::applied)) throw f;
                throw f.aftermath != null && !f.aftermath.equals(Runbook.NOTHING_CHANGED) ? f
                        : f.after("the grants and the publication are in place: run setup again to make the slot");
            }
            outcomes.add(o);
            if (o.exitCode() != Runbook.OK) break;
            if (s instanceof CreatePublication && !o.plan().isEmpty()) ((CreateSlot) steps.get(3)).publicationPlanned = true;
        }
        return outcomes;
    }

    public static void main(String... args) { Runbook.launch(new Setup(), args); }
}
