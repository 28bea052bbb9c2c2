import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayInputStream;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * No secret in any output. Every alias runs its success and failure paths, with --json and --dry-run, with a known
 * password given every way (in the URL, PGPASSWORD, the --password prompt, and a .pgpass file through ./jbang), and
 * the API commands with NEON_API_KEY, AIRBYTE_CLIENT_SECRET and AIRBYTE_API_TOKEN against local fakes that echo them
 * back in their errors. Nothing printed may hold any of them, nor a piece of the password.
 */
class SecretsTest {
    static final String ROLE = "secrets_owner", PASSWORD = "s3cret/Pw@S4fety#1?x", WRONG = "Wr0ng-Guess-9931";
    static final String SLOT = "secrets_slot", ENDPOINT = "ep-secret-sky-424242", PROJECT = "secret-sky-42424242";
    /** The password, its URL-encoded form and its pieces between the characters a URL parser splits on. */
    static final List<String> SECRETS = new ArrayList<>(List.of(PASSWORD, URLEncoder.encode(PASSWORD, StandardCharsets.UTF_8),
            "s3cret", "S4fety", WRONG));
    static { SECRETS.addAll(FakeApi.SECRETS); }
    static String db, neonDb;

    @BeforeAll static void database() throws Exception {
        Pg.sql("postgres", "DROP ROLE IF EXISTS " + ROLE, "CREATE ROLE " + ROLE + " LOGIN REPLICATION PASSWORD '" + PASSWORD + "'");
        db = Pg.freshDatabase("secrets", ROLE);
        try (Connection c = Pg.as(db, ROLE, PASSWORD); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE orders (id int PRIMARY KEY)");
            st.execute("CREATE TABLE logs (line text)");
        }
        // A database that says it is Neon on the wal_level=replica server: check-wal --enable goes to Neon's API.
        neonDb = "secrets_neon";
        try (Connection c = DriverManager.getConnection("jdbc:postgresql://localhost:" + Pg.replicaOnlyPort() + "/postgres", "postgres", "");
             Statement st = c.createStatement()) {
            st.execute("DROP DATABASE IF EXISTS " + neonDb);
            st.execute("CREATE DATABASE " + neonDb);
            st.execute("ALTER DATABASE " + neonDb + " SET neon.endpoint_id = '" + ENDPOINT + "'");
        }
    }

    @AfterAll static void drop() throws Exception {
        Pg.sql("postgres", "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'secrets%'",
                "DROP DATABASE " + db, "DROP ROLE " + ROLE);
    }

    /** How the password reaches a command: the URL to give, the environment, what to type at the prompt. */
    record Way(String name, String url, Map<String, String> env, String typed) {}

    static String url(String password) {
        return "postgresql://" + ROLE + (password == null ? "" : ":" + URLEncoder.encode(password, StandardCharsets.UTF_8))
                + "@localhost:" + Pg.port() + "/" + db + "?sslmode=disable";
    }

    /** One command: its alias, its arguments after the connection, and the exit code it must end with. */
    record Command(String alias, Supplier<Callable<?>> script, int exit, List<String> args) {}

    static Command cmd(String alias, Supplier<Callable<?>> script, int exit, String... args) {
        return new Command(alias, script, exit, List.of(args));
    }

    /** Each alias's success and failure paths; in this order they set the database up and take it down again. */
    static List<Command> commands(FakeApi airbyte) {
        String api = airbyte.url("/v1");
        return List.of(
                cmd("check-wal", CheckWal::new, 0), cmd("check-wal", CheckWal::new, 0, "--json"),
                cmd("grant-access", GrantAccess::new, 0, "--dry-run"), cmd("grant-access", GrantAccess::new, 0, "--json"),
                cmd("grant-access", GrantAccess::new, 2, "--schema", "nope"),
                cmd("create-publication", CreatePublication::new, 1, "--json"),
                cmd("create-publication", CreatePublication::new, 0, "--table", "public.orders", "--dry-run"),
                cmd("create-publication", CreatePublication::new, 0, "--table", "public.orders", "--json"),
                cmd("create-slot", CreateSlot::new, 1, "--slot", "secrets_other", "--publication", "nope"),
                cmd("create-slot", CreateSlot::new, 0, "--slot", SLOT, "--dry-run"),
                cmd("create-slot", CreateSlot::new, 0, "--slot", SLOT, "--json"),
                cmd("setup", Setup::new, 1, "--slot", SLOT, "--json"),
                cmd("setup", Setup::new, 0, "--slot", SLOT, "--table", "public.orders", "--dry-run"),
                cmd("setup", Setup::new, 0, "--slot", SLOT, "--table", "public.orders", "--json"),
                cmd("doctor", Doctor::new, 0, "--slot", SLOT, "--table", "public.orders", "--deep"),
                cmd("doctor", Doctor::new, 1, "--slot", SLOT, "--role", "nope", "--json"),
                cmd("slot-status", SlotStatus::new, 1, "--slot", SLOT),
                cmd("slot-status", SlotStatus::new, 1, "--json"),
                cmd("slot-status", SlotStatus::new, 2, "--slot", "nope"),
                cmd("airbyte-source", AirbyteSource::new, 0, "--slot", SLOT),
                cmd("airbyte-source", AirbyteSource::new, 0, "--slot", SLOT, "--form"),
                cmd("airbyte-source", AirbyteSource::new, 2, "--slot", "Bad-Slot"),
                cmd("airbyte-source", AirbyteSource::new, 0, "--slot", SLOT, "--create", "--workspace-id", "w-1", "--api-url", api, "--dry-run"),
                cmd("airbyte-source", AirbyteSource::new, 0, "--slot", SLOT, "--create", "--workspace-id", "w-1", "--api-url", api),
                cmd("airbyte-source", AirbyteSource::new, 1, "--slot", "secrets_other", "--create", "--workspace-id", "w-1", "--api-url", api),
                cmd("teardown", Teardown::new, 2, "--revoke"),
                cmd("teardown", Teardown::new, 0, "--slot", SLOT, "--dry-run"),
                cmd("teardown", Teardown::new, 0, "--slot", SLOT, "--yes", "--json"));
    }

    static Pg.Run run(Command c, Way way, String url) {
        List<String> args = new ArrayList<>(List.of("--url", url));
        args.addAll(c.args());
        if (way.typed() != null) args.add("--password");
        java.io.InputStream stdin = System.in;
        if (way.typed() != null) System.setIn(new ByteArrayInputStream((way.typed() + "\n").getBytes(StandardCharsets.UTF_8)));
        try {
            Callable<?> script = c.script().get();
            if (script instanceof AirbyteSource s) s.api.access.backoffMillis = 1;
            return Pg.run(script, way.env(), args.toArray(String[]::new));
        } finally {
            System.setIn(stdin);
        }
    }

    /** What was printed that holds a secret, with the secret shown as <SECRET>; empty when nothing. */
    static List<String> leaks(String what, String printed) {
        List<String> found = new ArrayList<>();
        for (String secret : SECRETS)
            if (printed.contains(secret)) found.add(what + " printed a secret: " + printed.replace(secret, "<SECRET>"));
        return found;
    }

    @Test void noSecretInAnyOutputOfAnyAliasHoweverThePasswordIsGiven() throws Exception {
        assertNull(System.console(), "the prompt is read from System.in only without a console");
        List<String> problems = new ArrayList<>();
        Map<String, String> airbyteEnv = Map.of("AIRBYTE_CLIENT_ID", "client-42", "AIRBYTE_CLIENT_SECRET", FakeApi.AIRBYTE_CLIENT_SECRET);
        List<Way> ways = List.of(new Way("url", url(PASSWORD), airbyteEnv, null),
                new Way("PGPASSWORD", url(null), with(airbyteEnv, "PGPASSWORD", PASSWORD), null),
                new Way("prompt", url(null), airbyteEnv, PASSWORD));
        try (FakeApi airbyte = new FakeApi(); FakeApi neon = new FakeApi()) {
            airbyte.on("POST /v1/applications/token", FakeApi.Reply.ok(Map.of("access_token", FakeApi.AIRBYTE_TOKEN, "expires_in", 180)));
            airbyte.on("GET /v1/sources", FakeApi.Reply.ok(Map.of("data", List.of())));
            airbyte.on("POST /v1/sources", r -> FakeApi.Reply.ok(Map.of("sourceId", "source-1")));
            for (Way way : ways) {
                for (Command c : commands(airbyte)) {
                    Pg.Run r = run(c, way, way.url());
                    String what = way.name() + ": " + c.alias() + " " + String.join(" ", c.args());
                    if (r.exit() != c.exit()) problems.add(what + ": exit " + r.exit() + ", not " + c.exit() + ": " + r.all());
                    problems.addAll(leaks(what, r.all()));
                }
            }
            // The wrong password, and the password written into the URL without percent-encoding (a / ? # @ in it).
            Way given = new Way("url", null, airbyteEnv, null);
            String closed = url(PASSWORD).replace(":" + Pg.port() + "/", ":" + Pg.freePort() + "/");
            String unknown = url(PASSWORD).replace("localhost", "no-such-host.invalid");
            Map<String, Integer> badUrls = new java.util.LinkedHashMap<>();
            for (String connects : List.of(url(WRONG), closed, unknown)) badUrls.put(connects, 3);
            for (String refused : List.of(url(null).replace("@", ":" + PASSWORD + "@"), url(null).replace("@", ":" + PASSWORD.replace("@", "%40") + "@")))
                badUrls.put(refused, 2); // before connecting
            for (String bad : badUrls.keySet())
                for (Command c : List.of(cmd("check-wal", CheckWal::new, -1), cmd("setup", Setup::new, -1, "--slot", SLOT, "--json"),
                        cmd("doctor", Doctor::new, -1, "--json"), cmd("airbyte-source", AirbyteSource::new, -1, "--form"))) {
                    Pg.Run r = run(new Command(c.alias(), c.script(), c.exit(), with(c.args(), "--wait", "0")), given, bad);
                    String what = c.alias() + " with a bad URL";
                    boolean connects = badUrls.get(bad) == 3; // airbyte-source does not: it prints the configuration
                    if (r.exit() != badUrls.get(bad) && !(c.alias().equals("airbyte-source") && connects))
                        problems.add(what + ": exit " + r.exit() + ": " + r.all());
                    problems.addAll(leaks(what, r.all()));
                }

            // The API commands with their keys, when the API refuses them and echoes them back.
            airbyte.on("POST /v1/applications/token", FakeApi.Reply.json(401, Map.of("message", "bad secret " + FakeApi.AIRBYTE_CLIENT_SECRET)));
            neon.neonProject(PROJECT, "secret", "{\"allowed_ips\": {\"ips\": [\"203.0.113.7\"]}}");
            Map<String, String> neonEnv = neon.neonEnv();
            String neonUrl = "postgresql://postgres:" + URLEncoder.encode(PASSWORD, StandardCharsets.UTF_8) + "@127.0.0.1:"
                    + Pg.replicaOnlyPort() + "/" + neonDb + "?sslmode=disable";
            List<Pg.Run> api = new ArrayList<>(List.of(
                    Pg.run(quick(new AirbyteSource()), airbyteEnv, "--url", url(PASSWORD), "--create", "--workspace-id", "w-1",
                            "--api-url", airbyte.url("/v1"), "--skip-checks"),
                    Pg.run(new AirbyteSource(), Map.of("AIRBYTE_API_TOKEN", FakeApi.AIRBYTE_TOKEN), "--url", url(PASSWORD), "--slot", SLOT,
                            "--create", "--workspace-id", "w-1", "--api-url", airbyte.url("/v1"), "--skip-checks", "--dry-run"),
                    Pg.run(new AllowAirbyteIps(), neonEnv, "--project-id", PROJECT, "--region", "eu", "--dry-run", "--json"),
                    Pg.run(new AllowAirbyteIps(), neonEnv, "--project-id", PROJECT, "--region", "eu"),
                    Pg.run(new CheckWal(), neonEnv, "--url", neonUrl, "--enable", "--project-id", PROJECT, "--dry-run"),
                    Pg.run(new CheckWal(), neonEnv, "--url", neonUrl, "--enable", "--project-id", PROJECT, "--dry-run", "--json")));
            neon.on("GET /api/v2/projects/" + PROJECT, FakeApi.Reply.json(401, Map.of("message", "key " + FakeApi.NEON_KEY + " is not valid")));
            api.add(Pg.run(new AllowAirbyteIps(), neonEnv, "--project-id", PROJECT, "--region", "eu"));
            api.add(Pg.run(new CheckWal(), neonEnv, "--url", neonUrl, "--enable", "--project-id", PROJECT, "--yes"));
            List<Integer> exits = new ArrayList<>();
            for (Pg.Run r : api) exits.add(r.exit());
            assertEquals(List.of(3, 0, 0, 0, 0, 0, 3, 3), exits, "API runs: " + exits);
            for (Pg.Run r : api) problems.addAll(leaks("an API command", r.all()));
        }
        assertTrue(problems.isEmpty(), String.join("\n", problems));
    }

    /** Target.toString, the one place a URL is written back, masks the password. */
    @Test void theUrlAsShownMasksThePassword() {
        Db d = new Db();
        d.url = url(PASSWORD);
        d.env = Map.of();
        String shown = d.target().toString();
        assertEquals("postgresql://" + ROLE + ":****@localhost:" + Pg.port() + "/" + db + "?sslmode=disable", shown);
        assertEquals(List.of(), leaks("Target.toString", shown));
    }

    /**
     * A password of digits, then an unencoded /: {@code user:7731/9Zq@host/db} parses as host "user", port 7731 and
     * database "9Zq@host/db", so an error would show pieces of the password. It is refused before connecting.
     */
    @Test void aDigitsPasswordBeforeAnUnencodedSlashIsRefusedWithoutShowingIt() {
        for (String password : List.of("7731/9Zq", "7731/9Zq?k")) { // a ? after the / without a key=value is no query
            String url = "postgresql://" + ROLE + ":" + password + "@localhost:" + Pg.port() + "/" + db + "?sslmode=disable";
            for (Callable<?> script : List.<Callable<?>>of(new CheckWal(), new Doctor(), new Setup())) {
                Pg.Run r = Pg.run(script, "--url", url, "--wait", "0");
                assertEquals(2, r.exit(), r.all());
                assertFalse(r.all().contains("7731") || r.all().contains("9Zq"), r.all());
            }
        }
        Db d = new Db();
        d.url = "postgresql://localhost:5432/db?user=me@corp"; // an @ in the query is no password
        d.env = Map.of();
        assertEquals(5432, d.target().port);
    }

    /** An API that echoes a secret in a JSON error body escapes its quotes and backslashes: hidden all the same. */
    @Test void aSecretIsHiddenAlsoAsAJsonStringHoldsIt() throws Exception {
        String secret = "Js\"on\\Pw/" + java.util.UUID.randomUUID();
        Secrets.add(secret);
        for (String body : List.of(new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(Map.of("error", "bad key " + secret)),
                "{\"error\":\"bad key " + secret.replace("\\", "\\\\").replace("\"", "\\\"").replace("/", "\\/") + "\"}"))
            assertEquals("{\"error\":\"bad key ****\"}", Secrets.redact(body), body);
    }

    /** A connection string given without --url (as psql takes it) is refused without echoing its password. */
    @Test void aUrlWithoutUrlIsRefusedWithoutShowingItsPassword() {
        for (Callable<?> script : List.<Callable<?>>of(new CheckWal(), new Setup(), new Teardown())) {
            Pg.Run r = Pg.run(script, url(PASSWORD));
            assertEquals(2, r.exit(), r.all());
            assertTrue(r.err().strip().lines().count() == 1 && r.err().contains("--url"), r.err());
            assertEquals(List.of(), leaks("a URL without --url", r.all()));
        }
    }

    /**
     * An error nobody foresaw (a bug) is printed as one line, and with RUNBOOK_DEBUG as a stack trace: neither may show
     * a password read so far, from the URL or $PGPASSWORD, as given or percent-encoded. Fresh passwords, so that
     * other tests cannot have registered them.
     */
    @Test void anUnforeseenErrorIsPrintedWithoutThePasswordsReadSoFar() {
        String inUrl = "Url-" + java.util.UUID.randomUUID() + "/?", inEnv = "Env-" + java.util.UUID.randomUUID();
        assertEquals(3, Pg.run(new CheckWal(), "--url", url(inUrl), "--wait", "0").exit()); // wrong password: refused
        assertEquals(3, Pg.run(new CheckWal(), Map.of("PGPASSWORD", inEnv), "--url", url(null), "--wait", "0").exit());
        List<String> secrets = List.of(inUrl, URLEncoder.encode(inUrl, StandardCharsets.UTF_8), inEnv);
        Exception bug = new IllegalStateException("cannot use " + url(inUrl) + " with " + inEnv,
                new RuntimeException("password " + inUrl));

        java.io.StringWriter trace = new java.io.StringWriter();
        Cli.unexpected("check-wal", bug, new java.io.PrintWriter(trace), true);
        var line = new java.io.StringWriter();
        var cmd = Cli.cli(new Buggy(bug));
        cmd.setErr(new java.io.PrintWriter(line));
        assertEquals(Exit.BUG.code, cmd.execute(), "a bug has its own exit code");

        for (String printed : List.of(trace.toString(), line.toString())) {
            assertTrue(printed.contains("unexpected error: IllegalStateException: cannot use postgresql://" + ROLE + ":****@"), printed);
            for (String secret : secrets) assertFalse(printed.contains(secret), printed.replace(secret, "<SECRET>"));
        }
        assertTrue(trace.toString().contains("Caused by: java.lang.RuntimeException: password ****"), trace.toString());
        assertTrue(trace.toString().contains("at SecretsTest.anUnforeseenErrorIsPrintedWithoutThePasswordsReadSoFar"), trace.toString());
    }

    @picocli.CommandLine.Command(name = "buggy")
    record Buggy(Exception bug) implements Callable<Integer> {
        public Integer call() throws Exception { throw bug; }
    }

    static List<String> with(List<String> list, String... more) {
        List<String> all = new ArrayList<>(list);
        all.addAll(List.of(more));
        return all;
    }

    static AirbyteSource quick(AirbyteSource s) { s.api.access.backoffMillis = 1; return s; }

    static Map<String, String> with(Map<String, String> env, String key, String value) {
        Map<String, String> m = new java.util.HashMap<>(env);
        m.put(key, value);
        return m;
    }

    /** The password from a .pgpass file (PGPASSFILE), through the real launcher: success, failure, --json, --dry-run. */
    @Test void noSecretWhenThePasswordComesFromAPgpassFile() throws Exception {
        Path pgpass = Files.createTempFile("pgpass", "");
        Files.writeString(pgpass, "localhost:" + Pg.port() + ":" + db + ":" + ROLE + ":" + PASSWORD.replace("\\", "\\\\").replace(":", "\\:") + "\n");
        Map<String, String> env = Map.of("PGPASSFILE", pgpass.toString());
        List<LauncherTest.Result> runs = List.of(
                LauncherTest.jbang(env, "setup", "--url", url(null), "--slot", SLOT, "--table", "public.orders", "--dry-run"),
                LauncherTest.jbang(env, "doctor", "--url", url(null), "--slot", SLOT, "--role", "nope", "--json"));
        assertEquals(0, runs.get(0).exit(), runs.get(0).out() + runs.get(0).err());
        assertEquals(1, runs.get(1).exit(), runs.get(1).out() + runs.get(1).err());
        Files.writeString(pgpass, "localhost:" + Pg.port() + ":" + db + ":" + ROLE + ":" + WRONG + "\n");
        LauncherTest.Result wrong = LauncherTest.jbang(env, "setup", "--url", url(null), "--slot", SLOT, "--json");
        assertEquals(3, wrong.exit(), wrong.out() + wrong.err());
        List<String> problems = new ArrayList<>();
        for (LauncherTest.Result r : List.of(runs.get(0), runs.get(1), wrong)) problems.addAll(leaks("./jbang", r.out() + r.err()));
        assertTrue(problems.isEmpty(), String.join("\n", problems));
    }
}
