import java.sql.Connection;
import java.sql.SQLException;

/**
 * What several commands read from the server the same way, written once: whether it is Neon, where its WAL is now,
 * and the advisory lock that makes setups and teardowns on one database take turns.
 */
final class Catalog {
    private Catalog() {}

    /** SQL for Neon's endpoint id ('' elsewhere): a Neon compute has the setting neon.endpoint_id. */
    static final String NEON_ENDPOINT = "coalesce(current_setting('neon.endpoint_id', true), '')";

    /** Neon: the compute says so ({@link #NEON_ENDPOINT}), or the host is Neon's (behind a proxy the setting may not show). */
    static boolean onNeon(String endpoint, Target t) { return endpoint != null && !endpoint.isEmpty() || t.isNeonHost(); }

    /** SQL for the server's WAL position now: on a standby what it has replayed (pg_current_wal_lsn() fails there). */
    static final String CURRENT_LSN = "CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END";

    /** Setups and teardowns on one database run one after the other: a session-level advisory lock. */
    static final String SERIALISE = "SELECT pg_advisory_lock(hashtext('airbyte-runbook setup'))";

    static void serialise(Connection c) throws SQLException {
        try (var st = c.createStatement()) {
            st.execute(SERIALISE);
        }
    }

    /**
     * The one fix for objects owned by roles we are not a member of: membership in them, which lets us alter, publish
     * and grant on what they own. (Running as the owner instead can fail on what we own, a publication say: a loop.)
     */
    static String membership(java.util.Collection<String> owners, String me, String then) {
        return "GRANT " + String.join(", ", owners.stream().map(Input::ident).toList()) + " TO " + me + ";  (as a "
                + "superuser, or a role with ADMIN OPTION on it; on Neon, the role that created it)\nthen:  " + then;
    }
}
