import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;

/**
 * Statements that go to the server together and are answered in one round trip. pgjdbc sends a query text of several
 * statements as one message with one Sync, so they run in order, in one transaction (the caller's, else an implicit
 * one committed at the Sync), and an error skips the rest: all of them happen, or none. A step adds its reads here and
 * takes their answers once the pipeline has run; the plan it applies goes in the same way, its second look after it.
 */
final class Pipeline {
    /** Turns a query's rows into what a step reads from them. */
    interface Rows<T> { T read(ResultSet rs) throws SQLException; }

    /** What a query (or several) answered, once the pipeline has run. */
    interface Answer<T> { T get() throws SQLException; }

    /**
     * A query's answer; the server's error instead when only this query failed (see {@link #runEach}), or what its
     * reader threw (bad input it found), thrown when the answer is taken.
     */
    private static final class Reply<T> implements Answer<T> {
        private T value;
        private SQLException error;
        private RuntimeException thrown;
        private boolean answered;

        public T get() throws SQLException {
            if (error != null) throw error;
            if (thrown != null) throw thrown;
            if (!answered) throw new IllegalStateException("the pipeline has not run");
            return value;
        }

        private void set(Object v) {
            @SuppressWarnings("unchecked") T t = (T) v;
            value = t;
            answered = true;
        }
    }

    private record Entry(String kind, String sql, Object[] params, Rows<?> rows, Reply<?> answer) {}

    private final Connection c;
    private final List<Entry> entries = new ArrayList<>();
    /** Where the entries begin that no statement has come between: only those share an answer. */
    private int unchangedSince;

    Pipeline(Connection c) { this.c = c; }

    /** The connection it runs on. */
    Connection connection() { return c; }

    /** The server's major version, which pgjdbc knows from the connection's start (no round trip). */
    int major() {
        try {
            return c.getMetaData().getDatabaseMajorVersion();
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * A query whose rows {@code rows} reads. Parameters: String (null as text), Long, Integer, Boolean, String[] as
     * text[], Long[] as int8[]: every value the user typed goes as a parameter, never into the SQL text.
     */
    <T> Answer<T> query(String sql, Rows<T> rows, Object... params) {
        Reply<T> a = new Reply<>();
        entries.add(new Entry(null, sql, params, rows, a));
        return a;
    }

    /**
     * The same, except that when the pipeline already holds this query with these parameters, read by a reader of the
     * same kind, and no statement has come between, its answer is shared rather than asked again ({@code kind} names
     * what the rows become). For reads that several steps make alike, e.g. the details of the same tables.
     */
    <T> Answer<T> shared(String kind, String sql, Rows<T> rows, Object... params) {
        for (Entry e : entries.subList(unchangedSince, entries.size()))
            if (kind.equals(e.kind()) && e.sql().equals(sql) && java.util.Arrays.deepEquals(e.params(), params)) {
                @SuppressWarnings("unchecked") Answer<T> same = (Answer<T>) e.answer();
                return same;
            }
        Reply<T> a = new Reply<>();
        entries.add(new Entry(kind, sql, params, rows, a));
        return a;
    }

    /** A statement whose result is not read (a DO block, a SET, a lock). */
    void statement(String sql, Object... params) {
        entries.add(new Entry(null, sql, params, null, null));
        unchangedSince = entries.size(); // what is read after it may differ from what was read before
    }

    /** The first row of a query that returns exactly one. */
    static <T> Rows<T> one(Rows<T> row) {
        return rs -> {
            if (!rs.next()) throw new SQLException("a query that returns one row returned none");
            return row.read(rs);
        };
    }

    /** A text[] column of the current row. */
    static String[] texts(ResultSet rs, String column) throws SQLException { return (String[]) rs.getArray(column).getArray(); }

    /** Every row. */
    static <T> Rows<List<T>> all(Rows<T> row) {
        return rs -> {
            List<T> out = new ArrayList<>();
            while (rs.next()) out.add(row.read(rs));
            return out;
        };
    }

    /**
     * Runs everything in one round trip. An error the server met (the first) is thrown, and then nothing happened;
     * once the server has answered, what goes wrong reading an answer is that answer's, thrown when it is taken.
     */
    void run() throws SQLException { run(entries); }

    /**
     * For doctor, where a refused check must not hide the others: everything at once; when the server refuses
     * something, each half again, and so on down to the refused queries alone (pgjdbc's automatic savepoint undoes
     * each refused try), so that a query's error becomes its own answer. A broken connection or an interrupt is thrown.
     */
    void runEach() throws SQLException { runEach(entries); }

    private void runEach(List<Entry> batch) throws SQLException {
        try {
            run(batch);
        } catch (SQLException e) {
            if (ends(e, c)) throw e;
            if (batch.size() == 1) {
                if (batch.get(0).answer() != null) batch.get(0).answer().error = e;
                return;
            }
            runEach(batch.subList(0, batch.size() / 2));
            runEach(batch.subList(batch.size() / 2, batch.size()));
        }
    }

    /** The connection is gone (or being interrupted): no other query can be asked on it, refused or not. */
    static boolean ends(SQLException e, Connection c) throws SQLException {
        String state = e.getSQLState() == null ? "" : e.getSQLState();
        return state.startsWith("08") || c.isClosed() || Interrupts.requested();
    }

    private void run(List<Entry> batch) throws SQLException {
        if (batch.isEmpty()) return;
        StringBuilder sql = new StringBuilder();
        for (Entry e : batch) sql.append(sql.length() == 0 ? "" : ";\n").append(e.sql());
        try (PreparedStatement st = c.prepareStatement(sql.toString())) {
            int i = 0;
            for (Entry e : batch) for (Object p : e.params()) bind(st, ++i, p);
            boolean rows = st.execute(); // the server has run everything: from here on, nothing it did is undone
            for (Entry e : batch) {
                if (e.rows() != null) {
                    try (ResultSet rs = rows ? st.getResultSet() : null) {
                        if (rs == null) throw new SQLException("no rows came back for: " + Output.firstLine(e.sql()));
                        e.answer().set(e.rows().read(rs));
                    } catch (SQLException unreadable) {
                        e.answer().error = unreadable;
                    } catch (RuntimeException readerThrew) { // bad input found in the rows
                        e.answer().thrown = readerThrew;
                    }
                }
                rows = st.getMoreResults();
            }
        }
    }

    private void bind(PreparedStatement st, int i, Object p) throws SQLException {
        if (p == null) st.setNull(i, Types.VARCHAR);
        else if (p instanceof String s) st.setString(i, s);
        else if (p instanceof Long l) st.setLong(i, l);
        else if (p instanceof Integer n) st.setInt(i, n);
        else if (p instanceof Boolean b) st.setBoolean(i, b);
        else if (p instanceof String[] a) st.setArray(i, c.createArrayOf("text", a));
        else if (p instanceof Long[] a) st.setArray(i, c.createArrayOf("int8", a));
        else throw new IllegalArgumentException("no SQL type for " + p.getClass());
    }
}
