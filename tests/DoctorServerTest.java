import static org.junit.jupiter.api.Assertions.*;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyStore;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.Base64;
import java.util.Comparator;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Doctor against servers of this class's own, for what cannot be done to the shared one: TLS, a standby, a
 * wal_level changed with a restart, a slot invalidated for want of WAL.
 */
class DoctorServerTest {
    /** A server in {@code dir}, kept on close so that it can be started again (a restart). */
    static EmbeddedPostgres start(Path dir, Map<String, String> config, Consumer<File> customize) throws IOException {
        var b = EmbeddedPostgres.builder().setDataDirectory(dir).setCleanDataDirectory(false);
        config.forEach(b::setServerConfig);
        if (customize != null) b.setDataDirectoryCustomizer(customize);
        return b.start();
    }

    static String url(EmbeddedPostgres pg, String query) {
        return "postgresql://postgres@localhost:" + pg.getPort() + "/postgres?" + query;
    }

    static void sql(EmbeddedPostgres pg, String... statements) throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:postgresql://localhost:" + pg.getPort() + "/postgres?sslmode=disable", "postgres", "");
             Statement st = c.createStatement()) {
            for (String s : statements) st.execute(s);
        }
    }

    static void delete(Path dir) throws IOException {
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }

    static String message(Pg.Run r, String group, String check) {
        return DoctorTest.finding(r, group, check).get("message").asText();
    }

    @Test void tlsIsReportedAsNotEncryptedEncryptedOrVerified() throws Exception {
        Path dir = Files.createTempDirectory("doctor-tls"), certs = Files.createTempDirectory("doctor-certs");
        Path cert = selfSignedCertificate(certs);
        EmbeddedPostgres pg = start(dir.resolve("data"), Map.of("ssl", "on"), data -> {
            try {
                Files.copy(cert, data.toPath().resolve("server.crt"));
                Path key = data.toPath().resolve("server.key");
                Files.copy(certs.resolve("server.key"), key);
                Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-------"));
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        try {
            Pg.Run plain = DoctorTest.doctorAt(url(pg, "sslmode=disable"));
            assertEquals("warn", DoctorTest.status(plain, "connection", "tls"), plain.out());
            assertTrue(message(plain, "connection", "tls").startsWith("not encrypted"), plain.out());
            assertTrue(DoctorTest.fix(plain, "connection", "tls").contains("sslmode=require"));

            Pg.Run required = DoctorTest.doctorAt(url(pg, "sslmode=require"));
            assertEquals("ok", DoctorTest.status(required, "connection", "tls"), required.out());
            assertTrue(message(required, "connection", "tls").contains("not verified"), required.out());

            Pg.Run verified = DoctorTest.doctorAt(url(pg, "sslmode=verify-full&sslrootcert=" + cert));
            assertEquals("ok", DoctorTest.status(verified, "connection", "tls"), verified.all());
            assertTrue(message(verified, "connection", "tls").contains("server certificate verified (sslmode verify-full)"), verified.out());
        } finally {
            pg.close();
            delete(dir);
            delete(certs);
        }
    }

    /** A key pair for CN=localhost from the JDK's keytool, written as PEM files PostgreSQL reads. */
    static Path selfSignedCertificate(Path dir) throws Exception {
        Path store = dir.resolve("server.p12");
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(), "-genkeypair",
                "-alias", "server", "-keyalg", "RSA", "-keysize", "2048", "-validity", "2", "-dname", "CN=localhost",
                "-ext", "SAN=dns:localhost,ip:127.0.0.1", "-keystore", store.toString(), "-storetype", "PKCS12",
                "-storepass", "changeit", "-keypass", "changeit").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (var in = Files.newInputStream(store)) { ks.load(in, "changeit".toCharArray()); }
        Base64.Encoder b64 = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII));
        Path cert = dir.resolve("server.crt");
        Files.writeString(cert, "-----BEGIN CERTIFICATE-----\n" + b64.encodeToString(ks.getCertificate("server").getEncoded())
                + "\n-----END CERTIFICATE-----\n");
        Files.writeString(dir.resolve("server.key"), "-----BEGIN PRIVATE KEY-----\n"
                + b64.encodeToString(ks.getKey("server", "changeit".toCharArray()).getEncoded()) + "\n-----END PRIVATE KEY-----\n");
        return cert;
    }

    @Test void aStandbyFailsBeforePostgres16AndThePrimaryPasses() throws Exception {
        Path dir = Files.createTempDirectory("doctor-standby");
        EmbeddedPostgres standby = start(dir.resolve("data"), Map.of(), data -> {
            try {
                Files.createFile(data.toPath().resolve("standby.signal"));
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        try {
            Pg.Run r = DoctorTest.doctorAt(url(standby, "sslmode=disable"));
            assertTrue(message(r, "server", "primary").startsWith("a standby"), r.out());
            if (Pg.major() < 16) {
                assertEquals("fail", DoctorTest.status(r, "server", "primary"), r.out());
                assertEquals(1, r.exit());
                assertTrue(DoctorTest.fix(r, "server", "primary").contains("connect to the primary"));
            } else {
                assertEquals("warn", DoctorTest.status(r, "server", "primary"), r.out());
            }
        } finally {
            standby.close();
            delete(dir);
        }
        Pg.Run primary = DoctorTest.doctor(DoctorTest.shop());
        assertEquals("ok", DoctorTest.status(primary, "server", "primary"), primary.out());
    }

    @Test void walLevelReplicaFailsUntilAlterSystemAndARestart() throws Exception {
        Path dir = Files.createTempDirectory("doctor-wal");
        EmbeddedPostgres pg = start(dir.resolve("data"), Map.of(), null);
        try {
            Pg.Run r = DoctorTest.doctorAt(url(pg, "sslmode=disable"));
            assertEquals(1, r.exit(), r.all());
            assertEquals("fail", DoctorTest.status(r, "server", "wal_level"), r.out());
            String fix = DoctorTest.fix(r, "server", "wal_level");
            assertTrue(fix.startsWith("ALTER SYSTEM SET wal_level = logical;"), fix);

            sql(pg, fix.substring(0, fix.indexOf(';')));
            pg.close();
            pg = start(dir.resolve("data"), Map.of(), null);
            Pg.Run after = DoctorTest.doctorAt(url(pg, "sslmode=disable"));
            assertEquals("ok", DoctorTest.status(after, "server", "wal_level"), after.out());
        } finally {
            pg.close();
            delete(dir);
        }
    }

    @Test void aSlotThatLostItsWalFailsUntilDroppedAndMadeAgain() throws Exception {
        Path dir = Files.createTempDirectory("doctor-lost");
        EmbeddedPostgres pg = start(dir.resolve("data"), Map.of("wal_level", "logical", "max_slot_wal_keep_size", "1MB"), null);
        try {
            String slot = DoctorTest.SLOT;
            sql(pg, "CREATE TABLE t (id int PRIMARY KEY)", "CREATE PUBLICATION airbyte_publication FOR TABLE t",
                    "SELECT pg_create_logical_replication_slot('" + slot + "', 'pgoutput')");
            for (int i = 0; i < 4; i++) sql(pg, "INSERT INTO t VALUES (" + i + ")", "SELECT pg_switch_wal()");
            sql(pg, "CHECKPOINT");
            Pg.Run r = DoctorTest.doctorAt(url(pg, "sslmode=disable"));
            assertEquals(1, r.exit(), r.all());
            assertEquals(java.util.List.of("slot/wal=fail"), DoctorTest.failures(r));
            assertTrue(message(r, "slot", "wal").startsWith("invalidated (wal_status lost"), r.out());
            assertEquals("ok", DoctorTest.status(r, "airbyte check", "verdict"), "Airbyte's own check does not see it");

            String fix = DoctorTest.fix(r, "slot", "wal");
            sql(pg, fix.substring(0, fix.indexOf('\n')));
            assertEquals(0, Pg.run(new CreateSlot(), "--url", url(pg, "sslmode=disable"), "--slot", slot).exit());
            Pg.Run after = DoctorTest.doctorAt(url(pg, "sslmode=disable"));
            assertEquals(0, after.exit(), after.all());
            assertEquals("ok", DoctorTest.status(after, "slot", "wal"), after.out());
        } finally {
            pg.close();
            delete(dir);
        }
    }
}
