import static org.junit.jupiter.api.Assertions.*;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The connection string is a security contract: channel_binding=require is kept (a login that is not channel-bound is
 * refused), every parameter libpq knows is honoured or refused with a reason, an unknown one is bad input, and nothing
 * is dropped without a word. Retrying is for a Neon compute that may be waking, or when --wait is given; with no
 * connection settings at all, a refused localhost says so at once.
 */
class ConnectionStringTest {
    static String db;
    static Path dir, certs;
    static EmbeddedPostgres tls;

    @BeforeAll static void servers() throws Exception {
        db = Pg.freshDatabase("connstr");
        Pg.sql(db, "CREATE TABLE public.t (id int PRIMARY KEY)", "ALTER TABLE public.t OWNER TO " + Pg.OWNER);
        dir = Files.createTempDirectory("connstr");
        certs = Files.createDirectories(dir.resolve("certs"));
        Pg.certificates(certs, "dns:localhost");
        tls = Pg.tlsServer(dir.resolve("data"), certs);
        DoctorServerTest.sql(tls, "CREATE ROLE " + Pg.OWNER + " LOGIN PASSWORD '" + Pg.OWNER_PASSWORD + "'");
    }

    @AfterAll static void stop() throws Exception {
        if (tls != null) tls.close();
        DoctorServerTest.delete(dir);
    }

    /** The default role's URL on the plain (no TLS) server, with more parameters. */
    static String url(String more) { return Pg.url(db) + (more.isEmpty() ? "" : "&" + more); }

    static Pg.Run checkWal(String url, String... more) {
        List<String> args = new ArrayList<>(List.of("--url", url, "--wait", "0"));
        args.addAll(List.of(more));
        return Pg.run(new CheckWal(), args.toArray(String[]::new));
    }

    static void oneLine(Pg.Run r, int exit, String... says) {
        assertEquals(exit, r.exit(), r.all());
        assertEquals(1, r.err().lines().count(), r.all());
        for (String s : says) assertTrue(r.err().contains(s), "'" + s + "' in " + r.err());
        assertFalse(r.all().contains(Pg.OWNER_PASSWORD), r.all());
        assertFalse(r.all().contains("Exception"), r.all());
    }

    /** check-wal's connection options as parsed from {@code options}, with {@code url} and no environment. */
    static Db db(String url, String... options) {
        CheckWal wal = new CheckWal();
        new picocli.CommandLine(wal).parseArgs(options);
        wal.db.url = url;
        wal.db.env = Map.of();
        return wal.db;
    }

    /** The SCRAM mechanisms pgjdbc chose while {@code body} ran, from its log ("Using SCRAM mechanism: ..."). */
    static List<String> scramMechanisms(Runnable body) {
        return Pg.pgjdbcLog(body).stream().filter(m -> m.contains("Using SCRAM mechanism"))
                .map(m -> m.substring(m.indexOf(':') + 1).strip()).toList();
    }

    // ---- channel_binding ---------------------------------------------------------------------------------

    /** SCRAM without TLS cannot be channel-bound: require is refused (as psql does), prefer and disable connect. */
    @Test void channelBindingRequireIsRefusedWithoutTls() {
        Pg.Run required = checkWal(url("channel_binding=require"));
        oneLine(required, 3, "channel binding required, but server authenticated client without channel binding", "sslmode=require");
        Pg.Run jdbc = checkWal("jdbc:" + url("channelBinding=require"));
        oneLine(jdbc, 3, "channel binding required");
        for (String v : List.of("prefer", "disable")) {
            Pg.Run r = checkWal(url("channel_binding=" + v));
            assertEquals(0, r.exit(), v + ": " + r.all());
        }
    }

    /** With TLS to the server itself, require connects, and the login is SCRAM-SHA-256-PLUS (bound to the TLS channel). */
    @Test void channelBindingRequireConnectsWithTlsThroughScramPlus() {
        String url = "postgresql://" + Pg.OWNER + ":" + Pg.OWNER_PASSWORD + "@localhost:" + tls.getPort()
                + "/postgres?sslmode=require&channel_binding=require";
        Pg.Run[] r = new Pg.Run[1];
        List<String> mechanisms = scramMechanisms(() -> r[0] = checkWal(url));
        assertEquals(0, r[0].exit(), r[0].all());
        assertEquals(List.of("SCRAM-SHA-256-PLUS"), mechanisms);
    }

    /**
     * TLS that ends before the server (a proxy, or someone in the middle): the server offers SCRAM without the channel,
     * prefer goes on unbound, require refuses. Neon's strings say require for this reason.
     */
    @Test void channelBindingRequireRefusesTlsThatEndsBeforeTheServer() throws Exception {
        try (TlsTest.TlsProxy proxy = new TlsTest.TlsProxy(certs.resolve("tls.p12"), Pg.port())) {
            String url = Pg.url(db).replace(":" + Pg.port() + "/", ":" + proxy.port() + "/").replace("sslmode=disable", "sslmode=require");
            Pg.Run[] prefer = new Pg.Run[1];
            List<String> mechanisms = scramMechanisms(() -> prefer[0] = checkWal(url + "&channel_binding=prefer"));
            assertEquals(0, prefer[0].exit(), prefer[0].all());
            assertEquals(List.of("SCRAM-SHA-256"), mechanisms, "through the proxy the login is not bound");
            Pg.Run required = checkWal(url + "&channel_binding=require");
            oneLine(required, 3, "channel binding required", "SCRAM-SHA-256-PLUS", "channel_binding=prefer");
            assertTrue(proxy.handshakes() >= 2, "both went through the proxy's TLS: " + proxy.handshakes());
        }
    }

    // ---- every libpq parameter: honoured or refused ------------------------------------------------------

    /** libpq 18's "Parameter Key Words": each is in the table, honoured or refused; none is dropped. */
    static final List<String> LIBPQ = List.of("host", "hostaddr", "port", "dbname", "user", "password", "passfile",
            "require_auth", "channel_binding", "connect_timeout", "client_encoding", "options", "application_name",
            "fallback_application_name", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
            "tcp_user_timeout", "replication", "gssencmode", "sslmode", "requiressl", "sslnegotiation", "sslcompression",
            "sslcert", "sslkey", "sslkeylogfile", "sslpassword", "sslcertmode", "sslrootcert", "sslcrl", "sslcrldir", "sslsni",
            "requirepeer", "ssl_min_protocol_version", "ssl_max_protocol_version", "min_protocol_version",
            "max_protocol_version", "krbsrvname", "gsslib", "gssdelegation", "service", "target_session_attrs",
            "load_balance_hosts", "oauth_issuer", "oauth_client_id", "oauth_client_secret", "oauth_scope");

    @Test void everyLibpqParameterIsInTheTableAndEveryRefusalSaysWhy() {
        List<String> keys = UrlParams.PARAMS.stream().map(UrlParams.Param::key).toList();
        for (String k : LIBPQ) assertTrue(keys.contains(k), k + " is in the table");
        for (UrlParams.Param p : UrlParams.PARAMS) {
            if (p.property() != null) continue; // honoured; what it does is checked below
            assertNotNull(p.otherwise(), p.key() + " says why it cannot be honoured");
            String value = p.values() == null ? "x" : "not-" + p.values().keySet().iterator().next();
            Pg.Run r = checkWal(url(p.key() + "=" + value));
            oneLine(r, 2, "--url: " + p.key(), p.otherwise());
        }
    }

    /** A value pgjdbc cannot honour is bad input naming the parameter and what it takes; nothing is connected. */
    @Test void valuesThatCannotBeHonouredAreBadInput() {
        record Bad(String param, List<String> says) {}
        for (Bad bad : List.of(
                new Bad("channel_binding=required", List.of("channel_binding 'required'", "disable, prefer, require")),
                new Bad("sslmode=requir", List.of("sslmode 'requir'", "verify-full")),
                new Bad("ssl=false", List.of("ssl 'false'", "sslmode")),
                new Bad("target_session_attrs=read-write", List.of("target_session_attrs 'read-write'", "standby")),
                new Bad("gssencmode=allow", List.of("gssencmode 'allow'", "disable, prefer, require")),
                new Bad("keepalives=yes", List.of("keepalives 'yes'", "1, 0")),
                new Bad("client_encoding=LATIN1", List.of("client_encoding 'LATIN1'", "UTF8")),
                new Bad("sslsni=0", List.of("sslsni '0'", "SNI")),
                new Bad("max_protocol_version=3.2", List.of("max_protocol_version '3.2'", "3.0")),
                new Bad("connect_timeout=0", List.of("connect_timeout '0'", "1 to 3600")),
                new Bad("sslnegotiation=direct", List.of("sslnegotiation=direct", "sslmode=require")),
                new Bad("sslcert=" + dir.resolve("none.crt"), List.of("sslcert", "none.crt", "readable")),
                new Bad("require_auth=md5,!scram-sha-256", List.of("--url", "requireAuth cannot mix")))) {
            oneLine(checkWal(url(bad.param())), 2, bad.says().toArray(String[]::new));
        }
    }

    /** An unknown parameter, or one without '=', is bad input naming it; a secret in the URL is never shown. */
    @Test void anUnknownParameterIsBadInputNamingIt() {
        oneLine(checkWal(url("foo=bar")), 2, "--url: unknown parameter 'foo'");
        Pg.Run typo = checkWal(url("pasword=Typo-Secret-31337"));
        oneLine(typo, 2, "unknown parameter 'pasword'");
        assertFalse(typo.all().contains("Typo-Secret-31337"), typo.all());
        oneLine(checkWal(url("channelBinding=require")), 2, "unknown parameter 'channelBinding'", "channel_binding");
        oneLine(checkWal(url("sslmode")), 2, "--url", "no '='");
        // a jdbc: URL takes pgjdbc's names of libpq's parameters, and no other pgjdbc property (sslfactory would turn off checks)
        oneLine(checkWal("jdbc:" + url("sslfactory=org.postgresql.ssl.NonValidatingFactory")), 2, "unknown parameter 'sslfactory'");
        assertEquals(0, checkWal("jdbc:" + url("ApplicationName=jdbc-named&channelBinding=prefer")).exit());

        String secret = "Oauth-Secret-" + java.util.UUID.randomUUID();
        Pg.Run oauth = checkWal(url("oauth_client_secret=" + secret));
        oneLine(oauth, 2, "oauth_client_secret");
        assertFalse(oauth.all().contains(secret), oauth.all());
        String keyPassword = "Key-Secret-" + java.util.UUID.randomUUID();
        Pg.Run withKey = checkWal(url("sslpassword=" + keyPassword + "&foo=1"));
        assertEquals(2, withKey.exit(), withKey.all());
        assertEquals("key ****", Secrets.redact("key " + keyPassword), "sslpassword is a secret");
    }

    /** application_name reaches the server (pg_stat_activity), fallback_application_name only without it. */
    @Test void applicationNameIsWhatTheServerSees() throws Exception {
        String name = "cdc-check-" + System.nanoTime();
        try (Connection holder = Pg.superuser(db); Connection watch = Pg.superuser(db)) {
            holder.setAutoCommit(false);
            holder.createStatement().execute("LOCK TABLE public.t IN ACCESS EXCLUSIVE MODE");
            CompletableFuture<Pg.Run> run = CompletableFuture.supplyAsync(() -> Pg.run(new CreatePublication(), "--url",
                    url("fallback_application_name=not-this&application_name=" + name), "--table", "public.t",
                    "--publication", "connstr_pub", "--lock-timeout", "60s", "--wait", "0"));
            FaultsTest.await("a session named " + name, () -> {
                try (var rs = watch.createStatement().executeQuery("SELECT count(*) FROM pg_stat_activity WHERE application_name = '"
                        + name + "' AND datname = '" + db + "'")) {
                    rs.next();
                    return rs.getInt(1) == 1 || run.isDone();
                } catch (Exception e) { return false; }
            });
            assertFalse(run.isDone(), "it waits for the lock: " + (run.isDone() ? run.get().all() : ""));
            holder.rollback();
            Pg.Run r = run.get(120, TimeUnit.SECONDS);
            assertEquals(0, r.exit(), r.all());
        }
        Db fallback = db(url("fallback_application_name=my-fallback"));
        assertEquals("my-fallback", fallback.target().properties(10).getProperty("ApplicationName"));
        Db both = db(url("application_name=mine&fallback_application_name=not-this"));
        assertEquals("mine", both.target().properties(10).getProperty("ApplicationName"));
        assertEquals("airbyte-runbook", db(url("")).target().properties(10).getProperty("ApplicationName"));
    }

    /** Parameters that map onto pgjdbc's properties; an explicit option wins over the URL, as --host does. */
    @Test void honouredParametersReachPgjdbcAndOptionsWin() {
        Db d = db(url("connect_timeout=3&keepalives=1&target_session_attrs=prefer-standby&load_balance_hosts=disable"
                + "&krbsrvname=pg&gssencmode=disable&sslnegotiation=postgres&client_encoding=UTF8&sslsni=1"));
        var p = d.target().properties(d.connectTimeout);
        assertEquals(3, d.connectTimeout);
        assertEquals("3", p.getProperty("connectTimeout"));
        assertEquals("true", p.getProperty("tcpKeepAlive"));
        assertEquals("preferSecondary", p.getProperty("targetServerType"));
        assertEquals("false", p.getProperty("loadBalanceHosts"));
        assertEquals("pg", p.getProperty("kerberosServerName"));
        assertEquals("disable", p.getProperty("gssEncMode"));
        assertNull(p.getProperty("client_encoding"), "UTF8 is what pgjdbc talks anyway");

        Db options = db(url("connect_timeout=3&sslmode=disable"), "--connect-timeout", "7", "--sslmode", "require");
        assertEquals("require", options.target().sslmode);
        assertEquals(7, options.connectTimeout);
        assertEquals("require", db("postgresql://alex@db.example.com/x?ssl=true").target().sslmode);
        assertEquals("disable", db("postgresql://alex@db.example.com/x?ssl=true&sslmode=disable").target().sslmode);
    }

    /** Honoured parameters the server or pgjdbc acts on: target_session_attrs and require_auth are checked when connecting. */
    @Test void honouredParametersAreActedOn() {
        assertEquals(0, checkWal(url("target_session_attrs=primary")).exit());
        oneLine(checkWal(url("target_session_attrs=standby")), 3, "target_session_attrs");
        assertEquals(0, checkWal(url("require_auth=scram-sha-256")).exit());
        oneLine(checkWal(url("require_auth=md5")), 3, "require_auth");
        assertEquals(0, checkWal(url("keepalives=1&sslcompression=0&gssdelegation=0&min_protocol_version=3.0")).exit());
    }

    /** sslrootcert=system (libpq 16+): the CAs this machine trusts, with verify-full, which libpq requires with it. */
    @Test void sslrootcertSystemTrustsTheMachinesCasWithVerifyFull() {
        String url = "postgresql://" + Pg.OWNER + ":" + Pg.OWNER_PASSWORD + "@localhost:" + tls.getPort() + "/postgres?sslrootcert=system";
        assertEquals("verify-full", db(url).target().sslmode);
        oneLine(checkWal(url + "&sslmode=require"), 2, "sslrootcert=system", "verify-full");
        // the test's own CA is not one this machine trusts: refused for that, not for a missing file named "system"
        oneLine(checkWal(url), 3, "not signed by a CA this machine trusts");
    }

    /** connect_timeout bounds each attempt: a server that accepts and never answers is given up on after it. */
    @Test void connectTimeoutBoundsAnAttempt() throws Exception {
        try (java.net.ServerSocket silent = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            long start = System.nanoTime();
            Pg.Run r = checkWal("postgresql://alex@127.0.0.1:" + silent.getLocalPort() + "/x?sslmode=disable&connect_timeout=1");
            long ms = (System.nanoTime() - start) / 1_000_000;
            assertEquals(3, r.exit(), r.all());
            assertTrue(ms < 8000, ms + " ms: the default is 10 s");
        }
    }

    // ---- retrying --------------------------------------------------------------------------------------

    /** No --url, DATABASE_URL or PGHOST: a refused localhost is reported at once, saying how to give a URL. */
    @Test void noConnectionSettingsAtAllFailAtOnceSayingSo() {
        String port = String.valueOf(Pg.freePort()); // the default 5432 could be taken on some machine
        Pg.Run r = Pg.run(new CheckWal(), Map.of("PGPORT", port));
        oneLine(r, 3, "no --url or DATABASE_URL was given", "localhost:" + port, "--url 'postgresql://");
        assertFalse(r.all().contains("retrying"), r.all());
        assertFalse(r.all().contains("Neon"), r.all());

        Pg.Run given = Pg.run(new CheckWal(), "--url", "postgresql://alex@localhost:" + port + "/x?sslmode=disable");
        oneLine(given, 3, "localhost:" + port);
        assertFalse(given.all().contains("retrying") || given.all().contains("no --url"), given.all());
    }

    /** --wait retries any host for as long as given; without it only a Neon host is retried, for 20 s. */
    @Test void onlyANeonHostOrAnExplicitWaitIsRetried() {
        Pg.Run waited = Pg.run(new CheckWal(), "--url", "postgresql://alex@localhost:" + Pg.freePort() + "/x?sslmode=disable", "--wait", "1");
        assertEquals(3, waited.exit(), waited.all());
        assertTrue(waited.err().contains("retrying for up to 1 s"), waited.err());

        assertEquals(0, db("postgresql://alex@localhost/x").waitSeconds());
        assertEquals(20, db("postgresql://alex@ep-cool-darkness-123456.us-east-2.aws.neon.tech/neondb").waitSeconds());
        assertEquals(20, db("postgresql://alex@203.0.113.5/neondb?options=endpoint%3Dep-cool-darkness-123456").waitSeconds());
        assertEquals(5, db("postgresql://alex@localhost/x", "--wait", "5").waitSeconds());
        assertEquals(0, db("postgresql://alex@ep-cool-darkness-123456.us-east-2.aws.neon.tech/neondb", "--wait", "0").waitSeconds());
    }

    /**
     * A Neon host whose compute is suspended (nothing listens yet) is retried without --wait, and reached once it wakes.
     * The name resolves to 127.0.0.1 through a hosts file, which a JVM reads at start: so through the launcher.
     */
    @Test void aNeonHostIsRetriedUntilItsComputeWakes() throws Exception {
        String host = "ep-waking-compute-123456.us-east-2.aws.neon.tech";
        Path hosts = Files.createTempFile("hosts", "");
        Files.writeString(hosts, "127.0.0.1 " + host + "\n");
        int port = Pg.freePort();
        ProcessBuilder pb = new ProcessBuilder(Pg.repoRoot().resolve("jbang").toString(), "check-wal", "--url",
                "postgresql://postgres@" + host + ":" + port + "/postgres?sslmode=disable")
                .directory(Files.createTempDirectory("elsewhere").toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("PG") || k.equals("DATABASE_URL"));
        pb.environment().put("JAVA_TOOL_OPTIONS", "-Djdk.net.hosts.file=" + hosts);
        Process p = pb.redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        p.getOutputStream().close();
        StringBuilder err = new StringBuilder();
        EmbeddedPostgres woken = null;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                err.append(line).append('\n');
                if (line.contains("retrying") && woken == null) woken = FaultsTest.start(port, Files.createTempDirectory("woken"));
            }
            assertTrue(p.waitFor(180, TimeUnit.SECONDS), err.toString());
            assertNotNull(woken, "it retried: " + err);
            assertTrue(err.toString().contains("a suspended Neon compute takes a moment to wake"), err.toString());
            assertEquals(0, p.exitValue(), err.toString());
        } finally {
            p.destroy();
            if (woken != null) woken.close();
        }
    }
}
