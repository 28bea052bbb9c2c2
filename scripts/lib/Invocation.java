import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** How a step says "run this again with ...": the command line typed, or, for a step that doctor runs, its own. */
@FunctionalInterface
interface Again {
    String with(String... extra);

    /** This command line again. */
    static Again typed() { return extra -> Invocation.current().again(extra); }
}

/**
 * The command line a person typed, kept so that a fix can say "run this again" as a command that works when pasted:
 * the same connection options, with every password left out (a password typed in the URL or after --password becomes
 * a bare --password, which prompts), each word quoted for a POSIX shell.
 */
record Invocation(String command, List<String> args) {
    /** The options that say where to connect; a printed command for another step carries these along. */
    static final Set<String> CONNECTION = Set.of("--url", "--host", "-p", "--port", "-d", "--dbname", "-U", "--username",
            "--password", "--sslmode", "--connect-timeout", "--wait");

    /**
     * What the running command was given (set once picocli has parsed it); empty before. Per thread: fleet runs many
     * commands at once, each printing its own fixes.
     */
    private static final InheritableThreadLocal<Invocation> CURRENT = new InheritableThreadLocal<>() {
        @Override protected Invocation initialValue() { return new Invocation("", List.of()); }
    };

    static Invocation current() { return CURRENT.get(); }

    static void started(String command, List<String> originalArgs) {
        List<String> args = new ArrayList<>(originalArgs);
        args.removeAll(HIDDEN.get());
        CURRENT.set(new Invocation(command, sanitized(args)));
    }

    /** Flags this thread's runner gave the command for itself (fleet's --json): left out of the commands it prints. */
    private static final ThreadLocal<List<String>> HIDDEN = ThreadLocal.withInitial(List::of);

    static void hiding(String... flags) { HIDDEN.set(List.of(flags)); }

    /** This command again, with {@code extra} words at the end (see {@link #merged}). */
    String again(String... extra) { return line(command, merged(args, extra)); }

    /** The options that may be given more than once: each adds to the others. */
    static final Set<String> REPEATABLE = Set.of("--schema", "--table", "--exclude-table");

    /**
     * {@code words}, then {@code extra}; an option of {@code extra} that {@code words} has already takes its place there
     * (picocli refuses an option given twice), unless it is one that repeats. In {@code extra}, an option's value is the
     * word after it that does not begin with a dash.
     */
    static List<String> merged(List<String> words, String... extra) {
        List<String> out = new ArrayList<>(words);
        for (int i = 0; i < extra.length; i++) {
            String option = extra[i];
            boolean valued = i + 1 < extra.length && !extra[i + 1].startsWith("-");
            if (option.startsWith("-") && !REPEATABLE.contains(option)) {
                int at = out.indexOf(option);
                if (at < 0) at = indexOfAssigned(out, option);
                if (at >= 0) {
                    boolean joined = out.get(at).startsWith(option + "=");
                    out.remove(at);
                    if (valued && !joined && at < out.size() && !out.get(at).startsWith("-")) out.remove(at);
                }
            }
            out.add(option);
            if (valued) out.add(extra[++i]);
        }
        return out;
    }

    private static int indexOfAssigned(List<String> words, String option) {
        for (int i = 0; i < words.size(); i++) if (words.get(i).startsWith(option + "=")) return i;
        return -1;
    }

    /** This command again with {@code option}'s value replaced (or the option added), then {@code extra} words. */
    String replacing(String option, String value, String... extra) {
        List<String> words = new ArrayList<>();
        boolean found = false;
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals(option) && i + 1 < args.size()) { words.addAll(List.of(option, value)); i++; found = true; }
            else if (a.startsWith(option + "=")) { words.addAll(List.of(option, value)); found = true; }
            else words.add(a);
        }
        if (!found) words.addAll(List.of(option, value));
        words.addAll(List.of(extra));
        return line(command, words);
    }

    /** Another command with this invocation's connection options, then {@code words}. */
    String other(String otherCommand, List<String> words) {
        List<String> all = new ArrayList<>(connection());
        all.addAll(words);
        return line(otherCommand, all);
    }

    /** The connection options of this invocation, as sanitized words. */
    List<String> connection() {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i), name = a.contains("=") ? a.substring(0, a.indexOf('=')) : a;
            if (!CONNECTION.contains(name)) continue;
            out.add(a);
            if (!a.contains("=") && !a.equals("--password") && i + 1 < args.size()) out.add(args.get(++i));
        }
        return out;
    }

    static String line(String command, List<String> words) {
        StringBuilder b = new StringBuilder("jbang ").append(command);
        for (String w : words) b.append(' ').append(shell(w));
        return b.toString();
    }

    /** A word for a POSIX shell: as it is when safe, else single-quoted. */
    static String shell(String word) {
        return word.matches("[A-Za-z0-9_./:=,@+%-]+") ? word : "'" + word.replace("'", "'\\''") + "'";
    }

    /**
     * The arguments with every password removed: a URL keeps its user, host and everything else but its password;
     * {@code --password VALUE} and {@code --password=VALUE} become {@code --password}, which prompts; a password that
     * was in a URL adds {@code --password} too, so that the printed command still logs in.
     */
    static List<String> sanitized(List<String> args) {
        List<String> out = new ArrayList<>();
        boolean prompt = false, hasPrompt = false;
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("--url") && i + 1 < args.size()) {
                String url = args.get(++i), bare = withoutPassword(url);
                prompt |= !bare.equals(url);
                out.add(a);
                out.add(bare);
            } else if (a.startsWith("--url=")) {
                String url = a.substring(6), bare = withoutPassword(url);
                prompt |= !bare.equals(url);
                out.add("--url=" + bare);
            } else if (a.equals("--password") || a.startsWith("--password=")) {
                hasPrompt = true;
                out.add("--password");
                if (a.equals("--password") && i + 1 < args.size() && !args.get(i + 1).startsWith("-")) i++; // its value
            } else out.add(a);
        }
        if (prompt && !hasPrompt) out.add("--password");
        return out;
    }

    /** A connection URL without its password ({@code user:pw@} and a {@code password=} parameter). */
    static String withoutPassword(String url) {
        return url.replaceFirst("^((?:jdbc:)?postgres(?:ql)?://[^:/?#@]*):[^/?#]*@", "$1@")
                .replaceAll("([?&])(?:ssl)?password=[^&]*(&|$)", "$1").replaceAll("[?&]$", "");
    }
}
