///usr/bin/env jbang "$0" "$@" ; exit $?
//SOURCES lib/Runbook.java
//DESCRIPTION Check the replication role has REPLICATION and let it read every table and view of the schemas, now and later (guide step: Grant schema access to your Postgres role)

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "grant-access", mixinStandardHelpOptions = true, version = "grant-access 1.0",
        description = {GrantAccess.DESCRIPTION,
                "For each schema it grants only what the role lacks: USAGE on the schema, SELECT on its tables, views, "
                + "materialized views and foreign tables, and default privileges so those created later (by you, or by "
                + "the other roles that own tables there) are readable too. All schemas in one transaction."},
        footer = {"%nExamples (the URL can also come from $DATABASE_URL):",
                "  jbang grant-access --url \"$DATABASE_URL\"",
                "  jbang grant-access --role alex --schema public --schema \"Sales Data\"",
                "  jbang grant-access --schema sales --dry-run"})
class GrantAccess implements Callable<Exit> {
    static final String DESCRIPTION = "Check the replication role has REPLICATION and let it read every table and view "
            + "of the schemas, now and later (guide step: Grant schema access to your Postgres role)";

    @Mixin Db db = new Db();
    @Mixin Output out = new Output();
    @Option(names = "--role", paramLabel = "ROLE", description = "The role Airbyte connects as (default: the connected "
            + "user). Taken literally, case-sensitive; surrounding double quotes are removed.")
    String role;
    @Option(names = "--schema", paramLabel = "SCHEMA", description = "A schema to replicate from; repeat for several "
            + "(default: " + Defaults.SCHEMA + "). Taken literally, case-sensitive.")
    List<String> schemas;
    @Mixin Flags.LockTimeout lockTimeout = new Flags.LockTimeout();

    /** The step's inputs: the role (null: the connected user), the schemas, how long to wait for a lock. */
    record Options(Target target, String role, List<String> schemas, String lockTimeout, Again again) {}

    Options options() { return new Options(db.target(), role, schemas, lockTimeout.value, Again.typed()); }

    static Runbook.Step step(Options o) { return new Step(o); }

    public Exit call() { return Runbook.run(step(options()), db, out); }

    public static void main(String... args) { Cli.launch(new GrantAccess(), args); }

    /** What GRANT SELECT ON ALL TABLES IN SCHEMA covers, as the guide's statement does: views and foreign tables too. */
    static final String KINDS = "('r', 'p', 'v', 'm', 'f')";

    static final String ROLE = """
            SELECT r.oid IS NOT NULL AS exists, coalesce(?, current_user) AS role, r.rolreplication, r.rolsuper, current_user AS me,
                   ARRAY(SELECT m.rolname::text FROM pg_roles m WHERE m.rolreplication AND m.oid <> r.oid
                            AND pg_has_role(r.oid, m.oid, 'MEMBER') ORDER BY 1) AS replicating_groups,
                   %s AS endpoint
              FROM (SELECT 1) one LEFT JOIN pg_roles r ON r.rolname = coalesce(?, current_user)""".formatted(Catalog.NEON_ENDPOINT);

    /**
     * Per schema asked for, in order: does it exist, has the role USAGE, may the connected user grant it, how many
     * tables, those the role cannot read, and those of them the connected user may not grant SELECT on (with owners)
     * (PostgreSQL refuses such a GRANT with "permission denied", or grants nothing with a mere warning).
     */
    static final String SCHEMAS = """
            SELECT r.rolname AS role, u.name, n.oid IS NOT NULL AS exists, has_schema_privilege(r.oid, n.oid, 'USAGE') AS usage,
                   has_schema_privilege(current_user, n.oid, 'USAGE WITH GRANT OPTION') AS may_grant_usage,
                   pg_get_userbyid(n.nspowner) AS schema_owner, count(c.oid) AS tables,
                   coalesce(array_agg(c.relname::text ORDER BY c.relname) FILTER (WHERE unreadable), '{}') AS unreadable,
                   coalesce(array_agg(c.relname::text ORDER BY c.relname) FILTER (WHERE blocked), '{}') AS blocked,
                   coalesce(array_agg(pg_get_userbyid(c.relowner)::text ORDER BY c.relname) FILTER (WHERE blocked), '{}') AS blocked_owners
              FROM unnest(?::text[]) WITH ORDINALITY u(name, i)
              JOIN pg_roles r ON r.rolname = coalesce(?, current_user)
              LEFT JOIN pg_namespace n ON n.nspname = u.name
              LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN %s
              LEFT JOIN LATERAL (SELECT NOT has_table_privilege(r.oid, c.oid, 'SELECT')) t(unreadable) ON true
              LEFT JOIN LATERAL (SELECT unreadable AND NOT has_table_privilege(current_user, c.oid, 'SELECT WITH GRANT OPTION'))
                     b(blocked) ON true
             GROUP BY u.i, u.name, n.oid, r.oid, r.rolname ORDER BY u.i""".formatted(KINDS);

    /**
     * Per schema, the roles whose future tables the role must be able to read: the connected user and every owner
     * of a table there (not the role itself, nor a role whose privileges it inherits). For each: may the connected
     * user set its default privileges (PostgreSQL 16+ wants the owner's privileges, 14-15 membership), and are they
     * set already (pg_default_acl, in the schema or database-wide).
     */
    static final String CREATORS = """
            WITH r AS (SELECT oid FROM pg_roles WHERE rolname = coalesce(?, current_user)),
                 s AS (SELECT n.oid, n.nspname, u.i FROM unnest(?::text[]) WITH ORDINALITY u(name, i)
                         JOIN pg_namespace n ON n.nspname = u.name),
                 g AS (SELECT s.oid AS nsp, (SELECT oid FROM pg_roles WHERE rolname = current_user) AS creator FROM s
                       UNION SELECT c.relnamespace, c.relowner FROM pg_class c JOIN s ON c.relnamespace = s.oid
                        WHERE c.relkind IN %s)
            SELECT s.nspname, o.rolname,
                   pg_has_role(current_user, o.oid, CASE WHEN current_setting('server_version_num')::int >= 160000
                                                        THEN 'USAGE' ELSE 'MEMBER' END) AS may_act,
                   EXISTS (SELECT FROM pg_default_acl d, aclexplode(d.defaclacl) a
                            WHERE d.defaclrole = o.oid AND d.defaclnamespace IN (s.oid, 0) AND d.defaclobjtype = 'r'
                              AND a.grantee IN (r.oid, 0) AND a.privilege_type = 'SELECT') AS already_set
              FROM g JOIN s ON s.oid = g.nsp JOIN pg_roles o ON o.oid = g.creator CROSS JOIN r
             WHERE o.oid <> r.oid AND NOT pg_has_role(r.oid, o.oid, 'USAGE')
             ORDER BY s.i, o.rolname <> current_user, o.rolname""".formatted(KINDS);

    /** The role as the catalog knows it ({@code name}: the one asked for, else the connected user). */
    record Role(boolean exists, String name, boolean replication, boolean superuser, String me, String[] replicatingGroups,
                String endpoint) {}

    record Schema(String role, String name, boolean exists, boolean usage, boolean mayGrantUsage, String owner, long tables,
                  String[] unreadable, String[] blocked, String[] blockedOwners) {}

    /** A role whose future tables in a schema the role must be able to read: may we set that, is it set already. */
    record Creator(String schema, String owner, boolean mayAct, boolean alreadySet) {}

    /** {@code role} null: the connected user. */
    static Pipeline.Answer<List<Schema>> schemas(Pipeline p, String role, List<String> names) {
        return p.query(SCHEMAS, Pipeline.all(rs -> new Schema(rs.getString("role"), rs.getString("name"), rs.getBoolean("exists"),
                rs.getBoolean("usage"), rs.getBoolean("may_grant_usage"), rs.getString("schema_owner"), rs.getLong("tables"),
                Pipeline.texts(rs, "unreadable"), Pipeline.texts(rs, "blocked"), Pipeline.texts(rs, "blocked_owners"))), names.toArray(String[]::new), role);
    }

    /** The step: who is the role, what it can read, and the grants it lacks. */
    private record Step(Options o) implements Runbook.Step {
        public String name() { return "grant-access"; }

        @Override public void validate() {
            Input.duration("--lock-timeout", o.lockTimeout());
            if (o.role() != null) Input.name("--role", o.role());
            Input.schemas(o.schemas());
        }

        String requestedRole() { return o.role() == null ? null : Input.name("--role", o.role()); }

        public Runbook.Reading read(Pipeline p) {
            List<String> names = Input.schemas(o.schemas());
            String asked = requestedRole();
            Pipeline.Answer<Role> role = p.query(ROLE, Pipeline.one(rs -> new Role(rs.getBoolean("exists"), rs.getString("role"),
                    rs.getBoolean("rolreplication"), rs.getBoolean("rolsuper"), rs.getString("me"), Pipeline.texts(rs, "replicating_groups"),
                    rs.getString("endpoint"))), asked, asked);
            Pipeline.Answer<List<Schema>> schemas = schemas(p, asked, names);
            Pipeline.Answer<List<Creator>> creators = p.query(CREATORS, Pipeline.all(rs -> new Creator(rs.getString("nspname"),
                    rs.getString("rolname"), rs.getBoolean("may_act"), rs.getBoolean("already_set"))), asked, names.toArray(String[]::new));
            return () -> assess(role.get(), schemas.get(), creators.get());
        }

        private Runbook.Assessment assess(Role found, List<Schema> schemas, List<Creator> creators) {
            List<Runbook.Finding> f = new ArrayList<>();
            String role = Input.ident(found.name());
            if (!found.exists()) throw Failure.badInput("--role: role " + role + " does not exist: give an existing "
                    + "role (SELECT rolname FROM pg_roles WHERE rolcanlogin), names are case-sensitive");
            String me = Input.ident(found.me());
            boolean neon = Catalog.onNeon(found.endpoint(), o.target());
            if (found.replication() || found.superuser())
                f.add(Runbook.Finding.ok("replication", "role " + role + " has "
                        + (found.replication() ? "REPLICATION" : "superuser (replication included)")));
            else f.add(noReplication(role, found.replicatingGroups(), neon));
            for (Schema s : schemas)
                if (!s.exists()) throw Failure.badInput("--schema: schema " + Input.ident(s.name()) + " does not exist in this "
                        + "database: check the name (case-sensitive; list them with \\dn) or the database in the URL");

            Map<String, List<String>> defaultsFor = new LinkedHashMap<>();
            Set<String> warned = new HashSet<>();
            for (Creator cr : creators) {
                String s = cr.schema(), owner = Input.ident(cr.owner());
                if (cr.alreadySet()) continue;
                if (cr.mayAct()) defaultsFor.computeIfAbsent(s, k -> new ArrayList<>()).add(owner);
                else {
                    warned.add(s);
                    f.add(Runbook.Finding.warn("default privileges", owner + " owns tables in schema " + Input.ident(s)
                            + " and " + me + " cannot act for it, so tables " + owner + " creates there later will not be "
                            + "readable by " + role, Catalog.membership(List.of(cr.owner()), me, o.again().with())));
                }
            }
            List<Runbook.Sql> plan = new ArrayList<>();
            for (Schema s : schemas) {
                String schema = Input.ident(s.name()), subject = "schema " + schema;
                List<String> todo = new ArrayList<>();
                if (!s.usage()) {
                    plan.add(new Runbook.Sql("GRANT USAGE ON SCHEMA " + schema + " TO " + role, subject));
                    todo.add("USAGE");
                    if (!s.mayGrantUsage()) f.add(Runbook.Finding.fail(subject, role + " has no USAGE on it and " + me
                            + " may not grant it (the schema is owned by " + Input.ident(s.owner()) + ")",
                            Catalog.membership(List.of(s.owner()), me, o.again().with())));
                }
                if (s.unreadable().length > 0) {
                    // By name, only those it cannot read: ON ALL TABLES IN SCHEMA reads all of pg_class five times a schema.
                    List<String> tables = Arrays.stream(s.unreadable()).map(t -> schema + "." + Input.ident(t)).toList();
                    for (List<String> list : Input.chunks(tables))
                        plan.add(new Runbook.Sql("GRANT SELECT ON TABLE " + String.join(", ", list) + " TO " + role, subject,
                                list, Locks.SHARE_UPDATE_EXCLUSIVE));
                    todo.add("SELECT on " + s.unreadable().length + " of " + s.tables() + " table(s)");
                }
                if (s.blocked().length > 0) {
                    Set<String> owners = new LinkedHashSet<>(List.of(s.blockedOwners()));
                    f.add(Runbook.Finding.fail(subject, role + " cannot read " + list(schema, s.blocked()) + " (owned by "
                            + String.join(", ", owners.stream().map(Input::ident).toList()) + ") and " + me + " may not grant "
                            + "SELECT on " + (s.blocked().length == 1 ? "it" : "them"),
                            Catalog.membership(owners, me, o.again().with())));
                }
                for (String owner : defaultsFor.getOrDefault(s.name(), List.of()))
                    plan.add(new Runbook.Sql(defaultPrivileges(owner.equals(me) ? null : owner, schema, role), subject));
                if (defaultsFor.containsKey(s.name()))
                    todo.add("SELECT on tables created later by " + String.join(", ", defaultsFor.get(s.name())));
                if (!s.mayGrantUsage() && !s.usage() || s.blocked().length > 0) continue; // its FAIL says it all
                f.add(Runbook.Finding.ok(subject, todo.isEmpty() ? role + " can read its " + s.tables() + " table(s)"
                        + (warned.contains(s.name()) ? "" : " and those created later") : "to grant " + role + ": " + String.join("; ", todo)));
            }
            if (!plan.isEmpty()) plan.add(0, Runbook.lockTimeout(o.lockTimeout(), true));
            return new Runbook.Assessment(f, new Runbook.Plan(plan, true));
        }

        /** Without an owner: for tables the connected user creates later (the guide's statement). */
        static String defaultPrivileges(String owner, String schema, String role) {
            return "ALTER DEFAULT PRIVILEGES " + (owner == null ? "" : "FOR ROLE " + owner + " ") + "IN SCHEMA " + schema
                    + " GRANT SELECT ON TABLES TO " + role;
        }

        private Runbook.Finding noReplication(String role, String[] memberOf, boolean neon) {
            String message = "role " + role + " lacks REPLICATION, which Airbyte's replication connection needs"
                    + (memberOf.length == 0 ? "" : "; it is a member of " + String.join(", ", Arrays.stream(memberOf)
                    .map(Input::ident).toList()) + ", which " + (memberOf.length == 1 ? "has" : "have") + " it, but REPLICATION is a role "
                    + "attribute and is not inherited through membership");
            String fix = neon
                    ? "on Neon, roles created with SQL cannot get REPLICATION: use the default role made with the project, or "
                      + "create a role in the Neon console, CLI (neonctl roles create) or API, then pass it with --role"
                    : "as a superuser:  ALTER ROLE " + role + " REPLICATION;\nthen:  " + o.again().with();
            return Runbook.Finding.fail("replication", message, fix);
        }

        /** After the grants, on the same connection: a safety net, as GRANT skips with a mere warning what it may not grant. */
        @Override public Runbook.Looking verify(Pipeline p) {
            Pipeline.Answer<List<Schema>> schemas = schemas(p, requestedRole(), Input.schemas(o.schemas()));
            return () -> {
                List<Runbook.Finding> f = new ArrayList<>();
                for (Schema s : schemas.get()) {
                    String schema = Input.ident(s.name()), role = Input.ident(s.role());
                    if (!s.usage()) f.add(Runbook.Finding.fail("verify", role + " has no USAGE on schema " + schema,
                            "as the schema's owner:  GRANT USAGE ON SCHEMA " + schema + " TO " + role + ";"));
                    if (s.unreadable().length > 0) f.add(Runbook.Finding.fail("verify", role + " cannot read " + s.unreadable().length
                            + " table(s) in schema " + schema + ": " + list(schema, s.unreadable()),
                            "as their owner:  GRANT SELECT ON ALL TABLES IN SCHEMA " + schema + " TO " + role + ";"));
                    else if (s.usage()) f.add(Runbook.Finding.ok("verify", role + " can read all " + s.tables() + " table(s) in schema " + schema));
                }
                return f;
            };
        }

        private static String list(String schema, String[] tables) {
            return Output.few(Arrays.stream(tables).map(t -> schema + "." + Input.ident(t)).toList());
        }
    }
}
