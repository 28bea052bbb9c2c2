///usr/bin/env jbang "$0" "$@" ; exit $?
//SOURCES Runbook.java
//DESCRIPTION Create the pgoutput replication slot Airbyte reads from (guide step: Create a replication slot)

import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "create-slot", mixinStandardHelpOptions = true, version = "create-slot 1.0",
        description = {"Creates the logical replication slot Airbyte reads changes from, with the pgoutput plugin.",
                "Run it after create-publication: on PostgreSQL 14-17 a slot made before its publication breaks as soon "
                + "as a published table is written (\"publication does not exist\"), until it is dropped and made again.",
                "An existing slot is never dropped: it is accepted when it is logical, pgoutput, in this database and "
                + "not temporary.",
                "A new slot waits until every transaction that has written and is still open ends: --lock-timeout bounds that."},
        footer = {"%nExamples:",
                "  jbang create-slot --url \"$DATABASE_URL\"",
                "  jbang create-slot --url \"$DATABASE_URL\" --slot airbyte_slot --publication airbyte_publication --dry-run"})
class CreateSlot implements Callable<Integer>, Runbook.Step {
    @Mixin Db db = new Db();
    @Mixin Runbook.Output out = new Runbook.Output();
    @Option(names = "--slot", defaultValue = "airbyte_slot", description = "Slot name: lower-case letters, digits and "
            + "underscores, at most 63 (default: ${DEFAULT-VALUE}).")
    String slot;
    @Option(names = "--publication", defaultValue = "airbyte_publication", description = "The publication Airbyte "
            + "will read through; it must exist first (default: ${DEFAULT-VALUE}).")
    String publication;
    @Option(names = "--force", description = "Create the slot even though the publication does not exist yet (unsafe on PostgreSQL 14-17).")
    boolean force;
    @Option(names = "--lock-timeout", defaultValue = "5s", paramLabel = "DURATION", description = "Give up when a "
            + "transaction open elsewhere keeps the new slot waiting this long: a slot waits for every transaction that "
            + "has written and not ended yet. Digits with ms, s or min (default: ${DEFAULT-VALUE}).")
    String lockTimeout = "5s";
    /** Set by setup: the publication is made by an earlier step of the same run. */
    boolean publicationPlanned;
    /** How to say "run this again with ...": this command line by default; doctor gives the step's own command. */
    java.util.function.Function<String[], String> again = extra -> Invocation.current().again(extra);

    public String name() { return "create-slot"; }

    public void validate() {
        Runbook.slotName(slot);
        publication = Runbook.name("--publication", publication);
        Runbook.duration("--lock-timeout", lockTimeout);
        if (db.target().isPooler())
            throw Runbook.badInput("host " + db.target().host + " is Neon's connection pooler, which cannot create or "
                    + "stream a replication slot: use the direct host " + db.target().directHost());
    }

    static final String QUERY = """
            SELECT current_setting('wal_level'), current_setting('max_replication_slots')::int,
                   (SELECT count(*) FROM pg_replication_slots)::int,
                   (SELECT string_agg(format('%s (%s, %s)', slot_name, coalesce(plugin, slot_type),
                                             CASE WHEN active THEN 'active' ELSE 'inactive' END), ', ')
                      FROM pg_replication_slots),
                   s.slot_type, s.plugin, s.database, s.temporary, s.active, current_database(),
                   EXISTS (SELECT 1 FROM pg_publication WHERE pubname = ?),
                   (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user),
                   coalesce(current_setting('neon.endpoint_id', true), '') <> '',
                   ARRAY(SELECT format('pid %s (%s)', pid, coalesce(usename, '?')) FROM pg_stat_activity
                          WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() ORDER BY age(backend_xid) DESC)
              FROM (SELECT 1) AS one LEFT JOIN pg_replication_slots s ON s.slot_name = ?""";

    public Runbook.Assessment assess(Connection c) throws SQLException {
        List<Runbook.Finding> f = new ArrayList<>();
        String waitsFor; // the open transactions that have written, whom a new slot waits for
        boolean neon;
        try (var st = c.prepareStatement(QUERY)) {
            st.setString(1, publication);
            st.setString(2, slot);
            try (var rs = st.executeQuery()) {
                rs.next();
                String walLevel = rs.getString(1), inUse = rs.getString(4), type = rs.getString(5), plugin = rs.getString(6);
                String database = rs.getString(7), thisDatabase = rs.getString(10);
                boolean exists = type != null, temporary = rs.getBoolean(8), active = rs.getBoolean(9);
                boolean publicationExists = rs.getBoolean(11), canReplicate = rs.getBoolean(12);
                neon = rs.getBoolean(13) || db.target().isNeonHost();
                int free = rs.getInt(2) - rs.getInt(3);
                // Who a new slot would wait for, oldest first (backend_xid is shown to every role; what they run is not).
                List<String> writing = List.of((String[]) rs.getArray(14).getArray());
                waitsFor = writing.isEmpty() ? "" : "; open when it looked: " + Runbook.few(writing, ", ");

                if (exists) {
                    List<String> wrong = new ArrayList<>();
                    if (!"logical".equals(type)) wrong.add("it is a " + type + " slot");
                    else if (!"pgoutput".equals(plugin)) wrong.add("its plugin is " + plugin);
                    if (database != null && !database.equals(thisDatabase)) wrong.add("it belongs to database " + database);
                    if (temporary) wrong.add("it is temporary");
                    if (!wrong.isEmpty()) f.add(Runbook.Finding.fail("slot", slot + " exists but " + String.join(", ", wrong)
                            + ": Airbyte cannot use it", "choose another name with --slot, or, if nothing uses it, drop it "
                            + "and run create-slot again: SELECT pg_drop_replication_slot(" + Runbook.literal(slot) + ");"));
                    else f.add(Runbook.Finding.ok("slot", slot + " exists (pgoutput, this database, "
                            + (active ? "active: a client is streaming from it" : "inactive") + ")"));
                    // The guide's order (slot, then publication): on 14-17 such a slot fails every reader once anything was written.
                    if (wrong.isEmpty() && !publicationExists) {
                        String why = slot + " exists but publication " + publication + " does not" + (publicationPlanned
                                ? " yet" : "") + ": a slot made before its publication cannot be read on PostgreSQL 14-17 "
                                + "(\"publication does not exist\") once anything was written in between";
                        String fix = "if nothing reads it yet, drop it, so that the slot is made after the publication:  "
                                + "SELECT pg_drop_replication_slot(" + Runbook.literal(slot) + ");\nor keep it (jbang doctor "
                                + "--deep tells whether it can be read):  " + again.apply(new String[] {"--force"});
                        f.add(force ? Runbook.Finding.warn("publication", why, fix) : Runbook.Finding.fail("publication", why, fix));
                    }
                    return new Runbook.Assessment(f, Runbook.Plan.none());
                }
                if (!walLevel.equals("logical"))
                    f.add(Runbook.Finding.fail("wal_level", walLevel + ": a logical slot needs wal_level = logical", "see how to enable it:  " + Invocation.current().other("check-wal", List.of())));
                if (!canReplicate)
                    f.add(Runbook.Finding.fail("role", "the connected role has no REPLICATION attribute, which creating a slot needs",
                            neon ? "connect as the role created with the Neon project (it has REPLICATION)" : "ALTER ROLE <you> REPLICATION; (as a superuser)"));
                if (free <= 0)
                    f.add(Runbook.Finding.fail("free slots", "none of max_replication_slots is free; in use: " + inUse,
                            "drop one that is unused: SELECT pg_drop_replication_slot('<name>');  or raise max_replication_slots"));
                if (publicationExists) f.add(Runbook.Finding.ok("publication", publication + " exists"));
                else if (!publicationPlanned) {
                    String why = "publication " + publication + " does not exist yet: a slot created before its publication "
                            + "fails with 'publication does not exist' on PostgreSQL 14-17 once a published table is written";
                    String fix = "create the publication first:  " + Invocation.current().other("create-publication",
                            List.of("--publication", publication)) + "\nthen:  " + again.apply(new String[0])
                            + "\nor make the slot anyway (unsafe on PostgreSQL 14-17):  " + again.apply(new String[] {"--force"});
                    f.add(force ? Runbook.Finding.warn("publication", why, fix) : Runbook.Finding.fail("publication", why, fix));
                }
            }
        }
        f.add(Runbook.Finding.ok("retention", "a slot keeps WAL until its reader confirms it: connect Airbyte soon, and "
                + "drop the slot if you stop syncing" + (neon ? "; Neon drops a slot that has not "
                + "advanced for about 40 hours" : "")));
        String sql = "SELECT pg_create_logical_replication_slot(" + Runbook.literal(slot) + ", 'pgoutput')";
        // A slot cannot be created in a transaction that has written: it runs on its own, in autocommit. It waits for
        // every transaction that has written to end (an 'idle in transaction' session: for ever), within lock_timeout.
        return new Runbook.Assessment(f, new Runbook.Plan(List.of(
                Runbook.lockTimeout(lockTimeout, false),
                new Runbook.Sql(sql, "slot " + slot + " (a new slot waits for every open transaction that has written" + waitsFor + ")")), false));
    }

    /** After creating: the slot as the server now reports it. */
    public List<Runbook.Finding> verify(Connection c) throws SQLException {
        return assess(c).findings().stream().filter(f -> f.check().equals("slot")).toList();
    }

    public Integer call() { return Runbook.run(this, db, out); }

    public static void main(String... args) { Runbook.launch(new CreateSlot(), args); }
}
