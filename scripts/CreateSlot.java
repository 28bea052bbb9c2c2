///usr/bin/env jbang "$0" "$@" ; exit $?
//SOURCES lib/Runbook.java
//DESCRIPTION Create the pgoutput replication slot Airbyte reads from, after the publication (guide step: Create a replication slot)

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "create-slot", mixinStandardHelpOptions = true, version = "create-slot 1.0",
        description = {CreateSlot.DESCRIPTION,
                "Run it after create-publication: on PostgreSQL 14-17 a slot made before its publication breaks as soon "
                + "as a published table is written (\"publication does not exist\"), until it is dropped and made again.",
                "An existing slot is never dropped: it is accepted when it is logical, pgoutput, in this database and "
                + "not temporary.",
                "A new slot waits until every transaction that has written and is still open ends: --lock-timeout bounds that."},
        footer = {"%nExamples:",
                "  jbang create-slot --url \"$DATABASE_URL\"",
                "  jbang create-slot --url \"$DATABASE_URL\" --slot airbyte_slot --publication airbyte_publication --dry-run"})
class CreateSlot implements Callable<Exit> {
    static final String DESCRIPTION = "Create the pgoutput replication slot Airbyte reads from, after the publication "
            + "(guide step: Create a replication slot)";

    @Mixin Db db = new Db();
    @Mixin Output out = new Output();
    @Mixin Flags.Slot slot = new Flags.Slot();
    @Mixin Flags.Publication publication = new Flags.Publication();
    @Option(names = "--force", description = "Create the slot even though the publication does not exist yet (unsafe on "
            + "PostgreSQL 14-17).") boolean force;
    @Mixin Flags.LockTimeout lockTimeout = new Flags.LockTimeout();

    /**
     * The step's inputs. {@code publicationPlanned}: an earlier step of the same run (setup's) makes the publication,
     * so its absence now is no reason to stop.
     */
    record Options(Target target, String slot, String publication, String lockTimeout, boolean force,
                   boolean publicationPlanned, Again again) {}

    Options options() {
        return new Options(db.target(), slot.name, publication.name, lockTimeout.value, force, false, Again.typed());
    }

    static Runbook.Step step(Options o) { return new Step(o); }

    public Exit call() { return Runbook.run(step(options()), db, out); }

    public static void main(String... args) { Cli.launch(new CreateSlot(), args); }

    static final String QUERY = """
            SELECT current_setting('wal_level') AS wal_level, current_setting('max_replication_slots')::int AS max_slots,
                   (SELECT count(*) FROM pg_replication_slots)::int AS used_slots,
                   (SELECT string_agg(format('%%s (%%s, %%s)', slot_name, coalesce(plugin, slot_type),
                                             CASE WHEN active THEN 'active' ELSE 'inactive' END), ', ')
                      FROM pg_replication_slots) AS in_use,
                   s.slot_type, s.plugin, s.database, s.temporary, s.active, current_database() AS here, current_user AS me,
                   EXISTS (SELECT 1 FROM pg_publication WHERE pubname = ?) AS publication_exists,
                   (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user) AS can_replicate,
                   %s AS endpoint,
                   ARRAY(SELECT format('pid %%s (%%s)', pid, coalesce(usename, '?')) FROM pg_stat_activity
                          WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() ORDER BY age(backend_xid) DESC) AS writing
              FROM (SELECT 1) AS one LEFT JOIN pg_replication_slots s ON s.slot_name = ?""".formatted(Catalog.NEON_ENDPOINT);

    /** The step: the slot as it is, what a new one needs (wal_level, REPLICATION, a free slot), then its creation. */
    private record Step(Options o) implements Runbook.Step {
        public String name() { return "create-slot"; }

        public void validate() {
            Input.slotName(o.slot());
            Input.name("--publication", o.publication());
            Input.duration("--lock-timeout", o.lockTimeout());
            if (o.target().isPooler())
                throw Failure.badInput("host " + o.target().host + " is Neon's connection pooler, which cannot create or "
                        + "stream a replication slot: use the direct host " + o.target().directHost());
        }

        public Runbook.Reading read(Pipeline p) {
            return p.query(QUERY, Pipeline.one(this::assess), Input.name("--publication", o.publication()), o.slot())::get;
        }

        private Runbook.Assessment assess(java.sql.ResultSet rs) throws SQLException {
            String slot = o.slot(), publication = Input.name("--publication", o.publication());
            List<Runbook.Finding> f = new ArrayList<>();
            String waitsFor; // the open transactions that have written, whom a new slot waits for
            boolean neon;
            String type = rs.getString("slot_type"), plugin = rs.getString("plugin"), database = rs.getString("database");
            boolean publicationExists = rs.getBoolean("publication_exists");
            neon = Catalog.onNeon(rs.getString("endpoint"), o.target());
            // Who a new slot would wait for, oldest first (backend_xid is shown to every role; what they run is not).
            List<String> writing = List.of(Pipeline.texts(rs, "writing"));
            waitsFor = writing.isEmpty() ? "" : "; open when it looked: " + Output.few(writing);

            if (type != null) {
                List<String> wrong = new ArrayList<>();
                if (!"logical".equals(type)) wrong.add("it is a " + type + " slot");
                else if (!"pgoutput".equals(plugin)) wrong.add("its plugin is " + plugin);
                if (database != null && !database.equals(rs.getString("here"))) wrong.add("it belongs to database " + database);
                if (rs.getBoolean("temporary")) wrong.add("it is temporary");
                if (!wrong.isEmpty()) f.add(Runbook.Finding.fail("slot", slot + " exists but " + String.join(", ", wrong)
                        + ": Airbyte cannot use it", "if nothing uses it, drop it:  SELECT pg_drop_replication_slot("
                        + Input.literal(slot) + ");\nthen:  " + o.again().with() + "\nor choose another name:  "
                        + o.again().with("--slot", slot + "_2")));
                else f.add(Runbook.Finding.ok("slot", slot + " exists (pgoutput, this database, "
                        + (rs.getBoolean("active") ? "active: a client is streaming from it" : "inactive") + ")"));
                // The guide's order (slot, then publication): on 14-17 such a slot fails every reader once anything was written.
                if (wrong.isEmpty() && !publicationExists) {
                    String why = slot + " exists but publication " + publication + " does not" + (o.publicationPlanned()
                            ? " yet" : "") + ": a slot made before its publication cannot be read on PostgreSQL 14-17 "
                            + "(\"publication does not exist\") once anything was written in between";
                    String fix = "if nothing reads it yet, drop it, so that the slot is made after the publication:  "
                            + "SELECT pg_drop_replication_slot(" + Input.literal(slot) + ");\nor keep it (jbang doctor "
                            + "--deep tells whether it can be read):  " + o.again().with("--force");
                    f.add(o.force() ? Runbook.Finding.warn("publication", why, fix) : Runbook.Finding.fail("publication", why, fix));
                }
                return new Runbook.Assessment(f, Runbook.Plan.none());
            }
            if (!"logical".equals(rs.getString("wal_level")))
                f.add(Runbook.Finding.fail("wal_level", rs.getString("wal_level") + ": a logical slot needs wal_level = "
                        + "logical", "see how to enable it:  " + Invocation.current().other("check-wal", List.of())));
            if (!rs.getBoolean("can_replicate"))
                f.add(Runbook.Finding.fail("role", "the connected role has no REPLICATION attribute, which creating a "
                        + "slot needs", neon ? "connect as the role created with the Neon project (it has REPLICATION)"
                        : "as a superuser:  ALTER ROLE " + Input.ident(rs.getString("me")) + " REPLICATION;\nthen:  " + o.again().with()));
            if (rs.getInt("max_slots") <= rs.getInt("used_slots"))
                f.add(Runbook.Finding.fail("free slots", "none of max_replication_slots is free; in use: " + rs.getString("in_use"),
                        "drop one that is unused:  SELECT pg_drop_replication_slot('<name>');  or raise max_replication_slots"));
            if (publicationExists) f.add(Runbook.Finding.ok("publication", publication + " exists"));
            else if (!o.publicationPlanned()) {
                String why = "publication " + publication + " does not exist yet: a slot created before its publication "
                        + "fails with 'publication does not exist' on PostgreSQL 14-17 once a published table is written";
                String fix = "create the publication first:  " + Invocation.current().other("create-publication",
                        List.of("--publication", publication)) + "\nthen:  " + o.again().with()
                        + "\nor make the slot anyway (unsafe on PostgreSQL 14-17):  " + o.again().with("--force");
                f.add(o.force() ? Runbook.Finding.warn("publication", why, fix) : Runbook.Finding.fail("publication", why, fix));
            }
            f.add(Runbook.Finding.ok("retention", "a slot keeps WAL until its reader confirms it: connect Airbyte soon, and "
                    + "drop the slot if you stop syncing" + (neon ? "; Neon drops a slot that has not advanced for about 40 hours" : "")));
            String sql = "SELECT pg_create_logical_replication_slot(" + Input.literal(slot) + ", 'pgoutput')";
            // A slot cannot be created in a transaction that has written: it runs on its own, in autocommit. It waits for
            // every transaction that has written to end (an 'idle in transaction' session: for ever), within lock_timeout.
            return new Runbook.Assessment(f, new Runbook.Plan(List.of(Runbook.lockTimeout(o.lockTimeout(), false),
                    new Runbook.Sql(sql, "slot " + slot + " (a new slot waits for every open transaction that has written"
                            + waitsFor + ")")), false));
        }

        /** After creating: the slot as the server now reports it. */
        public Runbook.Looking verify(Pipeline p) {
            Runbook.Reading again = read(p);
            return () -> again.get().findings().stream().filter(f -> f.check().equals("slot")).toList();
        }
    }
}
