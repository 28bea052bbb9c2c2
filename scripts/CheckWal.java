///usr/bin/env jbang "$0" "$@" ; exit $?
//SOURCES Runbook.java NeonApi.java EnableLogical.java
//DESCRIPTION Is wal_level logical? Free replication slots and WAL senders, server version, Neon or not (guide step: Enable logical replication)

import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "check-wal", mixinStandardHelpOptions = true, version = "check-wal 1.0",
        description = "Checks that the server can do logical replication: wal_level = logical, a free replication slot "
                + "and WAL sender. Changes nothing, unless --enable on Neon: then it turns logical replication on through "
                + "Neon's API (NEON_API_KEY from the environment, NEON_API_HOST for another API address) and waits for it.",
        footer = {"%nExamples:",
                "  jbang check-wal --url \"$DATABASE_URL\"",
                "  jbang check-wal --json --url 'postgresql://alex@ep-cool-darkness-123456.us-east-2.aws.neon.tech/dbname?sslmode=require'",
                "  NEON_API_KEY=... jbang check-wal --url \"$DATABASE_URL\" --enable --dry-run",
                "  NEON_API_KEY=... jbang check-wal --url \"$DATABASE_URL\" --enable --yes --project-id old-fire-32990194",
                NeonApi.API_EXIT_CODES})
class CheckWal implements Callable<Integer>, Runbook.Step {
    @Mixin Db db = new Db();
    @Mixin Runbook.Output out = new Runbook.Output();
    @Mixin EnableLogical enabling = new EnableLogical();
    @Mixin NeonApi.Options neon = new NeonApi.Options();

    /** What the last assess() saw, for --enable. */
    String walLevel, endpointId;
    boolean onNeon;

    public String name() { return "check-wal"; }

    @Override public void validate() {
        if (!enabling.enable && (enabling.yes || enabling.timeout != null || neon.projectId != null))
            throw Runbook.badInput("--yes, --timeout and --project-id only go with --enable: add --enable, or leave them out");
    }
    public boolean readOnly() { return true; }

    static final String QUERY = """
            SELECT current_setting('wal_level'), current_setting('max_replication_slots')::int,
                   (SELECT count(*) FROM pg_replication_slots)::int, current_setting('max_wal_senders')::int,
                   (SELECT count(*) FROM pg_stat_replication)::int, current_setting('server_version'),
                   current_setting('neon.endpoint_id', true)""";

    public Runbook.Assessment assess(Connection c) throws SQLException {
        List<Runbook.Finding> f = new ArrayList<>();
        try (var st = c.createStatement(); var rs = st.executeQuery(QUERY)) {
            rs.next();
            String walLevel = rs.getString(1), version = rs.getString(6), endpoint = rs.getString(7);
            int maxSlots = rs.getInt(2), usedSlots = rs.getInt(3), maxSenders = rs.getInt(4), usedSenders = rs.getInt(5);
            boolean neon = (endpoint != null && !endpoint.isEmpty()) || db.target().isNeonHost();
            this.walLevel = walLevel;
            this.onNeon = neon;
            this.endpointId = endpoint != null && !endpoint.isEmpty() ? endpoint : NeonApi.endpointId(db.target());
            f.add(Runbook.Finding.ok("server", "PostgreSQL " + version + (neon ? " on Neon" + (endpoint == null || endpoint.isEmpty()
                    ? "" : " (endpoint " + endpoint + ")") : "")));
            if (db.target().isPooler())
                f.add(Runbook.Finding.warn("host", db.target().host + " is Neon's connection pooler: replication (the slot, "
                        + "Airbyte) needs the direct host", "use " + db.target().directHost() + " in --url and in Airbyte"));
            if (walLevel.equals("logical")) f.add(Runbook.Finding.ok("wal_level", "logical"));
            else f.add(Runbook.Finding.fail("wal_level", walLevel + " (logical replication needs logical)", neon
                    ? "Neon console: your project > Settings > enable logical replication (it cannot be turned off, and "
                      + "active computes restart); then run check-wal again (or let check-wal --enable do it through Neon's API)"
                    : "ALTER SYSTEM SET wal_level = logical;  then restart PostgreSQL (as a superuser; on a managed "
                      + "service, set the parameter in its console)"));
            int freeSlots = maxSlots - usedSlots;
            String slots = freeSlots + " of " + maxSlots + " free";
            f.add(freeSlots > 0 ? Runbook.Finding.ok("replication slots", slots)
                    : Runbook.Finding.warn("replication slots", slots + ": creating Airbyte's slot will fail",
                            "drop an unused slot: SELECT slot_name, active FROM pg_replication_slots;  then "
                            + "SELECT pg_drop_replication_slot('<name>');  or raise max_replication_slots"));
            int freeSenders = maxSenders - usedSenders;
            String senders = freeSenders + " of " + maxSenders + " free";
            f.add(freeSenders > 0 ? Runbook.Finding.ok("wal senders", senders)
                    : Runbook.Finding.warn("wal senders", senders + ": Airbyte's replication connection will be refused",
                            "stop an unused replication client (pg_stat_replication), or raise max_wal_senders"));
        }
        return new Runbook.Assessment(f, Runbook.Plan.none());
    }

    public Integer call() { return enabling.enable ? enabling.run(this) : Runbook.run(this, db, out); }

    public static void main(String... args) { Runbook.launch(new CheckWal(), args); }
}
