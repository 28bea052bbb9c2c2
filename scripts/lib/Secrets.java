import java.nio.charset.StandardCharsets;

/**
 * Passwords, API keys and tokens read so far, kept out of what is printed where a value could slip in: an error
 * nobody foresaw, what an API says back, a command line picocli repeats. (Everything else never holds them.)
 */
final class Secrets {
    private Secrets() {}

    private static final java.util.Set<String> SECRETS = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** A value never to be printed: as given, percent-encoded (as it sits in a URL) and escaped in a JSON string. */
    static void add(String value) {
        if (value == null || value.length() < 3) return;
        SECRETS.add(value);
        SECRETS.add(java.net.URLEncoder.encode(value, StandardCharsets.UTF_8));
        SECRETS.add(value.replace("\\", "\\\\").replace("\"", "\\\"").replace("/", "\\/"));
        SECRETS.add(value.replace("\\", "\\\\").replace("\"", "\\\""));
    }

    /** {@code s} with every registered secret shown as ****, the longest first (one may hold another). */
    static String redact(String s) {
        if (s == null) return null;
        for (String secret : SECRETS.stream().sorted((a, b) -> b.length() - a.length()).toList()) s = s.replace(secret, "****");
        return s;
    }

    /** {@code s} with the password of any URL in it (user:password@) shown as ****: what was typed but never read. */
    static String hideUrlPasswords(String s) { return redact(s.replaceAll("(://[^/?#@\\s:]*:)\\S*@", "$1****@")); }
}
