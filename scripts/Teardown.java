///usr/bin/env jbang "$0" "$@" ; exit $?
//SOURCES lib/Runbook.java lib/Revoke.java
//DESCRIPTION Remove what setup made: the replication slot (freeing its WAL), the publication; --revoke the grants, --drop-heartbeat

import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "teardown", mixinStandardHelpOptions = true, version = "teardown 1.0",
        description = {Teardown.DESCRIPTION,
                "Never drops another table, a schema, a role or any data, and never a publication that another pgoutput "
                + "slot of the database may read (unless --force).",
                "Shows what it will drop first, and asks on a terminal. Without a terminal (cron, CI, a pipe) it changes "
                + "nothing unless --yes is given, and exits 1.",
                "A slot a client is streaming from (Airbyte syncing) is refused; --force terminates that client's "
                + "walsender (pg_terminate_backend) and then drops the slot. Everything runs in one transaction, the slot "
                + "drop last: PostgreSQL does not roll a dropped slot back, so it only happens once the rest has worked.",
                "Running it again finds nothing to drop and exits 0 (already done)."},
        footer = {"%nExamples:",
                "  jbang teardown --url \"$DATABASE_URL\" --dry-run",
                "  jbang teardown --url \"$DATABASE_URL\" --yes",
                "  jbang teardown --slot airbyte_slot --publication airbyte_publication --force --yes",
                "  jbang teardown --revoke --role airbyte --schema public --schema sales --yes",
                "  jbang teardown --drop-heartbeat --heartbeat-table public.airbyte_heartbeat --yes"})
class Teardown implements Callable<Exit> {
    static final String DESCRIPTION = "Remove what setup made: the replication slot (freeing its WAL), the publication; "
            + "--revoke the grants, --drop-heartbeat";

    @Mixin Db db = new Db();
    @Mixin Output out = new Output();
    @Mixin Flags.Slot slot = new Flags.Slot();
    @Mixin Flags.Publication publication = new Flags.Publication();
    @Option(names = "--revoke", description = "Also revoke what grant-access granted --role: SELECT on the tables and USAGE "
            + "on each --schema, and its default privileges there. Never what the role has as an owner.")
    boolean revoke;
    @Option(names = "--role", paramLabel = "ROLE", description = "With --revoke (required there): the role to revoke from.")
    String role;
    @Option(names = "--schema", paramLabel = "SCHEMA", description = "With --revoke: a schema (repeatable; default: "
            + Defaults.SCHEMA + ").")
    List<String> schemas;
    @Option(names = "--drop-heartbeat", description = "Also drop the heartbeat table (only it, and only if it exists).")
    boolean dropHeartbeat;
    @Option(names = "--heartbeat-table", paramLabel = "[SCHEMA.]TABLE", defaultValue = Defaults.HEARTBEAT_TABLE,
            description = "The heartbeat table (default: ${DEFAULT-VALUE}, in whichever schema has it).")
    String heartbeatTable = Defaults.HEARTBEAT_TABLE;
    @Option(names = "--force", description = "Drop the slot even while a client streams from it (terminates that "
            + "client's walsender first: the client sees its connection end); and drop the publication even though "
            + "other pgoutput slots stay in the database, which fail at the next write if they read it.")
    boolean force;
    @Option(names = {"-y", "--yes"}, description = "Do not ask for confirmation (needed without a terminal).")
    boolean yes;
    @Mixin Flags.LockTimeout lockTimeout = new Flags.LockTimeout();

    /** The step's inputs: what to drop, and what to revoke from whom (revokeFrom null: nothing). */
    record Options(String slot, String publication, String revokeFrom, List<String> schemas, String heartbeatTable,
                   boolean force, String lockTimeout) {}

    Options options() {
        if (!revoke && (role != null || schemas != null))
            throw Failure.badInput("--role and --schema only say what --revoke revokes: add --revoke, or leave them out");
        if (revoke && role == null)
            throw Failure.badInput("--revoke needs --role: the role whose grants to revoke (the one Airbyte connected as)");
        return new Options(slot.name, publication.name, revoke ? role : null, schemas, dropHeartbeat ? heartbeatTable : null,
                force, lockTimeout.value);
    }

    /**
     * Asks on a terminal; without one, and without --yes, changes nothing and exits 1. The slot is dropped in the
     * run that is confirmed, which looks again: what it drops is what it finds then.
     */
    public Exit call() throws SQLException {
        Runbook.Step step = new Step(options());
        step.validate();
        Input.tableName("--heartbeat-table", heartbeatTable);
        try (Connection c = db.connect()) {
            if (!out.dryRun) Catalog.serialise(c);
            if (yes || out.dryRun)
                return print(Runbook.runOn(c, step, out.dryRun ? Runbook.Mode.DRY_RUN : Runbook.Mode.APPLY, Runbook.Transaction.OWN));
            Runbook.Outcome preview = Runbook.runOn(c, step, Runbook.Mode.DRY_RUN, Runbook.Transaction.OWN);
            if (preview.exit() != Exit.OK || preview.plan().isEmpty()) return print(preview);
            if (!terminal()) {
                List<Runbook.Finding> f = new ArrayList<>(preview.findings());
                f.add(Runbook.Finding.fail("confirmation", "nothing changed: there is no terminal to confirm on",
                        "to drop what is listed above:  " + Invocation.current().again("--yes") + "\n-- which runs:\n"
                        + preview.plan().script().strip().replaceAll("(?m)^", "--   ")));
                print(new Runbook.Outcome(step.name(), Exit.NOT_READY, f, Runbook.Plan.none(), false));
                System.err.println("teardown: nothing changed: no terminal to ask for confirmation; run again with --yes "
                        + "to drop what is listed above");
                return Exit.NOT_READY;
            }
            print(preview); // what it will drop; the SQL is --dry-run's
            Progress.phase(null);
            if (!Boolean.TRUE.equals(ask("Drop all of the above?"))) {
                System.err.println("teardown: nothing changed (not confirmed)");
                return Exit.NOT_READY;
            }
            return print(Runbook.runOn(c, step, Runbook.Mode.APPLY, Runbook.Transaction.OWN));
        }
    }

    private Exit print(Runbook.Outcome o) {
        out.print(List.of(o));
        return o.exit();
    }

    /** Overridden by tests, which have no terminal. */
    boolean terminal() { return Cli.terminal(); }

    Boolean ask(String question) { return Cli.confirm(question); }

    public static void main(String... args) { Cli.launch(new Teardown(), args); }

    /** The slot, who streams from it, the publication, the heartbeat table candidates: one row. */
    static final String OBJECTS = """
            SELECT current_user AS me, (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user) AS can_replicate,
                   s.slot_name IS NOT NULL AS slot_exists, s.slot_type, s.plugin, s.database, current_database() AS here,
                   s.active, s.active_pid, pg_size_pretty(pg_wal_lsn_diff(%s, s.restart_lsn)) AS frees,
                   a.usename, a.application_name, host(a.client_addr) AS client,
                   p.oid IS NOT NULL AS publication_exists, pg_get_userbyid(p.pubowner) AS publication_owner,
                   pg_has_role(current_user, p.pubowner, 'USAGE') AS publication_owned,
                   (SELECT count(*) FROM pg_publication_rel r WHERE r.prpubid = p.oid) AS published,
                   h.schemas, h.kinds, h.owners, h.owned,
                   ARRAY(SELECT o.slot_name::text FROM pg_replication_slots o
                          WHERE o.database = current_database() AND o.plugin = 'pgoutput' ORDER BY 1) AS pgoutput_slots
              FROM (SELECT 1) one
              LEFT JOIN pg_replication_slots s ON s.slot_name = ?
              LEFT JOIN pg_stat_activity a ON a.pid = s.active_pid
              LEFT JOIN pg_publication p ON p.pubname = ?
              LEFT JOIN LATERAL (
                   SELECT array_agg(n.nspname::text ORDER BY n.nspname) schemas, array_agg(c.relkind::text ORDER BY n.nspname) kinds,
                          array_agg(pg_get_userbyid(c.relowner)::text ORDER BY n.nspname) owners,
                          array_agg(pg_has_role(current_user, c.relowner, 'USAGE') ORDER BY n.nspname) owned
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE c.relname = ?::text AND n.nspname::text = coalesce(?::text, n.nspname::text)
                      AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)') h ON true
            """.formatted(Catalog.CURRENT_LSN);

    /** The step: what of the slot, the publication, the grants and the heartbeat table is there to drop, and may be. */
    private record Step(Options o) implements Runbook.Step {
        public String name() { return "teardown"; }

        public void validate() {
            Input.slotName(o.slot());
            Input.name("--publication", o.publication());
            Input.duration("--lock-timeout", o.lockTimeout());
            if (o.revokeFrom() != null) { Input.name("--role", o.revokeFrom()); Input.schemas(o.schemas()); }
        }

        /** What the one-row read of the slot, the publication and the heartbeat table comes to. */
        private record Drops(List<Runbook.Finding> findings, List<Runbook.Sql> drops, List<Runbook.Sql> slotSql) {}

        public Runbook.Reading read(Pipeline p) {
            validate();
            String slot = o.slot(), publication = Input.name("--publication", o.publication()), pub = Input.ident(publication);
            String[] heartbeat = o.heartbeatTable() == null ? new String[2] : Input.tableName("--heartbeat-table", o.heartbeatTable());
            Pipeline.Answer<Drops> objects = p.query(OBJECTS, Pipeline.one(rs -> {
                List<Runbook.Finding> f = new ArrayList<>();
                List<Runbook.Sql> drops = new ArrayList<>(), slotSql = new ArrayList<>();
                String me = Input.ident(rs.getString("me"));
                List<String> others = List.of(Pipeline.texts(rs, "pgoutput_slots"));
                slot(f, slotSql, rs, others, me);
                publication(f, drops, rs, others, me, pub);
                if (o.heartbeatTable() != null) heartbeat(f, drops, heartbeat, rs, me);
                return new Drops(f, drops, slotSql);
            }), slot, publication, heartbeat[1], heartbeat[0]);
            Pipeline.Answer<Revoke.Found> revoke = o.revokeFrom() == null ? null
                    : new Revoke(Input.name("--role", o.revokeFrom()), Input.schemas(o.schemas())).read(p);
            return () -> {
                Drops found = objects.get();
                List<Runbook.Finding> f = new ArrayList<>(found.findings());
                List<Runbook.Sql> plan = new ArrayList<>();
                if (revoke != null) {
                    f.addAll(revoke.get().findings());
                    plan.addAll(revoke.get().plan());
                }
                plan.addAll(found.drops());
                // Last: pg_drop_replication_slot may run in a transaction but is not rolled back with it.
                plan.addAll(found.slotSql());
                if (!plan.isEmpty()) plan.add(0, Runbook.lockTimeout(o.lockTimeout(), true));
                return new Runbook.Assessment(f, new Runbook.Plan(plan, true));
            };
        }

        /** The slot: only a logical pgoutput slot of this database, never one a client streams from unless --force. */
        private void slot(List<Runbook.Finding> f, List<Runbook.Sql> slotSql, java.sql.ResultSet rs, List<String> others,
                          String me) throws SQLException {
            String slot = o.slot(), s = Input.literal(slot);
            if (!rs.getBoolean("slot_exists")) {
                if (others.isEmpty()) f.add(Runbook.Finding.ok("slot", "no slot " + slot + ": nothing to drop"));
                else f.add(Runbook.Finding.warn("slot", "no slot " + slot + ", but this database has pgoutput slot(s) "
                        + Output.few(others) + ": if one is Airbyte's, it stays and keeps holding WAL",
                        "to drop it too:  " + Invocation.current().replacing("--slot", others.get(0))));
                return;
            }
            String type = rs.getString("slot_type"), plugin = rs.getString("plugin");
            long pid = rs.getLong("active_pid");
            String frees = rs.getString("frees") == null ? "" : "; frees the " + rs.getString("frees") + " of WAL it holds";
            if (!"logical".equals(type) || !"pgoutput".equals(plugin))
                f.add(Runbook.Finding.fail("slot", slot + " is " + ("logical".equals(type) ? "a " + plugin + " slot"
                        : "a " + type + " slot") + ", not the pgoutput slot setup makes: left alone",
                        "if nothing uses it, drop it:  SELECT pg_drop_replication_slot(" + s + ");\nthen:  "
                        + Invocation.current().again() + "\n(or give the right --slot)"));
            else if (!rs.getString("database").equals(rs.getString("here")))
                // First the way that stays in this database: the slot is another database's CDC, maybe in use.
                f.add(Runbook.Finding.fail("slot", slot + " belongs to database " + rs.getString("database") + " (its CDC, "
                        + "not this database's), and a logical slot can only be dropped from its own database",
                        (others.isEmpty() ? "give the slot of this database with --slot (this database has no pgoutput slot)"
                        : "if this database's slot is " + others.get(0) + ":  " + Invocation.current().replacing("--slot", others.get(0)))
                        + "\nonly to tear down database " + rs.getString("database") + "'s CDC (check that nothing syncs from it "
                        + "any more): run teardown again connected to it (--dbname " + Invocation.shell(rs.getString("database")) + ")"));
            else if (!rs.getBoolean("can_replicate"))
                f.add(Runbook.Finding.fail("slot", me + " has no REPLICATION attribute, which dropping a slot needs",
                        "connect as the role that created the slot (it has REPLICATION)"));
            else {
                String who = "pid " + pid + client(rs.getString("usename"), rs.getString("application_name"), rs.getString("client"));
                if (rs.getBoolean("active") && !o.force())
                    f.add(Runbook.Finding.fail("slot", slot + " is active: " + who + " is streaming from it (Airbyte "
                            + "syncing?)", "stop that client (pause the Airbyte connection), then:  " + Invocation.current().again()
                            + "\nor terminate pid " + pid + " and drop the slot:  " + Invocation.current().again("--force")));
                else {
                    if (rs.getBoolean("active")) {
                        f.add(Runbook.Finding.warn("slot", slot + " is active: --force terminates the walsender of its "
                                + "client, " + who + ", then drops the slot", null));
                        // Only while that pid still holds this slot: a pid reused by another process is left alone.
                        slotSql.add(new Runbook.Sql("SELECT pg_terminate_backend(active_pid, 10000) FROM "
                                + "pg_replication_slots WHERE slot_name = " + s + " AND active_pid = " + pid, "slot " + slot));
                    }
                    slotSql.add(new Runbook.Sql("SELECT pg_drop_replication_slot(" + s + ")", "slot " + slot));
                    f.add(Runbook.Finding.ok("slot", "drops " + slot + frees));
                }
            }
        }

        /** The publication: never while a pgoutput slot that stays may be reading it (unless --force). */
        private void publication(List<Runbook.Finding> f, List<Runbook.Sql> drops, java.sql.ResultSet rs, List<String> others,
                                 String me, String p) throws SQLException {
            if (!rs.getBoolean("publication_exists")) {
                f.add(Runbook.Finding.ok("publication", "no publication " + p + ": nothing to drop"));
                return;
            }
            String owner = rs.getString("publication_owner");
            if (!rs.getBoolean("publication_owned")) {
                f.add(Runbook.Finding.fail("publication", p + " is owned by " + Input.ident(owner) + ", not by " + me
                        + " or a role it belongs to", Catalog.membership(List.of(owner), me, Invocation.current().again())));
                return;
            }
            // The --slot itself, when it stays, has its own failure (a client streams from it, say): only the others count.
            List<String> orphaned = others.stream().filter(x -> !x.equals(o.slot())).toList();
            String drop = "drops " + p + " (" + rs.getLong("published") + " table(s) in it; the tables and their rows stay)";
            if (orphaned.isEmpty() || o.force()) drops.add(new Runbook.Sql("DROP PUBLICATION " + p, "publication " + p));
            if (orphaned.isEmpty()) {
                f.add(Runbook.Finding.ok("publication", drop));
                return;
            }
            String left = "pgoutput slot(s) " + Output.few(orphaned) + (orphaned.size() == 1 ? " stays" : " stay")
                    + " in this database; if one reads " + p + ", every reader of it fails with \"publication does not "
                    + "exist\" at the next write (for ever, on PostgreSQL 14-17)";
            f.add(o.force() ? Runbook.Finding.warn("publication", drop + ", with --force, although " + left, null)
                    : Runbook.Finding.fail("publication", "not dropped: " + left, "if " + orphaned.get(0) + " is Airbyte's "
                    + "slot, drop both:  " + Invocation.current().replacing("--slot", orphaned.get(0))
                    + (orphaned.size() > 1 ? "\n(and drop the other slots first:  " + String.join(" ", orphaned.stream().skip(1)
                    .map(x -> "SELECT pg_drop_replication_slot(" + Input.literal(x) + ");").toList()) + ")" : "")
                    + "\nor, if no slot reads " + p + ", drop it anyway:  " + Invocation.current().again("--force")));
        }

        private static String client(String user, String application, String address) {
            List<String> parts = new ArrayList<>();
            if (user != null) parts.add("user " + user);
            if (application != null && !application.isEmpty()) parts.add("application " + application);
            if (address != null) parts.add("from " + address);
            return parts.isEmpty() ? "" : " (" + String.join(", ", parts) + ")";
        }

        /** Exactly one table of that name, a plain table, one we may drop: else a finding, and nothing planned. */
        private void heartbeat(List<Runbook.Finding> f, List<Runbook.Sql> drops, String[] name, java.sql.ResultSet rs,
                               String me) throws SQLException {
            String shown = name[0] == null ? Input.ident(name[1]) : Input.qualified(name[0], name[1]);
            if (rs.getArray("schemas") == null) { f.add(Runbook.Finding.ok("heartbeat", "no table " + shown + ": nothing to drop")); return; }
            String[] schemas = Pipeline.texts(rs, "schemas"), kinds = Pipeline.texts(rs, "kinds");
            String[] owners = Pipeline.texts(rs, "owners");
            Boolean[] owned = (Boolean[]) rs.getArray("owned").getArray();
            if (schemas.length > 1)
                throw Failure.badInput("--heartbeat-table " + shown + " is in several schemas (" + String.join(", ",
                        java.util.Arrays.stream(schemas).map(Input::ident).toList()) + "): write it as schema.table");
            String table = Input.qualified(schemas[0], name[1]);
            if (!kinds[0].equals("r"))
                f.add(Runbook.Finding.fail("heartbeat", table + " is not a plain table (relkind " + kinds[0] + "): left alone",
                        "give the heartbeat table's name with --heartbeat-table SCHEMA.TABLE, or leave out --drop-heartbeat"));
            else if (!owned[0])
                f.add(Runbook.Finding.fail("heartbeat", table + " is owned by " + Input.ident(owners[0]) + ", not by " + me,
                        Catalog.membership(List.of(owners[0]), me, Invocation.current().again())));
            else {
                // No CASCADE: a view or foreign key that depends on it makes the drop fail and nothing change.
                drops.add(new Runbook.Sql("DROP TABLE " + table, "table " + table, List.of(table), Locks.ACCESS_EXCLUSIVE));
                f.add(Runbook.Finding.ok("heartbeat", "drops table " + table + " (the heartbeat)"));
            }
        }

        /** After dropping, on the same connection: a second look finds nothing left to drop. */
        public Runbook.Looking verify(Pipeline p) {
            // Not in the drops' pipeline: the slot's drop is not undone with their transaction, so a look that failed
            // there could not say what stays. Its own pipeline, once they are committed.
            return () -> {
                Pipeline after = new Pipeline(p.connection());
                Runbook.Reading reading = read(after);
                after.run();
                Runbook.Assessment again = reading.get();
                if (again.plan().isEmpty() && !again.failed())
                    return List.of(Runbook.Finding.ok("verified", "a second look finds nothing left to drop"));
                return List.of(Runbook.Finding.fail("verified", "still there after teardown: " + String.join(", ", again.plan()
                        .statements().stream().map(x -> x.subject() == null ? x.text() : x.subject()).distinct().toList()),
                        "run teardown again and read its findings"));
            };
        }
    }
}
