///usr/bin/env jbang "$0" "$@" ; exit $?
//SOURCES Runbook.java Heartbeat.java
//DESCRIPTION Give each table a replica identity and create the publication Airbyte reads (guide step: Create a publication)

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "create-publication", mixinStandardHelpOptions = true, version = "create-publication 1.0",
        description = {"Gives every table to replicate a replica identity (DEFAULT where it has a primary key; FULL for the "
                + "others only when asked) and creates the publication Airbyte reads, listing the tables (Neon's role "
                + "cannot create FOR ALL TABLES publications). Partitioned tables are published through their root.",
                "Only tables whose identity differs are altered (ALTER TABLE ... REPLICA IDENTITY waits for every open "
                + "transaction that has read the table). Everything runs in one transaction under --lock-timeout."},
        footer = {"%nExamples:",
                "  jbang create-publication --url \"$DATABASE_URL\"                         # every table of schema public",
                "  jbang create-publication --url ... --table public.orders --table '\"Sales Data\".customers'",
                "  jbang create-publication --url ... --schema sales --replica-identity full --dry-run",
                "  jbang create-publication --url ... --table public.invoices --add       # keep the tables already in it"})
class CreatePublication implements Callable<Integer>, Runbook.Step {
    @Mixin Db db = new Db();
    @Mixin Runbook.Output out = new Runbook.Output();

    @Option(names = "--publication", defaultValue = "airbyte_publication",
            description = "Publication name (default: ${DEFAULT-VALUE}).")
    String publication = "airbyte_publication";
    @Option(names = "--table", paramLabel = "SCHEMA.TABLE", description = "A table to publish (repeatable). Without a "
            + "schema it is looked up in every schema. Names are case-sensitive; quote a name holding a dot: '\"a.b\".t'.")
    List<String> tables;
    @Option(names = "--schema", paramLabel = "SCHEMA", description = "Publish every table this schema has now "
            + "(repeatable; tables created later are not added). Default, with no --table: public.")
    List<String> schemas;
    @Option(names = "--replica-identity", paramLabel = "full", description = "full: give tables without a primary key "
            + "REPLICA IDENTITY FULL (whole old rows go to the WAL). Without it such tables stop the step.")
    String replicaIdentity;
    @Option(names = "--add", description = "Only add missing tables to an existing publication; never remove any.")
    boolean add;
    @Option(names = "--lock-timeout", defaultValue = "5s", paramLabel = "DURATION",
            description = "Give up when a table stays locked this long: digits with ms, s or min (default: ${DEFAULT-VALUE}).")
    String lockTimeout = "5s";

    @Mixin Heartbeat.Options heartbeat = new Heartbeat.Options();
    @Option(names = "--role", description = "With --heartbeat: the role Airbyte connects as, which gets SELECT, INSERT "
            + "and UPDATE on the heartbeat table (default: the connected user).")
    String role;

    /** How many names a finding spells out before it only counts them. */
    static final int SHOWN = 10;

    public String name() { return "create-publication"; }

    /** A table as the catalog knows it: an asked table (level 0) or one of its leaf partitions. */
    record Rel(long oid, String schema, String table, String kind, String ident, boolean pk, boolean unlogged,
               String owner, boolean owned, int level, boolean leaf) {
        String q() { return Runbook.qualified(schema, table); }
    }

    /** Who we are and the publication as it is ({@code exists} false: the rest is unset). */
    record Pub(String user, boolean canCreate, boolean exists, boolean allTables, boolean publishesDml, boolean viaRoot,
               String owner, boolean owned, List<Rel> rels, List<String> schemas, java.util.Set<Long> inSchemas) {}

    public void validate() {
        Runbook.duration("--lock-timeout", lockTimeout);
        if (role != null && !heartbeat.enabled)
            throw Runbook.badInput("--role '" + role + "' is only for --heartbeat (the role that writes the heartbeat "
                    + "table): add --heartbeat, or leave --role out");
        if (replicaIdentity != null && !replicaIdentity.equalsIgnoreCase("full"))
            throw Runbook.badInput("--replica-identity '" + replicaIdentity + "': the only choice is full "
                    + "(tables with a primary key always get DEFAULT)");
        Runbook.name("--publication", publication);
        if (tables != null) tables.forEach(t -> Runbook.tableName("--table", t));
        if (schemas != null) schemas.forEach(s -> Runbook.name("--schema", s));
    }

    public Runbook.Assessment assess(Connection c) throws SQLException {
        validate();
        String pubName = Runbook.name("--publication", publication);
        List<Runbook.Finding> f = new ArrayList<>();
        Map<Long, Rel> asked = new LinkedHashMap<>(), targets = new LinkedHashMap<>();
        Heartbeat.State hb = heartbeat.enabled ? Heartbeat.inspect(c, heartbeat.table, role) : null;
        List<Long> oids = new ArrayList<>(resolve(c));
        if (hb != null && hb.oid() != null && !oids.contains(hb.oid())) oids.add(hb.oid());
        for (Rel r : details(c, oids)) {
            if (r.level() == 0) asked.put(r.oid(), r);
            if (r.leaf()) targets.put(r.oid(), r);
        }
        if (hb != null && hb.oid() == null) // created by this plan: it has a primary key and is ours
            asked.put(-1L, new Rel(-1, hb.schema(), hb.table(), "r", "d", true, false, "", true, 0, true));
        if (hb != null) f.addAll(hb.findings());

        // Replica identity, on what UPDATE and DELETE actually hit: plain tables and leaf partitions.
        List<Rel> toDefault = new ArrayList<>(), toFull = new ArrayList<>(), kept = new ArrayList<>(), missing = new ArrayList<>();
        for (Rel t : targets.values()) {
            boolean none = t.ident().equals("n") || t.ident().equals("d") && !t.pk();
            if (t.pk() && t.ident().equals("n")) toDefault.add(t);
            else if (t.ident().equals("f") || t.ident().equals("i")) kept.add(t);
            else if (none && replicaIdentity != null) toFull.add(t);
            else if (none) missing.add(t);
        }
        long partitioned = asked.values().stream().filter(r -> r.kind().equals("p")).count();
        f.add(Runbook.Finding.ok("tables", asked.size() + " to publish" + (partitioned > 0 ? " (" + partitioned
                + " partitioned, published through the root; replica identity checked on their "
                + (targets.size() - asked.size() + partitioned) + " leaf partition(s))" : "") + ": " + list(asked.values())));
        f.add(Runbook.Finding.ok("replica identity", identitySummary(targets.size(), toDefault, toFull, kept, missing)));
        if (!missing.isEmpty())
            f.add(Runbook.Finding.fail("replica identity", missing.size() + " table(s) have no primary key and no replica "
                    + "identity: UPDATE and DELETE on them fail once published: " + list(missing), String.join("\n",
                    "choose one for each of them, then run this again:",
                    "  add a primary key:          ALTER TABLE " + missing.get(0).q() + " ADD PRIMARY KEY (<columns>);",
                    "  or log whole old rows:      run again with --replica-identity full",
                    "  or a unique NOT NULL index: ALTER TABLE " + missing.get(0).q() + " REPLICA IDENTITY USING INDEX <index>;")));
        List<Rel> unlogged = asked.values().stream().filter(Rel::unlogged).toList();
        if (!unlogged.isEmpty())
            f.add(Runbook.Finding.fail("unlogged", "unlogged tables cannot be published: " + list(unlogged),
                    "ALTER TABLE " + unlogged.get(0).q() + " SET LOGGED;  (or leave it out)"));

        // The publication.
        Pub pub = publication(c, pubName, asked);
        String me = pub.user(), p = Runbook.ident(pubName);
        List<Runbook.Sql> pubSql = new ArrayList<>();
        List<Rel> published = new ArrayList<>();
        boolean viaRoot = partitioned > 0;
        if (!pub.exists()) {
            pubSql.addAll(listing(p, "CREATE PUBLICATION " + p + " FOR TABLE ", asked.values(),
                    viaRoot ? " WITH (publish_via_partition_root = true)" : ""));
            published.addAll(asked.values());
            f.add(Runbook.Finding.ok("publication", p + " will be created with " + asked.size() + " table(s)"));
        } else if (pub.allTables()) {
            f.add(Runbook.Finding.ok("publication", p + " publishes all tables"));
        } else {
            Map<Long, Rel> extra = new LinkedHashMap<>();
            pub.rels().forEach(r -> extra.put(r.oid(), r));
            List<Rel> absent = asked.values().stream().filter(r -> extra.remove(r.oid()) == null && !pub.inSchemas().contains(r.oid())).toList();
            String schemas = pub.schemas().isEmpty() ? "" : (extra.isEmpty() ? "" : " and ") + "TABLES IN SCHEMA "
                    + pub.schemas().stream().map(Runbook::ident).collect(Collectors.joining(", ")) + " (every table there, now and later)";
            if (add) {
                if (!absent.isEmpty()) pubSql.addAll(listing(p, "ALTER PUBLICATION " + p + " ADD TABLE ", absent, ""));
                published.addAll(absent);
                viaRoot |= extra.values().stream().anyMatch(r -> r.kind().equals("p"));
                f.add(Runbook.Finding.ok("publication", p + " exists" + (absent.isEmpty() ? " with every asked table"
                        : "; adding " + list(absent)) + (extra.isEmpty() && schemas.isEmpty() ? "" : "; keeping "
                        + (extra.isEmpty() ? "" : extra.size() + " other table(s)") + schemas)));
            } else if (!absent.isEmpty() || !extra.isEmpty() || pub.inSchemas().stream().anyMatch(o -> !asked.containsKey(o))) {
                pubSql.addAll(listing(p, "ALTER PUBLICATION " + p + " SET TABLE ", asked.values(), ""));
                published.addAll(asked.values());
                if (extra.isEmpty() && schemas.isEmpty()) f.add(Runbook.Finding.ok("publication", p + " exists; adding " + list(absent)));
                else f.add(Runbook.Finding.warn("publication", p + " exists; SET TABLE removes " + (extra.isEmpty() ? "" : list(extra.values()))
                        + schemas + " from it (Airbyte stops receiving their changes)", "to keep them, run with --add instead"));
            } else {
                f.add(Runbook.Finding.ok("publication", p + " exists with exactly the asked tables"));
            }
        }
        if (pub.exists()) {
            List<String> options = new ArrayList<>();
            if (!pub.publishesDml()) options.add("publish = 'insert, update, delete, truncate'");
            if (viaRoot && !pub.viaRoot()) options.add("publish_via_partition_root = true");
            if (!options.isEmpty()) {
                pubSql.add(new Runbook.Sql("ALTER PUBLICATION " + p + " SET (" + String.join(", ", options) + ")", "publication " + p));
                f.add(Runbook.Finding.ok("publication options", "setting " + String.join(", ", options)));
            }
            if (!pubSql.isEmpty() && !pub.owned())
                f.add(Runbook.Finding.fail("ownership", "publication " + p + " is owned by " + pub.owner() + ", not by "
                        + me + " or a role it belongs to", "run as " + pub.owner() + ", or: GRANT "
                        + Runbook.ident(pub.owner()) + " TO " + Runbook.ident(me) + ";"));
        } else if (!pub.canCreate()) {
            f.add(Runbook.Finding.fail("privilege", me + " may not create publications in this database (no CREATE "
                    + "privilege on it)", "run as the database owner, or: GRANT CREATE ON DATABASE <db> TO " + Runbook.ident(me) + ";"));
        }

        // Ownership: ALTER TABLE and publishing a table both need it (membership in the owning role counts).
        Map<Long, Rel> touched = new LinkedHashMap<>();
        for (Rel r : toDefault) touched.put(r.oid(), r);
        for (Rel r : toFull) touched.put(r.oid(), r);
        for (Rel r : published) touched.put(r.oid(), r);
        Map<String, List<Rel>> byOwner = new TreeMap<>(touched.values().stream().filter(r -> !r.owned())
                .collect(Collectors.groupingBy(Rel::owner)));
        if (!byOwner.isEmpty())
            f.add(Runbook.Finding.fail("ownership", "not owned by " + me + " or a role it belongs to: "
                    + byOwner.entrySet().stream().map(e -> list(e.getValue()) + " (owner " + e.getKey() + ")")
                    .collect(Collectors.joining("; ")), byOwner.keySet().stream().map(o -> "run as " + o + ", or: GRANT "
                    + Runbook.ident(o) + " TO " + Runbook.ident(me) + ";").collect(Collectors.joining("\n"))));

        List<Runbook.Sql> plan = new ArrayList<>(hb == null ? List.of() : hb.plan());
        for (Rel r : toDefault) plan.add(new Runbook.Sql("ALTER TABLE " + r.q() + " REPLICA IDENTITY DEFAULT", r.q()));
        for (Rel r : toFull) plan.add(new Runbook.Sql("ALTER TABLE " + r.q() + " REPLICA IDENTITY FULL", r.q()));
        plan.addAll(pubSql);
        if (plan.isEmpty()) return new Runbook.Assessment(f, Runbook.Plan.none());
        plan.add(0, Runbook.lockTimeout(lockTimeout, true));
        return new Runbook.Assessment(f, new Runbook.Plan(plan, true));
    }

    /** After applying, a second look must find nothing left to do. */
    public List<Runbook.Finding> verify(Connection c) throws SQLException {
        Runbook.Assessment again = assess(c);
        return again.plan().isEmpty() && !again.failed() ? List.of(Runbook.Finding.ok("verified", "a second look plans nothing"))
                : List.of(Runbook.Finding.fail("verified", "the catalog still differs after applying: "
                        + again.plan().statements().size() + " statement(s) left", "run create-publication again and report this"));
    }

    static final String RESOLVE_TABLES = """
            SELECT i.ord, c.oid, n.nspname
              FROM unnest(?::text[], ?::text[]) WITH ORDINALITY AS i(sch, rel, ord)
              LEFT JOIN (pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                         AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)')
                     ON c.relname = i.rel AND n.nspname = coalesce(i.sch, n.nspname) AND c.relkind IN ('r', 'p')
             ORDER BY i.ord, n.nspname""";

    static final String RESOLVE_SCHEMAS = """
            SELECT s.sch, n.oid IS NOT NULL, c.oid
              FROM unnest(?::text[]) WITH ORDINALITY AS s(sch, ord)
              LEFT JOIN pg_namespace n ON n.nspname = s.sch AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p') AND NOT c.relispartition
             ORDER BY s.ord, c.relname""";

    /** The asked tables' oids, in the order asked, without duplicates; every bad name is exit 2. */
    List<Long> resolve(Connection c) throws SQLException {
        List<String> tableArgs = tables == null ? List.of() : tables;
        List<String> schemaArgs = schemas != null ? schemas : tables == null ? List.of("public") : List.of();
        String[] sch = new String[tableArgs.size()], rel = new String[tableArgs.size()];
        for (int i = 0; i < tableArgs.size(); i++) {
            String[] n = Runbook.tableName("--table", tableArgs.get(i));
            sch[i] = n[0];
            rel[i] = n[1];
        }
        List<Long> oids = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        try (PreparedStatement st = c.prepareStatement(RESOLVE_TABLES)) {
            st.setArray(1, c.createArrayOf("text", sch));
            st.setArray(2, c.createArrayOf("text", rel));
            Map<Integer, List<Object[]>> hits = new TreeMap<>();
            try (var rs = st.executeQuery()) {
                while (rs.next()) hits.computeIfAbsent(rs.getInt(1) - 1, k -> new ArrayList<>())
                        .add(new Object[] {rs.getObject(2) == null ? null : rs.getLong(2), rs.getString(3)});
            }
            List<String> missing = new ArrayList<>();
            hits.forEach((i, rows) -> {
                String arg = "'" + tableArgs.get(i) + "'";
                if (rows.get(0)[0] == null) missing.add(arg);
                else if (rows.size() > 1) problems.add("--table " + arg + " is ambiguous, write schema.table: it is in schemas "
                        + rows.stream().map(r -> (String) r[1]).collect(Collectors.joining(", ")));
                else oids.add((Long) rows.get(0)[0]);
            });
            if (!missing.isEmpty()) problems.add(0, "--table " + Runbook.few(missing, ", ") + ": no such table"
                    + (java.util.Arrays.stream(sch).allMatch(java.util.Objects::isNull) ? " in any schema" : "")
                    + " (names are case-sensitive; views cannot be published)");
        }
        try (PreparedStatement st = c.prepareStatement(RESOLVE_SCHEMAS)) {
            String[] names = schemaArgs.stream().map(s -> Runbook.name("--schema", s)).toArray(String[]::new);
            st.setArray(1, c.createArrayOf("text", names));
            Map<String, Boolean> empty = new LinkedHashMap<>();
            try (var rs = st.executeQuery()) {
                while (rs.next()) {
                    String s = rs.getString(1);
                    if (!rs.getBoolean(2)) problems.add("--schema '" + s + "': no such schema (names are case-sensitive)");
                    else if (rs.getObject(3) == null) empty.put(s, true);
                    else oids.add(rs.getLong(3));
                }
            }
            empty.keySet().forEach(s -> problems.add("--schema '" + s + "' has no tables: create them first, or leave it out"));
        }
        if (!problems.isEmpty()) throw Runbook.badInput(Runbook.few(problems, "; "));
        return oids.stream().distinct().toList();
    }

    // Level 0 is the asked table itself; for a partitioned one, its partitions follow, of which the leaves are what
    // UPDATE and DELETE hit. (pg_partition_tree would do, but costs a catalog lookup per table before the join.)
    // A dropped replica identity index leaves relreplident 'i', which then means nothing.
    static final String DETAILS = """
            WITH RECURSIVE tree AS (
                   SELECT r.root, r.ord, r.root AS relid, 0 AS level FROM unnest(?::int8[]::oid[]) WITH ORDINALITY AS r(root, ord)
                   UNION ALL
                   SELECT t.root, t.ord, i.inhrelid, t.level + 1 FROM tree t JOIN pg_inherits i ON i.inhparent = t.relid
                     JOIN pg_class p ON p.oid = i.inhrelid AND p.relispartition)
            SELECT c.oid, n.nspname, c.relname, c.relkind::text,
                   CASE WHEN c.relreplident = 'i' AND NOT EXISTS (SELECT 1 FROM pg_index x
                             WHERE x.indrelid = c.oid AND x.indisreplident) THEN 'n' ELSE c.relreplident::text END,
                   EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = c.oid AND x.indisprimary),
                   c.relpersistence = 'u', pg_get_userbyid(c.relowner), pg_has_role(current_user, c.relowner, 'USAGE'),
                   t.level, c.relkind <> 'p'
              FROM tree t JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE t.level = 0 OR c.relkind <> 'p'
             ORDER BY t.ord, t.level, n.nspname, c.relname""";

    static List<Rel> details(Connection c, List<Long> oids) throws SQLException {
        List<Rel> out = new ArrayList<>();
        if (oids.isEmpty()) return out;
        try (PreparedStatement st = c.prepareStatement(DETAILS)) {
            st.setArray(1, c.createArrayOf("int8", oids.toArray(Long[]::new)));
            try (var rs = st.executeQuery()) {
                while (rs.next()) out.add(new Rel(rs.getLong(1), rs.getString(2), rs.getString(3), rs.getString(4), rs.getString(5),
                        rs.getBoolean(6), rs.getBoolean(7), rs.getString(8), rs.getBoolean(9), rs.getInt(10), rs.getBoolean(11)));
            }
        }
        return out;
    }

    static final String PUBLICATION = """
            SELECT current_user, has_database_privilege(current_database(), 'CREATE'), p.oid IS NOT NULL, p.puballtables,
                   p.pubinsert AND p.pubupdate AND p.pubdelete, p.pubviaroot, pg_get_userbyid(p.pubowner),
                   pg_has_role(current_user, p.pubowner, 'USAGE'),
                   (SELECT array_agg(r.prrelid::int8) FROM pg_publication_rel r WHERE r.prpubid = p.oid), %s
              FROM (SELECT 1) one LEFT JOIN pg_publication p ON p.pubname = ?""";

    /** PostgreSQL 15+: the schemas published FOR TABLES IN SCHEMA, and the tables that puts in the publication. */
    static final String IN_SCHEMAS = """
            (SELECT array_agg(n.nspname::text ORDER BY n.nspname) FROM pg_publication_namespace s
               JOIN pg_namespace n ON n.oid = s.pnnspid WHERE s.pnpubid = p.oid),
            (SELECT array_agg(c.oid::int8) FROM pg_publication_namespace s JOIN pg_class c ON c.relnamespace = s.pnnspid
              AND c.relkind IN ('r', 'p') AND NOT c.relispartition WHERE s.pnpubid = p.oid)""";

    /** The publication; of its tables, only those not among {@code known} (the asked ones) are read again. */
    Pub publication(Connection c, String name, Map<Long, Rel> known) throws SQLException {
        boolean schemas = c.getMetaData().getDatabaseMajorVersion() >= 15;
        try (PreparedStatement st = c.prepareStatement(PUBLICATION.formatted(schemas ? IN_SCHEMAS : "NULL::text[], NULL::int8[]"))) {
            st.setString(1, name);
            try (var rs = st.executeQuery()) {
                rs.next();
                java.sql.Array a = rs.getArray(9);
                List<Long> rels = a == null ? List.of() : List.of((Long[]) a.getArray());
                Map<Long, Rel> found = new LinkedHashMap<>(known);
                for (Rel r : details(c, rels.stream().filter(o -> !known.containsKey(o)).toList()))
                    if (r.level() == 0) found.put(r.oid(), r);
                return new Pub(rs.getString(1), rs.getBoolean(2), rs.getBoolean(3), rs.getBoolean(4), rs.getBoolean(5), rs.getBoolean(6), rs.getString(7), rs.getBoolean(8),
                        rels.stream().map(found::get).filter(java.util.Objects::nonNull).toList(),
                        rs.getArray(10) == null ? List.of() : List.of((String[]) rs.getArray(10).getArray()),
                        rs.getArray(11) == null ? java.util.Set.of() : java.util.Set.of((Long[]) rs.getArray(11).getArray()));
            }
        }
    }

    static String identitySummary(int total, List<Rel> toDefault, List<Rel> toFull, List<Rel> kept, List<Rel> missing) {
        int fine = total - toDefault.size() - toFull.size() - kept.size() - missing.size();
        List<String> parts = new ArrayList<>();
        parts.add(fine + " of " + total + " already DEFAULT with a primary key");
        if (!kept.isEmpty()) parts.add("kept as they are (FULL or USING INDEX): " + list(kept));
        if (!toDefault.isEmpty()) parts.add("NOTHING -> DEFAULT (they have a primary key): " + list(toDefault));
        if (!toFull.isEmpty()) parts.add("-> FULL (no primary key): " + list(toFull));
        return String.join("; ", parts);
    }

    /** {@code head} with the first tables and {@code tail}, then the others added 1,000 a statement. */
    static List<Runbook.Sql> listing(String p, String head, Collection<Rel> rels, String tail) {
        List<Runbook.Sql> out = new ArrayList<>();
        for (String names : Runbook.nameLists(rels.stream().map(Rel::q).toList()))
            out.add(new Runbook.Sql(out.isEmpty() ? head + names + tail : "ALTER PUBLICATION " + p + " ADD TABLE " + names,
                    "publication " + p));
        return out;
    }

    /** The first few names, then a count: a finding stays one line with thousands of tables. */
    static String list(Collection<Rel> rels) {
        String shown = rels.stream().limit(SHOWN).map(Rel::q).collect(Collectors.joining(", "));
        return rels.size() <= SHOWN ? shown : shown + " and " + (rels.size() - SHOWN) + " more";
    }

    public Integer call() { return Runbook.run(this, db, out); }

    public static void main(String... args) { System.exit(Runbook.cli(new CreatePublication()).execute(args)); }
}
