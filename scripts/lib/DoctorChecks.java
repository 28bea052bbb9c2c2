import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Doctor's own checks of the connection, the server, the role, the publication and the replica identity of its
 * tables: what the guide steps do not look at. Each check group takes doctor's context and returns its findings (and
 * what a later group needs); every query reads the catalog for all tables at once.
 */
final class DoctorChecks {
    private DoctorChecks() {}

    /** How doctor prints a command a fix names: a step's, with doctor's options and connection, or doctor again. */
    interface Commands {
        String step(String name, String... extra);
    }

    /**
     * What every check group knows of the run: the connection, where it leads, the role Airbyte connects as, the
     * schemas, the publication, the slot, the heartbeat table, whether to decode the slot, and how to print commands.
     */
    record Context(Connection c, Target target, String role, List<String> schemas, Tables.Asked asked, String publication,
                   String slot, String heartbeatTable, boolean deep, String peekTimeout, Commands commands) {
        String publicationCommand(String... extra) { return commands.step("create-publication", extra); }
    }

    /** What the connection showed, for the groups after it. */
    record Server(List<Runbook.Finding> connection, boolean standby, boolean neon, int version) {}

    static final String CONNECTION = """
            SELECT current_user AS me, current_database() AS db, coalesce(s.ssl, false) AS ssl, s.version AS tls_version,
                   pg_is_in_recovery() AS standby, current_setting('server_version_num')::int AS version, %s AS endpoint
              FROM (SELECT 1) one LEFT JOIN pg_stat_ssl s ON s.pid = pg_backend_pid()""".formatted(Catalog.NEON_ENDPOINT);

    /** Reachable and authenticated (else connecting failed, exit 3), TLS in use for this backend, and verified or not. */
    static Pipeline.Answer<Server> connection(Pipeline p, Target t) {
        return p.query(CONNECTION, Pipeline.one(rs -> {
            List<Runbook.Finding> f = new ArrayList<>();
            boolean neon = Catalog.onNeon(rs.getString("endpoint"), t);
            f.add(Runbook.Finding.ok("connected", "as " + Input.ident(rs.getString("me")) + " to database "
                    + Input.ident(rs.getString("db")) + " on " + t.host + ":" + t.port));
            // With sslmode require or verify-* pgjdbc connects over TLS or not at all, even where TLS ends at a proxy
            // and the server's pg_stat_ssl sees the proxy's plain connection. Neon's proxy refuses connections without TLS,
            // but sslmode disable never asks for it: a database that only says it is Neon's is not encrypted then.
            boolean verified = t.sslmode.startsWith("verify-"), required = verified || t.sslmode.equals("require");
            boolean seen = rs.getBoolean("ssl"), neonProxy = neon && !t.sslmode.equals("disable");
            if (seen || required || neonProxy) f.add(Runbook.Finding.ok("tls", "encrypted (" + (seen ? rs.getString("tls_version")
                    : neon ? "TLS ends at Neon's proxy, which refuses connections without it" : "TLS ends at a proxy in front of the server") + "), "
                    + (verified ? "server certificate verified (sslmode " + t.sslmode + ")"
                    : "not verified (sslmode " + t.sslmode + ": the server's certificate is not checked)")));
            else f.add(Runbook.Finding.warn("tls", t.sslmode.equals("disable") ? "not encrypted (sslmode disable)"
                    : "not known to be encrypted: the server sees no TLS, and sslmode " + t.sslmode + " goes on without it",
                    "connect with sslmode=require (or verify-full and the server's CA certificate), here and in Airbyte's "
                    + "SSL Mode: Airbyte Cloud refuses an unencrypted connection without an SSH tunnel"));
            return new Server(f, rs.getBoolean("standby"), neon, rs.getInt("version"));
        }));
    }

    /** Logical slots live on a primary; a standby can hold them only from PostgreSQL 16. */
    static List<Runbook.Finding> standby(Server s) {
        if (!s.standby()) return List.of(Runbook.Finding.ok("primary", "a primary (read-write), not a standby"));
        if (s.version() < 160000)
            return List.of(Runbook.Finding.fail("primary", "a standby (in recovery): before PostgreSQL 16 a standby "
                    + "cannot have logical replication slots", s.neon() ? "connect to the branch's read-write compute, not a "
                    + "read replica" : "connect to the primary (the read-write server) here and in Airbyte"));
        return List.of(Runbook.Finding.warn("primary", "a standby (in recovery): PostgreSQL 16+ can decode here, but "
                + "the slot must be made on this standby, and it does not follow a failover",
                "connect to the primary unless you mean Airbyte to read from this standby"));
    }

    static final String ROLE = """
            SELECT r.oid IS NOT NULL AS exists, r.rolcanlogin, has_database_privilege(r.oid, current_database(), 'CONNECT') AS connect,
                   current_database() AS db
              FROM (SELECT 1) one LEFT JOIN pg_roles r ON r.rolname = ?""";

    /** The role Airbyte connects as, as the catalog knows it. */
    record Role(boolean exists, boolean canLogin, boolean connect, String database) {}

    static Pipeline.Answer<Role> role(Pipeline p, String role) {
        return p.query(ROLE, Pipeline.one(rs -> new Role(rs.getBoolean("exists"), rs.getBoolean("rolcanlogin"),
                rs.getBoolean("connect"), rs.getString("db"))), role);
    }

    /** Exists, may log in, may connect to this database (REPLICATION is grant-access's finding); empty: no such role. */
    static List<Runbook.Finding> role(Context x, Role r, boolean neon) {
        String role = Input.ident(x.role());
        if (!r.exists())
            return List.of(Runbook.Finding.fail("role", "role " + role + " does not exist (names are case-sensitive)",
                    neon ? "create it in the Neon console (Roles), or with neonctl roles create: such roles have REPLICATION"
                         : "as a superuser:  CREATE ROLE " + role + " LOGIN REPLICATION PASSWORD '<password>';"));
        String database = Input.ident(r.database());
        return List.of(r.canLogin() ? Runbook.Finding.ok("login", "role " + role + " can log in")
                : Runbook.Finding.fail("login", "role " + role + " cannot log in (NOLOGIN)", "ALTER ROLE " + role + " LOGIN;"),
                r.connect() ? Runbook.Finding.ok("connect", role + " may connect to database " + database)
                : Runbook.Finding.fail("connect", role + " has no CONNECT privilege on database " + database,
                        "GRANT CONNECT ON DATABASE " + database + " TO " + role + ";"));
    }

    static final String PUBLICATION = """
            SELECT p.oid IS NOT NULL AS exists, p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, p.pubviaroot,
                   ARRAY(SELECT DISTINCT coalesce(pg_partition_root(c.oid), c.oid)::int8 FROM pg_publication_tables t
                           JOIN pg_namespace n ON n.nspname = t.schemaname
                           JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.tablename
                          WHERE t.pubname = p.pubname) AS tables,
                   ARRAY(SELECT o.pubname::text FROM pg_publication o ORDER BY 1) AS publications
              FROM (SELECT 1) one LEFT JOIN pg_publication p ON p.pubname = ?""";

    /** The tables of the schemas that could be published (doctor leaves out those asked for or published). */
    static final String SCHEMA_TABLES = """
            SELECT c.oid::int8 AS oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = ANY (?::text[]) AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relpersistence = 'p'
             ORDER BY n.nspname, c.relname""";

    /** The publication's findings, and the tables asked for and published (oids), which the replica identity checks. */
    record Publication(List<Runbook.Finding> findings, Set<Long> asked, Set<Long> published) {}

    /** The publication as the catalog knows it ({@code exists} false: only {@code publications} is set). */
    record Pub(boolean exists, boolean allTables, Map<String, Boolean> operations, boolean viaRoot, List<Long> tables,
               List<String> publications) {}

    /**
     * What the publication group and the replica identity group read: the asked names resolved, the publication, the
     * tables of the schemas, and the details of every table these could name.
     */
    record Reads(Pipeline.Answer<Tables.Resolved> asked, Pipeline.Answer<Pub> pub, Pipeline.Answer<List<Long>> schemaTables,
                 Pipeline.Answer<Tables.Details> details) {}

    static Reads reads(Pipeline p, Context x) {
        Pipeline.Answer<Tables.Resolved> asked = Tables.resolve(p, x.asked());
        Pipeline.Answer<Pub> pub = p.query(PUBLICATION, Pipeline.one(rs -> {
            Map<String, Boolean> ops = new LinkedHashMap<>();
            for (String op : List.of("insert", "update", "delete", "truncate")) ops.put(op, rs.getBoolean("pub" + op));
            return new Pub(rs.getBoolean("exists"), rs.getBoolean("puballtables"), ops, rs.getBoolean("pubviaroot"),
                    List.of((Long[]) rs.getArray("tables").getArray()), List.of(Pipeline.texts(rs, "publications")));
        }), x.publication());
        Pipeline.Answer<List<Long>> schemaTables = p.query(SCHEMA_TABLES, Pipeline.all(rs -> rs.getLong("oid")),
                (Object) x.schemas().toArray(String[]::new));
        // The tables create-publication's check reads, in its words (so read once), then what it does not: the
        // publication's tables as they are published, and the tables of the schemas.
        List<Tables.Roots> step = CreatePublication.tables(x.asked(), x.publication());
        Pipeline.Answer<Tables.Details> stepDetails = Tables.details(p, step.toArray(Tables.Roots[]::new));
        Pipeline.Answer<Tables.Details> more = Tables.details(p, Tables.Roots.minus(List.of(Tables.Roots.published(x.publication()),
                Tables.Roots.inSchemas(x.schemas())), step));
        Pipeline.Answer<Tables.Details> details = () -> stepDetails.get().with(more.get());
        return new Reads(asked, pub, schemaTables, details);
    }

    /** Which tables, which operations, partitions, and the tables of the schemas it leaves out. */
    static Publication publication(Context x, Reads reads) throws SQLException {
        List<Runbook.Finding> f = new ArrayList<>();
        Set<Long> asked = new LinkedHashSet<>(), published = new LinkedHashSet<>(), excluded = new LinkedHashSet<>();
        try {
            Tables.Resolved r = reads.asked().get();
            asked.addAll(r.oids());
            excluded.addAll(r.excluded());
        } catch (Failure e) {
            // an unknown --table or --schema: create-publication's finding says so
        }
        String p = Input.ident(x.publication());
        Pub pub = reads.pub().get();
        Tables.Details details = reads.details().get();
        // No publication: create-publication's plan (CREATE PUBLICATION) is the failure and the fix, unless the name is
        // mistyped: then the one that is there is the fix.
        if (!pub.exists()) {
            List<String> others = pub.publications();
            if (!others.isEmpty()) f.add(Runbook.Finding.fail("publication", "no publication " + p + ", but this "
                    + "database has " + Output.few(others.stream().map(Input::ident).toList()) + ": is --publication "
                    + "mistyped?", "if it is " + Input.ident(others.get(0)) + ":  "
                    + Invocation.current().replacing("--publication", others.get(0))));
            return new Publication(f, asked, published);
        }
        published.addAll(pub.tables());
        List<String> ops = new ArrayList<>(), missing = new ArrayList<>();
        pub.operations().forEach((op, on) -> (on ? ops : missing).add(op));
        if (pub.allTables()) f.add(Runbook.Finding.ok("all tables", p + " is FOR ALL TABLES: "
                + "every table, including those created later"));
        missing.remove("truncate");
        f.add(missing.isEmpty() ? Runbook.Finding.ok("operations", "publishes " + String.join(", ", ops))
                : Runbook.Finding.fail("operations", "publishes " + (ops.isEmpty() ? "nothing" : String.join(", ", ops))
                        + " but not " + String.join(", ", missing) + ": Airbyte never sees those changes",
                        "ALTER PUBLICATION " + p + " SET (publish = 'insert, update, delete, truncate');"));
        List<Tables.Rel> tops = details.of(published).stream().filter(r -> r.level() == 0).toList();
        f.add(tops.isEmpty() ? Runbook.Finding.warn("tables", p + " has no tables: Airbyte's CDC sees nothing", x.publicationCommand())
                : Runbook.Finding.ok("tables", tops.size() + " in " + p + ": " + Tables.list(tops)));
        List<Tables.Rel> partitioned = tops.stream().filter(r -> r.kind().equals("p")).toList();
        if (!partitioned.isEmpty()) f.add(pub.viaRoot()
                ? Runbook.Finding.ok("partitions", "partitioned tables publish through their root (publish_via_partition_root): "
                        + Tables.list(partitioned))
                : Runbook.Finding.fail("partitions", "publish_via_partition_root is off: changes to " + Tables.list(partitioned)
                        + " arrive under each partition's name, which Airbyte does not match to the table's stream",
                        "ALTER PUBLICATION " + p + " SET (publish_via_partition_root = true);"));

        Set<Long> known = new LinkedHashSet<>(published);
        known.addAll(asked);
        known.addAll(excluded);
        List<Long> leftOut = reads.schemaTables().get().stream().filter(o -> !known.contains(o)).toList();
        if (!leftOut.isEmpty()) f.add(leftOut(x, p, details.of(leftOut)));
        return new Publication(f, asked, published);
    }

    /** Tables of the schemas outside the publication: Airbyte syncs them as full refresh only. */
    private static Runbook.Finding leftOut(Context x, String p, List<Tables.Rel> rels) {
        List<Tables.Rel> out = rels.stream().filter(r -> r.level() == 0).toList();
        // Published without a replica identity, a table's UPDATE and DELETE fail: create-publication deals with that.
        List<Tables.Rel> noIdentity = rels.stream().filter(r -> r.leaf() && r.identity() == Tables.Identity.MISSING).toList();
        String command = x.publicationCommand(out.stream().flatMap(r -> java.util.stream.Stream.of("--table", r.arg())).toArray(String[]::new));
        return Runbook.Finding.warn("left out", out.size() + " table(s) of the schemas are not in " + p
                + ": Airbyte syncs them as full refresh only: " + Tables.list(out), noIdentity.isEmpty()
                ? new Runbook.Plan(CreatePublication.listing(p, "ALTER PUBLICATION " + p + " ADD TABLE ", out, ""), false).script()
                        + "or:  " + command
                : command + "\n(it asks how to give a replica identity to those without a primary key, whose UPDATE and "
                        + "DELETE would fail once published: " + Tables.list(noIdentity) + ")");
    }

    /**
     * Every published or asked table (for a partitioned one, its leaf partitions, which UPDATE and DELETE hit):
     * DEFAULT with a primary key is right; DEFAULT without one, or NOTHING, makes UPDATE and DELETE fail on the source.
     * Values stored out of line and stored generated columns do not fail: they arrive wrong, so they are named.
     */
    static List<Runbook.Finding> replicaIdentity(Context x, Publication pub, int major, Tables.Details details) {
        Set<Long> all = new LinkedHashSet<>(pub.published());
        all.addAll(pub.asked());
        if (all.isEmpty()) return List.of();
        Map<Long, Tables.Rel> leaves = new LinkedHashMap<>();
        for (Tables.Rel r : details.of(all)) if (r.leaf()) leaves.put(r.oid(), r);
        List<Tables.Rel> fine = new ArrayList<>(), full = new ArrayList<>(), index = new ArrayList<>(), broken = new ArrayList<>();
        for (Tables.Rel r : leaves.values()) {
            switch (r.identity()) {
                case FULL -> full.add(r);
                case INDEX -> index.add(r);
                case KEY -> fine.add(r);
                default -> broken.add(r);
            }
        }
        List<Runbook.Finding> f = new ArrayList<>();
        f.add(Runbook.Finding.ok("default", fine.size() + " of " + leaves.size() + " table(s) DEFAULT with a primary key"));
        if (!full.isEmpty()) f.add(Runbook.Finding.ok("full", "FULL (whole old rows are logged): " + Tables.list(full)));
        if (!index.isEmpty()) f.add(Runbook.Finding.ok("using index", "USING INDEX: " + Tables.list(index)));
        List<Tables.Rel> toasted = leaves.values().stream().filter(Tables.Rel::toastRisk).toList();
        if (!toasted.isEmpty()) f.add(Runbook.Finding.warn("toast", toasted.size() + " table(s) store values out of line "
                + "(TOAST) and log only the key of an old row: an UPDATE that leaves such a value unchanged reaches Airbyte "
                + "as __debezium_unavailable_value (airbytehq/airbyte#30518): " + Tables.list(toasted),
                x.publicationCommand("--full-for-toasted") + "\n-- (REPLICA IDENTITY FULL on exactly these: more WAL per UPDATE and DELETE)"));
        List<Tables.Rel> generated = leaves.values().stream().filter(Tables.Rel::generated).toList();
        if (!generated.isEmpty() && major < 18) f.add(Runbook.Finding.warn("generated columns", generated.size()
                + " table(s) have stored generated columns, which PostgreSQL before 18 does not publish: in the destination "
                + "those columns do not follow the source: " + Tables.list(generated), "compute them in the destination, or "
                + "upgrade to PostgreSQL 18, where create-publication publishes them (publish_generated_columns)"));
        if (broken.isEmpty()) return f;
        List<String> fix = new ArrayList<>();
        for (Tables.Rel r : broken)
            fix.add("ALTER TABLE " + r.q() + " REPLICA IDENTITY " + (r.pk() ? "DEFAULT" : "FULL") + ";");
        if (broken.stream().anyMatch(r -> !r.pk()))
            fix.add("-- or, instead of FULL, give the table a primary key: ALTER TABLE <table> ADD PRIMARY KEY (<columns>);");
        f.add(Runbook.Finding.fail("missing", broken.size() + " table(s) without a usable replica identity (DEFAULT "
                + "without a primary key, or NOTHING): UPDATE and DELETE on them fail on the source while they are published "
                + "(\"cannot update table ... because it does not have a replica identity\"): " + Tables.list(broken),
                String.join("\n", fix)));
        return f;
    }
}
