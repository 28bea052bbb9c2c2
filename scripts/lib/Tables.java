import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
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
                   SELECT r.root, r.ord, r.root AS relid, 0 AS level FROM unnest(?::int8[]::oid[]) WITH ORDINALITY AS r(root, ord)
                   UNION ALL
                   SELECT t.root, t.ord, i.inhrelid, t.level + 1 FROM tree t JOIN pg_inherits i ON i.inhparent = t.relid
                     JOIN pg_class p ON p.oid = i.inhrelid AND p.relispartition)
            SELECT c.oid, n.nspname, c.relname, c.relkind::text AS kind,
                   CASE WHEN c.relreplident = 'i' AND NOT EXISTS (SELECT 1 FROM pg_index x
                             WHERE x.indrelid = c.oid AND x.indisreplident) THEN 'n' ELSE c.relreplident::text END AS ident,
                   EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = c.oid AND x.indisprimary) AS pk,
                   c.relpersistence = 'u' AS unlogged, pg_get_userbyid(c.relowner) AS owner,
                   pg_has_role(current_user, c.relowner, 'USAGE') AS owned, t.level, c.relkind <> 'p' AS leaf,
                   c.reltoastrelid <> 0 AND pg_relation_size(c.reltoastrelid) > 0 AS toasted,
                   EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attgenerated = 's'
                                                          AND NOT a.attisdropped) AS generated
              FROM tree t JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE t.level = 0 OR c.relkind <> 'p'
             ORDER BY t.ord, t.level, n.nspname, c.relname""";

    static List<Rel> details(Connection c, List<Long> oids) throws SQLException {
        List<Rel> out = new ArrayList<>();
        if (oids.isEmpty()) return out;
        try (PreparedStatement st = c.prepareStatement(DETAILS)) {
            st.setArray(1, c.createArrayOf("int8", oids.toArray(Long[]::new)));
            try (var rs = st.executeQuery()) {
                while (rs.next()) out.add(new Rel(rs.getLong("oid"), rs.getString("nspname"), rs.getString("relname"),
                        rs.getString("kind"), rs.getString("ident"), rs.getBoolean("pk"), rs.getBoolean("unlogged"),
                        rs.getString("owner"), rs.getBoolean("owned"), rs.getInt("level"), rs.getBoolean("leaf"),
                        rs.getBoolean("toasted"), rs.getBoolean("generated")));
            }
        }
        return out;
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

    /** Every bad name (an excluded one too) is exit 2. The excluded names go in the same look-up as the tables. */
    static Resolved resolve(Connection c, Asked a) throws SQLException {
        List<String> names = new ArrayList<>(a.tables());
        names.addAll(a.excluded());
        String[] sch = new String[names.size()], rel = new String[names.size()];
        for (int i = 0; i < names.size(); i++) {
            String[] n = Input.tableName(i < a.tables().size() ? "--table" : "--exclude-table", names.get(i));
            sch[i] = n[0];
            rel[i] = n[1];
        }
        List<Long> oids = new ArrayList<>();
        java.util.Set<Long> excluded = new java.util.HashSet<>();
        List<String> problems = new ArrayList<>();
        try (PreparedStatement st = c.prepareStatement(RESOLVE_TABLES)) {
            st.setArray(1, c.createArrayOf("text", sch));
            st.setArray(2, c.createArrayOf("text", rel));
            Map<Integer, List<Object[]>> hits = new TreeMap<>();
            try (var rs = st.executeQuery()) {
                while (rs.next()) hits.computeIfAbsent(rs.getInt("ord") - 1, k -> new ArrayList<>())
                        .add(new Object[] {rs.getObject("oid") == null ? null : rs.getLong("oid"), rs.getString("nspname")});
            }
            List<String> missing = new ArrayList<>();
            hits.forEach((i, rows) -> {
                boolean exclude = i >= a.tables().size();
                String option = exclude ? "--exclude-table" : "--table", arg = "'" + names.get(i) + "'";
                if (rows.get(0)[0] == null) {
                    if (exclude) problems.add(option + " " + arg + ": no such table (names are case-sensitive)");
                    else missing.add(arg);
                } else if (rows.size() > 1) problems.add(option + " " + arg + " is ambiguous, write schema.table: it is in schemas "
                        + rows.stream().map(r -> (String) r[1]).collect(Collectors.joining(", ")));
                else (exclude ? excluded : oids).add((Long) rows.get(0)[0]);
            });
            if (!missing.isEmpty()) problems.add(0, "--table " + Output.few(missing, ", ") + ": no such table"
                    + (java.util.Arrays.stream(sch).limit(a.tables().size()).allMatch(java.util.Objects::isNull) ? " in any schema" : "")
                    + " (names are case-sensitive; views cannot be published)");
        }
        try (PreparedStatement st = c.prepareStatement(RESOLVE_SCHEMAS)) {
            String[] schemaNames = a.schemas().stream().map(s -> Input.name("--schema", s)).toArray(String[]::new);
            st.setArray(1, c.createArrayOf("text", schemaNames));
            Map<String, Boolean> empty = new LinkedHashMap<>();
            try (var rs = st.executeQuery()) {
                while (rs.next()) {
                    String s = rs.getString("sch");
                    if (!rs.getBoolean("found")) problems.add("--schema '" + s + "': no such schema (names are case-sensitive)");
                    else if (rs.getObject("oid") == null) empty.put(s, true);
                    else oids.add(rs.getLong("oid"));
                }
            }
            empty.keySet().forEach(s -> problems.add("--schema '" + s + "' has no tables: create them first, or leave it out"));
        }
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
