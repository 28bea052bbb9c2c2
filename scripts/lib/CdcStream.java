//SOURCES Runbook.java

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.postgresql.PGConnection;
import org.postgresql.PGProperty;
import org.postgresql.replication.PGReplicationStream;

/**
 * Reads a pgoutput slot the way a CDC client such as Airbyte (Debezium) does: a replication connection,
 * START_REPLICATION with the publication, pgoutput protocol 1 decoded into inserts, updates and deletes.
 * Confirms what it has read, so the slot advances.
 */
final class CdcStream implements AutoCloseable {
    /** One row change: op is insert, update or delete; values are the new row (the key or old row for delete). */
    record Change(String op, String table, Map<String, String> values) {
        @Override public String toString() { return op + " " + table + " " + values; }
    }

    private record Relation(String name, List<String> columns) {}

    private final Connection connection;
    private final PGReplicationStream stream;
    private final Map<Integer, Relation> relations = new HashMap<>();

    private CdcStream(Connection connection, PGReplicationStream stream) {
        this.connection = connection;
        this.stream = stream;
    }

    /**
     * A replication connection (replication=database) as Airbyte's check and its Debezium reader open it: such a
     * connection runs only replication commands (IDENTIFY_SYSTEM, START_REPLICATION) in the simple query protocol.
     */
    static Connection connect(Target t) throws SQLException {
        Properties p = t.properties(10);
        PGProperty.REPLICATION.set(p, "database");
        PGProperty.ASSUME_MIN_SERVER_VERSION.set(p, "9.4");
        PGProperty.PREFER_QUERY_MODE.set(p, "simple");
        return Interrupts.track(DriverManager.getConnection(t.jdbcUrl(), p));
    }

    static CdcStream open(Target t, String slot, String publication) throws SQLException {
        Connection c = connect(t);
        try {
            PGReplicationStream s = c.unwrap(PGConnection.class).getReplicationAPI().replicationStream().logical()
                    .withSlotName(slot)
                    .withSlotOption("proto_version", 1)
                    .withSlotOption("publication_names", Input.ident(publication))
                    .withStatusInterval(1, TimeUnit.SECONDS)
                    .start();
            return new CdcStream(c, s);
        } catch (SQLException e) {
            c.close();
            throw e;
        }
    }

    /** Reads until {@code count} row changes have arrived or {@code timeoutMillis} has passed. */
    List<Change> read(int count, long timeoutMillis) throws SQLException {
        List<Change> changes = new ArrayList<>();
        long deadline = System.currentTimeMillis() + timeoutMillis;
        while (changes.size() < count && System.currentTimeMillis() < deadline) {
            ByteBuffer msg = stream.readPending();
            if (msg == null) {
                try { Thread.sleep(10); } catch (InterruptedException e) { Thread.currentThread().interrupt(); break; }
                continue;
            }
            Change change = decode(msg);
            if (change != null) changes.add(change);
            stream.setAppliedLSN(stream.getLastReceiveLSN());
            stream.setFlushedLSN(stream.getLastReceiveLSN());
        }
        stream.forceUpdateStatus();
        return changes;
    }

    private Change decode(ByteBuffer b) {
        char type = (char) b.get();
        switch (type) {
            case 'R' -> {
                int id = b.getInt();
                String name = string(b) + "." + string(b);
                b.get(); // replica identity setting
                int n = b.getShort();
                List<String> columns = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    b.get(); // flags: part of the key
                    columns.add(string(b));
                    b.getInt(); // type oid
                    b.getInt(); // type modifier
                }
                relations.put(id, new Relation(name, columns));
                return null;
            }
            case 'I' -> {
                Relation r = relations.get(b.getInt());
                b.get(); // 'N'
                return new Change("insert", r.name(), tuple(b, r));
            }
            case 'U' -> {
                Relation r = relations.get(b.getInt());
                char kind = (char) b.get();
                if (kind == 'K' || kind == 'O') {
                    tuple(b, r); // the old key or row
                    b.get(); // 'N'
                }
                return new Change("update", r.name(), tuple(b, r));
            }
            case 'D' -> {
                Relation r = relations.get(b.getInt());
                b.get(); // 'K' or 'O'
                return new Change("delete", r.name(), tuple(b, r));
            }
            default -> { return null; } // begin, commit, origin, type, truncate, message
        }
    }

    private static Map<String, String> tuple(ByteBuffer b, Relation r) {
        Map<String, String> values = new LinkedHashMap<>();
        int n = b.getShort();
        for (int i = 0; i < n; i++) {
            char kind = (char) b.get();
            String value = null;
            if (kind == 't') {
                byte[] bytes = new byte[b.getInt()];
                b.get(bytes);
                value = new String(bytes, StandardCharsets.UTF_8);
            } else if (kind == 'u') value = "(unchanged toast)";
            values.put(r.columns().get(i), value); // null for SQL NULL, and for non-key columns of a delete
        }
        return values;
    }

    private static String string(ByteBuffer b) {
        int start = b.position();
        while (b.get() != 0) { }
        return new String(b.array(), b.arrayOffset() + start, b.position() - start - 1, StandardCharsets.UTF_8);
    }

    @Override public void close() throws SQLException {
        try { stream.close(); } finally { connection.close(); }
    }
}
