import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * airbyte-source's --schema names against the database, as Airbyte's discovery will see them: a name that does not
 * exist is bad input (with the name meant, when one is close), a schema where the role may read nothing a warning.
 */
final class SchemaLookup {
    private SchemaLookup() {}

    /**
     * One query for every name at once (an array parameter: no name becomes SQL text): whether the schema exists, whether
     * the connected user may use it, how many tables and views it holds and how many of them that user may SELECT
     * (what Airbyte's discovery lists), and, for a name not found, the schemas whose name is about as long.
     */
    static final String SCHEMAS = """
            WITH who AS (SELECT (SELECT oid FROM pg_roles WHERE rolname = ?) AS oid)
            SELECT s.name, n.oid IS NOT NULL AS exists, COALESCE(has_schema_privilege(who.oid, n.oid, 'USAGE'), false) AS usage,
                   r.relations, r.readable,
                   CASE WHEN n.oid IS NULL THEN ARRAY(SELECT o.nspname::text FROM pg_namespace o
                                                       WHERE abs(length(o.nspname) - length(s.name)) <= 2
                                                         AND o.nspname !~ '^pg_(toast|temp_)'
                                                       ORDER BY 1) END AS near
              FROM who CROSS JOIN unnest(?::text[]) WITH ORDINALITY AS s(name, i)
              LEFT JOIN pg_namespace n ON n.nspname = s.name
              LEFT JOIN LATERAL (SELECT count(*) AS relations,
                                        count(*) FILTER (WHERE coalesce(has_table_privilege(who.oid, c.oid, 'SELECT'), false)) AS readable
                                   FROM pg_class c WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f')) r ON true
             ORDER BY s.i""";

    /** A --schema name the database does not have, and the one meant (null when none is close). */
    private record Missing(String name, String meant) {
        @Override public String toString() { return quoted(name) + (meant == null ? "" : " (did you mean " + Invocation.shell(meant) + "?)"); }
    }

    /**
     * Checks that every schema exists in the database (exit 2 naming those that do not, with the name meant when one is
     * close, and {@code aftermath}, e.g. "nothing was sent", when given); returns a warning for each schema where
     * {@code user}, the role Airbyte connects as, may read nothing.
     */
    static List<String> check(Connection c, List<String> schemas, String database, String user, String aftermath) throws SQLException {
        List<Missing> missing = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(SCHEMAS)) {
            ps.setString(1, user);
            ps.setArray(2, c.createArrayOf("text", schemas.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String name = rs.getString("name");
                    if (!rs.getBoolean("exists")) {
                        missing.add(new Missing(name, meant(name, List.of(Pipeline.texts(rs, "near")))));
                        continue;
                    }
                    long relations = rs.getLong("relations"), readable = rs.getLong("readable");
                    String fix = "; fix, connected as the owner of its tables:  "
                            + Invocation.current().other("grant-access", List.of("--role", user, "--schema", name));
                    if (relations == 0)
                        warnings.add("warning: schema " + quoted(name) + " has no tables or views yet: Airbyte would discover "
                                + "nothing there (tables created later appear when Airbyte refreshes the source's schema)");
                    else if (!rs.getBoolean("usage"))
                        warnings.add("warning: " + user + " has no USAGE on schema " + quoted(name) + ": Airbyte, connecting as "
                                + user + ", would discover none of its " + count(relations) + fix);
                    else if (readable == 0)
                        warnings.add("warning: " + user + " may SELECT none of the " + count(relations) + " in schema "
                                + quoted(name) + ": Airbyte, connecting as " + user + ", would discover nothing there" + fix);
                }
            }
        }
        if (missing.isEmpty()) return warnings;
        boolean unknown = missing.stream().anyMatch(m -> m.meant() == null);
        boolean caseOnly = missing.stream().anyMatch(m -> m.meant() != null && m.meant().equalsIgnoreCase(m.name()));
        String reason, after = aftermath == null ? "" : " (" + aftermath + ")";
        if (missing.size() == 1) {
            Missing m = missing.get(0);
            reason = "--schema " + quoted(m.name()) + " does not exist in database " + database + after
                    + (m.meant() == null ? "" : "; did you mean " + Invocation.shell(m.meant()) + "?");
        } else {
            List<String> shown = missing.stream().map(Missing::toString).toList();
            reason = "--schema " + String.join(", ", shown.subList(0, shown.size() - 1)) + " and " + shown.get(shown.size() - 1)
                    + " do not exist in database " + database + after;
        }
        reason += unknown ? ": check the name" + (missing.size() > 1 ? "s" : "") + " (case-sensitive; \\dn in psql lists the schemas)"
                : caseOnly ? " (names are case-sensitive)" : "";
        throw Failure.badInput(reason);
    }

    private static String count(long relations) { return relations + (relations == 1 ? " table or view" : " tables and views"); }

    private static String quoted(String name) { return "'" + name + "'"; }

    /**
     * The schema the user meant: one whose name differs only in case, else the nearest within a small edit distance
     * (1 for a name of up to 5 characters, 2 above; none for 2 or fewer), ignoring case; null when none is that close.
     */
    static String meant(String name, List<String> candidates) {
        for (String c : candidates) if (c.equalsIgnoreCase(name)) return c;
        int limit = name.length() <= 2 ? 0 : name.length() <= 5 ? 1 : 2, best = limit + 1;
        String found = null;
        for (String c : candidates) {
            int d = distance(name.toLowerCase(java.util.Locale.ROOT), c.toLowerCase(java.util.Locale.ROOT));
            if (d < best) { best = d; found = c; }
        }
        return found;
    }

    /** Edit distance with adjacent transpositions (optimal string alignment): pubic/public 1, pbulic/public 1. */
    static int distance(String a, String b) {
        int[][] d = new int[a.length() + 1][b.length() + 1];
        for (int i = 0; i <= a.length(); i++) d[i][0] = i;
        for (int j = 0; j <= b.length(); j++) d[0][j] = j;
        for (int i = 1; i <= a.length(); i++)
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1))
                    d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
            }
        return d[a.length()][b.length()];
    }
}
