import java.net.URI;
import java.net.URLDecoder;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/** A resolved connection target. {@code toString} never shows the password. */
final class Target {
    String host, database, user, sslmode, password, options, sslrootcert;
    int port;
    /** The URL's connect_timeout, when it has one. */
    Integer connectTimeout;
    /** No --url, DATABASE_URL, --host or PGHOST: localhost is only libpq's default. */
    boolean defaultHost;
    /** The pgjdbc properties the URL sets (its parameters that have no field), as {@link #PARAMS} maps them. */
    final Map<String, String> params = new java.util.LinkedHashMap<>();

    static Target resolve(Db o) {
        Target t = new Target();
        String url = o.url != null ? o.url : o.env.get("DATABASE_URL");
        if (url != null && !url.isBlank()) t.parseUrl(url.strip());
        t.host = t.params.remove("PGHOST");
        String port = t.params.remove("PGPORT");
        if (port != null) t.port = parsePort(port, "--url port");
        t.database = t.params.remove("PGDBNAME");
        t.user = t.params.remove("user");
        t.password = t.params.remove("password");
        t.sslmode = t.params.remove("sslmode");
        t.sslrootcert = t.params.remove("sslrootcert");
        t.options = t.params.remove("options");
        String timeout = t.params.remove("connectTimeout");
        if (timeout != null) {
            if (!timeout.matches("\\d{1,4}") || Integer.parseInt(timeout) < 1 || Integer.parseInt(timeout) > 3600)
                throw Failure.badInput("--url: connect_timeout '" + timeout + "' is not a number of seconds from 1 to 3600");
            t.connectTimeout = Integer.parseInt(timeout);
        }
        t.defaultHost = t.host == null && o.host == null && o.env.get("PGHOST") == null;
        if (o.host != null) t.host = o.host;
        if (o.port != null) t.port = parsePort(String.valueOf(o.port), "--port");
        if (o.dbname != null) t.database = o.dbname;
        if (o.username != null) t.user = o.username;
        if (o.password != null && !o.password.isEmpty()) t.password = o.password;
        if (o.sslmode != null) t.sslmode = o.sslmode;
        if (t.host == null) t.host = o.env.getOrDefault("PGHOST", "localhost");
        if (t.port == 0) t.port = parsePort(o.env.getOrDefault("PGPORT", "5432"), "PGPORT");
        if (t.user == null) t.user = o.env.getOrDefault("PGUSER", System.getProperty("user.name"));
        if (t.database == null) t.database = o.env.getOrDefault("PGDATABASE", t.user);
        if (o.password != null && o.password.isEmpty()) {
            String typed = o.prompt.apply("Password for user " + t.user + ": ");
            if (typed == null || typed.isEmpty())
                throw Failure.badInput("--password read no password; give it through $PGPASSWORD or ~/.pgpass instead");
            t.password = typed;
        }
        if (t.password == null) t.password = o.env.get("PGPASSWORD");
        Secrets.add(t.password);
        boolean systemCas = "system".equals(t.sslrootcert); // libpq 16+: the machine's trusted CAs, and verify-full by default
        if (t.sslmode == null) t.sslmode = o.env.getOrDefault("PGSSLMODE", systemCas ? "verify-full" : t.isLocal() ? "disable" : "require");
        if (!UrlParams.BY_KEY.get("sslmode").values().containsKey(t.sslmode))
            throw Failure.badInput("--sslmode '" + t.sslmode + "' is not one of disable, allow, prefer, require, verify-ca, verify-full");
        if (systemCas && !t.sslmode.equals("verify-full"))
            throw Failure.badInput("--url: sslrootcert=system trusts every CA this machine trusts, so it needs sslmode verify-full "
                    + "(not " + t.sslmode + "), as libpq does: use sslmode=verify-full, or give the CA's file");
        if ("direct".equals(t.params.get("sslNegotiation")) && List.of("disable", "allow", "prefer").contains(t.sslmode))
            throw Failure.badInput("--url: sslnegotiation=direct starts with TLS, which sslmode " + t.sslmode + " does not "
                    + "require: use sslmode=require (or verify-ca, verify-full), or leave sslnegotiation out");
        for (var file : UrlParams.FILES.entrySet()) {
            String path = file.getKey().equals("sslrootcert") ? t.sslrootcert : t.params.get(file.getKey());
            if (path != null && !path.equals("system") && !java.nio.file.Files.isReadable(java.nio.file.Path.of(path)))
                throw Failure.badInput(file.getKey() + " " + path + " in --url is not a readable file: give the path of " + file.getValue());
        }
        if (t.host.startsWith("/"))
            throw Failure.badInput("host '" + t.host + "' is a Unix socket directory: use --host localhost (TCP)");
        if (t.host.contains(",")) throw Failure.badInput("host '" + t.host + "' names several hosts: give one");
        return t;
    }

    private void parseUrl(String url) {
        boolean jdbc = url.startsWith("jdbc:");
        String rest = jdbc ? url.substring(5) : url;
        if (!rest.startsWith("postgresql://") && !rest.startsWith("postgres://"))
            throw Failure.badInput("--url must start with postgresql://, postgres:// or jdbc:postgresql:// (got '" + scheme(url) + "')");
        if (unencodedPassword(rest))
            throw Failure.badInput("--url: the password holds / ? or # as they are: percent-encode them in a URL (%2F %3F %23; "
                    + "also @ %40, : %3A, % %25; and an @ in the database name), or leave it out of the URL and use $PGPASSWORD or --password");
        URI u;
        try {
            u = new URI(rest.replaceFirst("^postgres(ql)?://", "postgresql://"));
        } catch (Exception e) {
            throw Failure.badInput("--url is not a valid connection URI: check its punctuation (percent-encode @ : / in the password)");
        }
        String authority = u.getRawAuthority();
        if (authority == null) throw Failure.badInput("--url has no host: postgresql://user@host/database");
        int at = authority.lastIndexOf('@');
        if (at >= 0) {
            String info = authority.substring(0, at);
            int colon = info.indexOf(':');
            params.put("user", decode(colon < 0 ? info : info.substring(0, colon)));
            if (colon >= 0) Secrets.add(info.substring(colon + 1)); // as written, before decoding can fail on it
            if (colon >= 0) params.put("password", decode(info.substring(colon + 1)));
        }
        String hostPort = at >= 0 ? authority.substring(at + 1) : authority;
        if (hostPort.contains(",")) throw Failure.badInput("--url names several hosts: give one host");
        int colon = hostPort.startsWith("[") ? hostPort.indexOf(':', hostPort.indexOf(']')) : hostPort.lastIndexOf(':');
        if (colon >= 0) {
            try {
                port = parsePort(hostPort.substring(colon + 1), "--url port");
            } catch (Failure notANumber) { // not echoed: a password cut short by an unencoded character ends up here
                throw Failure.badInput("--url: the port is not a number (1-65535); if the password holds @ : / ? # or %, "
                        + "percent-encode them (%40 %3A %2F %3F %23 %25)");
            }
            hostPort = hostPort.substring(0, colon);
        }
        if (!hostPort.isEmpty()) params.put("PGHOST", hostPort.replaceAll("^\\[|]$", ""));
        String path = u.getRawPath();
        if (path != null && path.length() > 1) params.put("PGDBNAME", decode(path.substring(1)));
        if (u.getRawQuery() != null) for (String kv : u.getRawQuery().split("&")) {
            if (kv.isEmpty()) continue;
            int eq = kv.indexOf('=');
            if (eq < 0) throw Failure.badInput("--url: a query parameter has no '=': write key=value, joined by &");
            String key = decode(kv.substring(0, eq));
            UrlParams.Param p = UrlParams.BY_KEY.get(key), spelled = jdbc && p == null ? UrlParams.BY_PROPERTY.get(key) : null;
            if (p == null && spelled == null)
                throw Failure.badInput("--url: unknown parameter '" + key + "': " + (UrlParams.BY_PROPERTY.containsKey(key)
                        ? "in a postgresql:// URL write libpq's name, " + UrlParams.BY_PROPERTY.get(key).key()
                        : "libpq has no such parameter (check the spelling)" + (jdbc ? ", and this runbook takes only pgjdbc's "
                        + "names of libpq's parameters (e.g. channelBinding)" : "")));
            if (UrlParams.SECRET.contains(key)) Secrets.add(kv.substring(eq + 1));
            String value = decode(kv.substring(eq + 1));
            if (UrlParams.SECRET.contains(key)) Secrets.add(value);
            String set = (p != null ? p : spelled).apply(value, p == null);
            if (set == null) continue;
            if (key.equals("fallback_application_name")) params.putIfAbsent("ApplicationName", set);
            else params.put((p != null ? p : spelled).property(), set);
        }
    }

    /**
     * {@code user:pa/ss@host}: a / ? or # in the password cuts the URL's authority short, and what follows would be
     * read as port, database or query, and could be echoed in an error. Digits before the / may be a port, as in
     * {@code host:5432/db?user=me@corp}, but only when the @ is in the query's value: {@code user:7731/9Zq@host/db}
     * and {@code user:7731/9Zq?k@host/db} are passwords (a database name holding an @ must then be written %40).
     */
    static boolean unencodedPassword(String url) {
        int start = url.indexOf("://") + 3, at = url.indexOf('@', start);
        if (at < 0 || url.startsWith("[", start)) return false;
        String before = url.substring(start, at);
        int colon = before.indexOf(':'), cut = indexOfAny(before, colon + 1, "/?#");
        if (colon < 0 || cut < 0) return false;
        int query = indexOfAny(before, cut, "?#");
        return !before.substring(colon + 1, cut).matches("\\d+") || query < 0 || !before.substring(query).contains("=");
    }

    private static int indexOfAny(String s, int from, String chars) {
        for (int i = Math.max(from, 0); i < s.length(); i++) if (chars.indexOf(s.charAt(i)) >= 0) return i;
        return -1;
    }

    private static String scheme(String url) {
        int i = url.indexOf("://");
        return i < 0 ? "no scheme" : url.substring(0, i) + "://";
    }

    private static String decode(String s) {
        try {
            return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) { // not echoed: it may be the password
            throw Failure.badInput("--url: a % is not followed by two hex digits: write a % itself as %25");
        }
    }

    private static int parsePort(String s, String what) {
        try {
            int p = Integer.parseInt(s);
            if (p > 0 && p < 65536) return p;
        } catch (NumberFormatException ignored) { }
        throw Failure.badInput(what + " '" + s + "' is not a port number (1-65535)");
    }

    boolean isLocal() { return host.equals("localhost") || host.startsWith("127.") || host.equals("::1"); }
    boolean isNeonHost() { return host.endsWith(".neon.tech") || host.endsWith(".neon.build"); }
    /** A Neon host, or Neon's endpoint named in options (for clients without SNI): a compute that may be waking. */
    boolean isNeon() { return isNeonHost() || (options != null && options.matches("(?s)(.*\\s)?endpoint=.*")); }
    boolean isPooler() { return host.split("\\.", 2)[0].endsWith("-pooler"); }
    /** Neon's direct host for a pooler host: the first label without {@code -pooler}. */
    String directHost() { return host.replaceFirst("^([^.]*)-pooler", "$1"); }

    /** The same target with the password shown as ****, for messages. */
    @Override public String toString() {
        return "postgresql://" + user + (password == null ? "" : ":****") + "@"
                + (host.contains(":") ? "[" + host + "]" : host) + ":" + port + "/" + database + "?sslmode=" + sslmode;
    }

    String jdbcUrl() {
        return "jdbc:postgresql://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port + "/"
                + java.net.URLEncoder.encode(database, StandardCharsets.UTF_8).replace("+", "%20");
    }

    Properties properties(int connectTimeout) {
        Properties p = new Properties();
        p.setProperty("user", user);
        if (password != null) p.setProperty("password", password);
        p.setProperty("sslmode", sslmode);
        if ("system".equals(sslrootcert)) p.setProperty("sslfactory", "org.postgresql.ssl.DefaultJavaSSLFactory"); // Java's trusted CAs
        else if (sslrootcert != null) p.setProperty("sslrootcert", sslrootcert);
        if (options != null) p.setProperty("options", options);
        p.setProperty("connectTimeout", String.valueOf(connectTimeout));
        p.setProperty("loginTimeout", String.valueOf(connectTimeout));
        p.setProperty("ApplicationName", "airbyte-runbook");
        p.setProperty("assumeMinServerVersion", "9.0"); // sends the name at startup, not in a SET: one round trip less
        p.putAll(params); // what the URL asks for, as PARAMS maps it (its application_name, channel_binding ...)
        return p;
    }

    /** A TLS failure in words that say what to check, or null. Retrying would not help: it is not retried. */
    String tlsProblem(SQLException e, String state) {
        boolean verifying = sslmode.startsWith("verify-");
        String ca = sslrootcert != null && !sslrootcert.equals("system") ? "the CA in sslrootcert (" + sslrootcert + ")" : "a CA this machine trusts";
        List<Throwable> causes = new ArrayList<>();
        for (Throwable t = e.getCause(); t != null; t = t.getCause()) causes.add(t);
        if (causes.stream().anyMatch(t -> t instanceof java.security.cert.CertificateException
                || t instanceof java.security.cert.CertPathBuilderException || t instanceof java.security.cert.CertPathValidatorException))
            return "the server's TLS certificate is not signed by " + ca + " (sslmode " + sslmode + "): give the CA "
                    + "that signed it with ?sslrootcert=FILE in the URL (Neon: Let's Encrypt's ISRG Root X1), or use "
                    + "sslmode=require to encrypt without verifying";
        if (verifying && causes.stream().anyMatch(t -> t instanceof java.io.FileNotFoundException))
            return "sslmode " + sslmode + " needs the CA certificate that signed the server's: give it with "
                    + "?sslrootcert=FILE in the URL (pgjdbc's default, ~/.postgresql/root.crt, is not there), or use sslmode=require";
        if (causes.stream().anyMatch(t -> t instanceof javax.net.ssl.SSLException))
            return "TLS failed (sslmode " + sslmode + "): " + Output.firstLine(e.getMessage()) + " - check sslmode and the server's TLS setup";
        String m = Output.firstLine(e.getMessage());
        if (verifying && sslmode.equals("verify-full") && m.contains(host) && m.toLowerCase().contains("hostname"))
            return "the server's TLS certificate is not valid for the host name '" + host + "' (sslmode verify-full checks "
                    + "it): connect with a host name the certificate names, or use sslmode=verify-ca";
        if (state.equals("08004") && m.contains("SSL") && !List.of("disable", "allow", "prefer").contains(sslmode))
            return "the server does not accept TLS connections, and sslmode " + sslmode + " requires TLS: for a server on a "
                    + "trusted network use sslmode=disable (Neon always has TLS: check the host)";
        return null;
    }

    /** Connects, retrying with backoff while the server cannot be reached (a Neon compute waking up). */
    Connection connect(int connectTimeout, int waitSeconds) {
        long deadline = System.nanoTime() + waitSeconds * 1_000_000_000L;
        long backoffMs = 250;
        for (int attempt = 1; ; attempt++) {
            try {
                return DriverManager.getConnection(jdbcUrl(), properties(connectTimeout));
            } catch (SQLException e) {
                String state = e.getSQLState() == null ? "" : e.getSQLState();
                String where = user + "@" + host + ":" + port + "/" + database;
                if (state.equals("28P01") || state.equals("28000"))
                    throw new Failure(Exit.CANNOT_CONNECT, "authentication failed for " + where + ": check the password "
                            + "($PGPASSWORD, ~/.pgpass, the URL, or --password to be prompted) and the user name");
                if (state.equals("3D000"))
                    throw new Failure(Exit.CANNOT_CONNECT, "database '" + database + "' does not exist on " + host
                            + ": check --dbname or the URL's path");
                String m = Output.firstLine(e.getMessage());
                if (state.equals("22023")) // a value pgjdbc or the server will not take, e.g. a require_auth list
                    throw Failure.badInput("--url: a parameter's value is refused: " + m);
                if (m.toLowerCase().contains("channel binding")) // pgjdbc refuses a login that is not channel-bound
                    throw new Failure(Exit.CANNOT_CONNECT, "cannot connect to " + where + ": channel binding required, "
                            + "but server authenticated client without channel binding: " + (m.contains("SSL is not in use")
                            ? "the connection is not encrypted (sslmode " + sslmode + "): use sslmode=require (or verify-full), "
                            + "or channel_binding=prefer for a server without TLS"
                            : "the server offered no SCRAM-SHA-256-PLUS login over its own TLS (" + m + "); Neon's always does, so "
                            + "check the host; for a server that cannot, use channel_binding=prefer"));
                if (m.contains("requireAuth"))
                    throw new Failure(Exit.CANNOT_CONNECT, "cannot connect to " + where + ": the server asked for a "
                            + "login method that require_auth in --url does not allow: change require_auth, or leave it out");
                if (m.contains("targetServerType"))
                    throw new Failure(Exit.CANNOT_CONNECT, "cannot connect to " + where + ": the server is not the "
                            + "kind target_session_attrs in --url asks for (a primary or a standby): check the host, or leave it out");
                if (isPooler() && m.contains("replication"))
                    throw new Failure(Exit.CANNOT_CONNECT, "the pooler host does not allow this: use the direct host " + directHost());
                String tls = tlsProblem(e, state);
                if (tls != null) throw new Failure(Exit.CANNOT_CONNECT, "cannot connect to " + where + ": " + tls);
                if (state.equals("08004") && password == null) // "... authentication, but no password was provided"
                    throw new Failure(Exit.CANNOT_CONNECT, "no password for " + where + ", and the server asks for "
                            + "one: give it in the URL, $PGPASSWORD, ~/.pgpass (or $PGPASSFILE), or --password to be prompted");
                if (state.equals("08004")) // the server refused this connection: trying again will not change that
                    throw new Failure(Exit.CANNOT_CONNECT, "cannot connect to " + where + ": " + m);
                boolean unknownHost = e.getCause() instanceof UnknownHostException;
                long remainingMs = (deadline - System.nanoTime()) / 1_000_000;
                boolean transient_ = state.startsWith("08") || state.equals("57P03"); // 57P03: "the database system is starting up"
                if (transient_ && defaultHost && remainingMs <= 0)
                    throw new Failure(Exit.CANNOT_CONNECT, "cannot connect to " + where + ": no --url or DATABASE_URL "
                            + "was given, and nothing accepts connections on " + host + ":" + port + ", the default: give the "
                            + "database's connection string, e.g. --url 'postgresql://USER@HOST/DBNAME?sslmode=require', or set DATABASE_URL");
                if (unknownHost || !transient_ || remainingMs <= 0)
                    throw new Failure(Exit.CANNOT_CONNECT, "cannot connect to " + where + ": "
                            + (unknownHost ? "unknown host '" + host + "' - check the host name" : m));
                if (attempt == 1) Progress.line("cannot reach " + host + ":" + port + " yet; retrying for up to " + waitSeconds
                        + " s" + (isNeon() ? " (a suspended Neon compute takes a moment to wake)" : " (--wait)"));
                try { Thread.sleep(Math.min(backoffMs, remainingMs)); } catch (InterruptedException ie) { Thread.currentThread().interrupt(); throw new Failure(Exit.CANNOT_CONNECT, "interrupted"); }
                backoffMs = Math.min(backoffMs * 2, 2000);
            }
        }
    }
}
