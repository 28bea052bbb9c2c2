import static org.junit.jupiter.api.Assertions.*;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.Comparator;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Doctor against servers of this class's own, for what cannot be done to the shared one: a standby, a wal_level
 * changed with a restart, a slot invalidated for want of WAL. (TLS: TlsTest.)
 */
@org.junit.jupiter.api.Tag(AllTests.MAJORS) // its behaviour depends on the major: see tests/README.md
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
        return Fixtures.finding(r, group, check).get("message").asText();
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
            Pg.Run r = Fixtures.doctorAt(url(standby, "sslmode=disable"));
            assertTrue(message(r, "server", "primary").startsWith("a standby"), r.out());
            if (Pg.major() < 16) {
                assertEquals("fail", Fixtures.status(r, "server", "primary"), r.out());
                assertEquals(1, r.exit());
                assertTrue(Fixtures.fix(r, "server", "primary").contains("connect to the primary"));
            } else {
                assertEquals("warn", Fixtures.status(r, "server", "primary"), r.out());
            }
        } finally {
            standby.close();
            delete(dir);
        }
        Pg.Run primary = Fixtures.doctor(Fixtures.shop());
        assertEquals("ok", Fixtures.status(primary, "server", "primary"), primary.out());
    }

    @Test void walLevelReplicaFailsUntilAlterSystemAndARestart() throws Exception {
        Path dir = Files.createTempDirectory("doctor-wal");
        EmbeddedPostgres pg = start(dir.resolve("data"), Map.of(), null);
        try {
            Pg.Run r = Fixtures.doctorAt(url(pg, "sslmode=disable"));
            assertEquals(1, r.exit(), r.all());
            assertEquals("fail", Fixtures.status(r, "server", "wal_level"), r.out());
            String fix = Fixtures.fix(r, "server", "wal_level");
            assertTrue(fix.startsWith("as a superuser:  ALTER SYSTEM SET wal_level = logical;"), fix);

            sql(pg, fix.substring(fix.indexOf("ALTER"), fix.indexOf(';')));
            pg.close();
            pg = start(dir.resolve("data"), Map.of(), null);
            Pg.Run after = Fixtures.doctorAt(url(pg, "sslmode=disable"));
            assertEquals("ok", Fixtures.status(after, "server", "wal_level"), after.out());
        } finally {
            pg.close();
            delete(dir);
        }
    }

    @Test void aSlotThatLostItsWalFailsUntilDroppedAndMadeAgain() throws Exception {
        Path dir = Files.createTempDirectory("doctor-lost");
        EmbeddedPostgres pg = start(dir.resolve("data"), Map.of("wal_level", "logical", "max_slot_wal_keep_size", "1MB"), null);
        try {
            String slot = Fixtures.SLOT;
            sql(pg, "CREATE TABLE t (id int PRIMARY KEY)", "CREATE PUBLICATION airbyte_publication FOR TABLE t",
                    "SELECT pg_create_logical_replication_slot('" + slot + "', 'pgoutput')");
            for (int i = 0; i < 4; i++) sql(pg, "INSERT INTO t VALUES (" + i + ")", "SELECT pg_switch_wal()");
            sql(pg, "CHECKPOINT");
            Pg.Run r = Fixtures.doctorAt(url(pg, "sslmode=disable"));
            assertEquals(1, r.exit(), r.all());
            assertEquals(java.util.List.of("slot/wal=fail"), Fixtures.failures(r));
            assertTrue(message(r, "slot", "wal").startsWith("invalidated (wal_status lost"), r.out());
            assertEquals("ok", Fixtures.status(r, "airbyte check", "verdict"), "Airbyte's own check does not see it");

            String fix = Fixtures.fix(r, "slot", "wal");
            sql(pg, fix.substring(0, fix.indexOf('\n')));
            assertEquals(0, Pg.run(new CreateSlot(), "--url", url(pg, "sslmode=disable"), "--slot", slot).exit());
            Pg.Run after = Fixtures.doctorAt(url(pg, "sslmode=disable"));
            assertEquals(0, after.exit(), after.all());
            assertEquals("ok", Fixtures.status(after, "slot", "wal"), after.out());
        } finally {
            pg.close();
            delete(dir);
        }
    }
}
