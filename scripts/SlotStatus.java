///usr/bin/env jbang "$0" "$@" ; exit $?
//SOURCES lib/Runbook.java lib/SlotMetrics.java
//DESCRIPTION Each logical slot: active or not, the WAL it holds, how far its consumer lags; warns (exit 1) for cron, --watch to follow

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
        description = {SlotStatus.DESCRIPTION, "Shows every logical replication slot of the database (or --slot): plugin, active and by which "
                + "process, wal_status, restart_lsn and confirmed_flush_lsn, the WAL it holds on the server, and, while "
                + "a consumer (Airbyte) is connected, how far behind it is. Changes nothing.",
                "Warns, and exits 1, when a slot holds more WAL than --warn-at or is inactive: an inactive slot keeps "
                + "WAL until its consumer returns, and Neon drops a slot that has not advanced for about 40 hours. "
                + "So it can run from cron. --watch N refreshes every N seconds until Ctrl-C."},
        footer = {"%nExamples:",
                "  jbang slot-status --url \"$DATABASE_URL\"",
                "  jbang slot-status --slot airbyte_slot --warn-at 5GB --watch 10",
                "  jbang slot-status --json | jq '.slots[].retainedBytes'",
                "  jbang slot-status --warn-at 2GB > /dev/null || <alert>     # from cron",
                "  jbang slot-status --format prometheus > slots.prom.tmp; mv slots.prom.tmp slots.prom"})
class SlotStatus implements Callable<Exit> {
    static final String DESCRIPTION = "Each logical slot: active or not, the WAL it holds, how far its consumer lags; "
            + "warns (exit 1) for cron, --watch to follow";

    @Mixin Db db = new Db();
    @Option(names = "--json", description = "Print the findings and every slot's numbers as JSON, for programs.") boolean json;
    /** The shared printer; this command changes nothing, so it has no --dry-run. */
    final Output out = new Output();
    @Option(names = "--slot", description = "Only this slot (default: every logical slot of the database).") String slot;
    @Option(names = "--warn-at", defaultValue = Defaults.WARN_AT, paramLabel = "SIZE", description = "Warn when a slot holds more WAL "
            + "than this: a number with kB, MB, GB or TB (1024-based, as PostgreSQL counts; default: ${DEFAULT-VALUE}).")
    String warnAt = Defaults.WARN_AT;
    @Option(names = "--watch", paramLabel = "SECONDS", description = "Refresh every SECONDS until Ctrl-C (which ends it "
            + "with 130, as any interrupted command).") Integer watch;
    @Option(names = "--format", paramLabel = "text|prometheus", defaultValue = "text", description = "prometheus: print the "
            + "slots' numbers as Prometheus metrics (text exposition format, for node_exporter's textfile collector), "
            + "labelled target (host/database), database and slot; exit 0 once read, however they look (alert in Prometheus).")
    String format = "text";
    /** How many refreshes --watch makes before it stops (for tests; unlimited by default). */
    @Option(names = "--count", hidden = true) Integer count;

    static final Pattern SIZE = Pattern.compile("(?i)\\s*(\\d+(?:\\.\\d+)?)\\s*(bytes|b|kb|mb|gb|tb)?\\s*");

    /** A size as PostgreSQL writes it (pg_size_bytes): kB, MB, GB, TB are 1024-based. */
    static long bytes(String option, String value) {
        Matcher m = SIZE.matcher(value == null ? "" : value);
        if (!m.matches())
            throw Failure.badInput(option + " '" + value + "' is not a size: write a number with kB, MB, GB or TB (e.g. 512MB, 1GB)");
        String unit = m.group(2) == null ? "b" : m.group(2).toLowerCase();
        int shift = switch (unit) { case "kb" -> 10; case "mb" -> 20; case "gb" -> 30; case "tb" -> 40; default -> 0; };
        var size = new java.math.BigDecimal(m.group(1)).multiply(java.math.BigDecimal.valueOf(1L << shift));
        if (size.compareTo(java.math.BigDecimal.valueOf(Long.MAX_VALUE)) > 0)
            throw Failure.badInput(option + " '" + value + "' is more than any server holds: give a size up to 8000000TB");
        return size.longValue();
    }

    /**
     * Every slot of the cluster with the WAL it holds, and its consumer's walsender (pg_stat_replication, joined on
     * active_pid) when one is connected. inactive_since (PostgreSQL 17+) is read through to_jsonb, so the query is the
     * same on every major.
     */
    static final String QUERY = """
            SELECT s.slot_name, s.slot_type, s.plugin, s.database, s.database = current_database() AS here, s.temporary,
                   s.active, s.active_pid, s.wal_status, s.restart_lsn::text AS restart_lsn,
                   s.confirmed_flush_lsn::text AS confirmed_flush_lsn, cur.lsn::text AS current_lsn,
                   pg_wal_lsn_diff(cur.lsn, s.restart_lsn)::bigint AS retained_bytes,
                   pg_size_pretty(pg_wal_lsn_diff(cur.lsn, s.restart_lsn)) AS retained,
                   pg_wal_lsn_diff(cur.lsn, s.confirmed_flush_lsn)::bigint AS unconfirmed_bytes,
                   pg_size_pretty(pg_wal_lsn_diff(cur.lsn, s.confirmed_flush_lsn)) AS unconfirmed,
                   date_trunc('second', (to_jsonb(s) ->> 'inactive_since')::timestamptz)::text AS inactive_since,
                   extract(epoch FROM now() - (to_jsonb(s) ->> 'inactive_since')::timestamptz) / 3600 AS inactive_hours,
                   r.pid IS NOT NULL AS consumer, r.usename, r.application_name, host(r.client_addr) AS client_addr, r.state,
                   r.sent_lsn::text AS sent_lsn, r.flush_lsn::text AS flush_lsn,
                   pg_wal_lsn_diff(r.sent_lsn, s.confirmed_flush_lsn)::bigint AS sent_not_confirmed_bytes,
                   pg_size_pretty(pg_wal_lsn_diff(r.sent_lsn, s.confirmed_flush_lsn)) AS sent_not_confirmed,
                   extract(epoch FROM r.write_lag) AS write_lag, extract(epoch FROM r.flush_lag) AS flush_lag,
                   extract(epoch FROM r.replay_lag) AS replay_lag, current_database() AS db, current_user AS me, cur.endpoint
              FROM (SELECT %s AS lsn, %s AS endpoint) cur
              LEFT JOIN pg_replication_slots s ON true
              LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
             ORDER BY s.slot_name""".formatted(Catalog.CURRENT_LSN, Catalog.NEON_ENDPOINT);

    public Exit call() throws SQLException, InterruptedException {
        out.json = json;
        long threshold = bytes("--warn-at", warnAt);
        if (slot != null) Input.slotName(slot);
        if (watch != null && watch < 1) throw Failure.badInput("--watch " + watch + ": give a number of seconds, 1 or more");
        boolean terminal = Cli.terminal();
        if (!List.of("text", "prometheus").contains(format)) throw Failure.badInput("--format '" + format + "' is not text or prometheus");
        if (format.equals("prometheus")) {
            if (json || watch != null) throw Failure.badInput("--format prometheus does not go with --json or --watch");
            return metrics(threshold);
        }
        try (Connection c = db.connect()) {
            Exit exit = Exit.OK;
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

    /** --format prometheus: the slots as metrics; a database that cannot be read is cdc_scrape_success 0, and its error. */
    private Exit metrics(long threshold) throws SQLException {
        String target = db.target().host + "/" + db.target().database;
        List<Map<String, Object>> data = new ArrayList<>();
        try (Connection c = db.connect()) {
            look(c, threshold, data, false);
        } catch (Failure | SQLException e) {
            if (e instanceof Failure f && f.exit == Exit.BAD_INPUT) throw f;
            System.out.print(SlotMetrics.text(List.of(new SlotMetrics.Scrape(target, false, null))));
            throw e;
        }
        System.out.print(SlotMetrics.text(List.of(new SlotMetrics.Scrape(target, true, new com.fasterxml.jackson.databind.ObjectMapper().valueToTree(data)))));
        return Exit.OK;
    }

    /** One look at the slots: prints one screen per slot, returns 1 when any of them warns. */
    Exit refresh(Connection c, long threshold) throws SQLException {
        List<Map<String, Object>> data = new ArrayList<>();
        List<Runbook.Outcome> screens = look(c, threshold, data, true);
        Map<String, Object> extra = new LinkedHashMap<>();
        if (out.json) {
            extra.put("warnAtBytes", threshold);
            extra.put("slots", data);
        }
        out.print(screens, extra);
        return screens.stream().anyMatch(o -> o.exit() != Exit.OK) ? Exit.NOT_READY : Exit.OK;
    }

    /**
     * The slots' screens; their numbers go into {@code data}. A --slot that is not there is bad input when {@code strict},
     * else no data (the metrics say there is no such slot).
     */
    private List<Runbook.Outcome> look(Connection c, long threshold, List<Map<String, Object>> data, boolean strict) throws SQLException {
        List<Runbook.Outcome> screens = new ArrayList<>();
        List<String> here = new ArrayList<>();
        String database = null, elsewhere = null;
        boolean neon = false;
        try (var st = c.createStatement(); ResultSet rs = st.executeQuery(QUERY)) {
            while (rs.next()) {
                database = rs.getString("db");
                neon = Catalog.onNeon(rs.getString("endpoint"), db.target());
                String name = rs.getString("slot_name");
                if (name == null) continue;
                boolean logicalHere = "logical".equals(rs.getString("slot_type")) && rs.getBoolean("here");
                if (name.equals(slot) && !logicalHere)
                    elsewhere = "logical".equals(rs.getString("slot_type")) ? "is in database " + rs.getString("database") + ": connect to that database"
                            : "is a physical slot (this shows logical slots)";
                if (!logicalHere) continue;
                here.add(name);
                if (slot != null && !slot.equals(name)) continue;
                Map<String, Object> d = row(rs);
                data.add(d);
                screens.add(screen(d, threshold, neon, rs.getString("me")));
            }
        }
        if (slot != null && screens.isEmpty() && strict)
            throw Failure.badInput("--slot " + slot + (elsewhere != null ? " " + elsewhere : " does not exist in database "
                    + database) + "; logical slots here: " + (here.isEmpty() ? "none (jbang create-slot makes one)" : String.join(", ", here)));
        if (screens.isEmpty())
            screens.add(new Runbook.Outcome("slot-status", Exit.NOT_READY, List.of(Runbook.Finding.fail("slots", "no logical "
                    + "replication slot in database " + database + ": Airbyte has nothing to read changes from",
                    Invocation.current().other("create-slot", List.of()) + "\nor the whole runbook:  "
                    + Invocation.current().other("setup", List.of()))), Runbook.Plan.none(), false));
        return screens;
    }

    /** The numbers of one slot, as --json prints them. */
    private static Map<String, Object> row(ResultSet rs) throws SQLException {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("slot", rs.getString("slot_name"));
        d.put("plugin", rs.getString("plugin"));
        d.put("database", rs.getString("database"));
        d.put("temporary", rs.getBoolean("temporary"));
        d.put("active", rs.getBoolean("active"));
        d.put("activePid", rs.getObject("active_pid"));
        d.put("walStatus", rs.getString("wal_status"));
        d.put("restartLsn", rs.getString("restart_lsn"));
        d.put("confirmedFlushLsn", rs.getString("confirmed_flush_lsn"));
        d.put("currentLsn", rs.getString("current_lsn"));
        d.put("retainedBytes", rs.getObject("retained_bytes"));
        d.put("retained", rs.getString("retained"));
        d.put("unconfirmedBytes", rs.getObject("unconfirmed_bytes"));
        d.put("unconfirmed", rs.getString("unconfirmed"));
        d.put("inactiveSince", rs.getString("inactive_since"));
        d.put("inactiveHours", number(rs, "inactive_hours"));
        if (rs.getBoolean("consumer")) {
            Map<String, Object> consumer = new LinkedHashMap<>();
            consumer.put("user", rs.getString("usename"));
            consumer.put("application", rs.getString("application_name"));
            consumer.put("clientAddr", rs.getString("client_addr"));
            consumer.put("state", rs.getString("state"));
            consumer.put("sentLsn", rs.getString("sent_lsn"));
            consumer.put("flushLsn", rs.getString("flush_lsn"));
            consumer.put("sentNotConfirmedBytes", rs.getObject("sent_not_confirmed_bytes"));
            consumer.put("sentNotConfirmed", rs.getString("sent_not_confirmed"));
            consumer.put("writeLagSeconds", number(rs, "write_lag"));
            consumer.put("flushLagSeconds", number(rs, "flush_lag"));
            consumer.put("replayLagSeconds", number(rs, "replay_lag"));
            d.put("consumer", consumer);
        } else d.put("consumer", null);
        return d;
    }

    private static Double number(ResultSet rs, String column) throws SQLException {
        return rs.getObject(column) == null ? null : rs.getDouble(column);
    }

    /** One slot's screen: a line per fact, a warning when it holds too much WAL or nobody reads it. */
    static Runbook.Outcome screen(Map<String, Object> d, long threshold, boolean neon, String viewer) {
        List<Runbook.Finding> f = new ArrayList<>();
        String name = (String) d.get("slot");
        f.add(Runbook.Finding.ok("plugin", d.get("plugin") + " (database " + d.get("database") + (Boolean.TRUE.equals(d.get("temporary"))
                ? ", temporary)" : ")")));
        @SuppressWarnings("unchecked") Map<String, Object> consumer = (Map<String, Object>) d.get("consumer");
        String fix = "start or resume its consumer (the Airbyte connection: run a sync), or, if nothing will read it again, "
                + "drop it:  SELECT pg_drop_replication_slot(" + Input.literal(name) + ");  (jbang teardown also drops the publication)";
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
                    "drop it:  SELECT pg_drop_replication_slot(" + Input.literal(name) + ");\nthen make it again:  "
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
                    "to see it, as a superuser:  GRANT pg_monitor TO " + Input.ident(viewer) + ";"));
        else if (consumer != null)
            f.add(Runbook.Finding.ok("consumer", consumer.get("state") + ": sent " + consumer.get("sentLsn") + ", confirmed "
                    + d.get("confirmedFlushLsn") + " (" + consumer.get("sentNotConfirmed") + " sent, not confirmed); lag: write "
                    + lag(consumer.get("writeLagSeconds")) + ", flush " + lag(consumer.get("flushLagSeconds")) + ", replay "
                    + lag(consumer.get("replayLagSeconds"))));
        boolean warned = f.stream().anyMatch(x -> x.status() != Runbook.Status.OK);
        return new Runbook.Outcome("slot " + name, warned ? Exit.NOT_READY : Exit.OK, f, Runbook.Plan.none(), false);
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

    public static void main(String... args) { Cli.launch(new SlotStatus(), args); }
}
