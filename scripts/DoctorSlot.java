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
    private final Doctor d;
    private final Connection c;

    DoctorSlot(Doctor d, Connection c) {
        this.d = d;
        this.c = c;
    }

    // On a standby pg_current_wal_lsn() raises an error: there the position is what has been replayed. Columns that
    // only some majors have (invalidation_reason, 17+) are read through to_jsonb.
    static final String SLOT = """
            SELECT s.slot_name IS NOT NULL, s.slot_type = 'logical' AND s.plugin = 'pgoutput', s.database = current_database(),
                   s.temporary, s.active, s.active_pid, a.application_name, host(a.client_addr), s.wal_status,
                   to_jsonb(s) ->> 'invalidation_reason', pg_size_pretty(pg_wal_lsn_diff(w.lsn, s.restart_lsn)),
                   pg_wal_lsn_diff(w.lsn, s.confirmed_flush_lsn), pg_size_pretty(pg_wal_lsn_diff(w.lsn, s.confirmed_flush_lsn)),
                   coalesce(current_setting('neon.endpoint_id', true), '') <> '',
                   (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user),
                   EXISTS (SELECT 1 FROM pg_publication_tables t WHERE t.pubname = ? AND t.tablename = ?
                                   AND t.schemaname = coalesce(?, t.schemaname)),
                   pg_size_bytes(current_setting('wal_segment_size'))
              FROM (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END AS lsn) w
              LEFT JOIN pg_replication_slots s ON s.slot_name = ?
              LEFT JOIN pg_stat_activity a ON a.pid = s.active_pid""";

    void slot() throws SQLException {
        String s = d.slot, drop = "SELECT pg_drop_replication_slot(" + Runbook.literal(s) + ");";
        try (PreparedStatement ps = c.prepareStatement(SLOT)) {
            String[] heartbeat = Runbook.tableName("--heartbeat-table", d.heartbeatTable);
            ps.setString(1, d.publication);
            ps.setString(2, heartbeat[1]);
            ps.setString(3, heartbeat[0]);
            ps.setString(4, s);
            try (var rs = ps.executeQuery()) {
                rs.next();
                if (!rs.getBoolean(1)) return; // create-slot's plan is the failure and the fix
                boolean usable = rs.getBoolean(2) && rs.getBoolean(3) && !rs.getBoolean(4), active = rs.getBoolean(5);
                boolean neon = rs.getBoolean(14) || d.db.target().isNeonHost(), canPeek = rs.getBoolean(15);
                String walStatus = rs.getString(9), reason = rs.getString(10);
                if (active) {
                    String app = rs.getString(7), from = rs.getString(8);
                    d.add("slot", Runbook.Finding.ok("reader", "active: read by pid " + rs.getInt(6)
                            + (app == null || app.isEmpty() ? "" : " (" + app + (from == null ? "" : " from " + from) + ")")));
                } else if (neon) {
                    d.add("slot", Runbook.Finding.warn("reader", "inactive, on Neon: Neon removes a slot that has not "
                            + "advanced for about 40 hours", "let Airbyte sync at least daily (the connection's schedule); "
                            + "if you stopped syncing, drop it:  " + drop));
                } else {
                    d.add("slot", Runbook.Finding.ok("reader", "inactive: no client reads it now (Airbyte connects during a sync)"));
                }
                boolean lost = "lost".equals(walStatus) || reason != null;
                String resync = drop + "\n-- then: " + d.slotCommand() + "\n-- then in Airbyte: resync the connection "
                        + "(its Settings > Clear data, or Refresh), as the changes in between are gone";
                if (lost) d.add("slot", Runbook.Finding.fail("wal", "invalidated (wal_status " + walStatus
                        + (reason == null ? "" : ", " + reason) + "): the WAL it needs is gone, so no reader can resume from it", resync));
                else if ("unreserved".equals(walStatus)) d.add("slot", Runbook.Finding.warn("wal", "holds " + rs.getString(11)
                        + " of WAL, beyond max_slot_wal_keep_size: it is invalidated at the next checkpoint",
                        "run an Airbyte sync now; or raise max_slot_wal_keep_size"));
                else d.add("slot", Runbook.Finding.ok("wal", "holds " + rs.getString(11) + " of WAL (wal_status " + walStatus + ")"));
                if (lost || !usable) return; // an unusable slot is create-slot's failure
                if (d.deep) peek(active, canPeek, resync);
                heartbeat(heartbeat, rs.getLong(12), rs.getString(13), rs.getBoolean(16), rs.getLong(17));
            }
        }
    }

    /**
     * A slot made before its publication fails every reader with 'publication "..." does not exist' on PostgreSQL
     * 14-17, for ever. Peeking one change shows it without consuming anything; a rolled-back savepoint ends it.
     */
    private void peek(boolean active, boolean canPeek, String resync) throws SQLException {
        String p = Runbook.ident(d.publication);
        if (active) {
            d.add("slot", Runbook.Finding.ok("decoding", "not peeked: a client is reading the slot"));
            return;
        }
        if (!canPeek) {
            d.add("slot", Runbook.Finding.warn("decoding", "not peeked: the connected role lacks REPLICATION",
                    "run doctor --deep as a role with REPLICATION"));
            return;
        }
        Savepoint sp = c.setSavepoint();
        try (PreparedStatement timeout = c.prepareStatement("SELECT set_config('statement_timeout', ?, true)");
             PreparedStatement peek = c.prepareStatement("SELECT 1 FROM pg_logical_slot_peek_binary_changes(?, NULL, 1, "
                     + "'proto_version', '1', 'publication_names', ?)")) {
            timeout.setString(1, d.peekTimeout.strip());
            timeout.execute();
            peek.setString(1, d.slot);
            peek.setString(2, p); // pgoutput parses the option as a list of identifiers
            try (var rs = peek.executeQuery()) {
                d.add("slot", Runbook.Finding.ok("decoding", "peeked without consuming: the slot decodes with publication " + p));
            }
        } catch (SQLException e) {
            c.rollback(sp);
            String state = e.getSQLState() == null ? "" : e.getSQLState(), msg = Runbook.firstLine(e.getMessage());
            if (state.equals("42704") && msg.contains("publication"))
                d.add("slot", Runbook.Finding.fail("decoding", "poisoned: reading it fails with '" + msg + "': the slot was "
                        + "made before its publication, and PostgreSQL 14-17 keep failing on it for ever", resync));
            else if (state.equals("57014"))
                d.add("slot", Runbook.Finding.warn("decoding", "not peeked: decoding took longer than " + d.peekTimeout,
                        "run again with a longer --peek-timeout"));
            else d.add("slot", Runbook.Finding.warn("decoding", "not peeked: " + msg, null));
            return;
        }
        c.rollback(sp);
    }

    /**
     * Behind the server's WAL with nothing of Airbyte's own in the publication: the idle-database trap. Less than a
     * WAL segment behind is what any write leaves between two syncs (setup's own included), so not worth a warning.
     */
    private void heartbeat(String[] name, long lag, String lagPretty, boolean heartbeatPublished, long segment) {
        String t = name[0] == null ? Runbook.ident(name[1]) : Runbook.qualified(name[0], name[1]);
        if (heartbeatPublished) d.add("slot", Runbook.Finding.ok("heartbeat", "heartbeat table " + t + " is in the publication"));
        else if (lag > 0 && lag < segment) d.add("slot", Runbook.Finding.ok("heartbeat", "the slot has confirmed all but "
                + lagPretty + " of the WAL, less than one WAL segment"));
        else if (lag > 0) d.add("slot", Runbook.Finding.warn("heartbeat", "what the slot has confirmed is " + lagPretty
                + " behind the server's WAL, and no heartbeat table " + t + " is in the publication: while the published "
                + "tables sit idle, a later sync can fail with \"Saved offset is before replication slot's confirmed lsn\"",
                d.publicationCommand() + " --heartbeat" + (d.heartbeatTable.equals("airbyte_heartbeat") ? ""
                        : " --heartbeat-table " + Doctor.shell(d.heartbeatTable))));
        else d.add("slot", Runbook.Finding.ok("heartbeat", "the slot has confirmed all the WAL there is"));
    }

    /** Airbyte source-postgres's check, as it runs it: two queries wanting one row each, then a replication connection. */
    void airbyteCheck() throws SQLException {
        AirbyteCheck check = new AirbyteCheck(d.db.target(), d.slot, d.publication, d.roleName(),
                d.slotCommand() + "   (see the slot lines above)", d.publicationCommand());
        for (Runbook.Finding f : check.assess(c).findings()) d.add("airbyte check", f);
    }
}
