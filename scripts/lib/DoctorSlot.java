import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.util.ArrayList;
import java.util.List;

/**
 * Doctor's checks of the slot (its state and reader, retained WAL, invalidation, Neon's removal of idle slots, a
 * slot poisoned by being made before its publication, an idle database without heartbeat) and Airbyte's own
 * connection test, reproduced query for query.
 */
final class DoctorSlot {
    private DoctorSlot() {}

    // On a standby pg_current_wal_lsn() raises an error: there the position is what has been replayed. Columns that
    // only some majors have (invalidation_reason, 17+) are read through to_jsonb.
    static final String SLOT = """
            SELECT s.slot_name IS NOT NULL AS exists, s.slot_type = 'logical' AND s.plugin = 'pgoutput' AS pgoutput,
                   s.database = current_database() AS here, s.temporary, s.active, s.active_pid, a.application_name,
                   host(a.client_addr) AS client, s.wal_status, to_jsonb(s) ->> 'invalidation_reason' AS reason,
                   pg_size_pretty(pg_wal_lsn_diff(w.lsn, s.restart_lsn)) AS retained,
                   pg_wal_lsn_diff(w.lsn, s.confirmed_flush_lsn)::int8 AS pending,
                   pg_size_pretty(pg_wal_lsn_diff(w.lsn, s.confirmed_flush_lsn)) AS pending_pretty,
                   s.confirmed_flush_lsn::text AS confirmed, w.lsn::text AS now,
                   %s AS endpoint,
                   (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user) AS can_peek,
                   EXISTS (SELECT 1 FROM pg_publication_tables t WHERE t.pubname = ? AND t.tablename = ?
                                   AND t.schemaname = coalesce(?, t.schemaname)) AS heartbeat_published,
                   pg_size_bytes(current_setting('wal_segment_size')) AS segment,
                   ARRAY(SELECT o.slot_name::text FROM pg_replication_slots o
                          WHERE o.database = current_database() AND o.plugin = 'pgoutput' ORDER BY 1) AS pgoutput_slots,
                   (SELECT age(p.xmin) < age(s.catalog_xmin) FROM pg_publication p WHERE p.pubname = ?) AS publication_newer
              FROM (SELECT %s AS lsn) w
              LEFT JOIN pg_replication_slots s ON s.slot_name = ?
              LEFT JOIN pg_stat_activity a ON a.pid = s.active_pid""".formatted(Catalog.NEON_ENDPOINT, Catalog.CURRENT_LSN);

    /** The slot as the catalog shows it ({@code exists} false: only {@code pgoutputSlots} is set). */
    record Slot(boolean exists, List<String> pgoutputSlots, boolean pgoutput, boolean here, boolean temporary, boolean active,
                int activePid, String application, String client, String walStatus, String reason, String retained,
                long pending, String pendingPretty, String confirmed, String now, String endpoint, boolean canPeek,
                boolean heartbeatPublished, long segment, boolean publicationNewer) {}

    static Pipeline.Answer<Slot> read(Pipeline p, DoctorChecks.Context x) {
        String[] heartbeat = Input.tableName("--heartbeat-table", x.heartbeatTable());
        return p.query(SLOT, Pipeline.one(rs -> new Slot(rs.getBoolean("exists"), List.of(Pipeline.texts(rs, "pgoutput_slots")),
                rs.getBoolean("pgoutput"), rs.getBoolean("here"), rs.getBoolean("temporary"), rs.getBoolean("active"),
                rs.getInt("active_pid"), rs.getString("application_name"), rs.getString("client"), rs.getString("wal_status"),
                rs.getString("reason"), rs.getString("retained"), rs.getLong("pending"), rs.getString("pending_pretty"),
                rs.getString("confirmed"), rs.getString("now"), rs.getString("endpoint"), rs.getBoolean("can_peek"),
                rs.getBoolean("heartbeat_published"), rs.getLong("segment"), rs.getBoolean("publication_newer"))),
                x.publication(), heartbeat[1], heartbeat[0], x.publication(), x.slot());
    }

    /** The slot's state, reader, WAL and heartbeat, and with --deep its pending changes; empty when there is no slot. */
    static List<Runbook.Finding> slot(DoctorChecks.Context x, Slot rs) throws SQLException {
        List<Runbook.Finding> f = new ArrayList<>();
        String s = x.slot(), drop = "SELECT pg_drop_replication_slot(" + Input.literal(s) + ");";
        String[] heartbeat = Input.tableName("--heartbeat-table", x.heartbeatTable());
        if (!rs.exists()) { // create-slot's plan is the failure and the fix, unless the name is mistyped
            List<String> others = rs.pgoutputSlots();
            if (!others.isEmpty()) f.add(Runbook.Finding.fail("slot", "no slot " + s + ", but this database has "
                    + "pgoutput slot(s) " + Output.few(others) + ": is --slot mistyped? (a second slot would hold WAL too)",
                    "if it is " + others.get(0) + ":  " + Invocation.current().replacing("--slot", others.get(0))));
            return f;
        }
        boolean usable = rs.pgoutput() && rs.here() && !rs.temporary();
        boolean active = rs.active(), neon = Catalog.onNeon(rs.endpoint(), x.target());
        String walStatus = rs.walStatus(), reason = rs.reason();
        if (active) {
            String app = rs.application(), from = rs.client();
            f.add(Runbook.Finding.ok("reader", "active: read by pid " + rs.activePid()
                    + (app == null || app.isEmpty() ? "" : " (" + app + (from == null ? "" : " from " + from) + ")")));
        } else if (neon) {
            f.add(Runbook.Finding.warn("reader", "inactive, on Neon: Neon removes a slot that has not "
                    + "advanced for about 40 hours", "let Airbyte sync at least daily (the connection's schedule); "
                    + "if you stopped syncing, drop it:  " + drop));
        } else {
            f.add(Runbook.Finding.ok("reader", "inactive: no client reads it now (Airbyte connects during a sync)"));
        }
        boolean lost = "lost".equals(walStatus) || reason != null;
        String resync = drop + "\nthen:  " + x.commands().step("create-slot") + "\nthen, in Airbyte: resync the connection "
                + "(its Settings > Clear data, or Refresh), as the changes in between are gone";
        if (lost) f.add(Runbook.Finding.fail("wal", "invalidated (wal_status " + walStatus
                + (reason == null ? "" : ", " + reason) + "): the WAL it needs is gone, so no reader can resume from it", resync));
        else if ("unreserved".equals(walStatus)) f.add(Runbook.Finding.warn("wal", "holds " + rs.retained()
                + " of WAL, beyond max_slot_wal_keep_size: it is invalidated at the next checkpoint",
                "run an Airbyte sync now; or raise max_slot_wal_keep_size"));
        else f.add(Runbook.Finding.ok("wal", "holds " + rs.retained() + " of WAL (wal_status " + walStatus + ")"));
        if (lost || !usable) return f; // an unusable slot is create-slot's failure
        if (x.deep()) f.add(decode(x, active, rs.canPeek(), rs.confirmed(), rs.now(), rs.pending(), resync));
        else if (rs.publicationNewer()) // made (or changed) after the oldest change the slot holds
            f.add(Runbook.Finding.warn("decoding", "not known: publication " + Input.ident(x.publication()) + " was "
                    + "made (or changed) after the oldest change this slot still holds; if it was made after the slot, "
                    + "or dropped and made again, the changes written in between cannot be decoded (PostgreSQL 14-17)",
                    "decode them, consuming none:  " + Invocation.current().again("--deep")));
        f.add(heartbeat(x, heartbeat, rs.pending(), rs.pendingPretty(), rs.heartbeatPublished(), rs.segment()));
        return f;
    }

    /** The first stretch of WAL decoded; each next one is twice as long (see {@link #decode}). */
    static final long FIRST_STEP = 16L << 20;

    /**
     * Decodes every pending change, from what the slot has confirmed up to the server's position when doctor looked,
     * without consuming any (a peek, in a savepoint rolled back after). One bad change anywhere poisons the slot: a
     * slot made before its publication, or one whose publication was dropped and made again, fails on the changes
     * written in between, though those before decode fine. A peek decodes from the start each time, so the stretches
     * double: the whole costs at most twice one pass, and when --peek-timeout runs out it is known how far it got.
     */
    private static Runbook.Finding decode(DoctorChecks.Context x, boolean active, boolean canPeek, String confirmed, String now,
                                          long pending, String resync) throws SQLException {
        Connection c = x.c();
        String p = Input.ident(x.publication());
        if (active) return Runbook.Finding.warn("decoding", "not known: a client is reading the slot now, and a slot in use "
                + "cannot be peeked", "when the sync is over:  " + Invocation.current().again());
        if (!canPeek) return Runbook.Finding.warn("decoding", "not known: the connected role lacks REPLICATION, which peeking "
                + "at a slot needs", "run doctor --deep as a role with REPLICATION");
        if (pending <= 0) return Runbook.Finding.ok("decoding", "nothing pending: the slot has confirmed all the WAL there is");
        long deadline = System.nanoTime() + Input.millis("--peek-timeout", x.peekTimeout()) * 1_000_000L, decoded = 0, messages = 0;
        Savepoint sp = c.setSavepoint();
        try (PreparedStatement timeout = c.prepareStatement("SELECT set_config('statement_timeout', ?, true)");
             PreparedStatement peek = c.prepareStatement("SELECT count(*) AS messages FROM pg_logical_slot_peek_binary_changes("
                     + "?, ?::pg_lsn + ?::numeric, NULL, 'proto_version', '1', 'publication_names', ?)")) {
            for (long step = FIRST_STEP; decoded < pending; step *= 2) {
                long upto = Math.min(pending, Math.max(step, decoded * 2)), left = (deadline - System.nanoTime()) / 1_000_000;
                if (left <= 0) throw new java.sql.SQLException("timed out", "57014");
                timeout.setString(1, left + "ms");
                timeout.execute();
                peek.setString(1, x.slot());
                peek.setString(2, confirmed);
                peek.setLong(3, upto);
                peek.setString(4, p); // pgoutput parses the option as a list of identifiers
                try (var rs = peek.executeQuery()) {
                    rs.next();
                    messages = rs.getLong("messages");
                }
                decoded = upto;
            }
            return Runbook.Finding.ok("decoding", "decoded every pending change without consuming any: " + messages
                    + " message(s) in " + Output.size(pending) + " of WAL, from " + confirmed + " to " + now
                    + ", with publication " + p);
        } catch (SQLException e) {
            String state = e.getSQLState() == null ? "" : e.getSQLState(), msg = Output.firstLine(e.getMessage());
            if (state.equals("42704") && msg.contains("publication"))
                return Runbook.Finding.fail("decoding", "poisoned: reading it fails with '" + msg + "': the slot was "
                        + "made before its publication, or the publication was dropped and made again while the slot lived, "
                        + "and PostgreSQL 14-17 keep failing on the changes written in between, for ever", resync);
            if (state.equals("57014"))
                return Runbook.Finding.warn("decoding", "not known: in " + x.peekTimeout() + " it decoded "
                        + Output.size(decoded) + " of the " + Output.size(pending) + " pending (from " + confirmed
                        + ") without an error; the rest was not decoded", "give it longer:  "
                        + Invocation.current().replacing("--peek-timeout", "10min"));
            return Runbook.Finding.warn("decoding", "not known: peeking failed: " + msg, null);
        } finally {
            c.rollback(sp);
        }
    }

    /**
     * Behind the server's WAL with nothing of Airbyte's own in the publication: the idle-database trap. Less than a
     * WAL segment behind is what any write leaves between two syncs (setup's own included), so not worth a warning.
     */
    private static Runbook.Finding heartbeat(DoctorChecks.Context x, String[] name, long lag, String lagPretty,
                                             boolean heartbeatPublished, long segment) {
        String t = name[0] == null ? Input.ident(name[1]) : Input.qualified(name[0], name[1]);
        if (heartbeatPublished) return Runbook.Finding.ok("heartbeat", "heartbeat table " + t + " is in the publication");
        if (lag > 0 && lag < segment) return Runbook.Finding.ok("heartbeat", "the slot has confirmed all but "
                + lagPretty + " of the WAL, less than one WAL segment");
        if (lag > 0) return Runbook.Finding.warn("heartbeat", "what the slot has confirmed is " + lagPretty
                + " behind the server's WAL, and no heartbeat table " + t + " is in the publication: while the published "
                + "tables sit idle, a later sync can fail with \"Saved offset is before replication slot's confirmed lsn\"",
                x.heartbeatTable().equals(Defaults.HEARTBEAT_TABLE) ? x.publicationCommand("--heartbeat")
                        : x.publicationCommand("--heartbeat", "--heartbeat-table", x.heartbeatTable()));
        return Runbook.Finding.ok("heartbeat", "the slot has confirmed all the WAL there is");
    }

    /** Airbyte source-postgres's check, as it runs it: two queries wanting one row each, then a replication connection. */
    static Runbook.Reading airbyteCheck(Pipeline p, DoctorChecks.Context x) {
        return new AirbyteCheck(x.target(), x.slot(), x.publication(), x.role(), x.commands().step("create-slot"),
                x.publicationCommand()).read(p);
    }
}
