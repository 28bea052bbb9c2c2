///usr/bin/env jbang "$0" "$@" ; exit $?
//SOURCES lib/Runbook.java lib/Heartbeat.java lib/Tables.java
//DESCRIPTION Give each table a replica identity and create the publication Airbyte reads, or add to it (guide step: Create a publication)

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
        description = {CreatePublication.DESCRIPTION, "Gives every table to replicate a replica identity (DEFAULT where it has a primary key; FULL for the "
                + "others only when asked) and creates the publication Airbyte reads, listing the tables (Neon's role "
                + "cannot create FOR ALL TABLES publications). Partitioned tables are published through their root.",
                "An existing publication only gains tables: a table already in it stays, and is listed as published but "
                + "not asked, unless --remove-unlisted. Only tables whose identity differs are altered (ALTER TABLE ... "
                + "REPLICA IDENTITY waits for every open transaction that has read the table). Everything runs in one "
                + "transaction under --lock-timeout."},
        footer = {"%nExamples:",
                "  jbang create-publication --url \"$DATABASE_URL\"      # every table of schema public",
                "  jbang create-publication --url \"$DATABASE_URL\" --table public.orders --table '\"Sales Data\".customers'",
                "  jbang create-publication --url \"$DATABASE_URL\" --schema sales --replica-identity full --dry-run",
                "  jbang create-publication --url \"$DATABASE_URL\" --schema public --exclude-table public.scratch",
                "  jbang create-publication --url \"$DATABASE_URL\" --table public.orders --remove-unlisted"})
class CreatePublication implements Callable<Exit> {
    static final String DESCRIPTION = "Give each table a replica identity and create the publication Airbyte reads, or "
            + "add to it (guide step: Create a publication)";

    @Mixin Db db = new Db();
    @Mixin Output out = new Output();
    @Mixin Flags.Publication publication = new Flags.Publication();
    @Mixin Tables.Choice tables = new Tables.Choice();
    @Option(names = "--replica-identity", paramLabel = "full", description = "full: give tables without a primary key "
            + "REPLICA IDENTITY FULL (whole old rows go to the WAL). Without it such tables stop the step.")
    String replicaIdentity;
    @Option(names = "--full-for-toasted", description = "Give REPLICA IDENTITY FULL to the tables that store values out "
            + "of line (TOAST): with DEFAULT, an UPDATE that leaves such a value unchanged reaches Airbyte as "
            + "__debezium_unavailable_value. Costs more WAL per UPDATE and DELETE of those tables.")
    boolean fullForToasted;
    @Option(names = "--remove-unlisted", description = "Take out of an existing publication every table (and FOR TABLES "
            + "IN SCHEMA schema) not asked for now: Airbyte stops receiving their changes. Without it nothing is removed.")
    boolean removeUnlisted;
    @Option(names = "--add", hidden = true, description = "Adding without removing is the default; kept so that older "
            + "command lines still work.")
    boolean add;
    @Mixin Flags.LockTimeout lockTimeout = new Flags.LockTimeout();
    @Mixin Heartbeat.Options heartbeat = new Heartbeat.Options();
    @Option(names = "--role", description = "With --heartbeat: the role Airbyte connects as, which gets SELECT, INSERT "
            + "and UPDATE on the heartbeat table (default: the connected user).")
    String role;

    /**
     * The step's inputs: the publication, the tables asked for, which identities to make FULL, whether to take out
     * what is not asked, the lock wait, the heartbeat table (null: none) and the role that writes it.
     */
    record Options(String publication, Tables.Asked asked, boolean fullWithoutKey, boolean fullForToasted,
                   boolean removeUnlisted, String lockTimeout, String heartbeatTable, String role, Again again) {}

    Options options() {
        if (role != null && !heartbeat.enabled)
            throw Failure.badInput("--role '" + role + "' is only for --heartbeat (the role that writes the heartbeat "
                    + "table): add --heartbeat, or leave --role out");
        return new Options(publication.name, tables.asked(), fullWithoutKey(replicaIdentity), fullForToasted, removeUnlisted,
                lockTimeout.value, heartbeat.enabled ? heartbeat.table : null, role, Again.typed());
    }

    /** --replica-identity: full, or nothing. */
    static boolean fullWithoutKey(String replicaIdentity) {
        if (replicaIdentity != null && !replicaIdentity.equalsIgnoreCase("full"))
            throw Failure.badInput("--replica-identity '" + replicaIdentity + "': the only choice is full "
                    + "(tables with a primary key always get DEFAULT)");
        return replicaIdentity != null;
    }

    static Runbook.Step step(Options o) { return new Step(o); }

    public Exit call() { return Runbook.run(step(options()), db, out); }

    public static void main(String... args) { Cli.launch(new CreatePublication(), args); }

    /** Who we are and the publication as it is ({@code exists} false: the rest is unset). */
    record Pub(String user, String database, boolean canCreate, boolean exists, boolean allTables, boolean publishesDml,
               boolean viaRoot, boolean generatedColumns, String owner, boolean owned, List<Long> rels,
               List<String> schemas, java.util.Set<Long> inSchemas, java.util.Set<Long> narrowed, List<String> slots) {}

    /** The step: replica identities to set, and the publication to create or add to. */
    private record Step(Options o) implements Runbook.Step {
        public String name() { return "create-publication"; }

        public void validate() {
            Input.duration("--lock-timeout", o.lockTimeout());
            Input.name("--publication", o.publication());
            o.asked().tables().forEach(t -> Input.tableName("--table", t));
            o.asked().excluded().forEach(t -> Input.tableName("--exclude-table", t));
            o.asked().schemas().forEach(s -> Input.name("--schema", s));
        }

        public Runbook.Reading read(Pipeline p) { return read(p, true); }

        /** {@code outOfLine}: look at which tables store values out of line (the second look need not). */
        private Runbook.Reading read(Pipeline p, boolean outOfLine) {
            validate();
            String pubName = Input.name("--publication", o.publication());
            Pipeline.Answer<Heartbeat.State> heartbeat = o.heartbeatTable() == null ? null : Heartbeat.inspect(p, o.heartbeatTable(), o.role());
            Pipeline.Answer<Tables.Resolved> resolved = Tables.resolve(p, o.asked());
            List<Tables.Roots> roots = new ArrayList<>(tables(o.asked(), pubName));
            if (o.heartbeatTable() != null) {
                String[] table = Heartbeat.table(o.heartbeatTable());
                roots.add(Tables.Roots.table(table[0], table[1]));
            }
            Pipeline.Answer<Tables.Details> details = Tables.details(p, outOfLine, roots.toArray(Tables.Roots[]::new));
            int major = p.major();
            Pipeline.Answer<Pub> pub = publication(p, pubName, major);
            return () -> assess(heartbeat == null ? null : heartbeat.get(), resolved.get(), details.get(), pub.get(), major);
        }

        private Runbook.Assessment assess(Heartbeat.State hb, Tables.Resolved resolved, Tables.Details details, Pub pub, int major) {
            String pubName = Input.name("--publication", o.publication());
            List<Runbook.Finding> f = new ArrayList<>();
            Map<Long, Tables.Rel> asked = new LinkedHashMap<>(), targets = new LinkedHashMap<>();
            List<Long> oids = new ArrayList<>(resolved.oids());
            if (hb != null && hb.oid() != null && !oids.contains(hb.oid())) oids.add(hb.oid());
            if (oids.isEmpty() && (hb == null || hb.oid() != null))
                throw Failure.badInput("--exclude-table leaves no table to publish: publish at least one");
            for (Tables.Rel r : details.of(oids)) {
                if (r.level() == 0) asked.put(r.oid(), r);
                if (r.leaf()) targets.put(r.oid(), r);
            }
            if (hb != null && hb.oid() == null) { // created by this plan: counted as it will be
                Tables.Rel planned = Tables.Rel.planned(hb.schema(), hb.table());
                asked.put(planned.oid(), planned);
                targets.put(planned.oid(), planned);
            }
            if (hb != null) f.addAll(hb.findings());

            // Replica identity, on what UPDATE and DELETE actually hit: plain tables and leaf partitions.
            List<Tables.Rel> toDefault = new ArrayList<>(), noKeyToFull = new ArrayList<>(), toastToFull = new ArrayList<>(),
                    kept = new ArrayList<>(), missing = new ArrayList<>(), toastRisk = new ArrayList<>();
            for (Tables.Rel t : targets.values()) {
                Tables.Identity id = t.identity();
                if (t.toastRisk() && o.fullForToasted()) toastToFull.add(t);
                else if (id == Tables.Identity.NOTHING_WITH_KEY) toDefault.add(t);
                else if (id == Tables.Identity.FULL || id == Tables.Identity.INDEX) kept.add(t);
                else if (id == Tables.Identity.MISSING) (o.fullWithoutKey() ? noKeyToFull : missing).add(t);
                if (t.toastRisk() && !o.fullForToasted()) toastRisk.add(t);
            }
            long partitioned = asked.values().stream().filter(r -> r.kind().equals("p")).count();
            f.add(Runbook.Finding.ok("tables", asked.size() + " to publish" + (partitioned > 0 ? " (" + partitioned
                    + " partitioned, published through the root; replica identity checked on their "
                    + (targets.size() - asked.size() + partitioned) + " leaf partition(s))" : "") + ": " + Tables.list(asked.values())));
            f.add(Runbook.Finding.ok("replica identity", identitySummary(targets.size(), toDefault, noKeyToFull, toastToFull, kept, missing)));
            if (!missing.isEmpty())
                f.add(Runbook.Finding.fail("replica identity", missing.size() + " table(s) have no primary key and no replica "
                        + "identity: UPDATE and DELETE on them fail once published: " + Tables.list(missing), String.join("\n",
                        "log whole old rows:  " + o.again().with("--replica-identity", "full"),
                        "or give each a primary key, then run this again:  ALTER TABLE " + missing.get(0).q() + " ADD PRIMARY KEY (<columns>);",
                        "or a unique NOT NULL index, then run this again:  ALTER TABLE " + missing.get(0).q() + " REPLICA IDENTITY USING INDEX <index>;")));
            if (!toastRisk.isEmpty())
                f.add(Runbook.Finding.warn("toast", toastRisk.size() + " table(s) store values out of line (TOAST) and log only "
                        + "the key of an old row: an UPDATE that leaves such a value unchanged reaches Airbyte as "
                        + "__debezium_unavailable_value (airbytehq/airbyte#30518): " + Tables.list(toastRisk),
                        "to log whole old rows of exactly these (more WAL per UPDATE and DELETE):  " + o.again().with("--full-for-toasted")));
            List<Tables.Rel> unlogged = asked.values().stream().filter(Tables.Rel::unlogged).toList();
            if (!unlogged.isEmpty())
                f.add(Runbook.Finding.fail("unlogged", "unlogged tables cannot be published: " + Tables.list(unlogged),
                        "make them logged:  " + unlogged.stream().map(u -> "ALTER TABLE " + u.q() + " SET LOGGED;").collect(Collectors.joining(" "))
                        + "\nor leave them out:  " + Invocation.current().again(unlogged.stream().flatMap(u -> java.util.stream.Stream.of("--exclude-table", u.arg())).toArray(String[]::new))));

            // The publication.
            String me = Input.ident(pub.user()), p = Input.ident(pubName);
            boolean publishGenerated = major >= 18;
            List<Tables.Rel> generated = targets.values().stream().filter(Tables.Rel::generated).toList();
            if (!generated.isEmpty() && !publishGenerated)
                f.add(Runbook.Finding.warn("generated columns", generated.size() + " table(s) have stored generated columns, "
                        + "which PostgreSQL before 18 does not publish: in the destination those columns do not follow the "
                        + "source: " + Tables.list(generated), "compute them in the destination, or upgrade to PostgreSQL 18, "
                        + "where this step publishes them (publish_generated_columns)"));
            List<String> createOptions = new ArrayList<>(), alterOptions = new ArrayList<>();
            List<Runbook.Sql> pubSql = new ArrayList<>();
            List<Tables.Rel> published = new ArrayList<>();
            boolean viaRoot = partitioned > 0;
            if (!pub.exists()) {
                published.addAll(asked.values());
                f.add(Runbook.Finding.ok("publication", p + " will be created with " + asked.size() + " table(s)"));
                // A slot older than its publication cannot decode what was written before the publication (14-17).
                if (!pub.slots().isEmpty()) f.add(Runbook.Finding.warn("slots", "pgoutput slot(s) " + Output.few(pub.slots())
                        + " already exist: if one reads " + p + ", the changes written before it is made cannot be decoded "
                        + "(\"publication does not exist\", PostgreSQL 14-17)", "after this, decode what the slot holds, "
                        + "consuming nothing:  " + Invocation.current().other("doctor", List.of("--deep", "--slot",
                        pub.slots().get(0), "--publication", pubName))));
            } else if (pub.allTables()) {
                f.add(Runbook.Finding.ok("publication", p + " publishes all tables"));
            } else {
                Map<Long, Tables.Rel> extra = new LinkedHashMap<>();
                details.of(pub.rels()).stream().filter(r -> r.level() == 0).forEach(r -> extra.put(r.oid(), r));
                List<Tables.Rel> absent = asked.values().stream().filter(r -> extra.remove(r.oid()) == null && !pub.inSchemas().contains(r.oid())).toList();
                String schemas = pub.schemas().isEmpty() ? "" : (extra.isEmpty() ? "" : " and ") + "TABLES IN SCHEMA "
                        + pub.schemas().stream().map(Input::ident).collect(Collectors.joining(", ")) + " (every table there, now and later)";
                boolean removes = o.removeUnlisted() && (!extra.isEmpty() || pub.inSchemas().stream().anyMatch(o -> !asked.containsKey(o)));
                if (removes) {
                    pubSql.addAll(listing(p, "ALTER PUBLICATION " + p + " SET TABLE ", asked.values(), ""));
                    published.addAll(asked.values());
                    f.add(Runbook.Finding.warn("publication", p + " exists; --remove-unlisted takes " + (extra.isEmpty() ? ""
                            : Tables.list(extra.values())) + schemas + " out of it (Airbyte stops receiving their changes)",
                            "to keep them, run without --remove-unlisted"));
                } else {
                    if (!absent.isEmpty()) pubSql.addAll(listing(p, "ALTER PUBLICATION " + p + " ADD TABLE ", absent, ""));
                    published.addAll(absent);
                    viaRoot |= extra.values().stream().anyMatch(r -> r.kind().equals("p"));
                    f.add(Runbook.Finding.ok("publication", p + " exists" + (absent.isEmpty() ? " with every asked table"
                            : "; adding " + Tables.list(absent))));
                    if (!extra.isEmpty() || !schemas.isEmpty())
                        f.add(Runbook.Finding.ok("not asked", "published but not asked, kept (--remove-unlisted would take them "
                                + "out): " + (extra.isEmpty() ? "" : extra.size() + " table(s): " + Tables.list(extra.values())) + schemas));
                }
                List<Tables.Rel> narrowed = asked.values().stream().filter(r -> pub.narrowed().contains(r.oid())).toList();
                if (!narrowed.isEmpty()) f.add(narrowed(p, narrowed));
            }
            boolean wantsGenerated = publishGenerated && !generated.isEmpty();
            if (!pub.exists()) {
                if (viaRoot) createOptions.add("publish_via_partition_root = true");
                if (wantsGenerated) createOptions.add("publish_generated_columns = stored");
                pubSql.addAll(listing(p, "CREATE PUBLICATION " + p + " FOR TABLE ", asked.values(),
                        createOptions.isEmpty() ? "" : " WITH (" + String.join(", ", createOptions) + ")"));
            } else {
                if (!pub.publishesDml()) alterOptions.add("publish = 'insert, update, delete, truncate'");
                if (viaRoot && !pub.viaRoot()) alterOptions.add("publish_via_partition_root = true");
                if (wantsGenerated && !pub.generatedColumns()) alterOptions.add("publish_generated_columns = stored");
                if (!alterOptions.isEmpty()) {
                    pubSql.add(new Runbook.Sql("ALTER PUBLICATION " + p + " SET (" + String.join(", ", alterOptions) + ")", "publication " + p));
                    f.add(Runbook.Finding.ok("publication options", "setting " + String.join(", ", alterOptions)));
                }
            }
            if (wantsGenerated) f.add(Runbook.Finding.ok("generated columns", "published (publish_generated_columns = stored): "
                    + Tables.list(generated)));
            if (pub.exists() && !pubSql.isEmpty() && !pub.owned())
                f.add(Runbook.Finding.fail("ownership", "publication " + p + " is owned by " + Input.ident(pub.owner())
                        + ", not by " + me + " or a role it belongs to", membership(List.of(pub.owner()), me)));
            if (!pub.exists() && !pub.canCreate())
                f.add(Runbook.Finding.fail("privilege", me + " may not create publications in this database (no CREATE "
                        + "privilege on it)", "as the database's owner or a superuser:  GRANT CREATE ON DATABASE "
                        + Input.ident(pub.database()) + " TO " + me + ";\nthen:  " + o.again().with()));

            // Ownership: ALTER TABLE and publishing a table both need it (membership in the owning role counts).
            Map<Long, Tables.Rel> touched = new LinkedHashMap<>();
            for (List<Tables.Rel> l : List.of(toDefault, noKeyToFull, toastToFull, published)) for (Tables.Rel r : l) touched.put(r.oid(), r);
            Map<String, List<Tables.Rel>> byOwner = new TreeMap<>(touched.values().stream().filter(r -> !r.owned())
                    .collect(Collectors.groupingBy(Tables.Rel::owner)));
            if (!byOwner.isEmpty())
                f.add(Runbook.Finding.fail("ownership", "not owned by " + me + " or a role it belongs to: "
                        + byOwner.entrySet().stream().map(e -> Tables.list(e.getValue()) + " (owner " + Input.ident(e.getKey()) + ")")
                        .collect(Collectors.joining("; ")), membership(List.copyOf(byOwner.keySet()), me)));

            List<Runbook.Sql> plan = new ArrayList<>(hb == null ? List.of() : hb.plan());
            for (Tables.Rel r : toDefault) plan.add(alter(r, "DEFAULT"));
            for (List<Tables.Rel> l : List.of(noKeyToFull, toastToFull)) for (Tables.Rel r : l) plan.add(alter(r, "FULL"));
            plan.addAll(pubSql);
            if (plan.isEmpty()) return new Runbook.Assessment(f, Runbook.Plan.none());
            plan.add(0, Runbook.lockTimeout(o.lockTimeout(), true));
            return new Runbook.Assessment(f, new Runbook.Plan(plan, true));
        }

        String membership(List<String> owners, String me) { return Catalog.membership(owners, me, o.again().with()); }

        /**
         * After applying, a second look must find nothing left to do. Tables that store values out of line are FULL by
         * then when asked, which it checks, so it does not look at which ones those are.
         */
        public Runbook.Looking verify(Pipeline p) {
            Runbook.Reading second = read(p, false);
            return () -> {
                Runbook.Assessment again = second.get();
                return again.plan().isEmpty() && !again.failed() ? List.of(Runbook.Finding.ok("verified", "a second look plans nothing"))
                        : List.of(Runbook.Finding.fail("verified", "the catalog still differs after applying: "
                                + again.plan().statements().size() + " statement(s) left (a table made or changed meanwhile?)",
                                "run create-publication again; if it stays so, report it"));
            };
        }

    }

    static final String PUBLICATION = """
            SELECT current_user AS me, current_database() AS db, has_database_privilege(current_database(), 'CREATE') AS can_create,
                   p.oid IS NOT NULL AS exists, p.puballtables, p.pubinsert AND p.pubupdate AND p.pubdelete AS dml,
                   p.pubviaroot, to_jsonb(p) ->> 'pubgencols' IN ('s', 'true') AS gencols, pg_get_userbyid(p.pubowner) AS owner,
                   pg_has_role(current_user, p.pubowner, 'USAGE') AS owned,
                   (SELECT array_agg(r.prrelid::int8) FROM pg_publication_rel r WHERE r.prpubid = p.oid) AS rels,
                   ARRAY(SELECT o.slot_name::text FROM pg_replication_slots o
                          WHERE o.database = current_database() AND o.plugin = 'pgoutput' ORDER BY 1) AS slots, %s
              FROM (SELECT 1) one LEFT JOIN pg_publication p ON p.pubname = ?""";

    /** PostgreSQL 15+: the schemas published FOR TABLES IN SCHEMA, and the tables that puts in the publication. */
    static final String IN_SCHEMAS = """
            (SELECT array_agg(n.nspname::text ORDER BY n.nspname) FROM pg_publication_namespace s
               JOIN pg_namespace n ON n.oid = s.pnnspid WHERE s.pnpubid = p.oid) AS schemas,
            (SELECT array_agg(c.oid::int8) FROM pg_publication_namespace s JOIN pg_class c ON c.relnamespace = s.pnnspid
              AND c.relkind IN ('r', 'p') AND NOT c.relispartition WHERE s.pnpubid = p.oid) AS in_schemas,
            (SELECT array_agg(r.prrelid::int8) FROM pg_publication_rel r WHERE r.prpubid = p.oid
                AND (r.prattrs IS NOT NULL OR r.prqual IS NOT NULL)) AS narrowed""";

    /** Every table the asked names could mean, and those the publication lists: what the step reads the details of. */
    static List<Tables.Roots> tables(Tables.Asked asked, String publication) {
        return List.of(Tables.Roots.named(asked), Tables.Roots.inSchemas(asked.schemas()), Tables.Roots.listed(publication));
    }

    /** The publication as it is, and who we are. */
    static Pipeline.Answer<Pub> publication(Pipeline p, String name, int major) {
        return p.query(PUBLICATION.formatted(major >= 15 ? IN_SCHEMAS
                        : "NULL::text[] AS schemas, NULL::int8[] AS in_schemas, NULL::int8[] AS narrowed"),
                Pipeline.one(rs -> {
                    java.sql.Array rels = rs.getArray("rels"), schemas = rs.getArray("schemas"), inSchemas = rs.getArray("in_schemas"),
                            narrowed = rs.getArray("narrowed");
                    return new Pub(rs.getString("me"), rs.getString("db"), rs.getBoolean("can_create"), rs.getBoolean("exists"),
                            rs.getBoolean("puballtables"), rs.getBoolean("dml"), rs.getBoolean("pubviaroot"), rs.getBoolean("gencols"),
                            rs.getString("owner"), rs.getBoolean("owned"), rels == null ? List.of() : List.of((Long[]) rels.getArray()),
                            schemas == null ? List.of() : List.of((String[]) schemas.getArray()),
                            inSchemas == null ? java.util.Set.of() : java.util.Set.of((Long[]) inSchemas.getArray()),
                            narrowed == null ? java.util.Set.of() : java.util.Set.of((Long[]) narrowed.getArray()),
                            List.of(Pipeline.texts(rs, "slots")));
                }), name);
    }

    /**
     * Tables published with a column list or a row filter (PostgreSQL 15+): Airbyte receives only those columns or
     * rows. It may be meant (columns kept from Airbyte), so it is a warning, never changed unasked.
     */
    static Runbook.Finding narrowed(String p, List<Tables.Rel> rels) {
        String names = rels.stream().map(Tables.Rel::q).collect(Collectors.joining(", "));
        return Runbook.Finding.warn("column list", p + " publishes " + Tables.list(rels) + " with a column list or a row "
                + "filter: Airbyte receives only those columns or rows of their changes", "if that is not meant, publish "
                + "them whole, in one transaction:\nBEGIN;\nALTER PUBLICATION " + p + " DROP TABLE " + names + ";\nALTER "
                + "PUBLICATION " + p + " ADD TABLE " + names + ";\nCOMMIT;");
    }

    static String identitySummary(int total, List<Tables.Rel> toDefault, List<Tables.Rel> noKeyToFull,
                                  List<Tables.Rel> toastToFull, List<Tables.Rel> kept, List<Tables.Rel> missing) {
        int fine = total - toDefault.size() - noKeyToFull.size() - toastToFull.size() - kept.size() - missing.size();
        List<String> parts = new ArrayList<>();
        parts.add(fine + " of " + total + " already DEFAULT with a primary key");
        if (!kept.isEmpty()) parts.add("kept as they are (FULL or USING INDEX): " + Tables.list(kept));
        if (!toDefault.isEmpty()) parts.add("NOTHING -> DEFAULT (they have a primary key): " + Tables.list(toDefault));
        if (!noKeyToFull.isEmpty()) parts.add("-> FULL (no primary key): " + Tables.list(noKeyToFull));
        if (!toastToFull.isEmpty()) parts.add("-> FULL (values stored out of line): " + Tables.list(toastToFull));
        return String.join("; ", parts);
    }

    /** ALTER TABLE ... REPLICA IDENTITY: it waits behind any transaction that has merely read the table. */
    static Runbook.Sql alter(Tables.Rel r, String identity) {
        return new Runbook.Sql("ALTER TABLE " + r.q() + " REPLICA IDENTITY " + identity, r.q(), List.of(r.q()), Locks.ACCESS_EXCLUSIVE);
    }

    /** {@code head} with the first tables and {@code tail}, then the others added 1,000 a statement. */
    static List<Runbook.Sql> listing(String p, String head, Collection<Tables.Rel> rels, String tail) {
        List<Runbook.Sql> out = new ArrayList<>();
        for (List<String> names : Input.chunks(rels.stream().map(Tables.Rel::q).toList()))
            out.add(new Runbook.Sql((out.isEmpty() ? head : "ALTER PUBLICATION " + p + " ADD TABLE ") + String.join(", ", names)
                    + (out.isEmpty() ? tail : ""), "publication " + p, names, Locks.SHARE_UPDATE_EXCLUSIVE));
        return out;
    }

}
