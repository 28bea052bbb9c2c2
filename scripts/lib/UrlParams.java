import java.util.List;
import java.util.Map;

/**
 * Every query parameter libpq knows, and what becomes of it here: honoured through the pgjdbc property that does the
 * same, accepted where pgjdbc already behaves so, or refused with the reason and what to do instead. None is dropped.
 */
final class UrlParams {
    private UrlParams() {}

    /**
     * One query parameter libpq knows, and what becomes of it here: the pgjdbc property that does the same (null: none);
     * the values libpq takes, each with what it becomes in pgjdbc (null: any value, as given; "": a value pgjdbc already
     * behaves by, nothing to set); and, where pgjdbc cannot do what libpq would, why and what to do instead (for a
     * value outside {@code values}, or for any value of a parameter with neither property nor values). The properties
     * in capitals and user, password, sslmode, sslrootcert, options and connectTimeout are kept in fields: an option
     * (--host, --sslmode, --connect-timeout ...) replaces them.
     */
    record Param(String key, String property, Map<String, String> values, String otherwise) {
        /** What {@code value} sets, null for nothing; bad input when pgjdbc cannot honour it. */
        String apply(String value, boolean pgjdbcName) {
            if (property == null && values == null) throw Failure.badInput("--url: " + key + " is not supported: " + otherwise);
            if (values == null) return value;
            java.util.Collection<String> allowed = pgjdbcName ? values.values() : values.keySet();
            if (allowed.contains(value)) return property == null ? null : pgjdbcName ? value : values.get(value);
            String name = pgjdbcName ? property : key;
            throw Failure.badInput("--url: " + name + " '" + value + "' " + (property == null ? "cannot be honoured: "
                    : "is not one of " + String.join(", ", allowed) + (otherwise == null ? "" : ": ")) + (otherwise == null ? "" : otherwise));
        }
    }

    static Param free(String key, String property) { return new Param(key, property, null, null); }
    static Param choice(String key, String property, String otherwise, String... libpqThenPgjdbc) {
        Map<String, String> values = new java.util.LinkedHashMap<>();
        for (int i = 0; i < libpqThenPgjdbc.length; i += 2) values.put(libpqThenPgjdbc[i], libpqThenPgjdbc[i + 1]);
        return new Param(key, property, values, otherwise);
    }
    static Param same(String key, String property, String... values) {
        Map<String, String> v = new java.util.LinkedHashMap<>();
        for (String s : values) v.put(s, s);
        return new Param(key, property, v, null);
    }
    /** Only the values pgjdbc already behaves by are accepted: nothing to set. */
    static Param fixed(String key, String otherwise, String... values) {
        Map<String, String> v = new java.util.LinkedHashMap<>();
        for (String s : values) v.put(s, "");
        return new Param(key, null, v, otherwise);
    }
    static Param refused(String key, String otherwise) { return new Param(key, null, null, otherwise); }

    static final String TCP = "pgjdbc cannot set TCP keepalive timings or timeouts (keepalives=1 turns keepalives on, "
            + "with the system's timings): leave it out";
    static final String CRL = "pgjdbc checks no certificate revocation list: remove it to connect without that check";
    static final String OAUTH = "pgjdbc cannot sign in with OAuth: use the role's password";

    /** Every parameter libpq 18 knows (its "Parameter Key Words"), and libpq's JDBC spelling ssl=true. */
    static final List<Param> PARAMS = List.of(
            free("host", "PGHOST"), free("port", "PGPORT"), free("dbname", "PGDBNAME"), free("user", "user"),
            free("password", "password"), free("options", "options"), free("connect_timeout", "connectTimeout"),
            free("application_name", "ApplicationName"),
            free("fallback_application_name", "ApplicationName"), // used when application_name is not given
            free("sslrootcert", "sslrootcert"), free("sslcert", "sslcert"), free("sslkey", "sslkey"),
            free("sslpassword", "sslpassword"), free("krbsrvname", "kerberosServerName"),
            free("require_auth", "requireAuth"), // a list pgjdbc refuses is bad input when connecting
            same("sslmode", "sslmode", "disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
            choice("ssl", "sslmode", "ssl=true is the JDBC spelling of sslmode=require; otherwise write sslmode", "true", "require"),
            same("channel_binding", "channelBinding", "disable", "prefer", "require"),
            same("sslnegotiation", "sslNegotiation", "postgres", "direct"),
            same("gssencmode", "gssEncMode", "disable", "prefer", "require"),
            same("gsslib", "gsslib", "gssapi", "sspi"),
            choice("keepalives", "tcpKeepAlive", null, "1", "true", "0", "false"),
            choice("load_balance_hosts", "loadBalanceHosts", null, "disable", "false", "random", "true"),
            choice("target_session_attrs", "targetServerType", "pgjdbc tells a primary from a standby, not read-write from "
                    + "read-only sessions", "any", "any", "primary", "primary", "standby", "secondary", "prefer-standby", "preferSecondary"),
            fixed("client_encoding", "pgjdbc always talks UTF8 with the server: leave client_encoding out", "UTF8", "utf8", "UTF-8", "utf-8"),
            fixed("sslcompression", "pgjdbc never compresses TLS (nor do current servers): leave sslcompression out", "0"),
            fixed("sslsni", "pgjdbc always sends the host name in TLS (SNI, which Neon needs): leave sslsni out", "1"),
            fixed("sslcertmode", "pgjdbc sends a client certificate when one is given (sslcert) and the server asks: "
                    + "leave sslcertmode out", "allow"),
            fixed("gssdelegation", "pgjdbc does not delegate GSS credentials: leave gssdelegation out", "0"),
            fixed("ssl_min_protocol_version", "pgjdbc leaves TLS versions to Java, which offers TLSv1.2 and TLSv1.3: "
                    + "leave it out", "TLSv1.2"),
            fixed("ssl_max_protocol_version", "pgjdbc leaves TLS versions to Java, which offers TLSv1.2 and TLSv1.3: "
                    + "leave it out", "TLSv1.3"),
            fixed("min_protocol_version", "pgjdbc speaks protocol 3.0 only: leave it out", "3.0"),
            fixed("max_protocol_version", "pgjdbc speaks protocol 3.0 only: leave it out", "3.0"),
            refused("hostaddr", "put the address in the URL's host instead"),
            refused("passfile", "set $PGPASSFILE to the file instead"),
            refused("service", "this runbook reads no pg_service.conf: write the service's host, port, dbname and settings in the URL"),
            refused("requiressl", "write sslmode=require instead (requiressl is deprecated)"),
            refused("replication", "each step opens the replication connections it needs: leave it out"),
            refused("keepalives_idle", TCP), refused("keepalives_interval", TCP), refused("keepalives_count", TCP),
            refused("tcp_user_timeout", TCP),
            refused("requirepeer", "the runbook makes no Unix-socket connections, which it is for: leave it out"),
            refused("sslcrl", CRL), refused("sslcrldir", CRL),
            refused("sslkeylogfile", "pgjdbc cannot log TLS keys: leave it out"),
            refused("oauth_issuer", OAUTH), refused("oauth_client_id", OAUTH), refused("oauth_client_secret", OAUTH),
            refused("oauth_scope", OAUTH));
    static final Map<String, Param> BY_KEY = new java.util.HashMap<>(), BY_PROPERTY = new java.util.HashMap<>();
    static {
        for (Param p : PARAMS) {
            BY_KEY.put(p.key(), p);
            if (p.property() != null) BY_PROPERTY.putIfAbsent(p.property(), p);
        }
    }
    static final java.util.Set<String> SECRET = java.util.Set.of("password", "sslpassword", "oauth_client_secret");
    /** Files the URL names, and what each must be. */
    static final Map<String, String> FILES = Map.of(
            "sslrootcert", "the CA certificate (PEM) that signed the server's",
            "sslcert", "your client certificate (PEM)", "sslkey", "the private key of sslcert");
}
