import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Who holds the lock a statement gave up on. PostgreSQL's lock_timeout error names neither the table nor the session;
 * after it the wait is over, so this looks at who holds, granted, a lock on the statement's tables in a mode that
 * conflicts with the one the statement needs (pg_locks and pg_stat_activity, which every role may read in part).
 */
final class Locks {
    private Locks() {}

    static final String ACCESS_EXCLUSIVE = "AccessExclusiveLock", SHARE_UPDATE_EXCLUSIVE = "ShareUpdateExclusiveLock";

    /** PostgreSQL's table of conflicting lock modes, for the modes the steps take. */
    static final Map<String, List<String>> CONFLICTS = Map.of(
            ACCESS_EXCLUSIVE, List.of("AccessShareLock", "RowShareLock", "RowExclusiveLock", SHARE_UPDATE_EXCLUSIVE,
                    "ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", ACCESS_EXCLUSIVE),
            // CREATE PUBLICATION and ALTER PUBLICATION ... ADD TABLE. A GRANT waits on the transaction that changed the
            // table's catalog row (an ALTER TABLE, a CREATE INDEX), which holds one of these modes.
            SHARE_UPDATE_EXCLUSIVE, List.of(SHARE_UPDATE_EXCLUSIVE, "ShareLock", "ShareRowExclusiveLock", "ExclusiveLock",
                    ACCESS_EXCLUSIVE));

    static final String HOLDERS = """
            SELECT l.relation::regclass::text AS rel, a.pid, a.usename, a.application_name, a.state,
                   extract(epoch FROM now() - a.xact_start)::int8 AS open_seconds
              FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.granted AND l.locktype = 'relation' AND l.pid <> pg_backend_pid() AND l.mode = ANY (?::text[])
               AND l.relation IN (SELECT to_regclass(t) FROM unnest(?::text[]) t)
             ORDER BY a.xact_start NULLS LAST, a.pid, 1""";

    /**
     * The tables and the sessions holding them, that nothing was changed, and what to do, in one line; null when no
     * session holds a conflicting lock on them any more (it ended, or the wait was on something else).
     */
    static String holders(Connection c, Runbook.Sql statement) {
        if (statement == null || statement.tables().isEmpty() || c == null) return null;
        List<String> tables = new ArrayList<>(), sessions = new ArrayList<>(), pids = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(HOLDERS)) {
            ps.setArray(1, c.createArrayOf("text", CONFLICTS.getOrDefault(statement.mode(), CONFLICTS.get(ACCESS_EXCLUSIVE)).toArray()));
            ps.setArray(2, c.createArrayOf("text", statement.tables().toArray()));
            try (var rs = ps.executeQuery()) {
                while (rs.next()) {
                    if (!tables.contains(rs.getString("rel"))) tables.add(rs.getString("rel"));
                    String pid = rs.getString("pid");
                    if (pids.contains(pid)) continue;
                    pids.add(pid);
                    sessions.add(session(pid, rs.getString("usename"), rs.getString("application_name"), rs.getString("state"),
                            rs.getObject("open_seconds") == null ? null : rs.getLong("open_seconds")));
                }
            }
        } catch (SQLException unknown) {
            return null; // the connection is gone: the plain message stands
        }
        if (sessions.isEmpty()) return null;
        return "could not take a lock within lock_timeout on " + Output.few(tables, ", ") + ": held by "
                + Output.few(sessions, "; ") + "; " + Failure.NOTHING_CHANGED + ". Wait for " + (pids.size() == 1 ? "it"
                : "them") + " to end and run this again, or end " + (pids.size() == 1 ? "that session" : "those sessions")
                + " (as a superuser, a member of its role, or of pg_signal_backend):  "
                + String.join(" ", pids.stream().map(p -> "SELECT pg_terminate_backend(" + p + ");").toList());
    }

    /** A session as much as this role may see of it: others' state and start are hidden without pg_read_all_stats. */
    static String session(String pid, String role, String application, String state, Long openSeconds) {
        List<String> parts = new ArrayList<>();
        parts.add("role " + (role == null ? "?" : role));
        if (application != null && !application.isEmpty()) parts.add("application " + application);
        parts.add(state == null ? "state not visible to you" : state);
        if (openSeconds != null) parts.add("transaction open " + duration(openSeconds));
        return "pid " + pid + " (" + String.join(", ", parts) + ")";
    }

    static String duration(long seconds) {
        if (seconds < 60) return seconds + " s";
        if (seconds < 3600) return seconds / 60 + " min " + seconds % 60 + " s";
        return seconds / 3600 + " h " + seconds % 3600 / 60 + " min";
    }
}
