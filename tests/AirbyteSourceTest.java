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
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * airbyte-source's output checked against Airbyte's own schemas (with --offline: from the options alone, as these tests
 * use hosts that do not exist), and its look-up of the --schema names on a real database.
 */
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

    /** A database as alex sees it: schemas to find, one empty, one alex may not use, one whose table alex may not read. */
    static String db;
    static final String WEIRD = "we'ird \"Sales\"; DROP SCHEMA sales; --";

    @BeforeAll static void database() throws Exception {
        db = Pg.freshDatabase("airbytesource");
        String weird = "\"" + WEIRD.replace("\"", "\"\"") + "\"";
        Pg.sql(db, "CREATE TABLE public.orders (id int PRIMARY KEY)", "ALTER TABLE public.orders OWNER TO " + Pg.OWNER,
                "CREATE SCHEMA sales AUTHORIZATION " + Pg.OWNER, "CREATE TABLE sales.invoices (id int)",
                "ALTER TABLE sales.invoices OWNER TO " + Pg.OWNER,
                "CREATE SCHEMA " + weird + " AUTHORIZATION " + Pg.OWNER, "CREATE VIEW " + weird + ".v AS SELECT 1 AS one",
                "ALTER VIEW " + weird + ".v OWNER TO " + Pg.OWNER,
                "CREATE SCHEMA empty AUTHORIZATION " + Pg.OWNER,
                "CREATE SCHEMA locked AUTHORIZATION " + Pg.APP, "CREATE TABLE locked.secrets (id int)",
                "ALTER TABLE locked.secrets OWNER TO " + Pg.APP,
                "CREATE SCHEMA hidden AUTHORIZATION " + Pg.APP, "GRANT USAGE ON SCHEMA hidden TO " + Pg.OWNER,
                "CREATE TABLE hidden.a (id int)", "CREATE TABLE hidden.b (id int)",
                "ALTER TABLE hidden.a OWNER TO " + Pg.APP, "ALTER TABLE hidden.b OWNER TO " + Pg.APP);
    }

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
        Pg.Run r = Pg.run(new AirbyteSource(), "--url", NEON, "--offline");
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

    /** Issue 12 (15): Neon's channel_binding=require reaches Airbyte's JDBC URL parameters, valid in both specs. */
    @Test void channelBindingRequiredByTheUrlIsRequiredOfAirbyteToo() throws Exception {
        Pg.Run r = Pg.run(new AirbyteSource(), "--url", NEON + "&channel_binding=require", "--offline");
        JsonNode c = config(r);
        assertEquals("channelBinding=require", c.get("jdbc_url_params").asText());
        assertValid(c);
        String form = Pg.run(new AirbyteSource(), "--url", NEON + "&channel_binding=require", "--offline", "--form").out();
        assertTrue(form.matches("(?s).*JDBC URL Parameters +channelBinding=require\n.*"), form);
        assertNull(config(Pg.run(new AirbyteSource(), "--url", NEON + "&channel_binding=prefer", "--offline")).get("jdbc_url_params"));
    }

    @Test void passwordIsNeverPrintedUnlessAskedForAndThenOnlyInTheJson() throws Exception {
        for (String[] args : List.of(new String[] {"--url", NEON, "--offline"}, new String[] {"--url", NEON, "--form", "--offline"},
                new String[] {"--url", NEON, "--sslmode", "prefer"}, new String[] {"--url", NEON, "--slot", "Bad"},
                new String[] {"--url", NEON.replace(".us-east-2", "-pooler.us-east-2")})) {
            Pg.Run r = Pg.run(new AirbyteSource(), args);
            assertFalse(r.all().contains(PASSWORD), String.join(" ", args) + ": " + r.all());
        }
        Pg.Run r = Pg.run(new AirbyteSource(), "--url", NEON, "--include-password", "--offline");
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
            JsonNode c = config(Pg.run(new AirbyteSource(), "--url", NEON, "--sslmode", mode, "--ca-cert", pem.toString(), "--offline"));
            assertEquals(mode, c.get("ssl_mode").get("mode").asText());
            assertEquals(Files.readString(pem), c.get("ssl_mode").get("ca_certificate").asText());
            assertValid(c);

            Pg.Run missing = Pg.run(new AirbyteSource(), "--url", NEON, "--sslmode", mode);
            assertEquals(2, missing.exit(), missing.all());
            assertTrue(missing.err().contains("--ca-cert"), missing.err());
            assertEquals("", missing.out());
        }
        String viaUrl = "postgresql://alex@" + HOST + "/dbname?sslmode=verify-full&sslrootcert=" + pem;
        assertEquals(Files.readString(pem), config(Pg.run(new AirbyteSource(), "--url", viaUrl, "--offline")).get("ssl_mode").get("ca_certificate").asText());
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
        JsonNode c = config(Pg.run(new AirbyteSource(), "--url", NEON, "--slot", "a".repeat(63), "--publication", "Sales \"Pub\"", "--offline"));
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
        Pg.Run r = Pg.run(new AirbyteSource(), "--url", NEON, "--sslmode", "disable", "--offline");
        JsonNode c = config(r);
        assertEquals("disable", c.get("ssl_mode").get("mode").asText());
        assertTrue(r.err().contains("Airbyte Cloud refuses"), r.err());
        assertValid(c);
    }

    @Test void formListsEveryFieldOfTheDialog() {
        Pg.Run r = Pg.run(new AirbyteSource(), "--url", NEON, "--form", "--schema", "public", "--schema", "Sales Data", "--offline");
        assertEquals(0, r.exit(), r.all());
        Map<String, String> rows = Map.of("Host", HOST, "Port", "5432", "Database Name", "dbname", "Username", "alex",
                "Password", "(the password from your connection string)", "Schemas", "public", "SSL Mode", "require",
                "Replication Method", "Logical Replication (CDC)", "Replication Slot", "airbyte_slot",
                "Publication", "airbyte_publication");
        for (var e : rows.entrySet())
            assertTrue(r.out().lines().anyMatch(l -> l.matches("\\s+" + e.getKey() + "\\s+\\Q" + e.getValue() + "\\E.*")),
                    e + " missing in\n" + r.out());
        assertTrue(r.out().contains("Sales Data"), r.out());
        Pg.Run shown = Pg.run(new AirbyteSource(), "--url", NEON, "--form", "--include-password", "--offline");
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
                "--schema", "\"we\"\"ird\"", "--schema", "MixedCase", "--offline"));
        assertEquals(List.of("Sales Data", "MixedCase", "we\"ird"), JSON.convertValue(c.get("schemas"), List.class));
        assertValid(c);
    }

    @Test void theValidatorCanFail() throws Exception {
        ObjectNode c = (ObjectNode) config(Pg.run(new AirbyteSource(), "--url", NEON, "--offline"));
        c.remove("replication_method");
        assertFalse(schema("3.8").validate(c).isEmpty(), "3.8 requires replication_method");
        c.put("port", "5432");
        assertFalse(schema("3.7").validate(c).isEmpty(), "3.7 wants an integer port");
    }

    @Test void itsConfigurationIsBuiltFromItsOptionsWithoutConnecting() throws Exception {
        AirbyteSource s = new AirbyteSource();
        s.db.url = NEON;
        s.db.env = Map.of();
        s.schemas = List.of("Sales Data");
        assertFalse(s.offline, "configuration() does not connect even without --offline");
        Map<String, Object> c = s.configuration();
        assertEquals(List.of("Sales Data"), c.get("schemas"));
        assertEquals(5432, c.get("port"));
        assertFalse(c.containsKey("password"));
        assertValid(JSON.valueToTree(c));
        assertTrue(s.notes().stream().anyMatch(n -> n.contains("password")));
        assertTrue(s.form().contains("Sales Data"));
        s.slotOption.name = "Bad";
        Failure f = assertThrows(Failure.class, s::configuration);
        assertEquals(Exit.BAD_INPUT, f.exit);
    }

    @Test void runsThroughTheRealLauncherAndAlias() throws Exception {
        ProcessBuilder pb = new ProcessBuilder(Pg.repoRoot().resolve("jbang").toString(), "airbyte-source", "--url", NEON, "--offline")
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

    // ---- the look-up of the --schema names ------------------------------------------------------------------------

    /** airbyte-source on the test database, as alex. */
    static Pg.Run source(String... more) {
        List<String> args = new ArrayList<>(List.of("--url", Pg.url(db)));
        args.addAll(List.of(more));
        return Pg.run(new AirbyteSource(), args.toArray(String[]::new));
    }

    /** Exit 2, nothing on stdout, and one line on stderr: the one given. */
    static void assertRefused(String line, Pg.Run r) {
        assertEquals(2, r.exit(), r.all());
        assertEquals("", r.out(), "nothing printed, so > source.json gets no configuration to use");
        assertEquals("airbyte-source: " + line, r.err().strip());
    }

    @Test void aMistypedSchemaIsBadInputWithTheNameMeantAndPrintsNothing() throws Exception {
        assertRefused("--schema 'pubic' does not exist in database " + db + "; did you mean public?", source("--schema", "pubic"));
        assertRefused("--schema 'pbulic' does not exist in database " + db + "; did you mean public?", source("--schema", "pbulic"));
        assertRefused("--schema 'sale' does not exist in database " + db + "; did you mean sales?",
                source("--schema", "public", "--schema", "sale", "--form"));
        assertRefused("--schema 'inventory' does not exist in database " + db + ": check the name (case-sensitive; "
                + "\\dn in psql lists the schemas)", source("--schema", "inventory"));
        Pg.Run byDefault = Pg.run(new AirbyteSource(), Map.of("DATABASE_URL", Pg.url(db)));
        assertEquals(List.of("public"), JSON.convertValue(JSON.readTree(byDefault.out()).get("schemas"), List.class), byDefault.all());
    }

    @Test void aNameThatDiffersOnlyInCaseSaysWhichOneExists() {
        assertRefused("--schema 'Sales' does not exist in database " + db + "; did you mean sales? (names are case-sensitive)",
                source("--schema", "Sales"));
        assertRefused("--schema 'PUBLIC' does not exist in database " + db + "; did you mean public? (names are case-sensitive)",
                source("--schema", "PUBLIC", "--form"));
        assertRefused("--schema 'Pubic' (did you mean public?), 'Sales' (did you mean sales?) and 'inventory' do not exist in "
                + "database " + db + ": check the names (case-sensitive; \\dn in psql lists the schemas)",
                source("--schema", "Pubic", "--schema", "sales", "--schema", "Sales", "--schema", "inventory"));
    }

    @Test void theNameMeantIsTheOneThatDiffersInCaseElseTheNearestWithinAFewLetters() {
        List<String> names = List.of("Sales", "public", "sales", "salts");
        assertEquals("sales", SchemaLookup.meant("SALES", List.of("sales", "salts")));
        assertEquals("Sales", SchemaLookup.meant("SALES", names), "case first, even with a nearer name in another case");
        assertEquals("public", SchemaLookup.meant("pubilc", names));
        assertEquals("public", SchemaLookup.meant("publics", names));
        assertNull(SchemaLookup.meant("orders", names));
        assertNull(SchemaLookup.meant("pb", List.of("pg")), "two letters are too short to guess from");
        assertNull(SchemaLookup.meant("pubxyz", names), "three edits away");
        assertEquals(1, SchemaLookup.distance("pubic", "public"));
        assertEquals(1, SchemaLookup.distance("pbulic", "public"));
        assertEquals(3, SchemaLookup.distance("", "abc"));
    }

    @Test void schemasThatExistGiveTheConfigurationAndNamesNeverBecomeSql() throws Exception {
        String before = Pg.catalog(db);
        Pg.Run r = source("--schema", "public", "--schema", "sales", "--schema", WEIRD);
        JsonNode c = config(r);
        assertEquals(List.of("public", "sales", WEIRD), JSON.convertValue(c.get("schemas"), List.class));
        assertFalse(r.err().contains("discover"), "each has something alex may read: " + r.err());
        assertRefused("--schema 'x'); DROP SCHEMA sales; --' does not exist in database " + db + ": check the name "
                + "(case-sensitive; \\dn in psql lists the schemas)", source("--schema", "x'); DROP SCHEMA sales; --"));
        assertEquals(before, Pg.catalog(db), "read only");
    }

    @Test void theLookUpIsOneQueryForAllTheNames() {
        int one = Pg.statements(() -> assertEquals(0, source("--schema", "public").exit()));
        int four = Pg.statements(() -> assertEquals(0, source("--schema", "public", "--schema", "sales", "--schema", WEIRD,
                "--schema", "empty").exit()));
        assertEquals(one, four, "as many statements for four schemas as for one");
        assertTrue(one <= 2, "the look-up, and at most a BEGIN READ ONLY sent with it: " + one);
        assertEquals(0, Pg.statements(() -> assertEquals(0, source("--schema", "public", "--offline").exit())), "--offline sends nothing");
    }

    @Test void aSchemaWhereTheUserMayReadNothingIsAWarningWithTheFix() throws Exception {
        Pg.Run r = source("--schema", "empty", "--schema", "locked", "--schema", "hidden", "--schema", "public");
        JsonNode c = config(r);
        assertEquals(List.of("empty", "locked", "hidden", "public"), JSON.convertValue(c.get("schemas"), List.class));
        String fix = "; fix, connected as the owner of its tables:  jbang grant-access --url '" + Invocation.withoutPassword(Pg.url(db))
                + "' --password --role " + Pg.OWNER + " --schema ";
        List<String> warnings = r.err().lines().filter(l -> l.contains("discover")).toList(); // not localhost's, nor sslmode's
        assertEquals(List.of("warning: schema 'empty' has no tables or views yet: Airbyte would discover nothing there (tables "
                        + "created later appear when Airbyte refreshes the source's schema)",
                "warning: alex has no USAGE on schema 'locked': Airbyte, connecting as alex, would discover none of its 1 table or view" + fix + "locked",
                "warning: alex may SELECT none of the 2 tables and views in schema 'hidden': Airbyte, connecting as alex, would "
                        + "discover nothing there" + fix + "hidden"), warnings);
    }

    @Test void offlinePrintsTheConfigurationWithoutConnecting() throws Exception {
        String closed = "postgresql://alex:" + PASSWORD + "@localhost:" + Pg.freePort() + "/shop?sslmode=disable";
        Pg.Run r = Pg.run(new AirbyteSource(), "--url", closed, "--schema", "pubic", "--offline");
        JsonNode c = config(r);
        assertEquals(List.of("pubic"), JSON.convertValue(c.get("schemas"), List.class), "not checked");
        assertEquals("shop", c.get("database").asText());
        assertFalse(r.err().contains("cannot connect") || r.err().contains("discover"), r.err());
        Pg.Run form = Pg.run(new AirbyteSource(), "--url", closed, "--form", "--offline");
        assertEquals(0, form.exit(), form.all());
        assertTrue(form.out().contains("Airbyte: Sources > + New source > Postgres"), form.out());
    }

    @Test void anUnreachableDatabaseIsExit3WithTheWayRoundItAndPrintsNothing() {
        int port = Pg.freePort();
        String closed = "postgresql://alex:" + PASSWORD + "@localhost:" + port + "/shop?sslmode=disable";
        for (String[] more : List.of(new String[0], new String[] {"--form"}, new String[] {"--form", "--ip-allowlist", "eu"})) {
            List<String> args = new ArrayList<>(List.of("--url", closed, "--wait", "0"));
            args.addAll(List.of(more));
            Pg.Run r = Pg.run(new AirbyteSource(), args.toArray(String[]::new));
            assertEquals(3, r.exit(), r.all());
            assertEquals("", r.out(), String.join(" ", more));
            assertEquals(1, r.err().lines().count(), r.err());
            assertTrue(r.err().startsWith("airbyte-source: cannot connect to alex@localhost:" + port + "/shop"), r.err());
            assertTrue(r.err().contains("--offline prints the configuration without connecting"), r.err());
            assertFalse(r.all().contains(PASSWORD), r.all());
        }
        Pg.Run wrongDatabase = source("--dbname", "no_such_database");
        assertEquals(3, wrongDatabase.exit(), wrongDatabase.all());
        assertTrue(wrongDatabase.err().contains("'no_such_database' does not exist") && wrongDatabase.err().contains("--offline"), wrongDatabase.err());
        Pg.Run ipsOnly = Pg.run(new AirbyteSource(), "--url", closed, "--ip-allowlist", "eu");
        assertEquals(0, ipsOnly.exit(), "the addresses alone need no database: " + ipsOnly.all());
    }

    @Test void createChecksTheSchemasBeforeSendingAnything() throws Exception {
        try (FakeApi airbyte = new FakeApi()) {
            airbyte.on("GET /v1/sources", FakeApi.Reply.ok(Map.of("data", List.of())));
            airbyte.on("POST /v1/sources", FakeApi.Reply.ok(Map.of("sourceId", "created-by-mistake")));
            Map<String, String> token = Map.of("AIRBYTE_API_TOKEN", FakeApi.AIRBYTE_TOKEN);
            List<String> create = List.of("--url", Pg.url(db), "--create", "--workspace-id", "w-1", "--api-url", airbyte.url("/v1"));
            for (String dryRun : List.of("--dry-run", "--name")) { // --name shop: a real run
                List<String> args = new ArrayList<>(create);
                args.addAll(dryRun.equals("--name") ? List.of("--name", "shop") : List.of(dryRun));
                args.addAll(List.of("--schema", "public", "--schema", "Sales"));
                Pg.Run r = FakeApi.run(new AirbyteSource(), token, args.toArray(String[]::new));
                assertRefused("--schema 'Sales' does not exist in database " + db + " (nothing was sent); did you mean "
                        + "sales? (names are case-sensitive)", r);
            }
            List<String> offline = new ArrayList<>(create);
            offline.add("--offline");
            Pg.Run r = FakeApi.run(new AirbyteSource(), token, offline.toArray(String[]::new));
            assertEquals(2, r.exit(), r.all());
            assertTrue(r.err().contains("--create does not go with --offline") && r.err().contains("--skip-checks"), r.err());
            assertEquals(List.of(), airbyte.log(), "nothing was sent");
        }
    }
}
