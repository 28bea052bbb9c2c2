import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The databases a fleet runs on: a targets file (one a line: NAME URL [options for that target], # comments, ${VAR}
 * from the environment so that passwords stay out of the file), or Neon's projects through its API.
 */
final class Targets {
    private Targets() {}

    /** A database to run on: its name in the report, its connection string, its own options, and where it was read. */
    record Target(String name, String url, List<String> options, String where) {}

    private static final Pattern VARIABLE = Pattern.compile("\\$\\{([A-Za-z_][A-Za-z0-9_]*)}");

    /** The targets of a file; bad input naming the line for anything it cannot use. */
    static List<Target> read(Path file, Map<String, String> env) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw Failure.badInput("--targets " + file + ": cannot read it (" + e.getClass().getSimpleName() + ")");
        }
        List<Target> targets = new ArrayList<>();
        Set<String> names = new LinkedHashSet<>();
        for (int i = 0; i < lines.size(); i++) {
            String where = file.getFileName() + " line " + (i + 1);
            List<String> words = new ArrayList<>();
            for (String w : words(lines.get(i).replaceFirst("(^|\\s)#.*$", ""), where)) words.add(expand(w, env, where));
            if (words.isEmpty()) continue;
            if (words.size() < 2 || !words.get(1).contains("://"))
                throw Failure.badInput(where + ": write NAME URL [options], e.g. db07 postgresql://alex:${DB07_PASSWORD}@host/neondb --slot slot_db07");
            if (!words.get(0).matches("[A-Za-z0-9_.:@-]{1,100}"))
                throw Failure.badInput(where + ": the name '" + words.get(0) + "' may hold letters, digits and _ . : @ - only");
            if (!names.add(words.get(0))) throw Failure.badInput(where + ": the name " + words.get(0) + " is used twice");
            targets.add(new Target(words.get(0), words.get(1), List.copyOf(words.subList(2, words.size())), where));
        }
        if (targets.isEmpty()) throw Failure.badInput("--targets " + file + " has no target: write one a line, NAME URL [options]");
        return targets;
    }

    /** ${VAR} from the environment; a variable that is not set is bad input naming the line. */
    static String expand(String word, Map<String, String> env, String where) {
        Matcher m = VARIABLE.matcher(word);
        StringBuilder b = new StringBuilder();
        while (m.find()) {
            String value = env.get(m.group(1));
            if (value == null) throw Failure.badInput(where + ": ${" + m.group(1) + "} is not set: export it (its value goes into the line as it is)");
            m.appendReplacement(b, Matcher.quoteReplacement(value));
        }
        return m.appendTail(b).toString();
    }

    /**
     * The default branch of each project (every one the key can see, or those listed), through its read-write compute,
     * connecting to {@code database} as {@code role}: the connection strings come from Neon's API.
     */
    static List<Target> neon(NeonApi api, String which, String database, String role) {
        List<String> ids = new ArrayList<>();
        if (which.strip().equals("all"))
            for (JsonNode p : api.projects("list the projects with --neon-projects ID,ID")) ids.add(p.path("id").asText());
        else for (String id : which.split(",")) {
            if (!id.strip().matches("[A-Za-z0-9_-]{1,64}"))
                throw Failure.badInput("--neon-projects '" + id + "' is not a Neon project id (like old-fire-32990194), nor all");
            ids.add(id.strip());
        }
        List<Target> targets = new ArrayList<>();
        for (String id : ids) targets.add(new Target(id, api.connectionUri(id, database, role), List.of(), "Neon project " + id));
        if (targets.isEmpty()) throw Failure.badInput("NEON_API_KEY sees no Neon project: check the key, or list them with --neon-projects ID,ID");
        return targets;
    }

    /** Words as a POSIX shell splits a line: single quotes, double quotes, backslashes. */
    static List<String> words(String line, String where) {
        List<String> out = new ArrayList<>();
        StringBuilder w = null;
        for (int i = 0; i < line.length(); i++) {
            char ch = line.charAt(i);
            if (Character.isWhitespace(ch)) {
                if (w != null) out.add(w.toString());
                w = null;
                continue;
            }
            if (w == null) w = new StringBuilder();
            if (ch == '\'') {
                int end = line.indexOf('\'', i + 1);
                if (end < 0) throw Failure.badInput(where + ": a quote ' is not closed");
                w.append(line, i + 1, end);
                i = end;
            } else if (ch == '"') {
                for (i++; i < line.length() && line.charAt(i) != '"'; i++) {
                    if (line.charAt(i) == '\\' && i + 1 < line.length()) i++;
                    w.append(line.charAt(i));
                }
                if (i >= line.length()) throw Failure.badInput(where + ": a quote \" is not closed");
            } else if (ch == '\\' && i + 1 < line.length()) w.append(line.charAt(++i));
            else w.append(ch);
        }
        if (w != null) out.add(w.toString());
        return out;
    }
}
