import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Bad input to every alias, as a table: each row is an alias, its arguments, the exit code its --help documents and
 * words its one-line error must hold (the input, and the fix). Every row runs in-process against one database whose
 * catalog must be the same after the row as before; and a table {@code t} that the injection strings try to drop.
 */
class BadInputTest {
    static final String SLOT = "badinput_slot", INJECT_QUOTE = "x\"; DROP TABLE t; --", INJECT_LITERAL = "'); DROP TABLE t; --";
    static final List<String> INJECTIONS = List.of(INJECT_QUOTE, INJECT_LITERAL);
    static final FakeApi airbyte = startApi();
    static String db, baseline;

    static FakeApi startApi() {
        try {
            FakeApi api = new FakeApi();
            api.on("GET /v1/sources", FakeApi.Reply.ok(Map.of("data", List.of())));
            api.on("POST /v1/sources", FakeApi.Reply.ok(Map.of("sourceId", "created-by-mistake")));
            return api;
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Every alias that takes input, made fresh for each run. airbyte-source --create is a row of its own. */
    static final Map<String, Supplier<Callable<?>>> ALIASES = new java.util.TreeMap<>(Fixes.COMMANDS);
    static {
        ALIASES.put("airbyte-source --create", AirbyteSource::new);
    }

    /** What each alias needs to get as far as connecting; with good input each of them would succeed or find nothing to do. */
    static List<String> base(String alias) {
        return switch (alias) {
            case "create-publication" -> List.of("--table", "public.orders", "--lock-timeout", "1s");
            case "create-slot", "doctor", "slot-status", "airbyte-source" -> List.of("--slot", SLOT);
            case "setup" -> List.of("--slot", SLOT, "--table", "public.orders", "--lock-timeout", "1s");
            case "teardown" -> List.of("--slot", "badinput_absent", "--publication", "badinput_absent", "--yes");
            case "airbyte-source --create" -> List.of("--create", "--slot", SLOT, "--workspace-id", "w-1", "--api-url", airbyte.url("/v1"));
            case "allow-airbyte-ips" -> List.of("--region", "eu");
            default -> List.of();
        };
    }

    /** The aliases that connect to the database (airbyte-source only with --create). */
    static final List<String> CONNECTING = List.of("check-wal", "grant-access", "create-publication", "create-slot", "setup",
            "doctor", "slot-status", "teardown", "airbyte-source --create");

    static final Map<String, String> ENV = Map.of("AIRBYTE_API_TOKEN", FakeApi.AIRBYTE_TOKEN, "NEON_API_KEY", FakeApi.NEON_KEY,
            "NEON_API_HOST", airbyte.url("/api/v2"));

    @BeforeAll static void database() throws Exception {
        db = Pg.freshDatabase("badinput");
        Fixtures.as(db, "CREATE TABLE public.orders (id int PRIMARY KEY)", "CREATE TABLE public.t (id int PRIMARY KEY)",
                "CREATE SCHEMA x", "CREATE TABLE x.dup (id int PRIMARY KEY)", "CREATE SCHEMA y", "CREATE TABLE y.dup (id int PRIMARY KEY)",
                "CREATE SCHEMA empty", "CREATE PUBLICATION airbyte_publication FOR TABLE public.orders",
                "SELECT pg_create_logical_replication_slot('" + SLOT + "', 'pgoutput')");
        baseline = Pg.catalog(db);
    }

    @AfterAll static void dropSlot() throws Exception {
        airbyte.close();
        Pg.sql(db, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'badinput%'");
    }

    /** One bad input: the exit code documented for it, and words the error must hold (the input, the fix). */
    record Case(String alias, int exit, List<String> says, List<String> args) {
        @Override public String toString() { return alias.replace(" --create", "") + " " + String.join(" ", args); }
    }

    /** Options that take no value. */
    static final List<String> SWITCHES = List.of("--revoke", "--heartbeat", "--drop-heartbeat", "--yes", "--create");

    /** The alias's base arguments with {@code args} over them: an option given again replaces its value; null removes it. */
    static Case row(String alias, int exit, List<String> says, String... args) {
        List<String> all = new ArrayList<>(base(alias));
        for (int i = 0; i < args.length; i++) {
            String option = args[i];
            if (!option.startsWith("--") || SWITCHES.contains(option) || i + 1 == args.length) {
                all.add(option);
                continue;
            }
            String value = args[++i];
            int at = all.indexOf(option);
            if (at >= 0) all.subList(at, at + 2).clear();
            if (value != null) all.addAll(List.of(option, value));
        }
        return new Case(alias, exit, says, all);
    }

    static String url(String user, String password, String database) { return Pg.url(database, user, password); }

    /**
     * Runs every case and returns what went wrong with each: the exit code, stderr not being one line naming the
     * input and the fix (exit 2, 3, 4), a stack trace, a catalog changed, the table t gone.
     */
    static List<String> check(List<Case> cases) throws Exception {
        List<String> problems = new ArrayList<>();
        try (java.sql.Connection snapshot = Pg.superuser(db)) {
            for (Case c : cases) {
                long start = System.nanoTime();
                Pg.Run r = Pg.run(ALIASES.get(c.alias()).get(), ENV, c.args().toArray(String[]::new));
                long ms = (System.nanoTime() - start) / 1_000_000;
                List<String> wrong = new ArrayList<>();
                if (r.exit() != c.exit()) wrong.add("exit " + r.exit() + " (documented: " + c.exit() + ")");
                String name = c.alias().replace(" --create", "");
                String error = c.exit() == Exit.NOT_READY.code ? failLines(r.out()) : r.err().strip();
                if (c.exit() != Exit.NOT_READY.code && (error.lines().count() != 1 || !error.startsWith(name + ": ")))
                    wrong.add("stderr is not one line '" + name + ": ...'");
                for (String word : c.says()) if (!error.contains(word)) wrong.add("does not say '" + word + "'");
                if (r.all().contains("Exception") || r.all().contains("\tat ")) wrong.add("a stack trace or exception name");
                if (ms > 5000) wrong.add("took " + ms + " ms");
                String now = Pg.catalog(snapshot);
                if (!now.equals(baseline)) {
                    wrong.add("the catalog changed: " + diff(baseline, now));
                    baseline = now;
                }
                if (!wrong.isEmpty()) problems.add(c + "\n      " + String.join("; ", wrong) + "\n      out: "
                        + cut(r.out().strip().replace("\n", "\n           ")) + "\n      err: " + cut(r.err().strip()));
            }
        }
        return problems;
    }

    /** The failure lines of a report (a check that failed names its input there, on stdout). */
    static String failLines(String out) {
        return String.join("\n", out.lines().filter(l -> l.strip().startsWith("fail") || l.contains("\"status\" : \"fail\"")
                || l.contains("\"message\"")).toList());
    }

    static String diff(String before, String after) {
        List<String> a = List.of(before.split("\n")), b = List.of(after.split("\n"));
        List<String> gone = a.stream().filter(l -> !b.contains(l)).toList(), added = b.stream().filter(l -> !a.contains(l)).toList();
        return "-" + gone + " +" + added;
    }

    static String cut(String s) { return s.length() < 2000 ? s : s.substring(0, 2000) + "..."; }

    static void assertNoProblems(List<String> problems) {
        assertTrue(problems.isEmpty(), problems.size() + " case(s) wrong:\n  " + String.join("\n  ", problems));
    }

    /** With --json, bad input is also a document on stdout, for the program reading it: the exit code and the line. */
    @Test void withJsonAnErrorIsADocumentOnStdoutToo() throws Exception {
        for (String[] args : List.of(new String[] {"--url", Pg.url(db), "--slot", "Bad-Slot", "--json"},
                new String[] {"--url", Pg.url(db), "--no-such-option", "--json"})) {
            Pg.Run r = Pg.run(new Doctor(), args);
            assertEquals(2, r.exit(), r.all());
            com.fasterxml.jackson.databind.JsonNode doc = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.out());
            assertEquals(2, doc.get("exitCode").asInt(), r.out());
            assertEquals(r.err().strip(), "doctor: " + doc.get("error").asText(), r.all());
        }
    }

    @Test void everyAliasIsInTheTable() throws Exception {
        var catalog = new com.fasterxml.jackson.databind.ObjectMapper().readTree(Pg.repoRoot().resolve("jbang-catalog.json").toFile());
        List<String> aliases = new ArrayList<>();
        catalog.get("aliases").fieldNames().forEachRemaining(aliases::add);
        aliases.remove("demo"); // takes no input but --keep
        for (String alias : aliases) assertTrue(ALIASES.containsKey(alias), alias + " is missing from the bad input table");
    }

    /** Words of a name that an error naming it shows, however it is quoted there. */
    static String shown(String name) { return name.startsWith("x\"") ? "DROP TABLE t" : name.startsWith("'") ? "'); DROP" : name; }

    /**
     * What each alias's --help says about exit codes agrees with the table: every code a row ends with is listed, and
     * an alias for which a missing role, schema or table is a failed check (1) does not call it bad input (2).
     */
    @Test void everyExitCodeInTheTableIsTheOneTheAliasDocuments() throws Exception {
        List<Case> all = new ArrayList<>(connectionProblems());
        all.addAll(missingNames());
        all.addAll(rejectedValues());
        for (String alias : ALIASES.keySet()) {
            Pg.Run help = Pg.run(ALIASES.get(alias).get(), "--help");
            String codes = help.out().substring(help.out().indexOf("Exit codes:"));
            for (Case c : all) {
                if (!c.alias().equals(alias)) continue;
                assertTrue(codes.contains("\n  " + c.exit() + "  "), alias + " --help does not list exit " + c.exit() + ": " + codes);
                boolean missingIsACheck = c.exit() == 1 && (c.args().contains("--role") || c.args().contains("--schema") || c.args().contains("--table"));
                String two = codes.lines().filter(l -> l.startsWith("  2  ")).findFirst().orElse("");
                assertFalse(missingIsACheck && two.contains("schema or table"), alias + ": " + c + " is exit 1, and --help says 2 is " + two);
            }
        }
    }

    @Test void namesThatDoNotExistAreBadInputOrAFailedCheckAndChangeNothing() throws Exception { assertNoProblems(check(missingNames())); }

    static List<Case> missingNames() {
        List<Case> cases = new ArrayList<>();
        for (String v : List.of("badinput_nope", INJECT_QUOTE, INJECT_LITERAL)) {
            List<String> role = List.of(shown(v), "role");
            cases.add(row("grant-access", 2, role, "--url", Pg.url(db), "--role", v));
            cases.add(row("setup", 2, role, "--url", Pg.url(db), "--role", v));
            cases.add(row("doctor", 1, List.of(shown(v)), "--url", Pg.url(db), "--role", v));
            cases.add(row("teardown", 2, role, "--url", Pg.url(db), "--revoke", "--role", v));
            cases.add(row("create-publication", 2, role, "--url", Pg.url(db), "--heartbeat", "--role", v));

            List<String> schema = List.of(shown(v), "schema");
            cases.add(row("grant-access", 2, schema, "--url", Pg.url(db), "--schema", v));
            cases.add(row("create-publication", 2, schema, "--url", Pg.url(db), "--schema", v, "--table", "public.orders"));
            cases.add(row("setup", 2, schema, "--url", Pg.url(db), "--schema", v));
            cases.add(row("doctor", 1, List.of(shown(v)), "--url", Pg.url(db), "--schema", v));
            cases.add(row("teardown", 2, schema, "--url", Pg.url(db), "--revoke", "--role", Pg.OWNER, "--schema", v));
            cases.add(row("airbyte-source --create", 2, schema, "--url", Pg.url(db), "--schema", v));
            cases.add(row("create-publication", 2, List.of(shown(v), "schema"), "--url", Pg.url(db), "--heartbeat",
                    "--heartbeat-table", v + ".beat"));

            List<String> table = List.of(shown(v), "no such table");
            cases.add(row("create-publication", 2, table, "--url", Pg.url(db), "--table", "public." + v));
            cases.add(row("create-publication", 2, table, "--url", Pg.url(db), "--table", v));
            cases.add(row("setup", 2, table, "--url", Pg.url(db), "--table", "public." + v));
            cases.add(row("doctor", 1, List.of(shown(v)), "--url", Pg.url(db), "--table", "public." + v));

            cases.add(row("create-slot", 1, List.of(shown(v), "does not exist"), "--url", Pg.url(db), "--publication", v));
            cases.add(row("doctor", 1, List.of(shown(v)), "--url", Pg.url(db), "--publication", v));
            cases.add(row("airbyte-source --create", 1, List.of(shown(v)), "--url", Pg.url(db), "--publication", v));
        }
        cases.add(row("slot-status", 2, List.of("badinput_none", "logical slots here: " + SLOT), "--url", Pg.url(db), "--slot", "badinput_none"));
        cases.add(row("doctor", 1, List.of("badinput_none"), "--url", Pg.url(db), "--slot", "badinput_none"));
        cases.add(row("airbyte-source --create", 1, List.of("badinput_none"), "--url", Pg.url(db), "--slot", "badinput_none"));

        List<String> ambiguous = List.of("'dup'", "ambiguous", "schema.table");
        cases.add(row("create-publication", 2, ambiguous, "--url", Pg.url(db), "--table", "dup"));
        cases.add(row("setup", 2, List.of("'dup'", "schema.table"), "--url", Pg.url(db), "--table", "dup"));
        cases.add(row("doctor", 2, List.of("'dup'", "schema.table"), "--url", Pg.url(db), "--table", "dup"));
        cases.add(row("setup", 2, List.of("'orders'", "public.orders"), "--url", Pg.url(db), "--table", "orders"));
        cases.add(row("teardown", 2, List.of("dup", "schema.table"), "--url", Pg.url(db), "--drop-heartbeat", "--heartbeat-table", "dup"));
        cases.add(row("create-publication", 2, List.of("'a.b.c'", "one dot"), "--url", Pg.url(db), "--table", "a.b.c"));

        List<String> noTables = List.of("'empty'", "has no tables");
        cases.add(row("create-publication", 2, noTables, "--url", Pg.url(db), "--schema", "empty", "--table", null));
        cases.add(row("setup", 2, noTables, "--url", Pg.url(db), "--schema", "empty", "--table", null));
        cases.add(row("doctor", 1, List.of("'empty'", "has no tables"), "--url", Pg.url(db), "--schema", "empty"));
        return cases;
    }

    @Test void emptyMalformedAndRejectedValuesAreBadInput() throws Exception { assertNoProblems(check(rejectedValues())); }

    static List<Case> rejectedValues() {
        List<Case> cases = new ArrayList<>();
        String url = Pg.url(db), long64 = "a".repeat(64);
        for (String slot : List.of("Airbyte_Slot", "airbyte-slot", long64, INJECT_QUOTE, INJECT_LITERAL, ""))
            for (String a : List.of("create-slot", "setup", "doctor", "slot-status", "teardown", "airbyte-source", "airbyte-source --create"))
                cases.add(row(a, 2, List.of("--slot", "lower-case letters"), "--url", url, "--slot", slot));
        for (String empty : List.of("", "  ", "\"\"")) {
            for (String a : List.of("create-publication", "setup", "doctor"))
                cases.add(row(a, 2, List.of("--table", "empty"), "--url", url, "--table", empty));
            for (String a : List.of("grant-access", "create-publication", "setup", "doctor", "airbyte-source", "airbyte-source --create"))
                cases.add(row(a, 2, List.of("--schema", "empty"), "--url", url, "--schema", empty));
            cases.add(row("teardown", 2, List.of("--schema", "empty"), "--url", url, "--revoke", "--role", Pg.OWNER, "--schema", empty));
            for (String a : List.of("grant-access", "setup", "doctor"))
                cases.add(row(a, 2, List.of("--role", "empty"), "--url", url, "--role", empty));
            cases.add(row("teardown", 2, List.of("--role", "empty"), "--url", url, "--revoke", "--role", empty));
            for (String a : List.of("create-publication", "create-slot", "setup", "doctor", "teardown", "airbyte-source"))
                cases.add(row(a, 2, List.of("--publication", "empty"), "--url", url, "--publication", empty));
        }
        for (String option : List.of("--schema", "--role", "--publication"))
            cases.add(row("setup", 2, List.of(option, "63-byte"), "--url", url, option, long64));
        cases.add(row("create-publication", 2, List.of("--table", "63-byte"), "--url", url, "--table", "public." + long64));
        cases.add(row("create-publication", 2, List.of("--lock-timeout", "'soon'", "5s"), "--url", url, "--lock-timeout", "soon"));
        cases.add(row("setup", 2, List.of("--lock-timeout", "'1s; DROP TABLE t'"), "--url", url, "--lock-timeout", "1s; DROP TABLE t"));
        cases.add(row("create-publication", 2, List.of("--replica-identity", "full"), "--url", url, "--replica-identity", "nothing"));
        cases.add(row("doctor", 2, List.of("--peek-timeout", "'ten'", "5s"), "--url", url, "--peek-timeout", "ten"));
        cases.add(row("create-slot", 2, List.of("--lock-timeout", "'1 hour'", "5s"), "--url", url, "--lock-timeout", "1 hour"));
        // PostgreSQL reads bare digits as milliseconds: 5 is refused, not taken as 5 ms
        cases.add(row("grant-access", 2, List.of("--lock-timeout", "'5'", "milliseconds"), "--url", url, "--lock-timeout", "5"));
        cases.add(row("slot-status", 2, List.of("--warn-at", "'lots'", "1GB"), "--url", url, "--warn-at", "lots"));
        cases.add(row("slot-status", 2, List.of("--warn-at", "'99999999999TB'", "up to"), "--url", url, "--warn-at", "99999999999TB"));
        List<String> tooLong = List.of("--lock-timeout", "too long", "2147483647ms");
        cases.add(row("create-publication", 2, tooLong, "--url", url, "--lock-timeout", "3000000s"));
        cases.add(row("create-slot", 2, tooLong, "--url", url, "--lock-timeout", "99999999999min"));
        cases.add(row("setup", 2, tooLong, "--url", url, "--lock-timeout", "36000min"));
        cases.add(row("grant-access", 2, List.of("--lock-timeout", "'soon'", "5s"), "--url", url, "--lock-timeout", "soon"));
        cases.add(row("teardown", 2, List.of("--lock-timeout", "'soon'", "5s"), "--url", url, "--lock-timeout", "soon"));
        cases.add(row("doctor", 2, List.of("--peek-timeout", "too long"), "--url", url, "--peek-timeout", "3000000s"));
        cases.add(row("create-publication", 2, List.of("--role", "--heartbeat"), "--url", url, "--role", Pg.OWNER));
        cases.add(row("airbyte-source", 2, List.of("--heartbeat-table", "'a.b.c'", "one dot"), "--url", url, "--heartbeat", "--heartbeat-table", "a.b.c"));
        for (String port : List.of("0", "70000", "-1"))
            cases.add(row("check-wal", 2, List.of("--port", "1-65535"), "--host", "localhost", "--port", port));
        cases.add(row("check-wal", 2, List.of("--connect-timeout", "1 to 3600"), "--url", url, "--connect-timeout", "-5"));
        cases.add(row("check-wal", 2, List.of("--wait", "negative"), "--url", url, "--wait", "-1"));
        cases.add(row("slot-status", 2, List.of("--watch"), "--url", url, "--watch", "-1"));
        cases.add(row("slot-status", 2, List.of("--watch", "1 or more"), "--url", url, "--watch", "0"));
        cases.add(row("teardown", 2, List.of("--revoke needs --role"), "--url", url, "--revoke"));
        cases.add(row("check-wal", 2, List.of("--yes", "--enable"), "--url", url, "--yes"));
        cases.add(row("check-wal", 2, List.of("--timeout", "--enable"), "--url", url, "--timeout", "60"));
        cases.add(row("teardown", 2, List.of("--role", "--revoke"), "--url", url, "--role", Pg.OWNER));
        cases.add(row("airbyte-source", 2, List.of("--sslmode prefer", "require"), "--url", url, "--sslmode", "prefer"));
        cases.add(row("airbyte-source", 2, List.of("--ca-cert", "badinput-none.pem", "no such file"), "--url", url, "--sslmode", "verify-full", "--ca-cert", "badinput-none.pem"));
        cases.add(row("airbyte-source", 2, List.of("--ip-allowlist", "'mars'", "us, eu, all"), "--ip-allowlist", "mars"));
        cases.add(row("airbyte-source --create", 2, List.of("--workspace-id"), "--url", url, "--workspace-id", INJECT_QUOTE));
        cases.add(row("airbyte-source --create", 2, List.of("--api-url", "user or password"), "--url", url, "--api-url", "http://admin:Pa55word@localhost:1"));
        cases.add(row("allow-airbyte-ips", 2, List.of("--region", "'mars'", "us, eu, all"), "--region", "mars"));
        cases.add(row("allow-airbyte-ips", 2, List.of("--project-id", "DROP TABLE t"), "--project-id", INJECT_QUOTE));
        cases.add(row("allow-airbyte-ips", 2, List.of("--project-id", "'); DROP"), "--project-id", INJECT_LITERAL));
        for (String a : ALIASES.keySet()) cases.add(row(a, 2, List.of("--nope", "see --help"), "--nope"));
        return cases;
    }

    @Test void connectionProblemsAreOneLineWithTheirExitCode() throws Exception { assertNoProblems(check(connectionProblems())); }

    static List<Case> connectionProblems() {
        int closed = Pg.freePort();
        List<Case> cases = new ArrayList<>();
        for (String a : CONNECTING) {
            cases.add(row(a, 2, List.of("--url", "postgresql://"), "--url", "postgresql//alex@localhost/" + db));
            cases.add(row(a, 2, List.of("--url", "port", "1-65535"), "--url", "postgresql://alex@localhost:99999/" + db));
            cases.add(row(a, 3, List.of("no-such-host.invalid", "check the host"), "--url", url("alex", "pw", db).replace("localhost", "no-such-host.invalid"), "--wait", "0"));
            cases.add(row(a, 3, List.of("localhost:" + closed, "port are correct"), "--url", url(Pg.OWNER, Pg.OWNER_PASSWORD, db).replace(":" + Pg.port(), ":" + closed), "--wait", "0"));
            cases.add(row(a, 3, List.of("authentication failed", "check the password"), "--url", url(Pg.OWNER, "wrong-password", db)));
            cases.add(row(a, 3, List.of("'badinput_nope'", "--dbname"), "--url", url(Pg.OWNER, Pg.OWNER_PASSWORD, "badinput_nope")));
            cases.add(row(a, 3, List.of("nobody", "user name"), "--url", url("nobody", "pw", db)));
            if (!a.startsWith("airbyte-source")) // which needs the password before connecting
                cases.add(row(a, 3, List.of("no password", "PGPASSWORD"), "--url", Pg.url(db).replace(":" + Pg.OWNER_PASSWORD, "")));
            for (String v : INJECTIONS) { // as the user and as the database, in the URL and as options
                String encoded = java.net.URLEncoder.encode(v, java.nio.charset.StandardCharsets.UTF_8).replace("+", "%20");
                cases.add(row(a, 3, List.of(shown(v), "user name"), "--url", url(encoded, "pw", db)));
                cases.add(row(a, 3, List.of(shown(v), "--dbname"), "--url", url(Pg.OWNER, Pg.OWNER_PASSWORD, encoded)));
                cases.add(row(a, 3, List.of(shown(v), "user name"), "--url", Pg.url(db), "--username", v));
            }
            cases.add(row(a, 2, List.of("--sslmode", "'bogus'"), "--url", Pg.url(db), "--sslmode", "bogus"));
            cases.add(row(a, 2, List.of("--nope"), "--url", Pg.url(db), "--nope"));
        }
        cases.add(row("airbyte-source", 2, List.of("--url", "postgresql://"), "--url", "postgresql//alex@localhost/" + db));
        cases.add(row("allow-airbyte-ips", 2, List.of("--url", "postgresql://"), "--url", "postgresql//alex@localhost/" + db));
        cases.add(row("allow-airbyte-ips", 2, List.of("--project-id"), "--url", Pg.url(db)));
        return cases;
    }
}
