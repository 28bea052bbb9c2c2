///usr/bin/env jbang "$0" "$@" ; exit $?
//SOURCES Runbook.java
//DESCRIPTION Remove what setup made: the replication slot, the publication, and on request the grants and the heartbeat table

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "teardown", mixinStandardHelpOptions = true, version = "teardown 1.0",
        description = {"Removes what setup made: the replication slot (which frees the WAL it holds) and the publication; "
                + "with --revoke the grants grant-access made to --role on --schema; with --drop-heartbeat the heartbeat "
                + "table. Never drops another table, a schema, a role or any data.",
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
class Teardown implements Callable<Integer>, Runbook.Step {
    @Mixin Db db = new Db();
    @Mixin Runbook.Output out = new Runbook.Output();
    @Option(names = "--slot", defaultValue = "airbyte_slot", description = "The replication slot to drop (default: ${DEFAULT-VALUE}).")
    String slot = "airbyte_slot";
    @Option(names = "--publication", defaultValue = "airbyte_publication", description = "The publication to drop "
            + "(default: ${DEFAULT-VALUE}); its tables and their data stay.")
    String publication = "airbyte_publication";
    @Option(names = "--revoke", description = "Also revoke what grant-access granted --role: SELECT on the tables and USAGE "
            + "on each --schema, and its default privileges there. Never what the role has as an owner.")
    boolean revoke;
    @Option(names = "--role", paramLabel = "ROLE", description = "With --revoke (required there): the role to revoke from.")
    String role;
    @Option(names = "--schema", paramLabel = "SCHEMA", description = "With --revoke: a schema (repeatable; default: public).")
    List<String> schemas;
    @Option(names = "--drop-heartbeat", description = "Also drop the heartbeat table (only it, and only if it exists).")
    boolean dropHeartbeat;
    @Option(names = "--heartbeat-table", paramLabel = "[SCHEMA.]TABLE", defaultValue = "airbyte_heartbeat",
            description = "The heartbeat table (default: ${DEFAULT-VALUE}, in whichever schema has it).")
    String heartbeatTable = "airbyte_heartbeat";
    @Option(names = "--force", description = "Drop the slot even while a client streams from it (terminates that "
            + "client's walsender first: the client sees its connection end); and drop the publication even though "
            + "other pgoutput slots stay in the database, which fail at the next write if they read it.")
    boolean force;
    @Option(names = {"-y", "--yes"}, description = "Do not ask for confirmation (needed without a terminal).")
    boolean yes;
    @Option(names = "--lock-timeout", defaultValue = "5s", paramLabel = "DURATION", description = "Give up, changing "
            + "nothing, when the heartbeat table or a schema stays locked by another session this long (an open "
            + "transaction that read it): digits with ms, s or min (default: ${DEFAULT-VALUE}).")
    String lockTimeout = "5s";

    public String name() { return "teardown"; }

    public void validate() {
        Runbook.slotName(slot);
        Runbook.name("--publication", publication);
        Runbook.tableName("--heartbeat-table", heartbeatTable);
        Runbook.duration("--lock-timeout", lockTimeout);
        if (!revoke && (role != null || schemas != null))
            throw Runbook.badInput("--role and --schema only say what --revoke revokes: add --revoke, or leave them out");
        if (revoke && role == null)
            throw Runbook.badInput("--revoke needs --role: the role whose grants to revoke (the one Airbyte connected as)");
        if (revoke) { Runbook.name("--role", role); schemaNames(); }
    }

    List<String> schemaNames() {
        if (schemas == null || schemas.isEmpty()) return List.of("public");
        LinkedHashSet<String> names = new LinkedHashSet<>();
        for (String s : schemas) names.add(Runbook.name("--schema", s));
        return List.copyOf(names);
    }

    /** The slot, who streams from it, the publication, the heartbeat table candidates: one row. */
    static final String OBJECTS = """
            SELECT current_user, (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user),
                   s.slot_name IS NOT NULL, s.slot_type, s.plugin, s.database, current_database(), s.active, s.active_pid,
                   pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END,
                                   s.restart_lsn),
                   pg_size_pretty(pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
                                                       ELSE pg_current_wal_lsn() END, s.restart_lsn)),
                   a.usename, a.application_name, host(a.client_addr),
                   p.oid IS NOT NULL, pg_get_userbyid(p.pubowner), pg_has_role(current_user, p.pubowner, 'USAGE'),
                   (SELECT count(*) FROM pg_publication_rel r WHERE r.prpubid = p.oid),
                   h.schemas, h.kinds, h.owners, h.owned,
                   ARRAY(SELECT o.slot_name::text FROM pg_replication_slots o
                          WHERE o.database = current_database() AND o.plugin = 'pgoutput' ORDER BY 1)
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
                      AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)') h ON true""";

    public Runbook.Assessment assess(Connection c) throws SQLException {
        validate();
        List<Runbook.Finding> f = new ArrayList<>();
        List<Runbook.Sql> drops = new ArrayList<>(), slotSql = new ArrayList<>();
        String[] heartbeat = Runbook.tableName("--heartbeat-table", heartbeatTable);
        String s = Runbook.literal(slot), p = Runbook.ident(Runbook.name("--publication", publication));
        try (PreparedStatement ps = c.prepareStatement(OBJECTS)) {
            ps.setString(1, slot);
            ps.setString(2, Runbook.name("--publication", publication));
            ps.setString(3, dropHeartbeat ? heartbeat[1] : null);
            ps.setString(4, heartbeat[0]);
            try (var rs = ps.executeQuery()) {
                rs.next();
                String me = Runbook.ident(rs.getString(1));
                boolean canReplicate = rs.getBoolean(2);

                // The slot.
                List<String> others = List.of((String[]) rs.getArray(23).getArray());
                if (!rs.getBoolean(3) && !others.isEmpty())
                    f.add(Runbook.Finding.warn("slot", "no slot " + slot + ", but this database has pgoutput slot(s) "
                            + Runbook.few(others, ", ") + ": if one is Airbyte's, it stays and keeps holding WAL",
                            "to drop it too:  " + Invocation.current().replacing("--slot", others.get(0))));
                else if (!rs.getBoolean(3)) f.add(Runbook.Finding.ok("slot", "no slot " + slot + ": nothing to drop"));
                else {
                    String type = rs.getString(4), plugin = rs.getString(5), database = rs.getString(6);
                    boolean active = rs.getBoolean(8);
                    long pid = rs.getLong(9);
                    String frees = rs.getString(11) == null ? "" : "; frees the " + rs.getString(11) + " of WAL it holds";
                    if (!"logical".equals(type) || !"pgoutput".equals(plugin))
                        f.add(Runbook.Finding.fail("slot", slot + " is " + ("logical".equals(type) ? "a " + plugin + " slot"
                                : "a " + type + " slot") + ", not the pgoutput slot setup makes: left alone",
                                "choose the right --slot; if nothing uses this one:  SELECT pg_drop_replication_slot(" + s + ");"));
                    else if (!database.equals(rs.getString(7)))
                        f.add(Runbook.Finding.fail("slot", slot + " belongs to database " + database + ", and a logical slot can "
                                + "only be dropped from its own database", "run teardown again connected to database " + database));
                    else if (!canReplicate)
                        f.add(Runbook.Finding.fail("slot", me + " has no REPLICATION attribute, which dropping a slot needs",
                                "connect as the role that created the slot (it has REPLICATION)"));
                    else {
                        String who = "pid " + pid + client(rs.getString(12), rs.getString(13), rs.getString(14));
                        if (active && !force)
                            f.add(Runbook.Finding.fail("slot", slot + " is active: " + who + " is streaming from it (Airbyte "
                                    + "syncing?)", "stop that client (pause the Airbyte connection) and run teardown again, or "
                                    + "run again with --force to terminate pid " + pid + " and drop the slot"));
                        else {
                            if (active) {
                                f.add(Runbook.Finding.warn("slot", slot + " is active: --force terminates the walsender of "
                                        + "its client, " + who + ", then drops the slot", null));
                                // Only while that pid still holds this slot: a pid reused by another process is left alone.
                                slotSql.add(new Runbook.Sql("SELECT pg_terminate_backend(active_pid, 10000) FROM "
                                        + "pg_replication_slots WHERE slot_name = " + s + " AND active_pid = " + pid, "slot " + slot));
                            }
                            slotSql.add(new Runbook.Sql("SELECT pg_drop_replication_slot(" + s + ")", "slot " + slot));
                            f.add(Runbook.Finding.ok("slot", "drops " + slot + frees));
                        }
                    }
                }

                // The publication.
                if (!rs.getBoolean(15)) f.add(Runbook.Finding.ok("publication", "no publication " + p + ": nothing to drop"));
                else if (!rs.getBoolean(17))
                    f.add(Runbook.Finding.fail("publication", p + " is owned by " + Runbook.ident(rs.getString(16)) + ", not by "
                            + me + " or a role it belongs to", Runbook.membership(List.of(rs.getString(16)), me, Invocation.current().again())));
                else {
                    // A pgoutput slot left behind may be reading this publication: it would fail for ever at the next write.
                    List<String> orphaned = others.stream().filter(o -> slotSql.isEmpty() || !o.equals(slot)).toList();
                    String drop = "drops " + p + " (" + rs.getLong(18) + " table(s) in it; the tables and their rows stay)";
                    if (orphaned.isEmpty() || force) drops.add(new Runbook.Sql("DROP PUBLICATION " + p, "publication " + p));
                    if (orphaned.isEmpty()) f.add(Runbook.Finding.ok("publication", drop));
                    else {
                        String left = "pgoutput slot(s) " + Runbook.few(orphaned, ", ") + (orphaned.size() == 1 ? " stays" : " stay")
                                + " in this database; if one reads " + p + ", every reader of it fails with \"publication "
                                + "does not exist\" at the next write (for ever, on PostgreSQL 14-17)";
                        f.add(force ? Runbook.Finding.warn("publication", drop + ", with --force, although " + left, null)
                                : Runbook.Finding.fail("publication", "not dropped: " + left, "if " + orphaned.get(0)
                                + " is Airbyte's slot, drop both:  " + Invocation.current().replacing("--slot", orphaned.get(0))
                                + (orphaned.size() > 1 ? "\n(and drop the other slots first:  " + orphaned.stream().skip(1)
                                .map(o -> "SELECT pg_drop_replication_slot(" + Runbook.literal(o) + ");").collect(java.util.stream.Collectors.joining(" ")) + ")" : "")
                                + "\nor, if no slot reads " + p + ", drop it anyway:  " + Invocation.current().again("--force")));
                    }
                }

                if (dropHeartbeat) heartbeat(f, drops, heartbeat, rs, me);
            }
        }
        List<Runbook.Sql> plan = new ArrayList<>();
        if (revoke) plan.addAll(new Revoke(Runbook.name("--role", role), schemaNames()).assess(c, f));
        plan.addAll(drops);
        // Last: pg_drop_replication_slot may run in a transaction but is not rolled back with it.
        plan.addAll(slotSql);
        if (!plan.isEmpty()) plan.add(0, Runbook.lockTimeout(lockTimeout, true));
        return new Runbook.Assessment(f, new Runbook.Plan(plan, true));
    }

    private static String client(String user, String application, String address) {
        List<String> parts = new ArrayList<>();
        if (user != null) parts.add("user " + user);
        if (application != null && !application.isEmpty()) parts.add("application " + application);
        if (address != null) parts.add("from " + address);
        return parts.isEmpty() ? "" : " (" + String.join(", ", parts) + ")";
    }

    /** Exactly one table of that name, a plain table, one we may drop: else a finding, and nothing planned. */
    private void heartbeat(List<Runbook.Finding> f, List<Runbook.Sql> drops, String[] name, java.sql.ResultSet rs, String me)
            throws SQLException {
        String shown = name[0] == null ? Runbook.ident(name[1]) : Runbook.qualified(name[0], name[1]);
        if (rs.getArray(19) == null) { f.add(Runbook.Finding.ok("heartbeat", "no table " + shown + ": nothing to drop")); return; }
        String[] schemas = (String[]) rs.getArray(19).getArray(), kinds = (String[]) rs.getArray(20).getArray();
        String[] owners = (String[]) rs.getArray(21).getArray();
        Boolean[] owned = (Boolean[]) rs.getArray(22).getArray();
        if (schemas.length > 1)
            throw Runbook.badInput("--heartbeat-table " + shown + " is in several schemas (" + String.join(", ",
                    java.util.Arrays.stream(schemas).map(Runbook::ident).toList()) + "): write it as schema.table");
        String table = Runbook.qualified(schemas[0], name[1]);
        if (!kinds[0].equals("r"))
            f.add(Runbook.Finding.fail("heartbeat", table + " is not a plain table (relkind " + kinds[0] + "): left alone",
                    "give the heartbeat table with --heartbeat-table, or leave out --drop-heartbeat"));
        else if (!owned[0])
            f.add(Runbook.Finding.fail("heartbeat", table + " is owned by " + Runbook.ident(owners[0]) + ", not by " + me,
                    "run as " + Runbook.ident(owners[0]) + ", or: GRANT " + Runbook.ident(owners[0]) + " TO " + me + ";"));
        else {
            // No CASCADE: a view or foreign key that depends on it makes the drop fail and nothing change.
            drops.add(new Runbook.Sql("DROP TABLE " + table, "table " + table, List.of(table), Locks.ACCESS_EXCLUSIVE));
            f.add(Runbook.Finding.ok("heartbeat", "drops table " + table + " (the heartbeat)"));
        }
    }

    /** After dropping, on the same connection: a second look finds nothing left to drop. */
    public List<Runbook.Finding> verify(Connection c) throws SQLException {
        Runbook.Assessment again = assess(c);
        if (again.plan().isEmpty() && !again.failed())
            return List.of(Runbook.Finding.ok("verified", "a second look finds nothing left to drop"));
        return List.of(Runbook.Finding.fail("verified", "still there after teardown: " + String.join(", ", again.plan()
                .statements().stream().map(x -> x.subject() == null ? x.text() : x.subject()).distinct().toList()),
                "run teardown again and read its findings"));
    }

    /**
     * Asks on a terminal; without one, and without --yes, changes nothing and exits 1. The slot is dropped in the
     * run that is confirmed, which looks again: what it drops is what it finds then.
     */
    public Integer call() throws SQLException {
        validate();
        try (Connection c = db.connect()) {
            if (!out.dryRun) Runbook.serialise(c);
            if (yes || out.dryRun) return print(Runbook.runOn(c, this, out.dryRun));
            Runbook.Outcome preview = Runbook.runOn(c, this, true);
            if (preview.exitCode() != Runbook.OK || preview.plan().isEmpty()) return print(preview);
            if (!terminal()) {
                List<Runbook.Finding> f = new ArrayList<>(preview.findings());
                f.add(Runbook.Finding.fail("confirmation", "nothing changed: there is no terminal to confirm on",
                        "run again with --yes to drop the above, which runs:\n" + preview.plan().script().strip()));
                print(new Runbook.Outcome(name(), Runbook.NOT_READY, f, Runbook.Plan.none(), false));
                System.err.println("teardown: nothing changed: no terminal to ask for confirmation; run again with --yes "
                        + "to drop what is listed above");
                return Runbook.NOT_READY;
            }
            printDryRun(preview);
            if (!Boolean.TRUE.equals(ask("Drop all of the above?"))) {
                System.err.println("teardown: nothing changed (not confirmed)");
                return Runbook.NOT_READY;
            }
            return print(Runbook.runOn(c, this, false));
        }
    }

    private int print(Runbook.Outcome o) {
        out.print(List.of(o));
        return o.exitCode();
    }

    private void printDryRun(Runbook.Outcome o) {
        boolean was = out.dryRun;
        out.dryRun = true;
        try { out.print(List.of(o)); } finally { out.dryRun = was; }
    }

    /** Overridden by tests, which have no terminal. */
    boolean terminal() { return Runbook.terminal(); }

    Boolean ask(String question) { return Runbook.confirm(question); }

    public static void main(String... args) { Runbook.launch(new Teardown(), args); }

    /**
     * What --revoke undoes: the role's own (direct) SELECT grants on the schemas' tables, its USAGE grants on the
     * schemas, and the default privileges that give it SELECT there. What the role has as an owner is never touched,
     * nor what it gets through PUBLIC or a role it belongs to.
     */
    record Revoke(String role, List<String> schemas) {
        static final String KINDS = "('r', 'p', 'v', 'm', 'f')"; // what GRANT ... ON ALL TABLES IN SCHEMA covers

        /**
         * Per schema: does it exist, does the role own it or any table in it, the tables it has a direct SELECT grant
         * on that we may revoke (granted by us, or by an owner whose rights we have), the others with their grantor,
         * and the same for USAGE on the schema.
         */
        static final String GRANTS = """
                WITH r AS (SELECT oid FROM pg_roles WHERE rolname = ?),
                     me AS (SELECT oid FROM pg_roles WHERE rolname = current_user),
                     s AS (SELECT u.name, u.i, n.oid, n.nspowner, n.nspacl
                             FROM unnest(?::text[]) WITH ORDINALITY u(name, i) LEFT JOIN pg_namespace n ON n.nspname = u.name),
                     g AS (SELECT DISTINCT c.relnamespace AS nsp, c.relname, a.grantor,
                                  a.grantor = me.oid OR a.grantor = c.relowner AND pg_has_role(me.oid, c.relowner, 'USAGE') AS mine
                             FROM s JOIN pg_class c ON c.relnamespace = s.oid AND c.relkind IN %1$s
                             CROSS JOIN r CROSS JOIN me CROSS JOIN LATERAL aclexplode(c.relacl) a
                            WHERE a.grantee = r.oid AND a.privilege_type = 'SELECT' AND c.relowner <> r.oid)
                SELECT s.name, r.oid IS NOT NULL, s.oid IS NOT NULL, s.nspowner = r.oid,
                       EXISTS (SELECT FROM pg_class c WHERE c.relnamespace = s.oid AND c.relowner = r.oid AND c.relkind IN %1$s),
                       ARRAY(SELECT DISTINCT g.relname::text FROM g WHERE g.nsp = s.oid AND g.mine ORDER BY 1),
                       ARRAY(SELECT format('%%I (granted by %%I)', g.relname, pg_get_userbyid(g.grantor)) FROM g
                              WHERE g.nsp = s.oid AND NOT g.mine ORDER BY 1),
                       ARRAY(SELECT pg_get_userbyid(a.grantor)::text FROM aclexplode(s.nspacl) a
                              WHERE a.grantee = r.oid AND a.privilege_type = 'USAGE' AND s.nspowner <> r.oid
                                AND NOT (a.grantor = me.oid OR a.grantor = s.nspowner AND pg_has_role(me.oid, s.nspowner, 'USAGE'))),
                       EXISTS (SELECT FROM aclexplode(s.nspacl) a WHERE a.grantee = r.oid AND a.privilege_type = 'USAGE'
                                  AND s.nspowner <> r.oid
                                  AND (a.grantor = me.oid OR a.grantor = s.nspowner AND pg_has_role(me.oid, s.nspowner, 'USAGE')))
                  FROM s LEFT JOIN r ON true CROSS JOIN me ORDER BY s.i""".formatted(KINDS);

        /** Per schema, the owners whose default privileges give the role SELECT, and whether we may change them. */
        static final String DEFAULTS = """
                SELECT u.name, o.rolname, pg_has_role(current_user, o.oid, CASE WHEN current_setting('server_version_num')::int
                                                                  >= 160000 THEN 'USAGE' ELSE 'MEMBER' END)
                  FROM unnest(?::text[]) WITH ORDINALITY u(name, i)
                  JOIN pg_namespace n ON n.nspname = u.name
                  JOIN pg_default_acl d ON d.defaclnamespace = n.oid AND d.defaclobjtype = 'r'
                  JOIN pg_roles o ON o.oid = d.defaclrole
                  JOIN pg_roles r ON r.rolname = ?
                 WHERE d.defaclrole <> r.oid
                   AND EXISTS (SELECT FROM aclexplode(d.defaclacl) a WHERE a.grantee = r.oid AND a.privilege_type = 'SELECT')
                 ORDER BY u.i, o.rolname""";

        List<Runbook.Sql> assess(Connection c, List<Runbook.Finding> f) throws SQLException {
            String r = Runbook.ident(role);
            java.sql.Array names = c.createArrayOf("text", schemas.toArray());
            java.util.Map<String, List<String>> defaults = new java.util.HashMap<>();
            try (PreparedStatement ps = c.prepareStatement(DEFAULTS)) {
                ps.setArray(1, names);
                ps.setString(2, role);
                try (var rs = ps.executeQuery()) {
                    while (rs.next()) {
                        String schema = Runbook.ident(rs.getString(1)), owner = Runbook.ident(rs.getString(2));
                        if (rs.getBoolean(3)) defaults.computeIfAbsent(rs.getString(1), k -> new ArrayList<>()).add(owner);
                        else f.add(Runbook.Finding.warn("grants " + schema, "default privileges of " + owner + " give " + r
                                + " SELECT on tables it creates later in " + schema + ", and only " + owner + " may change them",
                                "as " + owner + ":  ALTER DEFAULT PRIVILEGES IN SCHEMA " + schema + " REVOKE SELECT ON TABLES FROM " + r + ";"));
                    }
                }
            }
            List<Runbook.Sql> plan = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(GRANTS)) {
                ps.setString(1, role);
                ps.setArray(2, names);
                try (var rs = ps.executeQuery()) {
                    while (rs.next()) {
                        String name = rs.getString(1), schema = Runbook.ident(name), subject = "schema " + schema;
                        if (!rs.getBoolean(2)) throw Runbook.badInput("--role: role " + r + " does not exist (names are case-sensitive)");
                        if (!rs.getBoolean(3)) throw Runbook.badInput("--schema: schema " + schema + " does not exist in this database");
                        boolean ownsSchema = rs.getBoolean(4), ownsTables = rs.getBoolean(5), usage = rs.getBoolean(9);
                        String[] tables = strings(rs, 6), others = strings(rs, 7), usageBy = strings(rs, 8);
                        List<String> todo = new ArrayList<>();
                        if (tables.length > 0) {
                            // ON ALL TABLES would also take SELECT from the role on the tables it owns: list them instead.
                            List<String> quoted = java.util.Arrays.stream(tables).map(t -> Runbook.qualified(name, t)).toList();
                            plan.add(new Runbook.Sql("REVOKE SELECT ON " + (ownsTables ? "TABLE " + String.join(", ", quoted)
                                    : "ALL TABLES IN SCHEMA " + schema) + " FROM " + r, subject, quoted, Locks.SHARE_UPDATE_EXCLUSIVE));
                            todo.add("SELECT on " + tables.length + " table(s)");
                        }
                        for (String owner : defaults.getOrDefault(name, List.of())) {
                            plan.add(new Runbook.Sql("ALTER DEFAULT PRIVILEGES FOR ROLE " + owner + " IN SCHEMA " + schema
                                    + " REVOKE SELECT ON TABLES FROM " + r, subject));
                            todo.add("SELECT on tables " + owner + " creates later");
                        }
                        if (usage) {
                            plan.add(new Runbook.Sql("REVOKE USAGE ON SCHEMA " + schema + " FROM " + r, subject));
                            todo.add("USAGE");
                        }
                        if (others.length > 0 || usageBy.length > 0)
                            f.add(Runbook.Finding.warn("grants " + schema, r + " keeps what others granted it, which only they "
                                    + "may revoke: " + String.join(", ", others) + (usageBy.length == 0 ? "" : (others.length == 0
                                    ? "" : "; ") + "USAGE on the schema (granted by " + String.join(", ", usageBy) + ")"),
                                    "as that grantor:  REVOKE SELECT ON TABLE " + schema + ".<table> FROM " + r + ";"));
                        String kept = ownsSchema || ownsTables ? " (" + r + " owns " + (ownsSchema ? "the schema" : "")
                                + (ownsSchema && ownsTables ? " and " : "") + (ownsTables ? "tables" : "") + " there: an "
                                + "owner's rights are never revoked)" : "";
                        f.add(Runbook.Finding.ok("grants " + schema, (todo.isEmpty() ? r + " has no grant here to revoke"
                                : "revokes from " + r + ": " + String.join("; ", todo)) + kept));
                    }
                }
            }
            return plan;
        }

        private static String[] strings(java.sql.ResultSet rs, int column) throws SQLException {
            return (String[]) rs.getArray(column).getArray();
        }
    }
}
