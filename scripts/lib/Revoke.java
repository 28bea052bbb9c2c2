import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

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
            SELECT s.name, r.oid IS NOT NULL AS role_exists, s.oid IS NOT NULL AS schema_exists, s.nspowner = r.oid AS owns_schema,
                   EXISTS (SELECT FROM pg_class c WHERE c.relnamespace = s.oid AND c.relowner = r.oid AND c.relkind IN %1$s) AS owns_tables,
                   ARRAY(SELECT DISTINCT g.relname::text FROM g WHERE g.nsp = s.oid AND g.mine ORDER BY 1) AS tables,
                   ARRAY(SELECT format('%%I (granted by %%I)', g.relname, pg_get_userbyid(g.grantor)) FROM g
                          WHERE g.nsp = s.oid AND NOT g.mine ORDER BY 1) AS others,
                   ARRAY(SELECT pg_get_userbyid(a.grantor)::text FROM aclexplode(s.nspacl) a
                          WHERE a.grantee = r.oid AND a.privilege_type = 'USAGE' AND s.nspowner <> r.oid
                            AND NOT (a.grantor = me.oid OR a.grantor = s.nspowner AND pg_has_role(me.oid, s.nspowner, 'USAGE'))) AS usage_by,
                   EXISTS (SELECT FROM aclexplode(s.nspacl) a WHERE a.grantee = r.oid AND a.privilege_type = 'USAGE'
                              AND s.nspowner <> r.oid
                              AND (a.grantor = me.oid OR a.grantor = s.nspowner AND pg_has_role(me.oid, s.nspowner, 'USAGE'))) AS usage
              FROM s LEFT JOIN r ON true CROSS JOIN me ORDER BY s.i""".formatted(KINDS);

    /** Per schema, the owners whose default privileges give the role SELECT, and whether we may change them. */
    static final String DEFAULTS = """
            SELECT u.name, o.rolname, pg_has_role(current_user, o.oid, CASE WHEN current_setting('server_version_num')::int
                                                              >= 160000 THEN 'USAGE' ELSE 'MEMBER' END) AS may_act
              FROM unnest(?::text[]) WITH ORDINALITY u(name, i)
              JOIN pg_namespace n ON n.nspname = u.name
              JOIN pg_default_acl d ON d.defaclnamespace = n.oid AND d.defaclobjtype = 'r'
              JOIN pg_roles o ON o.oid = d.defaclrole
              JOIN pg_roles r ON r.rolname = ?
             WHERE d.defaclrole <> r.oid
               AND EXISTS (SELECT FROM aclexplode(d.defaclacl) a WHERE a.grantee = r.oid AND a.privilege_type = 'SELECT')
             ORDER BY u.i, o.rolname""";

    /** What revoking comes to: findings (warnings for what others granted) and the statements. */
    record Found(List<Runbook.Finding> findings, List<Runbook.Sql> plan) {}

    private record Default(String schema, String owner, boolean mayAct) {}

    private record Grants(String name, boolean roleExists, boolean schemaExists, boolean ownsSchema, boolean ownsTables,
                          boolean usage, String[] tables, String[] others, String[] usageBy) {}

    /** Both reads in the pipeline; the answer is what to revoke. */
    Pipeline.Answer<Found> read(Pipeline p) {
        String[] names = schemas.toArray(String[]::new);
        Pipeline.Answer<List<Default>> defaults = p.query(DEFAULTS, Pipeline.all(rs -> new Default(rs.getString("name"),
                rs.getString("rolname"), rs.getBoolean("may_act"))), names, role);
        Pipeline.Answer<List<Grants>> grants = p.query(GRANTS, Pipeline.all(rs -> new Grants(rs.getString("name"),
                rs.getBoolean("role_exists"), rs.getBoolean("schema_exists"), rs.getBoolean("owns_schema"),
                rs.getBoolean("owns_tables"), rs.getBoolean("usage"), Pipeline.texts(rs, "tables"), Pipeline.texts(rs, "others"),
                Pipeline.texts(rs, "usage_by"))), role, names);
        return () -> found(defaults.get(), grants.get());
    }

    private Found found(List<Default> defaultRows, List<Grants> grantRows) {
        String r = Input.ident(role);
        List<Runbook.Finding> f = new ArrayList<>();
        java.util.Map<String, List<String>> defaults = new java.util.HashMap<>();
        for (Default d : defaultRows) {
            String schema = Input.ident(d.schema()), owner = Input.ident(d.owner());
            if (d.mayAct()) defaults.computeIfAbsent(d.schema(), k -> new ArrayList<>()).add(owner);
            else f.add(Runbook.Finding.warn("grants " + schema, "default privileges of " + owner + " give " + r
                    + " SELECT on tables it creates later in " + schema + ", and only " + owner + " may change them",
                    "as " + owner + ":  ALTER DEFAULT PRIVILEGES IN SCHEMA " + schema + " REVOKE SELECT ON TABLES FROM " + r + ";"));
        }
        List<Runbook.Sql> plan = new ArrayList<>();
        for (Grants g : grantRows) {
            String name = g.name(), schema = Input.ident(name), subject = "schema " + schema;
            if (!g.roleExists()) throw Failure.badInput("--role: role " + r + " does not exist (names are case-sensitive)");
            if (!g.schemaExists()) throw Failure.badInput("--schema: schema " + schema + " does not exist in this database");
            String[] tables = g.tables(), others = g.others(), usageBy = g.usageBy();
            List<String> todo = new ArrayList<>();
            if (tables.length > 0) {
                // ON ALL TABLES would also take SELECT from the role on the tables it owns: list them instead.
                List<String> quoted = java.util.Arrays.stream(tables).map(t -> Input.qualified(name, t)).toList();
                plan.add(new Runbook.Sql("REVOKE SELECT ON " + (g.ownsTables() ? "TABLE " + String.join(", ", quoted)
                        : "ALL TABLES IN SCHEMA " + schema) + " FROM " + r, subject, quoted, Locks.SHARE_UPDATE_EXCLUSIVE));
                todo.add("SELECT on " + tables.length + " table(s)");
            }
            for (String owner : defaults.getOrDefault(name, List.of())) {
                plan.add(new Runbook.Sql("ALTER DEFAULT PRIVILEGES FOR ROLE " + owner + " IN SCHEMA " + schema
                        + " REVOKE SELECT ON TABLES FROM " + r, subject));
                todo.add("SELECT on tables " + owner + " creates later");
            }
            if (g.usage()) {
                plan.add(new Runbook.Sql("REVOKE USAGE ON SCHEMA " + schema + " FROM " + r, subject));
                todo.add("USAGE");
            }
            if (others.length > 0 || usageBy.length > 0)
                f.add(Runbook.Finding.warn("grants " + schema, r + " keeps what others granted it, which only they "
                        + "may revoke: " + String.join(", ", others) + (usageBy.length == 0 ? "" : (others.length == 0
                        ? "" : "; ") + "USAGE on the schema (granted by " + String.join(", ", usageBy) + ")"),
                        "as that grantor:  REVOKE SELECT ON TABLE " + schema + ".<table> FROM " + r + ";"));
            boolean ownsSchema = g.ownsSchema(), ownsTables = g.ownsTables();
            String kept = ownsSchema || ownsTables ? " (" + r + " owns " + (ownsSchema ? "the schema" : "")
                    + (ownsSchema && ownsTables ? " and " : "") + (ownsTables ? "tables" : "") + " there: an "
                    + "owner's rights are never revoked)" : "";
            f.add(Runbook.Finding.ok("grants " + schema, (todo.isEmpty() ? r + " has no grant here to revoke"
                    : "revokes from " + r + ": " + String.join("; ", todo)) + kept));
        }
        return new Found(f, plan);
    }
}
