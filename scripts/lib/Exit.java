import java.util.Map;

/**
 * The exit codes, as data: one table that every --help and the README render. A command whose codes mean something
 * more precise (doctor's 1, an API command's 3) says so in its own words for those codes; the numbers never change.
 */
enum Exit {
    OK(0, "done, already done, or ready"),
    NOT_READY(1, "not ready: a check failed, e.g. something the step needs is missing (its fix is printed); nothing changed, unless a second look after applying found work left (its report says what was applied)"),
    BAD_INPUT(2, "bad input: an option, or a role, schema or table to act on that does not exist; nothing changed"),
    CANNOT_CONNECT(3, "cannot connect or authenticate (host, port, database, password, TLS)"),
    REFUSED(4, "the database refused the change (privilege, lock timeout); its transaction was rolled back"),
    BUG(70, "a bug: an error nobody foresaw, in one line; RUNBOOK_DEBUG=1 adds its stack trace, for a bug report"),
    INTERRUPTED(130, "interrupted (Ctrl-C, SIGTERM): cancelled on the server; the last line says what became of the database");

    final int code;
    final String meaning;

    Exit(int code, String meaning) {
        this.code = code;
        this.meaning = meaning;
    }

    /** A command that documents its own meaning for some codes (the others keep the table's). */
    interface Documented {
        Map<Exit, String> exitCodes();
    }

    /** The exit codes of a --help: every code with {@code own}'s meaning where it has one, else the table's. */
    static Map<String, String> forHelp(Map<Exit, String> own) {
        Map<String, String> list = new java.util.LinkedHashMap<>();
        for (Exit e : values()) list.put(String.valueOf(e.code), own.getOrDefault(e, e.meaning).replace("%", "%%"));
        return list;
    }

    /** The table as the README shows it. */
    static String markdown() {
        StringBuilder b = new StringBuilder("| code | meaning |\n| --- | --- |\n");
        for (Exit e : values()) b.append("| ").append(e.code).append(" | ").append(e.meaning).append(" |\n");
        return b.toString();
    }
}

/**
 * An expected problem: one line for the user and the exit code that goes with it. Its aftermath, when it has one, says
 * what became of the database; a caller that knows more (setup, after its commit) says it instead.
 */
final class Failure extends RuntimeException {
    static final String NOTHING_CHANGED = "nothing was changed";

    final Exit exit;
    final String reason, aftermath;

    Failure(Exit exit, String message) { this(exit, message, null); }

    Failure(Exit exit, String reason, String aftermath) {
        super(aftermath == null ? reason : reason + "; " + aftermath, null, false, false);
        this.exit = exit;
        this.reason = reason;
        this.aftermath = aftermath;
    }

    Failure after(String what) { return new Failure(exit, reason, what); }

    static Failure badInput(String message) { return new Failure(Exit.BAD_INPUT, message); }
}
