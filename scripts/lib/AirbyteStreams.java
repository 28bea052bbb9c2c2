//SOURCES Runbook.java

import com.fasterxml.jackson.databind.JsonNode;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * The streams of an Airbyte connection as the runbook chooses them: the publication's tables (never the heartbeat
 * table), each with the best sync mode Airbyte offers for it; and Airbyte's cron, checked before it is sent.
 */
final class AirbyteStreams {
    private AirbyteStreams() {}

    /** A published table: its schema (Airbyte's namespace), its name (the stream's), and whether it has a primary key. */
    record Table(String schema, String name, boolean hasKey) {
        String qualified() { return schema + "." + name; }
        /** As --table takes it. */
        String arg() { return Input.tableArg(schema, name); }
    }

    /** A stream as Airbyte's connection takes it. */
    record Stream(String namespace, String name, String syncMode) {}

    /** The choice: the streams to send; tables synced in full (no incremental mode offered), left out, or not offered at all. */
    record Selection(List<Stream> streams, List<Table> fullRefresh, List<Table> leftOut, List<Table> notOffered) {}

    static final String PUBLISHED = """
            SELECT t.schemaname::text AS schema, t.tablename::text AS name,
                   EXISTS (SELECT 1 FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
                             JOIN pg_namespace n ON n.oid = c.relnamespace
                            WHERE n.nspname = t.schemaname AND c.relname = t.tablename AND k.contype = 'p') AS has_key
              FROM pg_publication_tables t WHERE t.pubname = ? ORDER BY 1, 2""";

    /**
     * The publication's tables, without the heartbeat table ({@code [schema or null, table]}: without a schema, in any;
     * null: keep it); null when there is no such publication.
     */
    static List<Table> published(Connection c, String publication, String[] heartbeat) throws SQLException {
        try (PreparedStatement exists = c.prepareStatement("SELECT 1 FROM pg_publication WHERE pubname = ?")) {
            exists.setString(1, publication);
            try (var rs = exists.executeQuery()) { if (!rs.next()) return null; }
        }
        List<Table> tables = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(PUBLISHED)) {
            ps.setString(1, publication);
            try (var rs = ps.executeQuery()) {
                while (rs.next()) {
                    Table t = new Table(rs.getString("schema"), rs.getString("name"), rs.getBoolean("has_key"));
                    boolean isHeartbeat = heartbeat != null && t.name().equals(heartbeat[1]) && (heartbeat[0] == null || t.schema().equals(heartbeat[0]));
                    if (!isHeartbeat) tables.add(t);
                }
            }
        }
        return tables;
    }

    /**
     * Each table's best mode among those Airbyte offers: incremental_deduped_history for a table with a primary key,
     * else incremental_append; with neither (no primary key: source-postgres offers no incremental sync then),
     * full_refresh_overwrite, or left out with {@code leaveOutKeyless}. A table Airbyte does not list is not offered.
     */
    static Selection choose(List<Table> tables, JsonNode offered, boolean leaveOutKeyless) {
        List<Stream> streams = new ArrayList<>();
        List<Table> fullRefresh = new ArrayList<>(), leftOut = new ArrayList<>(), notOffered = new ArrayList<>();
        for (Table t : tables) {
            JsonNode s = find(offered, t);
            if (s == null) { notOffered.add(t); continue; }
            List<String> modes = new ArrayList<>();
            s.path("syncModes").forEach(m -> modes.add(m.asText()));
            if (t.hasKey() && modes.contains("incremental_deduped_history")) streams.add(new Stream(t.schema(), t.name(), "incremental_deduped_history"));
            else if (modes.contains("incremental_append")) streams.add(new Stream(t.schema(), t.name(), "incremental_append"));
            else if (leaveOutKeyless) leftOut.add(t);
            else {
                fullRefresh.add(t);
                streams.add(new Stream(t.schema(), t.name(), modes.contains("full_refresh_overwrite") ? "full_refresh_overwrite"
                        : modes.stream().filter(m -> m.startsWith("full_refresh")).findFirst().orElse("full_refresh_overwrite")));
            }
        }
        return new Selection(streams, fullRefresh, leftOut, notOffered);
    }

    /** Airbyte's entry for a table: stream name = table, namespace = schema. */
    static JsonNode find(JsonNode offered, Table t) {
        for (JsonNode s : offered)
            if (t.name().equals(s.path("streamName").asText()) && t.schema().equals(s.path("streamnamespace").asText())) return s;
        return null;
    }

    /**
     * Airbyte's schedule takes a Quartz cron: seconds minutes hours day-of-month month day-of-week [year], one of the
     * two days a '?', and no '*' in the seconds or minutes (Airbyte refuses syncs every second or minute).
     */
    static String cron(String raw) {
        String expr = raw.strip().replaceAll("\\s+", " ");
        String[] f = expr.split(" ");
        String example = ": Airbyte takes a Quartz cron, seconds minutes hours day-of-month month day-of-week [year], "
                + "e.g. '0 0 2 * * ?' (every day at 02:00 UTC) or '0 30 */6 * * ?' (every 6 hours)";
        if (f.length < 6 || f.length > 7)
            throw Failure.badInput("--cron '" + raw + "' has " + f.length + " field(s), not 6 or 7" + example);
        if (!expr.matches("[0-9A-Za-z*?/,#\\- ]+"))
            throw Failure.badInput("--cron '" + raw + "' holds a character a Quartz cron does not" + example);
        for (int i : new int[] {0, 1, 2, 4, 6})
            if (i < f.length && f[i].contains("?"))
                throw Failure.badInput("--cron '" + raw + "': '?' belongs in day-of-month or day-of-week only" + example);
        if (f[0].contains("*") || f[1].contains("*"))
            throw Failure.badInput("--cron '" + raw + "': Airbyte refuses '*' in the seconds or minutes field (a sync every "
                    + "second or minute)" + example);
        if (f[3].equals("?") == f[5].equals("?"))
            throw Failure.badInput("--cron '" + raw + "': Quartz needs '?' in exactly one of day-of-month and day-of-week" + example);
        return expr;
    }
}
