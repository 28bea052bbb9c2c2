import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a person types, checked before anything runs, and the only way it becomes SQL text: names taken literally and
 * always quoted the PostgreSQL way, values as literals, durations as PostgreSQL takes them. Bad input is exit 2.
 */
final class Input {
    private Input() {}

    // ---- quoting ---------------------------------------------------------------------------------------------

    /** An identifier quoted the PostgreSQL way, always: {@code we"ird -> "we""ird"}. */
    static String ident(String name) {
        if (name.isEmpty() || name.indexOf('\0') >= 0) throw Failure.badInput("a name is empty or contains a NUL character");
        return '"' + name.replace("\"", "\"\"") + '"';
    }

    static String qualified(String schema, String name) { return ident(schema) + "." + ident(name); }

    /** A table as --table takes it (what {@link #tableName} reads back): a part holding a dot or a double quote is double-quoted. */
    static String tableArg(String schema, String name) { return argPart(schema) + "." + argPart(name); }

    private static String argPart(String name) {
        return name.contains(".") || name.contains("\"") ? "\"" + name.replace("\"", "\"\"") + "\"" : name;
    }

    /** A string literal that is safe whatever standard_conforming_strings says. */
    static String literal(String s) {
        if (s.indexOf('\0') >= 0) throw Failure.badInput("a value contains a NUL character");
        String q = "'" + s.replace("'", "''") + "'";
        return s.indexOf('\\') < 0 ? q : "E" + q.replace("\\", "\\\\");
    }

    /**
     * Quoted names at most 1,000 at a time, one list per statement. PostgreSQL's work on one statement grows faster
     * than its list (a publication checks each table against those listed before it): at 10,000 tables, ten
     * statements of 1,000 were 15 % (publication) and 10 % (GRANT) faster than one.
     */
    static List<List<String>> chunks(List<String> quoted) {
        List<List<String>> lists = new ArrayList<>();
        for (int i = 0; i < quoted.size(); i += 1000) lists.add(quoted.subList(i, Math.min(quoted.size(), i + 1000)));
        return lists;
    }

    // ---- names -----------------------------------------------------------------------------------------------

    /** A name as the user wrote it: taken literally (case-sensitive), or double-quoted with "" for ". */
    static String name(String option, String raw) {
        String s = raw.strip();
        if (s.length() >= 2 && s.startsWith("\"") && s.endsWith("\"")) s = s.substring(1, s.length() - 1).replace("\"\"", "\"");
        if (s.isEmpty()) throw Failure.badInput(option + " is empty: give a name");
        if (s.getBytes(StandardCharsets.UTF_8).length > 63)
            throw Failure.badInput(option + " '" + raw + "' is longer than PostgreSQL's 63-byte limit for names: shorten it");
        return s;
    }

    /** --schema as given, each checked, without repeats; public when none is given. */
    static List<String> schemas(List<String> raw) {
        if (raw == null || raw.isEmpty()) return List.of("public");
        LinkedHashSet<String> names = new LinkedHashSet<>();
        for (String s : raw) names.add(name("--schema", s));
        return List.copyOf(names);
    }

    /** PostgreSQL's own rule for slot names (ReplicationSlotValidateName), checked before connecting. */
    static String slotName(String raw) {
        if (raw == null || !raw.matches("[a-z0-9_]{1,63}"))
            throw Failure.badInput("--slot '" + raw + "' is not a valid replication slot name: use lower-case letters, "
                    + "digits and underscores, at most 63 characters (e.g. airbyte_slot)");
        return raw;
    }

    /**
     * {@code schema.table}, either part double-quoted when it holds a dot; no schema gives {@code [null, table]}.
     * A part is quoted only when it starts with a double quote ({@code ""} inside it is one quote), as in SQL.
     */
    static String[] tableName(String option, String raw) {
        String s = raw.strip();
        int dot = -1;
        for (int i = 0, start = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            if (ch == '"' && i == start) { // on to the closing quote, or the end
                int close = i + 1;
                while (close < s.length() && (s.charAt(close) != '"' || close + 1 < s.length() && s.charAt(close + 1) == '"'))
                    close += s.charAt(close) == '"' ? 2 : 1;
                i = close;
            } else if (ch == '.') {
                if (dot >= 0) throw Failure.badInput(option + " '" + raw + "' has more than one dot: write schema.table (quote a name that holds a dot)");
                dot = i;
                start = i + 1;
            }
        }
        if (dot < 0) return new String[] {null, name(option, s)};
        return new String[] {name(option, s.substring(0, dot)), name(option, s.substring(dot + 1))};
    }

    // ---- durations -------------------------------------------------------------------------------------------

    private static final Pattern DURATION = Pattern.compile("(\\d+)(ms|s|min)");

    /**
     * A duration as PostgreSQL takes it (digits, then ms, s or min), stripped; anything else, or more than the server's
     * limit, is bad input. PostgreSQL would read bare digits as milliseconds: a unit is required, so 5 is not 5 ms.
     */
    static String duration(String option, String value) {
        Matcher m = DURATION.matcher(value == null ? "" : value.strip());
        if (!m.matches())
            throw Failure.badInput(option + " '" + value + "' is not a duration: write digits with ms, s or min (e.g. 5s, 200ms)"
                    + (value != null && value.strip().matches("\\d+") ? ": a bare number would be milliseconds" : ""));
        if (m.group(1).length() > 10 || Long.parseLong(m.group(1)) * unit(m) > Integer.MAX_VALUE)
            throw Failure.badInput(option + " '" + value + "' is too long: PostgreSQL takes at most 2147483647ms (about 24 days)");
        return value.strip();
    }

    /** A duration that {@link #duration} accepts, in milliseconds. */
    static long millis(String option, String value) {
        Matcher m = DURATION.matcher(duration(option, value));
        m.matches();
        return Long.parseLong(m.group(1)) * unit(m);
    }

    private static long unit(Matcher m) {
        return m.group(2).equals("ms") ? 1 : m.group(2).equals("s") ? 1000 : 60_000;
    }
}
