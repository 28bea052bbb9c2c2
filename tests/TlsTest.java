import static org.junit.jupiter.api.Assertions.*;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A PostgreSQL with TLS on, its certificate (for localhost only) signed by a CA made here: verify-full with that CA
 * connects; another CA, another host name (127.0.0.1), no CA, or TLS asked of a server without it fail at once, in
 * one line, with exit 3; require encrypts without verifying, and doctor says which it is.
 */
class TlsTest {
    static Path dir, ca, otherCa;
    static EmbeddedPostgres pg;

    @BeforeAll static void server() throws Exception {
        dir = Files.createTempDirectory("tls");
        Path certs = Files.createDirectories(dir.resolve("certs"));
        ca = Pg.certificates(certs, "dns:localhost");
        pg = Pg.tlsServer(dir.resolve("data"), certs);
        DoctorServerTest.sql(pg, "CREATE ROLE " + Pg.OWNER + " LOGIN REPLICATION PASSWORD '" + Pg.OWNER_PASSWORD + "'");
        // A real CA that did not sign the server's certificate: the first one the JDK trusts.
        KeyStore jdk = KeyStore.getInstance(Path.of(System.getProperty("java.home"), "lib", "security", "cacerts").toFile(), (char[]) null);
        otherCa = certs.resolve("other-ca.crt");
        Files.writeString(otherCa, Pg.pem("CERTIFICATE", jdk.getCertificate(Collections.list(jdk.aliases()).get(0)).getEncoded()));
    }

    @AfterAll static void stop() throws Exception {
        if (pg != null) pg.close();
        DoctorServerTest.delete(dir);
    }

    static String url(String host, String query) {
        return "postgresql://postgres@" + host + ":" + pg.getPort() + "/postgres?" + query;
    }

    static String message(Pg.Run r) { return Fixtures.finding(r, "connection", "tls").get("message").asText(); }

    @Test void verifyFullWithTheRightCaConnects() throws Exception {
        String url = url("localhost", "sslmode=verify-full&sslrootcert=" + ca);
        Pg.Run wal = Pg.run(new CheckWal(), "--url", url);
        assertEquals(0, wal.exit(), wal.all());
        String withPassword = url.replace("postgres@", Pg.OWNER + ":" + Pg.OWNER_PASSWORD + "@");
        Pg.Run role = Pg.run(new CheckWal(), "--url", withPassword);
        assertEquals(0, role.exit(), role.all());
        Pg.Run noPassword = Pg.run(new CheckWal(), "--url", url.replace("postgres@", Pg.OWNER + "@"));
        assertEquals(3, noPassword.exit(), noPassword.all());
        assertTrue(noPassword.err().startsWith("check-wal: no password for alex@localhost"), noPassword.err());
        Pg.Run doctor = Fixtures.doctorAt(url);
        assertEquals("ok", Fixtures.status(doctor, "connection", "tls"), doctor.out());
        assertTrue(message(doctor).contains("server certificate verified (sslmode verify-full)"), doctor.out());
    }

    @Test void requireIsEncryptedNotVerifiedAndDisableIsNotEncrypted() throws Exception {
        Pg.Run required = Fixtures.doctorAt(url("127.0.0.1", "sslmode=require"));
        assertEquals("ok", Fixtures.status(required, "connection", "tls"), required.out());
        assertTrue(message(required).startsWith("encrypted (TLS") && message(required).contains("not verified"), required.out());

        Pg.Run plain = Fixtures.doctorAt(url("localhost", "sslmode=disable"));
        assertEquals("warn", Fixtures.status(plain, "connection", "tls"), plain.out());
        assertTrue(message(plain).startsWith("not encrypted"), plain.out());
        assertTrue(Fixtures.fix(plain, "connection", "tls").contains("sslmode=require"));
    }

    /**
     * TLS that ends at a proxy, as Neon's does: the server's pg_stat_ssl sees a plain connection. With sslmode require
     * or verify-* the connection is encrypted or not made at all, so doctor says encrypted; with prefer it cannot
     * know (a warning), unless the server is Neon's, which refuses connections without TLS.
     */
    @Test void tlsEndingAtAProxyIsEncryptedWhenAskedForOrOnNeon() throws Exception {
        String neonDb = Pg.freshDatabase("tls_neon");
        Pg.sql("postgres", "ALTER DATABASE " + neonDb + " SET neon.endpoint_id = 'ep-proxied-tls-123456'");
        try (TlsProxy proxy = new TlsProxy(dir.resolve("certs/tls.p12"), Pg.port())) {
            String at = "postgresql://postgres@localhost:" + proxy.port() + "/";
            Pg.Run verified = Fixtures.doctorAt(at + "postgres?sslmode=verify-full&sslrootcert=" + ca);
            assertEquals("ok", Fixtures.status(verified, "connection", "tls"), verified.out());
            assertEquals("encrypted (TLS ends at a proxy in front of the server), server certificate verified (sslmode verify-full)",
                    message(verified));

            Pg.Run preferred = Fixtures.doctorAt(at + "postgres?sslmode=prefer");
            assertEquals("warn", Fixtures.status(preferred, "connection", "tls"), preferred.out());
            assertEquals("not known to be encrypted: the server sees no TLS, and sslmode prefer goes on without it", message(preferred));
            assertTrue(Fixtures.fix(preferred, "connection", "tls").contains("sslmode=require"), preferred.out());

            Pg.Run neon = Fixtures.doctorAt(at + neonDb + "?sslmode=prefer");
            assertEquals("ok", Fixtures.status(neon, "connection", "tls"), neon.out());
            assertTrue(message(neon).startsWith("encrypted (TLS ends at Neon's proxy, which refuses connections without it), not verified"),
                    neon.out());
            Pg.Run plain = Fixtures.doctorAt("postgresql://postgres@localhost:" + Pg.port() + "/" + neonDb + "?sslmode=disable");
            assertEquals("warn", Fixtures.status(plain, "connection", "tls"), plain.out());
            assertEquals("not encrypted (sslmode disable)", message(plain), "a database that says it is Neon's, reached without TLS");
            assertTrue(proxy.handshakes() >= 3, "every connection went through the proxy's TLS: " + proxy.handshakes());
        }
    }

    /**
     * A TLS-terminating proxy for PostgreSQL's protocol on 127.0.0.1: answers the client's SSLRequest with S, does the
     * TLS handshake with the certificate for localhost, then passes the plain bytes to {@code targetPort}. A client
     * that does not ask for TLS is refused (GSS encryption is declined first), as Neon's proxy does.
     */
    static final class TlsProxy implements AutoCloseable {
        private static final int SSL_REQUEST = 80877103, GSSENC_REQUEST = 80877104;
        private final java.net.ServerSocket listener;
        private final javax.net.ssl.SSLSocketFactory tls;
        private final java.util.concurrent.atomic.AtomicInteger handshakes = new java.util.concurrent.atomic.AtomicInteger();

        TlsProxy(Path store, int targetPort) throws Exception {
            KeyStore all = KeyStore.getInstance(store.toFile(), "changeit".toCharArray());
            KeyStore server = KeyStore.getInstance("PKCS12"); // only the server's key: not the CA's, which is in the same store
            server.load(null, null);
            server.setKeyEntry("server", all.getKey("server", "changeit".toCharArray()), "changeit".toCharArray(),
                    all.getCertificateChain("server"));
            var keys = javax.net.ssl.KeyManagerFactory.getInstance(javax.net.ssl.KeyManagerFactory.getDefaultAlgorithm());
            keys.init(server, "changeit".toCharArray());
            var context = javax.net.ssl.SSLContext.getInstance("TLS");
            context.init(keys.getKeyManagers(), null, null);
            tls = context.getSocketFactory();
            listener = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
            daemon(() -> {
                while (!listener.isClosed()) {
                    try {
                        java.net.Socket client = listener.accept();
                        daemon(() -> serve(client, targetPort));
                    } catch (java.io.IOException closed) {
                        return;
                    }
                }
            });
        }

        int port() { return listener.getLocalPort(); }

        int handshakes() { return handshakes.get(); }

        private void serve(java.net.Socket client, int targetPort) {
            try (client) {
                var in = new java.io.DataInputStream(client.getInputStream());
                int length = in.readInt(), code = in.readInt();
                if (length == 8 && code == GSSENC_REQUEST) {
                    client.getOutputStream().write('N');
                    length = in.readInt();
                    code = in.readInt();
                }
                if (length != 8 || code != SSL_REQUEST) return; // no TLS, no connection
                client.getOutputStream().write('S');
                client.getOutputStream().flush();
                try (var secure = (javax.net.ssl.SSLSocket) tls.createSocket(client, in, true);
                     var target = new java.net.Socket(java.net.InetAddress.getLoopbackAddress(), targetPort)) {
                    secure.setUseClientMode(false);
                    secure.startHandshake();
                    handshakes.incrementAndGet();
                    Thread back = daemon(() -> pipe(target, secure));
                    pipe(secure, target);
                    back.join();
                }
            } catch (Exception ignored) { // a client gone, or the test over
            }
        }

        private static void pipe(java.net.Socket from, java.net.Socket to) {
            try {
                from.getInputStream().transferTo(to.getOutputStream());
            } catch (java.io.IOException ignored) { // closed
            }
            try { to.close(); } catch (java.io.IOException ignored) { }
        }

        private static Thread daemon(Runnable body) {
            Thread t = new Thread(body, "tls-proxy");
            t.setDaemon(true);
            t.start();
            return t;
        }

        @Override public void close() throws java.io.IOException { listener.close(); }
    }

    /** Each is one line naming what to check, exit 3, and is not retried for --wait seconds: it will not get better. */
    @Test void aWrongCaWrongHostNoCaOrNoTlsFailsAtOnceInOneLine() throws Exception {
        record Bad(String url, List<String> says, int exit) {
            Bad(String url, List<String> says) { this(url, says, 3); }
        }
        List<Bad> cases = List.of(
                new Bad(url("localhost", "sslmode=verify-full&sslrootcert=" + otherCa), List.of("certificate", "sslrootcert")),
                new Bad(url("localhost", "sslmode=verify-ca&sslrootcert=" + otherCa), List.of("certificate", "sslrootcert")),
                new Bad(url("127.0.0.1", "sslmode=verify-full&sslrootcert=" + ca), List.of("127.0.0.1", "host name")),
                new Bad(url("localhost", "sslmode=verify-full&sslrootcert=" + dir.resolve("none.crt")), List.of("none.crt"), 2),
                new Bad(url("localhost", "sslmode=verify-full"), List.of("CA", "certificate"), 3),
                new Bad("postgresql://alex@localhost:" + Pg.port() + "/postgres?sslmode=require", List.of("TLS", "sslmode")));
        for (Bad bad : cases)
            for (java.util.function.Supplier<java.util.concurrent.Callable<?>> script : List.<java.util.function.Supplier<java.util.concurrent.Callable<?>>>of(CheckWal::new, Doctor::new, Setup::new)) {
                long start = System.nanoTime();
                Pg.Run r = Pg.run(script.get(), "--url", bad.url(), "--wait", "20");
                long ms = (System.nanoTime() - start) / 1_000_000;
                String what = bad.url() + ": " + r.all();
                assertEquals(bad.exit(), r.exit(), what);
                assertEquals(1, r.err().lines().count(), what);
                for (String word : bad.says()) assertTrue(r.err().contains(word), word + " in " + what);
                assertFalse(r.all().contains("Exception"), what);
                assertTrue(ms < 5000, ms + " ms: " + what);
            }
    }
}
