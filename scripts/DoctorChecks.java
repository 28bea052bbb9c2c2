import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Doctor's own checks of the connection, the role, the publication and the replica identity of its tables: what the
 * guide steps do not look at. Every query reads the catalog for all tables at once.
 */
final class DoctorChecks {
    private final Doctor d;
    private final Connection c;
    boolean roleExists;
    /** Tables asked for (--table, or every table of the schemas), and tables the publication has; oids. */
    private final Set<Long> asked = new LinkedHashSet<>(), published = new LinkedHashSet<>(), excluded = new LinkedHashSet<>();

    DoctorChecks(Doctor d, Connection c) {
        this.d = d;
        this.c = c;
    }

    static final String CONNECTION = """
            SELECT current_user, current_database(), coalesce(s.ssl, false), s.version, pg_is_in_recovery(),
                   current_setting('server_version_num')::int, coalesce(current_setting('neon.endpoint_id', true), '')
              FROM (SELECT 1) one LEFT JOIN pg_stat_ssl s ON s.pid = pg_backend_pid()""";

    private boolean standby, neon;
    private int version;

    /** Reachable and authenticated (else connecting failed, exit 3), TLS in use for this backend, and verified or not. */
    void connection() throws SQLException {
        Target t = d.db.target();
        try (var st = c.createStatement(); var rs = st.executeQuery(CONNECTION)) {
            rs.next();
            standby = rs.getBoolean(5);
            version = rs.getInt(6);
            neon = !rs.getString(7).isEmpty() || t.isNeonHost();
            d.add("connection", Runbook.Finding.ok("connected", "as " + Runbook.ident(rs.getString(1)) + " to database "
                    + Runbook.ident(rs.getString(2)) + " on " + t.host + ":" + t.port));
            // With sslmode require or verify-* pgjdbc connects over TLS or not at all, even where TLS ends at a proxy
            // and the server's pg_stat_ssl sees the proxy's plain connection. Neon's proxy refuses connections without TLS.
            boolean verified = t.sslmode.startsWith("verify-"), required = verified || t.sslmode.equals("require");
            boolean seen = rs.getBoolean(3);
            if (seen || required || neon) d.add("connection", Runbook.Finding.ok("tls", "encrypted (" + (seen ? rs.getString(4)
                    : neon ? "TLS ends at Neon's proxy, which refuses connections without it" : "TLS ends at a proxy in front of the server") + "), "
                    + (verified ? "server certificate verified (sslmode " + t.sslmode + ")"
                    : "not verified (sslmode " + t.sslmode + ": the server's certificate is not checked)")));
            else d.add("connection", Runbook.Finding.warn("tls", t.sslmode.equals("disable") ? "not encrypted (sslmode disable)"
                    : "not known to be encrypted: the server sees no TLS, and sslmode " + t.sslmode + " goes on without it",
                    "connect with sslmode=require (or verify-full and the server's CA certificate), here and in Airbyte's "
                    + "SSL Mode: Airbyte Cloud refuses an unencrypted connection without an SSH tunnel"));
        }
    }

    /** Logical slots live on a primary; a standby can hold them only from PostgreSQL 16. */
    void standby() {
        if (!standby) {
            d.add("server", Runbook.Finding.ok("primary", "a primary (read-write), not a standby"));
        } else if (version < 160000) {
            d.add("server", Runbook.Finding.fail("primary", "a standby (in recovery): before PostgreSQL 16 a standby "
                    + "cannot have logical replication slots", neon ? "connect to the branch's read-write compute, not a "
                    + "read replica" : "connect to the primary (the read-write server) here and in Airbyte"));
        } else {
            d.add("server", Runbook.Finding.warn("primary", "a standby (in recovery): PostgreSQL 16+ can decode here, but "
                    + "the slot must be made on this standby, and it does not follow a failover",
                    "connect to the primary unless you mean Airbyte to read from this standby"));
        }
    }

    static final String ROLE = """
            SELECT r.oid IS NOT NULL, r.rolcanlogin, has_database_privilege(r.oid, current_database(), 'CONNECT'),
                   current_database()
              FROM (SELECT 1) one LEFT JOIN pg_roles r ON r.rolname = ?""";

    /** Exists, may log in, may connect to this database; REPLICATION is grant-access's finding. */
    void role() throws SQLException {
        String role = Runbook.ident(d.roleName());
        try (PreparedStatement ps = c.prepareStatement(ROLE)) {
            ps.setString(1, d.roleName());
            try (var rs = ps.executeQuery()) {
                rs.next();
                roleExists = rs.getBoolean(1);
                if (!roleExists) {
                    d.add("role", Runbook.Finding.fail("role", "role " + role + " does not exist (names are case-sensitive)",
                            neon ? "create it in the Neon console (Roles), or with neonctl roles create: such roles have REPLICATION"
                                 : "as a superuser:  CREATE ROLE " + role + " LOGIN REPLICATION PASSWORD '<password>';"));
                    return;
                }
                String database = Runbook.ident(rs.getString(4));
                d.add("role", rs.getBoolean(2) ? Runbook.Finding.ok("login", "role " + role + " can log in")
                        : Runbook.Finding.fail("login", "role " + role + " cannot log in (NOLOGIN)", "ALTER ROLE " + role + " LOGIN;"));
                d.add("role", rs.getBoolean(3) ? Runbook.Finding.ok("connect", role + " may connect to database " + database)
                        : Runbook.Finding.fail("connect", role + " has no CONNECT privilege on database " + database,
                                "GRANT CONNECT ON DATABASE " + database + " TO " + role + ";"));
            }
        }
    }

    static final String PUBLICATION = """
            SELECT p.oid IS NOT NULL, p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, p.pubviaroot,
                   ARRAY(SELECT DISTINCT coalesce(pg_partition_root(c.oid), c.oid)::int8 FROM pg_publication_tables t
                           JOIN pg_namespace n ON n.nspname = t.schemaname
                           JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.tablename
                          WHERE t.pubname = p.pubname)
              FROM (SELECT 1) one LEFT JOIN pg_publication p ON p.pubname = ?""";

    /** Tables of the schemas that are neither asked for nor published. */
    static final String LEFT_OUT = """
            SELECT c.oid::int8 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = ANY (?) AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relpersistence = 'p'
               AND c.oid <> ALL (?::int8[]::oid[])
             ORDER BY n.nspname, c.relname""";

    /** Which tables, which operations, partitions, and the tables of the schemas it leaves out. */
    void publication(CreatePublication step) throws SQLException {
        try {
            Tables.Resolved r = Tables.resolve(c, step.asked());
            asked.addAll(r.oids());
            excluded.addAll(r.excluded());
        } catch (Runbook.Failure e) {
            // an unknown --table or --schema: create-publication's finding says so
        }
        String p = Runbook.ident(d.publication);
        boolean exists, viaRoot;
        try (PreparedStatement ps = c.prepareStatement(PUBLICATION)) {
            ps.setString(1, d.publication);
            try (var rs = ps.executeQuery()) {
                rs.next();
                exists = rs.getBoolean(1);
                if (!exists) return; // create-publication's plan (CREATE PUBLICATION) is the failure and the fix
                viaRoot = rs.getBoolean(7);
                published.addAll(List.of((Long[]) rs.getArray(8).getArray()));
                List<String> ops = new ArrayList<>(), missing = new ArrayList<>();
                String[] names = {"insert", "update", "delete", "truncate"};
                for (int i = 0; i < 4; i++) (rs.getBoolean(3 + i) ? ops : missing).add(names[i]);
                if (rs.getBoolean(2)) d.add("publication", Runbook.Finding.ok("all tables", p + " is FOR ALL TABLES: "
                        + "every table, including those created later"));
                missing.remove("truncate");
                d.add("publication", missing.isEmpty() ? Runbook.Finding.ok("operations", "publishes " + String.join(", ", ops))
                        : Runbook.Finding.fail("operations", "publishes " + (ops.isEmpty() ? "nothing" : String.join(", ", ops))
                                + " but not " + String.join(", ", missing) + ": Airbyte never sees those changes",
                                "ALTER PUBLICATION " + p + " SET (publish = 'insert, update, delete, truncate');"));
            }
        }
        List<Tables.Rel> rels = Tables.details(c, new ArrayList<>(published));
        List<Tables.Rel> tops = rels.stream().filter(r -> r.level() == 0).toList();
        d.add("publication", tops.isEmpty() ? Runbook.Finding.warn("tables", p + " has no tables: Airbyte's CDC sees nothing",
                d.publicationCommand())
                : Runbook.Finding.ok("tables", tops.size() + " in " + p + ": " + Tables.list(tops)));
        List<Tables.Rel> partitioned = tops.stream().filter(r -> r.kind().equals("p")).toList();
        if (!partitioned.isEmpty()) d.add("publication", viaRoot
                ? Runbook.Finding.ok("partitions", "partitioned tables publish through their root (publish_via_partition_root): "
                        + Tables.list(partitioned))
                : Runbook.Finding.fail("partitions", "publish_via_partition_root is off: changes to " + Tables.list(partitioned)
                        + " arrive under each partition's name, which Airbyte does not match to the table's stream",
                        "ALTER PUBLICATION " + p + " SET (publish_via_partition_root = true);"));

        Set<Long> known = new LinkedHashSet<>(published);
        known.addAll(asked);
        known.addAll(excluded);
        List<Long> leftOut = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(LEFT_OUT)) {
            ps.setArray(1, c.createArrayOf("text", d.schemaNames().toArray()));
            ps.setArray(2, c.createArrayOf("int8", known.toArray()));
            try (var rs = ps.executeQuery()) {
                while (rs.next()) leftOut.add(rs.getLong(1));
            }
        }
        if (leftOut.isEmpty()) return;
        List<Tables.Rel> leftRels = Tables.details(c, leftOut);
        List<Tables.Rel> out = leftRels.stream().filter(r -> r.level() == 0).toList();
        // Published without a replica identity, a table's UPDATE and DELETE fail: create-publication deals with that.
        List<Tables.Rel> noIdentity = leftRels.stream().filter(r -> r.leaf() && r.identity() == Tables.Identity.MISSING).toList();
        String command = d.publicationCommand(out.stream().flatMap(r -> java.util.stream.Stream.of("--table", r.arg())).toArray(String[]::new));
        d.add("publication", Runbook.Finding.warn("left out", out.size() + " table(s) of the schemas are not in " + p
                + ": Airbyte syncs them as full refresh only: " + Tables.list(out), noIdentity.isEmpty()
                ? new Runbook.Plan(CreatePublication.listing(p, "ALTER PUBLICATION " + p + " ADD TABLE ", out, ""), false).script()
                        + "-- or: " + command
                : command + "\n(it asks how to give a replica identity to those without a primary key, whose UPDATE and "
                        + "DELETE would fail once published: " + Tables.list(noIdentity) + ")"));
    }

    /**
     * Every published or asked table (for a partitioned one, its leaf partitions, which UPDATE and DELETE hit):
     * DEFAULT with a primary key is right; DEFAULT without one, or NOTHING, makes UPDATE and DELETE fail on the source.
     */
    void replicaIdentity() throws SQLException {
        Set<Long> all = new LinkedHashSet<>(published);
        all.addAll(asked);
        if (all.isEmpty()) return;
        Map<Long, Tables.Rel> leaves = new LinkedHashMap<>();
        for (Tables.Rel r : Tables.details(c, new ArrayList<>(all))) if (r.leaf()) leaves.put(r.oid(), r);
        List<Tables.Rel> fine = new ArrayList<>(), full = new ArrayList<>(), index = new ArrayList<>(), broken = new ArrayList<>();
        for (Tables.Rel r : leaves.values()) {
            switch (r.identity()) {
                case FULL -> full.add(r);
                case INDEX -> index.add(r);
                case KEY -> fine.add(r);
                default -> broken.add(r);
            }
        }
        String g = "replica identity";
        d.add(g, Runbook.Finding.ok("default", fine.size() + " of " + leaves.size() + " table(s) DEFAULT with a primary key"));
        if (!full.isEmpty()) d.add(g, Runbook.Finding.ok("full", "FULL (whole old rows are logged): " + Tables.list(full)));
        if (!index.isEmpty()) d.add(g, Runbook.Finding.ok("using index", "USING INDEX: " + Tables.list(index)));
        List<Tables.Rel> toasted = leaves.values().stream().filter(Tables.Rel::toastRisk).toList();
        if (!toasted.isEmpty()) d.add(g, Runbook.Finding.warn("toast", toasted.size() + " table(s) store values out of line "
                + "(TOAST) and log only the key of an old row: an UPDATE that leaves such a value unchanged reaches Airbyte "
                + "as __debezium_unavailable_value (airbytehq/airbyte#30518): " + Tables.list(toasted),
                d.publicationCommand("--full-for-toasted") + "\n-- (REPLICA IDENTITY FULL on exactly these: more WAL per UPDATE and DELETE)"));
        List<Tables.Rel> generated = leaves.values().stream().filter(Tables.Rel::generated).toList();
        if (!generated.isEmpty() && version < 180000) d.add(g, Runbook.Finding.warn("generated columns", generated.size()
                + " table(s) have stored generated columns, which PostgreSQL before 18 does not publish: in the destination "
                + "those columns do not follow the source: " + Tables.list(generated), "compute them in the destination, or "
                + "upgrade to PostgreSQL 18, where create-publication publishes them (publish_generated_columns)"));
        if (broken.isEmpty()) return;
        List<String> fix = new ArrayList<>();
        for (Tables.Rel r : broken)
            fix.add("ALTER TABLE " + r.q() + " REPLICA IDENTITY " + (r.pk() ? "DEFAULT" : "FULL") + ";");
        if (broken.stream().anyMatch(r -> !r.pk()))
            fix.add("-- or, instead of FULL, give the table a primary key: ALTER TABLE <table> ADD PRIMARY KEY (<columns>);");
        d.add(g, Runbook.Finding.fail("missing", broken.size() + " table(s) without a usable replica identity (DEFAULT "
                + "without a primary key, or NOTHING): UPDATE and DELETE on them fail on the source while they are published "
                + "(\"cannot update table ... because it does not have a replica identity\"): " + Tables.list(broken),
                String.join("\n", fix)));
    }
}
