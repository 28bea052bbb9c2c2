///usr/bin/env jbang "$0" "$@" ; exit $?
//SOURCES Runbook.java
//DESCRIPTION Each logical slot of the database: active or not, WAL it holds, how far its consumer lags; warns for cron

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "slot-status", mixinStandardHelpOptions = true, version = "slot-status 1.0",
        description = {"Shows every logical replication slot of the database (or --slot): plugin, active and by which "
                + "process, wal_status, restart_lsn and confirmed_flush_lsn, the WAL it holds on the server, and, while "
                + "a consumer (Airbyte) is connected, how far behind it is. Changes nothing.",
                "Warns, and exits 1, when a slot holds more WAL than --warn-at or is inactive: an inactive slot keeps "
                + "WAL until its consumer returns, and Neon drops a slot that has not advanced for about 40 hours. "
                + "So it can run from cron. --watch N refreshes every N seconds until Ctrl-C."},
        footer = {"%nExamples:",
                "  jbang slot-status --url \"$DATABASE_URL\"",
                "  jbang slot-status --slot airbyte_slot --warn-at 5GB --watch 10",
                "  jbang slot-status --json | jq '.slots[].retainedBytes'",
                "  jbang slot-status --warn-at 2GB > /dev/null || <alert>     # from cron"})
class SlotStatus implements Callable<Integer> {
    @Mixin Db db = new Db();
    @Option(names = "--json", description = "Print the findings and every slot's numbers as JSON, for programs.") boolean json;
    /** The shared printer; this command changes nothing, so it has no --dry-run. */
    final Runbook.Output out = new Runbook.Output();
    @Option(names = "--slot", description = "Only this slot (default: every logical slot of the database).") String slot;
    @Option(names = "--warn-at", defaultValue = "1GB", paramLabel = "SIZE", description = "Warn when a slot holds more WAL "
            + "than this: a number with kB, MB, GB or TB (1024-based, as PostgreSQL counts; default: ${DEFAULT-VALUE}).")
    String warnAt = "1GB";
    @Option(names = "--watch", paramLabel = "SECONDS", description = "Refresh every SECONDS until Ctrl-C (which ends it "
            + "with 130, as any interrupted command).") Integer watch;
    /** How many refreshes --watch makes before it stops (for tests; unlimited by default). */
    @Option(names = "--count", hidden = true) Integer count;

    static final Pattern SIZE = Pattern.compile("(?i)\\s*(\\d+(?:\\.\\d+)?)\\s*(bytes|b|kb|mb|gb|tb)?\\s*");

    /** A size as PostgreSQL writes it (pg_size_bytes): kB, MB, GB, TB are 1024-based. */
    static long bytes(String option, String value) {
        Matcher m = SIZE.matcher(value == null ? "" : value);
        if (!m.matches())
            throw Runbook.badInput(option + " '" + value + "' is not a size: write a number with kB, MB, GB or TB (e.g. 512MB, 1GB)");
        String unit = m.group(2) == null ? "b" : m.group(2).toLowerCase();
        int shift = switch (unit) { case "kb" -> 10; case "mb" -> 20; case "gb" -> 30; case "tb" -> 40; default -> 0; };
        var size = new java.math.BigDecimal(m.group(1)).multiply(java.math.BigDecimal.valueOf(1L << shift));
        if (size.compareTo(java.math.BigDecimal.valueOf(Long.MAX_VALUE)) > 0)
            throw Runbook.badInput(option + " '" + value + "' is more than any server holds: give a size up to 8000000TB");
        return size.longValue();
    }

    /**
     * Every slot of the cluster with the WAL it holds, and its consumer's walsender (pg_stat_replication, joined on
     * active_pid) when one is connected. inactive_since (PostgreSQL 17+) is read through to_jsonb, so the query is the
     * same on every major.
     */
    static final String QUERY = """
            SELECT s.slot_name, s.slot_type, s.plugin, s.database, s.database = current_database(), s.temporary,
                   s.active, s.active_pid, s.wal_status, s.restart_lsn::text, s.confirmed_flush_lsn::text, cur.lsn::text,
                   pg_wal_lsn_diff(cur.lsn, s.restart_lsn)::bigint, pg_size_pretty(pg_wal_lsn_diff(cur.lsn, s.restart_lsn)),
                   pg_wal_lsn_diff(cur.lsn, s.confirmed_flush_lsn)::bigint,
                   pg_size_pretty(pg_wal_lsn_diff(cur.lsn, s.confirmed_flush_lsn)),
                   date_trunc('second', (to_jsonb(s) ->> 'inactive_since')::timestamptz)::text,
                   extract(epoch FROM now() - (to_jsonb(s) ->> 'inactive_since')::timestamptz) / 3600,
                   r.pid IS NOT NULL, r.usename, r.application_name, host(r.client_addr), r.state, r.sent_lsn::text,
                   r.flush_lsn::text, pg_wal_lsn_diff(r.sent_lsn, s.confirmed_flush_lsn)::bigint,
                   pg_size_pretty(pg_wal_lsn_diff(r.sent_lsn, s.confirmed_flush_lsn)),
                   extract(epoch FROM r.write_lag), extract(epoch FROM r.flush_lag), extract(epoch FROM r.replay_lag),
                   current_database(), cur.neon
              FROM (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END AS lsn,
                           coalesce(current_setting('neon.endpoint_id', true), '') <> '' AS neon) cur
              LEFT JOIN pg_replication_slots s ON true
              LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
             ORDER BY s.slot_name""";

    public Integer call() throws SQLException, InterruptedException {
        out.json = json;
        long threshold = bytes("--warn-at", warnAt);
        if (slot != null) Runbook.slotName(slot);
        if (watch != null && watch < 1) throw Runbook.badInput("--watch " + watch + ": give a number of seconds, 1 or more");
        boolean terminal = Runbook.terminal();
        try (Connection c = db.connect()) {
            int exit = Runbook.OK;
            for (int n = 1; ; n++) {
                if (watch != null && !out.json) {
                    if (terminal) System.out.print("\u001b[H\u001b[2J");
                    System.out.println("every " + watch + " s, Ctrl-C to stop: " + java.time.LocalTime.now().format(java.time.format.DateTimeFormatter.ofPattern("HH:mm:ss")));
                }
                exit = refresh(c, threshold);
                System.out.flush();
                if (watch == null || count != null && n >= count) return exit;
                Thread.sleep(watch * 1000L);
            }
        }
    }

    /** One look at the slots: prints one screen per slot, returns 1 when any of them warns. */
    int refresh(Connection c, long threshold) throws SQLException {
        List<Runbook.Outcome> screens = new ArrayList<>();
        List<Map<String, Object>> data = new ArrayList<>();
        List<String> here = new ArrayList<>();
        String database = null, elsewhere = null;
        boolean neon = db.target().isNeonHost();
        try (var st = c.createStatement(); ResultSet rs = st.executeQuery(QUERY)) {
            while (rs.next()) {
                database = rs.getString(31);
                neon |= rs.getBoolean(32);
                String name = rs.getString(1);
                if (name == null) continue;
                boolean logicalHere = "logical".equals(rs.getString(2)) && rs.getBoolean(5);
                if (name.equals(slot) && !logicalHere)
                    elsewhere = "logical".equals(rs.getString(2)) ? "is in database " + rs.getString(4) + ": connect to that database"
                            : "is a physical slot (this shows logical slots)";
                if (!logicalHere) continue;
                here.add(name);
                if (slot != null && !slot.equals(name)) continue;
                Map<String, Object> d = row(rs);
                data.add(d);
                screens.add(screen(d, threshold, neon));
            }
        }
        if (slot != null && screens.isEmpty())
            throw Runbook.badInput("--slot " + slot + (elsewhere != null ? " " + elsewhere : " does not exist in database "
                    + database) + "; logical slots here: " + (here.isEmpty() ? "none (jbang create-slot makes one)" : String.join(", ", here)));
        if (screens.isEmpty())
            screens.add(new Runbook.Outcome("slot-status", Runbook.NOT_READY, List.of(Runbook.Finding.fail("slots", "no logical "
                    + "replication slot in database " + database + ": Airbyte has nothing to read changes from",
                    Invocation.current().other("create-slot", List.of()) + "\nor the whole runbook:  "
                    + Invocation.current().other("setup", List.of()))), Runbook.Plan.none(), false));
        Map<String, Object> extra = new LinkedHashMap<>();
        if (out.json) {
            extra.put("warnAtBytes", threshold);
            extra.put("slots", data);
        }
        out.print(screens, extra);
        return screens.stream().anyMatch(o -> o.exitCode() != Runbook.OK) ? Runbook.NOT_READY : Runbook.OK;
    }

    /** The numbers of one slot, as --json prints them. */
    private static Map<String, Object> row(ResultSet rs) throws SQLException {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("slot", rs.getString(1));
        d.put("plugin", rs.getString(3));
        d.put("database", rs.getString(4));
        d.put("temporary", rs.getBoolean(6));
        d.put("active", rs.getBoolean(7));
        d.put("activePid", rs.getObject(8));
        d.put("walStatus", rs.getString(9));
        d.put("restartLsn", rs.getString(10));
        d.put("confirmedFlushLsn", rs.getString(11));
        d.put("currentLsn", rs.getString(12));
        d.put("retainedBytes", rs.getObject(13));
        d.put("retained", rs.getString(14));
        d.put("unconfirmedBytes", rs.getObject(15));
        d.put("unconfirmed", rs.getString(16));
        d.put("inactiveSince", rs.getString(17));
        d.put("inactiveHours", rs.getObject(18) == null ? null : rs.getDouble(18));
        if (rs.getBoolean(19)) {
            Map<String, Object> consumer = new LinkedHashMap<>();
            consumer.put("user", rs.getString(20));
            consumer.put("application", rs.getString(21));
            consumer.put("clientAddr", rs.getString(22));
            consumer.put("state", rs.getString(23));
            consumer.put("sentLsn", rs.getString(24));
            consumer.put("flushLsn", rs.getString(25));
            consumer.put("sentNotConfirmedBytes", rs.getObject(26));
            consumer.put("sentNotConfirmed", rs.getString(27));
            consumer.put("writeLagSeconds", seconds(rs, 28));
            consumer.put("flushLagSeconds", seconds(rs, 29));
            consumer.put("replayLagSeconds", seconds(rs, 30));
            d.put("consumer", consumer);
        } else d.put("consumer", null);
        return d;
    }

    private static Double seconds(ResultSet rs, int column) throws SQLException {
        return rs.getObject(column) == null ? null : rs.getDouble(column);
    }

    /** One slot's screen: a line per fact, a warning when it holds too much WAL or nobody reads it. */
    static Runbook.Outcome screen(Map<String, Object> d, long threshold, boolean neon) {
        List<Runbook.Finding> f = new ArrayList<>();
        String name = (String) d.get("slot");
        f.add(Runbook.Finding.ok("plugin", d.get("plugin") + " (database " + d.get("database") + (Boolean.TRUE.equals(d.get("temporary"))
                ? ", temporary)" : ")")));
        @SuppressWarnings("unchecked") Map<String, Object> consumer = (Map<String, Object>) d.get("consumer");
        String fix = "start or resume its consumer (the Airbyte connection: run a sync), or, if nothing will read it again, "
                + "drop it:  SELECT pg_drop_replication_slot(" + Runbook.literal(name) + ");  (jbang teardown also drops the publication)";
        if (Boolean.TRUE.equals(d.get("active")))
            f.add(Runbook.Finding.ok("active", "yes, pid " + d.get("activePid") + (consumer == null ? "" : who(consumer))));
        else {
            Object since = d.get("inactiveSince");
            String when = since == null ? "" : String.format(" (inactive since %s, %.1f h ago)", since, (Double) d.get("inactiveHours"));
            f.add(Runbook.Finding.warn("active", "no: no consumer is connected" + when + "; the slot keeps WAL until one "
                    + "returns and confirms" + (neon ? "; Neon drops a slot that has not advanced for about 40 hours, and "
                    + "Airbyte then needs a full resync" : ""), fix));
        }
        String walStatus = (String) d.get("walStatus");
        if ("lost".equals(walStatus))
            f.add(Runbook.Finding.warn("wal_status", "lost: WAL this slot needs was removed; the slot cannot be used again",
                    "drop it:  SELECT pg_drop_replication_slot(" + Runbook.literal(name) + ");\nthen make it again:  "
                            + Invocation.current().other("create-slot", List.of("--slot", name))
                            + "\nthen, in Airbyte: resync the connection, as the changes in between are gone"));
        else if ("unreserved".equals(walStatus))
            f.add(Runbook.Finding.warn("wal_status", "unreserved: it holds more than max_wal_size and will lose WAL at the "
                    + "next checkpoint unless its consumer catches up", fix));
        else f.add(Runbook.Finding.ok("wal_status", String.valueOf(walStatus)));
        f.add(Runbook.Finding.ok("restart_lsn", d.get("restartLsn") + "  (server at " + d.get("currentLsn") + ")"));
        f.add(Runbook.Finding.ok("confirmed_flush_lsn", d.get("confirmedFlushLsn") + "  (" + d.get("unconfirmed") + " not confirmed yet)"));
        Long retained = d.get("retainedBytes") == null ? null : ((Number) d.get("retainedBytes")).longValue();
        String held = d.get("retained") + " of WAL held on the server";
        if (retained != null && retained > threshold)
            f.add(Runbook.Finding.warn("WAL retained", held + ": more than --warn-at " + pretty(threshold), fix));
        else f.add(Runbook.Finding.ok("WAL retained", (retained == null ? "none" : held) + " (warns above " + pretty(threshold) + ")"));
        // PostgreSQL shows a walsender's progress only to roles with pg_read_all_stats; others see just its pid.
        if (consumer != null && consumer.get("state") == null)
            f.add(new Runbook.Finding("consumer", Runbook.Status.OK, "progress hidden: the connected role may not read it (pg_read_all_stats)",
                    "to see it:  GRANT pg_monitor TO <you>;  (as a superuser)"));
        else if (consumer != null)
            f.add(Runbook.Finding.ok("consumer", consumer.get("state") + ": sent " + consumer.get("sentLsn") + ", confirmed "
                    + d.get("confirmedFlushLsn") + " (" + consumer.get("sentNotConfirmed") + " sent, not confirmed); lag: write "
                    + lag(consumer.get("writeLagSeconds")) + ", flush " + lag(consumer.get("flushLagSeconds")) + ", replay "
                    + lag(consumer.get("replayLagSeconds"))));
        boolean warned = f.stream().anyMatch(x -> x.status() != Runbook.Status.OK);
        return new Runbook.Outcome("slot " + name, warned ? Runbook.NOT_READY : Runbook.OK, f, Runbook.Plan.none(), false);
    }

    private static String who(Map<String, Object> c) {
        List<String> parts = new ArrayList<>();
        if (c.get("user") != null) parts.add("user " + c.get("user"));
        if (c.get("application") != null && !"".equals(c.get("application"))) parts.add("application " + c.get("application"));
        if (c.get("clientAddr") != null) parts.add("from " + c.get("clientAddr"));
        return parts.isEmpty() ? "" : " (" + String.join(", ", parts) + ")";
    }

    private static String lag(Object seconds) { return seconds == null ? "-" : String.format("%.3f s", (Double) seconds); }

    static String pretty(long bytes) {
        String[] units = {"bytes", "kB", "MB", "GB", "TB"};
        int i = 0;
        double v = bytes;
        while (v >= 1024 && i < units.length - 1 && v % 1024 == 0) { v /= 1024; i++; }
        return (v == Math.floor(v) ? String.valueOf((long) v) : String.valueOf(v)) + " " + units[i];
    }

    public static void main(String... args) { Runbook.launch(new SlotStatus(), args); }
}
