import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import java.io.FileInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** airbyte-source needs no database: these tests check its output against Airbyte's own schemas. */
class AirbyteSourceTest {
    static final String PASSWORD = "AbC123dEf";
    static final String HOST = "ep-cool-darkness-123456.us-east-2.aws.neon.tech";
    static final String NEON = "postgresql://alex:" + PASSWORD + "@" + HOST + "/dbname?sslmode=require";
    static final ObjectMapper JSON = new ObjectMapper();
    // Copied from FACTS.md on purpose, not from the script: the test must catch a changed address.
    static final List<String> US = List.of("34.106.109.131", "34.106.196.165", "34.106.60.246", "34.106.229.69",
            "34.106.127.139", "34.106.218.58", "34.106.115.240", "34.106.225.141", "34.33.7.0/29");
    static final List<String> EU = List.of("13.37.4.46", "13.37.142.60", "35.181.124.238");

    @TempDir Path tmp;

    static JsonSchema schema(String version) throws Exception {
        JsonNode spec = JSON.readTree(Pg.repoRoot().resolve("tests/airbyte-spec/airbyte-source-postgres-spec-" + version + ".json").toFile());
        return JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V7).getSchema(spec);
    }

    static void assertValid(JsonNode config) throws Exception {
        for (String v : List.of("3.7", "3.8")) {
            Set<ValidationMessage> errors = schema(v).validate(config);
            assertTrue(errors.isEmpty(), "spec " + v + ": " + errors + " in " + config);
        }
    }

    static JsonNode config(Pg.Run r) throws Exception {
        assertEquals(0, r.exit(), r.all());
        return JSON.readTree(r.out());
    }

    @Test void neonConnectionStringGivesTheGuidesValuesAndValidatesAgainstBothSchemas() throws Exception {
        Pg.Run r = Pg.run(new AirbyteSource(), "--url", NEON);
        JsonNode c = config(r);
        JsonNode expected = JSON.readTree("""
                {"host": "ep-cool-darkness-123456.us-east-2.aws.neon.tech", "port": 5432, "database": "dbname",
                 "username": "alex", "schemas": ["public"], "ssl_mode": {"mode": "require"},
                 "replication_method": {"method": "CDC", "replication_slot": "airbyte_slot", "publication": "airbyte_publication"},
                 "tunnel_method": {"tunnel_method": "NO_TUNNEL"}}""");
        assertEquals(expected, c);
        assertTrue(c.get("port").isInt(), "port is a JSON number");
        List<String> order = new ArrayList<>();
        c.fieldNames().forEachRemaining(order::add);
        assertEquals(List.of("host", "port", "database", "username", "schemas", "ssl_mode", "replication_method", "tunnel_method"), order);
        assertValid(c);
        assertTrue(r.err().contains("enter it in Airbyte"), r.err());
    }

    @Test void passwordIsNeverPrintedUnlessAskedForAndThenOnlyInTheJson() throws Exception {
        for (String[] args : List.of(new String[] {"--url", NEON}, new String[] {"--url", NEON, "--form"},
                new String[] {"--url", NEON, "--sslmode", "prefer"}, new String[] {"--url", NEON, "--slot", "Bad"},
                new String[] {"--url", NEON.replace(".us-east-2", "-pooler.us-east-2")})) {
            Pg.Run r = Pg.run(new AirbyteSource(), args);
            assertFalse(r.all().contains(PASSWORD), String.join(" ", args) + ": " + r.all());
        }
        Pg.Run r = Pg.run(new AirbyteSource(), "--url", NEON, "--include-password");
        JsonNode c = config(r);
        assertEquals(PASSWORD, c.get("password").asText());
        assertEquals(1, r.out().split(PASSWORD, -1).length - 1, r.out());
        assertFalse(r.err().contains(PASSWORD), r.err());
        ((ObjectNode) c).remove("password");
        assertFalse(c.toString().contains(PASSWORD));
        assertValid(JSON.readTree(r.out()));
    }

    @Test void includePasswordWithoutAPasswordIsBadInput() {
        Pg.Run r = Pg.run(new AirbyteSource(), "--url", "postgresql://alex@" + HOST + "/dbname", "--include-password");
        assertEquals(2, r.exit(), r.all());
        assertTrue(r.err().contains("--include-password"), r.err());
    }

    /** A real CA certificate in PEM, taken from the JDK's trust store. */
    Path caPem() throws Exception {
        KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
        try (var in = new FileInputStream(Path.of(System.getProperty("java.home"), "lib", "security", "cacerts").toFile())) {
            ks.load(in, null);
        }
        List<String> aliases = Collections.list(ks.aliases());
        String alias = aliases.stream().filter(a -> a.contains("isrg")).findFirst().orElse(aliases.get(0));
        Certificate cert = ks.getCertificate(alias);
        Path file = tmp.resolve("ca.pem");
        Files.writeString(file, "-----BEGIN CERTIFICATE-----\n" + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(cert.getEncoded())
                + "\n-----END CERTIFICATE-----\n");
        return file;
    }

    @Test void verifyFullCarriesTheCaCertificateAndNeedsOne() throws Exception {
        Path pem = caPem();
        for (String mode : List.of("verify-full", "verify-ca")) {
            JsonNode c = config(Pg.run(new AirbyteSource(), "--url", NEON, "--sslmode", mode, "--ca-cert", pem.toString()));
            assertEquals(mode, c.get("ssl_mode").get("mode").asText());
            assertEquals(Files.readString(pem), c.get("ssl_mode").get("ca_certificate").asText());
            assertValid(c);

            Pg.Run missing = Pg.run(new AirbyteSource(), "--url", NEON, "--sslmode", mode);
            assertEquals(2, missing.exit(), missing.all());
            assertTrue(missing.err().contains("--ca-cert"), missing.err());
            assertEquals("", missing.out());
        }
        String viaUrl = "postgresql://alex@" + HOST + "/dbname?sslmode=verify-full&sslrootcert=" + pem;
        assertEquals(Files.readString(pem), config(Pg.run(new AirbyteSource(), "--url", viaUrl)).get("ssl_mode").get("ca_certificate").asText());
        Path notCert = Files.writeString(tmp.resolve("key.pem"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
        Pg.Run bad = Pg.run(new AirbyteSource(), "--url", NEON, "--sslmode", "verify-full", "--ca-cert", notCert.toString());
        assertEquals(2, bad.exit(), bad.all());
        assertTrue(bad.err().contains("not a PEM certificate"), bad.err());
        Pg.Run absent = Pg.run(new AirbyteSource(), "--url", NEON, "--sslmode", "verify-full", "--ca-cert", tmp.resolve("nope.pem").toString());
        assertEquals(2, absent.exit(), absent.all());
    }

    @Test void poolerHostIsRefusedWithTheDirectHost() {
        Pg.Run r = Pg.run(new AirbyteSource(), "--url", "postgresql://alex@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech/dbname");
        assertEquals(2, r.exit(), r.all());
        assertTrue(r.err().contains("use the direct host " + HOST), r.err());
        assertEquals("", r.out());
    }

    @Test void slotNamesFollowPostgresRules() throws Exception {
        for (String bad : List.of("Airbyte_Slot", "airbyte-slot", "airbyte slot", "slot\u00e9", "a".repeat(64), ""))
            assertEquals(2, Pg.run(new AirbyteSource(), "--url", NEON, "--slot", bad).exit(), bad);
        JsonNode c = config(Pg.run(new AirbyteSource(), "--url", NEON, "--slot", "a".repeat(63), "--publication", "Sales \"Pub\""));
        assertEquals("a".repeat(63), c.get("replication_method").get("replication_slot").asText());
        assertEquals("Sales \"Pub\"", c.get("replication_method").get("publication").asText());
        assertValid(c);
    }

    @Test void sslModesCdcRefusesAreBadInputAndDisableWarns() throws Exception {
        for (String mode : List.of("prefer", "allow")) {
            Pg.Run r = Pg.run(new AirbyteSource(), "--url", NEON, "--sslmode", mode);
            assertEquals(2, r.exit(), r.all());
            assertTrue(r.err().contains("use --sslmode require"), r.err());
        }
        Pg.Run r = Pg.run(new AirbyteSource(), "--url", NEON, "--sslmode", "disable");
        JsonNode c = config(r);
        assertEquals("disable", c.get("ssl_mode").get("mode").asText());
        assertTrue(r.err().contains("Airbyte Cloud refuses"), r.err());
        assertValid(c);
    }

    @Test void formListsEveryFieldOfTheDialog() {
        Pg.Run r = Pg.run(new AirbyteSource(), "--url", NEON, "--form", "--schema", "public", "--schema", "Sales Data");
        assertEquals(0, r.exit(), r.all());
        Map<String, String> rows = Map.of("Host", HOST, "Port", "5432", "Database Name", "dbname", "Username", "alex",
                "Password", "(the password from your connection string)", "Schemas", "public", "SSL Mode", "require",
                "Replication Method", "Logical Replication (CDC)", "Replication Slot", "airbyte_slot",
                "Publication", "airbyte_publication");
        for (var e : rows.entrySet())
            assertTrue(r.out().lines().anyMatch(l -> l.matches("\\s+" + e.getKey() + "\\s+\\Q" + e.getValue() + "\\E.*")),
                    e + " missing in\n" + r.out());
        assertTrue(r.out().contains("Sales Data"), r.out());
        Pg.Run shown = Pg.run(new AirbyteSource(), "--url", NEON, "--form", "--include-password");
        assertTrue(shown.out().lines().anyMatch(l -> l.matches("\\s+Password\\s+" + PASSWORD)), shown.out());
    }

    static List<String> addresses(String out) {
        return out.lines().filter(l -> !l.startsWith("#") && !l.isBlank()).toList();
    }

    @Test void ipAllowlistPrintsExactlyAirbyteCloudsAddresses() {
        List<String> both = new ArrayList<>(US);
        both.addAll(EU);
        for (var e : Map.of("us", US, "eu", EU, "all", both).entrySet()) {
            Pg.Run r = Pg.run(new AirbyteSource(), "--ip-allowlist", e.getKey());
            assertEquals(0, r.exit(), r.all());
            assertEquals(e.getValue(), addresses(r.out()), e.getKey());
            assertTrue(r.out().contains("Settings > IP Allow"), r.out());
        }
        assertEquals(both, addresses(Pg.run(new AirbyteSource(), "--ip-allowlist").out()));
        assertEquals(2, Pg.run(new AirbyteSource(), "--ip-allowlist", "asia").exit());
    }

    @Test void schemasWithCapitalsSpacesAndQuotesAreKeptExactly() throws Exception {
        JsonNode c = config(Pg.run(new AirbyteSource(), "--url", NEON, "--schema", "Sales Data", "--schema", "MixedCase",
                "--schema", "\"we\"\"ird\"", "--schema", "MixedCase"));
        assertEquals(List.of("Sales Data", "MixedCase", "we\"ird"), JSON.convertValue(c.get("schemas"), List.class));
        assertValid(c);
    }

    @Test void theValidatorCanFail() throws Exception {
        ObjectNode c = (ObjectNode) config(Pg.run(new AirbyteSource(), "--url", NEON));
        c.remove("replication_method");
        assertFalse(schema("3.8").validate(c).isEmpty(), "3.8 requires replication_method");
        c.put("port", "5432");
        assertFalse(schema("3.7").validate(c).isEmpty(), "3.7 wants an integer port");
    }

    @Test void setupCanComposeItThroughFieldsAndMethods() throws Exception {
        AirbyteSource s = new AirbyteSource();
        s.db.url = NEON;
        s.db.env = Map.of();
        s.slot = "airbyte_slot";
        s.publication = "airbyte_publication";
        s.schemas = List.of("Sales Data");
        Map<String, Object> c = s.configuration();
        assertEquals(List.of("Sales Data"), c.get("schemas"));
        assertEquals(5432, c.get("port"));
        assertFalse(c.containsKey("password"));
        assertValid(JSON.valueToTree(c));
        assertTrue(s.notes().stream().anyMatch(n -> n.contains("password")));
        assertTrue(s.form().contains("Sales Data"));
        s.slot = "Bad";
        Runbook.Failure f = assertThrows(Runbook.Failure.class, s::configuration);
        assertEquals(Runbook.BAD_INPUT, f.exitCode);
    }

    @Test void runsThroughTheRealLauncherAndAlias() throws Exception {
        ProcessBuilder pb = new ProcessBuilder(Pg.repoRoot().resolve("jbang").toString(), "airbyte-source", "--url", NEON)
                .directory(Pg.repoRoot().toFile()).redirectError(tmp.resolve("stderr").toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("PG") || k.equals("DATABASE_URL"));
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = Files.readString(tmp.resolve("stderr"));
        assertEquals(0, p.waitFor(), out + err);
        JsonNode c = JSON.readTree(out);
        assertEquals(HOST, c.get("host").asText());
        assertValid(c);
    }
}
