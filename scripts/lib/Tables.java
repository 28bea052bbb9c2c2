import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import picocli.CommandLine.Option;

/**
 * Tables as the steps and doctor see them: names resolved to oids (every bad name is exit 2), what the catalog says
 * of each (replica identity, owner, out-of-line values, generated columns), and the one rule for what a table's
 * replica identity means for the UPDATEs and DELETEs Airbyte receives.
 */
final class Tables {
    private Tables() {}

    /** How many names a finding spells out before it only counts them. */
    static final int SHOWN = 10;

    /** What a table's replica identity gives a published table's UPDATE and DELETE. */
    enum Identity {
        /** DEFAULT with a primary key: the key identifies the old row. */ KEY,
        /** FULL: the whole old row. */ FULL,
        /** USING INDEX on a unique, not-null index. */ INDEX,
        /** NOTHING on a table that has a primary key: DEFAULT would do. */ NOTHING_WITH_KEY,
        /** DEFAULT without a primary key, or NOTHING (or an index that was dropped): UPDATE and DELETE fail once published. */ MISSING
    }

    /**
     * A table as the catalog knows it: an asked table (level 0) or one of its leaf partitions. {@code toasted}: its
     * TOAST relation holds data; {@code generated}: it has stored generated columns.
     */
    record Rel(long oid, String schema, String table, String kind, String ident, boolean pk, boolean unlogged,
               String owner, boolean owned, int level, boolean leaf, boolean toasted, boolean generated) {
        /** A table this run will create (the heartbeat): a primary key, ours, empty. */
        static Rel planned(String schema, String table) {
            return new Rel(-1, schema, table, "r", "d", true, false, "", true, 0, true, false, false);
        }

        String q() { return Input.qualified(schema, table); }

        /** As --table takes it: a part holding a dot or a double quote is double-quoted. */
        String arg() { return Input.tableArg(schema, table); }

        Identity identity() {
            return switch (ident) {
                case "f" -> Identity.FULL;
                case "i" -> Identity.INDEX;
                case "d" -> pk ? Identity.KEY : Identity.MISSING;
                default -> pk ? Identity.NOTHING_WITH_KEY : Identity.MISSING;
            };
        }

        /**
         * Values stored out of line that an UPDATE leaving them unchanged does not send: Airbyte then writes
         * "__debezium_unavailable_value" (airbytehq/airbyte#30518). Only FULL sends the whole old row.
         */
        boolean toastRisk() { return toasted && identity() != Identity.FULL && identity() != Identity.MISSING; }

    }

    /** The first few names, then a count: a finding stays one line with thousands of tables. */
    static String list(Collection<Rel> rels) {
        String shown = rels.stream().limit(SHOWN).map(Rel::q).collect(Collectors.joining(", "));
        return rels.size() <= SHOWN ? shown : shown + " and " + (rels.size() - SHOWN) + " more";
    }

    // Level 0 is the asked table itself; for a partitioned one, its partitions follow, of which the leaves are what
    // UPDATE and DELETE hit. (pg_partition_tree would do, but costs a catalog lookup per table before the join.)
    // A dropped replica identity index leaves relreplident 'i', which then means nothing.
    static final String DETAILS = """
            WITH RECURSIVE tree AS (
                   SELECT r.root, r.root AS relid, 0 AS level FROM (%s) AS r(root)
                   UNION ALL
                   SELECT t.root, i.inhrelid, t.level + 1 FROM tree t JOIN pg_inherits i ON i.inhparent = t.relid
                     JOIN pg_class p ON p.oid = i.inhrelid AND p.relispartition)
            SELECT t.root::int8 AS root, c.oid, n.nspname, c.relname, c.relkind::text AS kind,
                   CASE WHEN c.relreplident = 'i' AND NOT EXISTS (SELECT 1 FROM pg_index x
                             WHERE x.indrelid = c.oid AND x.indisreplident) THEN 'n' ELSE c.relreplident::text END AS ident,
                   EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = c.oid AND x.indisprimary) AS pk,
                   c.relpersistence = 'u' AS unlogged, pg_get_userbyid(c.relowner) AS owner,
                   pg_has_role(current_user, c.relowner, 'USAGE') AS owned, t.level, c.relkind <> 'p' AS leaf,
                   %s AS toasted,
                   EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attgenerated = 's'
                                                          AND NOT a.attisdropped) AS generated
              FROM tree t JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE t.level = 0 OR c.relkind <> 'p'
             ORDER BY t.root, t.level, n.nspname, c.relname""";

    /** Tables, as SQL that selects their oids, with its parameters: what {@link #details} reads. */
    record Roots(String sql, List<Object> params) {
        /** Every table that a --table or --exclude-table name could mean. */
        static Roots named(Asked a) {
            String[][] n = names(a);
            return new Roots("SELECT oid FROM (" + RESOLVE_TABLES + ") named WHERE oid IS NOT NULL", List.of(n[0], n[1]));
        }

        /** The tables of these schemas, not partitions. */
        static Roots inSchemas(List<String> schemas) {
            return new Roots("""
                    SELECT c.oid FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p')
                                  AND NOT c.relispartition WHERE n.nspname = ANY (?::text[])""", List.of((Object) schemas.toArray(String[]::new)));
        }

        /** The tables a publication lists by name. */
        static Roots listed(String publication) {
            return new Roots("SELECT r.prrelid FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid "
                    + "WHERE p.pubname = ?", List.of(publication));
        }

        /** Every table a publication publishes, as the table one asks for (a partition's root). */
        static Roots published(String publication) {
            return new Roots("""
                    SELECT DISTINCT coalesce(pg_partition_root(c.oid)::oid, c.oid) FROM pg_publication_tables t
                      JOIN pg_namespace n ON n.nspname = t.schemaname JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.tablename
                     WHERE t.pubname = ?""", List.of(publication));
        }

        /** The tables {@code these} select that {@code those} do not. */
        static Roots minus(List<Roots> these, List<Roots> those) {
            List<Object> params = new ArrayList<>();
            for (Roots r : these) params.addAll(r.params());
            for (Roots r : those) params.addAll(r.params());
            return new Roots("SELECT * FROM (" + union(these) + ") AS these(oid) EXCEPT SELECT * FROM (" + union(those)
                    + ") AS those(oid)", params);
        }

        static String union(List<Roots> roots) { return roots.stream().map(Roots::sql).collect(Collectors.joining("\nUNION ")); }

        /** One table, if it exists. */
        static Roots table(String schema, String table) {
            return new Roots("SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ? "
                    + "AND c.relname = ?", List.of(schema, table));
        }
    }

    /** The catalog's details of some tables and their partitions, by the oid of the table asked for. */
    record Details(Map<Long, List<Rel>> byRoot) {
        /** These and those (read apart). */
        Details with(Details those) {
            Map<Long, List<Rel>> all = new LinkedHashMap<>(byRoot);
            all.putAll(those.byRoot());
            return new Details(all);
        }

        /** Of {@code oids}, in their order: each table, then its partitions. */
        List<Rel> of(Collection<Long> oids) {
            List<Rel> out = new ArrayList<>();
            for (Long oid : new java.util.LinkedHashSet<>(oids)) out.addAll(byRoot.getOrDefault(oid, List.of()));
            return out;
        }
    }

    /**
     * Details of the tables that {@code roots} select, and of their partitions. A step reads them in the same round trip
     * as the names it resolves, for every table those names could mean, and keeps those it resolved them to.
     */
    static Pipeline.Answer<Details> details(Pipeline p, Roots... roots) { return details(p, true, roots); }

    /**
     * {@code outOfLine} false: every table's {@code toasted} is false, without looking. Looking opens each table's TOAST
     * relation (about 70 ms for 10,000 tables, twice that on a new connection), which a second look after setting
     * replica identities does not need.
     */
    static Pipeline.Answer<Details> details(Pipeline p, boolean outOfLine, Roots... roots) {
        List<Object> params = new ArrayList<>();
        for (Roots r : roots) params.addAll(r.params());
        String union = Roots.union(List.of(roots));
        String toasted = outOfLine ? "c.reltoastrelid <> 0 AND pg_relation_size(c.reltoastrelid) > 0" : "false";
        return p.shared("Tables.details", DETAILS.formatted(union, toasted), rs -> {
            Map<Long, List<Rel>> by = new LinkedHashMap<>();
            while (rs.next()) by.computeIfAbsent(rs.getLong("root"), k -> new ArrayList<>()).add(new Rel(rs.getLong("oid"),
                    rs.getString("nspname"), rs.getString("relname"), rs.getString("kind"), rs.getString("ident"), rs.getBoolean("pk"),
                    rs.getBoolean("unlogged"), rs.getString("owner"), rs.getBoolean("owned"), rs.getInt("level"), rs.getBoolean("leaf"),
                    rs.getBoolean("toasted"), rs.getBoolean("generated")));
            return new Details(by);
        }, params.toArray());
    }

    /** The names asked for: --table (and --exclude-table) as written, --schema as given. */
    record Asked(List<String> tables, List<String> schemas, List<String> excluded) {}

    static final String RESOLVE_TABLES = """
            SELECT i.ord, c.oid, n.nspname
              FROM unnest(?::text[], ?::text[]) WITH ORDINALITY AS i(sch, rel, ord)
              LEFT JOIN (pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                         AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)')
                     ON c.relname = i.rel AND n.nspname = coalesce(i.sch, n.nspname) AND c.relkind IN ('r', 'p')
             ORDER BY i.ord, n.nspname""";

    static final String RESOLVE_SCHEMAS = """
            SELECT s.sch, n.oid IS NOT NULL AS found, c.oid
              FROM unnest(?::text[]) WITH ORDINALITY AS s(sch, ord)
              LEFT JOIN pg_namespace n ON n.nspname = s.sch AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p') AND NOT c.relispartition
             ORDER BY s.ord, c.relname""";

    /** The asked tables' oids, in the order asked, without duplicates and without the excluded ones; and those. */
    record Resolved(List<Long> oids, java.util.Set<Long> excluded) {}

    /** [schemas, names] of --table then --exclude-table, as RESOLVE_TABLES takes them (a schema may be null). */
    private static String[][] names(Asked a) {
        List<String> names = new ArrayList<>(a.tables());
        names.addAll(a.excluded());
        String[] sch = new String[names.size()], rel = new String[names.size()];
        for (int i = 0; i < names.size(); i++) {
            String[] n = Input.tableName(i < a.tables().size() ? "--table" : "--exclude-table", names.get(i));
            sch[i] = n[0];
            rel[i] = n[1];
        }
        return new String[][] {sch, rel};
    }

    private record Hit(int ord, Long oid, String schema) {}
    private record SchemaHit(String schema, boolean found, Long oid) {}

    /** Every bad name (an excluded one too) is exit 2, when the answer is taken. The excluded names go in the same look-up. */
    static Pipeline.Answer<Resolved> resolve(Pipeline p, Asked a) {
        String[][] n = names(a);
        Pipeline.Answer<List<Hit>> tables = p.query(RESOLVE_TABLES, Pipeline.all(rs -> new Hit(rs.getInt("ord") - 1,
                rs.getObject("oid") == null ? null : rs.getLong("oid"), rs.getString("nspname"))), n[0], n[1]);
        String[] schemaNames = a.schemas().stream().map(s -> Input.name("--schema", s)).toArray(String[]::new);
        Pipeline.Answer<List<SchemaHit>> schemas = p.query(RESOLVE_SCHEMAS, Pipeline.all(rs -> new SchemaHit(rs.getString("sch"),
                rs.getBoolean("found"), rs.getObject("oid") == null ? null : rs.getLong("oid"))), (Object) schemaNames);
        return () -> resolved(a, n[0], tables.get(), schemas.get());
    }

    private static Resolved resolved(Asked a, String[] sch, List<Hit> tableHits, List<SchemaHit> schemaHits) {
        List<String> names = new ArrayList<>(a.tables());
        names.addAll(a.excluded());
        List<Long> oids = new ArrayList<>();
        java.util.Set<Long> excluded = new java.util.HashSet<>();
        List<String> problems = new ArrayList<>();
        Map<Integer, List<Hit>> hits = new TreeMap<>();
        for (Hit h : tableHits) hits.computeIfAbsent(h.ord(), k -> new ArrayList<>()).add(h);
        List<String> missing = new ArrayList<>();
        hits.forEach((i, rows) -> {
            boolean exclude = i >= a.tables().size();
            String option = exclude ? "--exclude-table" : "--table", arg = "'" + names.get(i) + "'";
            if (rows.get(0).oid() == null) {
                if (exclude) problems.add(option + " " + arg + ": no such table (names are case-sensitive)");
                else missing.add(arg);
            } else if (rows.size() > 1) problems.add(option + " " + arg + " is ambiguous, write schema.table: it is in schemas "
                    + rows.stream().map(Hit::schema).collect(Collectors.joining(", ")));
            else (exclude ? excluded : oids).add(rows.get(0).oid());
        });
        if (!missing.isEmpty()) problems.add(0, "--table " + Output.few(missing, ", ") + ": no such table"
                + (java.util.Arrays.stream(sch).limit(a.tables().size()).allMatch(java.util.Objects::isNull) ? " in any schema" : "")
                + " (names are case-sensitive; views cannot be published)");
        Map<String, Boolean> empty = new LinkedHashMap<>();
        for (SchemaHit h : schemaHits) {
            if (!h.found()) problems.add("--schema '" + h.schema() + "': no such schema (names are case-sensitive)");
            else if (h.oid() == null) empty.put(h.schema(), true);
            else oids.add(h.oid());
        }
        empty.keySet().forEach(s -> problems.add("--schema '" + s + "' has no tables: create them first, or leave it out"));
        if (!problems.isEmpty()) throw Failure.badInput(Output.few(problems, "; "));
        return new Resolved(oids.stream().filter(o -> !excluded.contains(o)).distinct().toList(), excluded);
    }

    /** Which tables: --table, --schema, --exclude-table (create-publication, setup, doctor). */
    static final class Choice {
        @Option(names = "--table", paramLabel = "SCHEMA.TABLE", description = "A table to publish (repeatable). Without a "
                + "schema it is looked up in every schema. Names are case-sensitive; quote a name holding a dot: '\"a.b\".t'.")
        List<String> tables;
        @Option(names = "--schema", paramLabel = "SCHEMA", description = "A schema to replicate (repeatable): its tables "
                + "now (tables created later are added by running the step again). Default, with no --table: "
                + Defaults.SCHEMA + ".")
        List<String> schemas;
        @Option(names = "--exclude-table", paramLabel = "SCHEMA.TABLE", description = "Leave this table out of what "
                + "--schema or --table asks for (repeatable), e.g. an unlogged table, which cannot be published.")
        List<String> excluded;

        /** The names as asked: --schema, or public when there is no --table either. */
        Tables.Asked asked() {
            return new Tables.Asked(tables == null ? List.of() : tables,
                    schemas != null ? schemas : tables == null ? List.of(Defaults.SCHEMA) : List.of(),
                    excluded == null ? List.of() : excluded);
        }

        /** Checked before connecting: every name well formed. */
        void validate() {
            if (tables != null) tables.forEach(t -> Input.tableName("--table", t));
            if (excluded != null) excluded.forEach(t -> Input.tableName("--exclude-table", t));
            if (schemas != null) schemas.forEach(s -> Input.name("--schema", s));
        }
    }
}
