//SOURCES Runbook.java

import java.util.ArrayList;
import java.util.List;

/**
 * The heartbeat that keeps a quiet database syncing: a one-row table in the publication that Airbyte upserts with
 * its heartbeat_action_query, so the slot has something to confirm even when nothing else is written (otherwise
 * the second sync can fail with "Saved offset is before replication slot's confirmed lsn").
 * Used by create-publication (creates and publishes the table) and airbyte-source (emits the query).
 */
final class Heartbeat {
    private Heartbeat() {}

    /** --heartbeat and --heartbeat-table, the same for create-publication, airbyte-source and setup. */
    static final class Options {
        @picocli.CommandLine.Option(names = "--heartbeat", description = "Use a one-row heartbeat table that Airbyte "
                + "upserts (heartbeat_action_query) so a quiet database keeps syncing: create-publication makes and "
                + "publishes it, airbyte-source emits the query.")
        boolean enabled;
        @picocli.CommandLine.Option(names = "--heartbeat-table", defaultValue = "airbyte_heartbeat", paramLabel = "[SCHEMA.]TABLE",
                description = "Its name (default: ${DEFAULT-VALUE}, in schema public).")
        String table = "airbyte_heartbeat";
    }

    /** {@code [schema, table]} of --heartbeat-table; a name without a schema goes in public. */
    static String[] table(String raw) {
        String[] t = Input.tableName("--heartbeat-table", raw);
        return new String[] {t[0] == null ? "public" : t[0], t[1]};
    }

    /** Airbyte's heartbeat_action_query: one row for ever, not a growing log. */
    static String query(String raw) {
        String[] t = table(raw);
        return "INSERT INTO " + Input.qualified(t[0], t[1]) + " (id, beat) VALUES (1, now()) "
                + "ON CONFLICT (id) DO UPDATE SET beat = excluded.beat";
    }

    /** What the table is now: its oid when it exists, and what to run so it exists and the role may upsert it. */
    record State(Long oid, String schema, String table, List<Runbook.Finding> findings, List<Runbook.Sql> plan) {}

    static final String QUERY = """
            SELECT c.oid::int8 AS oid,
                   (SELECT count(*) FROM pg_attribute a WHERE a.attrelid = c.oid AND NOT a.attisdropped
                       AND a.attname IN ('id', 'beat')) = 2 AS heartbeat_columns,
                   r.oid IS NOT NULL AS role_exists, r.rolname = current_user OR pg_has_role(r.oid, c.relowner, 'USAGE') AS owns,
                   has_table_privilege(r.oid, c.oid, 'SELECT') AND has_table_privilege(r.oid, c.oid, 'INSERT')
                       AND has_table_privilege(r.oid, c.oid, 'UPDATE') AS may_upsert,
                   EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = ?) AS schema_exists
              FROM (SELECT 1) AS one
              LEFT JOIN (pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = ?) ON c.relname = ?
              LEFT JOIN pg_roles r ON r.rolname = coalesce(?, current_user)""";

    /** Read-only. {@code role} is the role Airbyte connects as (null: the connected user). */
    static Pipeline.Answer<State> inspect(Pipeline p, String raw, String role) {
        String[] t = table(raw);
        String q = Input.qualified(t[0], t[1]);
        return p.query(QUERY, Pipeline.one(rs -> {
                List<Runbook.Finding> f = new ArrayList<>();
                List<Runbook.Sql> plan = new ArrayList<>();
                Long oid = rs.getObject("oid") == null ? null : rs.getLong("oid");
                if (!rs.getBoolean("schema_exists")) throw Failure.badInput("--heartbeat-table " + raw + ": schema " + Input.ident(t[0])
                        + " does not exist: give schema.table in an existing schema (names are case-sensitive)");
                if (!rs.getBoolean("role_exists")) throw Failure.badInput("--role " + role + ": no such role: give an existing role (names are case-sensitive)");
                String grantee = role == null ? null : Input.ident(Input.name("--role", role));
                if (oid == null) {
                    plan.add(new Runbook.Sql("CREATE TABLE " + q + " (id int PRIMARY KEY CHECK (id = 1), "
                            + "beat timestamptz NOT NULL DEFAULT now())", q));
                    if (grantee != null) plan.add(new Runbook.Sql("GRANT SELECT, INSERT, UPDATE ON " + q + " TO " + grantee, q));
                    f.add(Runbook.Finding.ok("heartbeat", q + " will be created (one row, upserted by Airbyte) and published"));
                } else if (!rs.getBoolean("heartbeat_columns")) {
                    f.add(Runbook.Finding.fail("heartbeat", q + " exists but has no id and beat columns: it is not a "
                            + "heartbeat table made here", "choose another name with --heartbeat-table"));
                } else {
                    f.add(Runbook.Finding.ok("heartbeat", q + " exists"));
                    if (!rs.getBoolean("owns") && !rs.getBoolean("may_upsert")) plan.add(new Runbook.Sql("GRANT SELECT, INSERT, UPDATE ON " + q
                            + " TO " + grantee, q));
                }
                return new State(oid, t[0], t[1], f, plan);
        }), t[0], t[0], t[1], role == null ? null : Input.name("--role", role));
    }
}
