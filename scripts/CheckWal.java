///usr/bin/env jbang "$0" "$@" ; exit $?
//SOURCES lib/Runbook.java lib/NeonApi.java
//DESCRIPTION Is wal_level logical? Free replication slots and WAL senders, server version, Neon or not; --enable turns it on through Neon's API (guide step: Enable logical replication)

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "check-wal", mixinStandardHelpOptions = true, version = "check-wal 1.0",
        description = {CheckWal.DESCRIPTION,
                "Changes nothing, unless --enable on Neon: then it turns logical replication on through Neon's API "
                + "(NEON_API_KEY from the environment, NEON_API_HOST for another API address) and waits until a new "
                + "connection shows wal_level = logical."},
        footer = {"%nExamples:",
                "  jbang check-wal --url \"$DATABASE_URL\"",
                "  jbang check-wal --json --url 'postgresql://alex@ep-cool-darkness-123456.us-east-2.aws.neon.tech/db?sslmode=require'",
                "  NEON_API_KEY=... jbang check-wal --url \"$DATABASE_URL\" --enable --dry-run",
                "  NEON_API_KEY=... jbang check-wal --url \"$DATABASE_URL\" --enable --yes --project-id old-fire-32990194"})
class CheckWal implements Callable<Exit>, Exit.Documented {
    static final String DESCRIPTION = "Is wal_level logical? Free replication slots and WAL senders, server version, Neon "
            + "or not; --enable turns it on through Neon's API (guide step: Enable logical replication)";

    @Mixin Db db = new Db();
    @Mixin Output out = new Output();
    @Mixin NeonApi.Options neon = new NeonApi.Options();
    @Option(names = "--enable", description = "On Neon, when wal_level is not logical: enable logical replication through "
            + "Neon's API (needs NEON_API_KEY), then wait until a new connection shows wal_level = logical. It cannot be "
            + "undone and restarts the project's active computes: asks on a terminal, else needs --yes.")
    boolean enable;
    @Option(names = "--yes", description = "With --enable: go ahead without asking.") boolean yes;
    @Option(names = "--timeout", paramLabel = "SECONDS", description = "With --enable: how long to wait for "
            + "wal_level = logical (default: 300).") Integer timeout;

    /** Asks a person yes or no; null when there is no terminal to ask on. Tests put their own. */
    Function<String, Boolean> ask = Cli::confirm;
    /** The first pause between two looks at wal_level, doubled up to 10 s. */
    long pollMillis = 1000;

    public Map<Exit, String> exitCodes() {
        return Map.of(Exit.OK, "wal_level is logical (or, with --enable --dry-run, the change to make it so is planned)",
                Exit.BAD_INPUT, "bad input: an option; with --enable: NEON_API_KEY not set, the project not found (404), "
                        + "or the server is not Neon",
                Exit.CANNOT_CONNECT, "cannot connect or authenticate; with --enable: Neon's API unreachable, timed out, not "
                        + "JSON, busy after retries (423, 503), or the key refused (401)",
                Exit.REFUSED, "with --enable: Neon's API refused the request (403, other errors)");
    }

    /** What enabling logical replication needs to know, as check-wal found it. */
    record Wal(String level, boolean neon, String endpointId) {
        boolean logical() { return "logical".equals(level); }
    }

    /** What one look at the server found: the WAL state, and the findings a person reads. */
    record Look(Wal wal, List<Runbook.Finding> findings) {}

    static final String QUERY = """
            SELECT current_setting('wal_level') AS wal_level, current_setting('max_replication_slots')::int AS max_slots,
                   (SELECT count(*) FROM pg_replication_slots)::int AS used_slots,
                   current_setting('max_wal_senders')::int AS max_senders,
                   (SELECT count(*) FROM pg_stat_replication)::int AS used_senders,
                   current_setting('server_version') AS version, %s AS endpoint""".formatted(Catalog.NEON_ENDPOINT);

    /** One look on its own connection (--enable's polls). */
    static Look look(Connection c, Target target) throws SQLException {
        Pipeline p = new Pipeline(c);
        Pipeline.Answer<Look> look = look(p, target);
        p.run();
        return look.get();
    }

    /** One query: wal_level, free slots and WAL senders, the version, Neon or not. */
    static Pipeline.Answer<Look> look(Pipeline p, Target target) {
        return p.query(QUERY, Pipeline.one(rs -> {
            List<Runbook.Finding> f = new ArrayList<>();
            String level = rs.getString("wal_level"), endpoint = rs.getString("endpoint");
            boolean neon = Catalog.onNeon(endpoint, target);
            Wal wal = new Wal(level, neon, !endpoint.isEmpty() ? endpoint : NeonApi.endpointId(target));
            f.add(Runbook.Finding.ok("server", "PostgreSQL " + rs.getString("version") + (neon ? " on Neon"
                    + (endpoint.isEmpty() ? "" : " (endpoint " + endpoint + ")") : "")));
            if (target.isPooler())
                f.add(Runbook.Finding.warn("host", target.host + " is Neon's connection pooler: replication (the slot, "
                        + "Airbyte) needs the direct host", "use " + target.directHost() + " in --url and in Airbyte"));
            if (wal.logical()) f.add(Runbook.Finding.ok("wal_level", "logical"));
            else f.add(Runbook.Finding.fail("wal_level", level + " (logical replication needs logical)", neon
                    ? "Neon console: your project > Settings > enable logical replication (it cannot be turned off, and "
                      + "active computes restart); or let Neon's API do it:  " + Invocation.current().other("check-wal", List.of("--enable"))
                    : "as a superuser:  ALTER SYSTEM SET wal_level = logical;\nthen restart PostgreSQL (on a managed "
                      + "service, set the parameter in its console)"));
            int freeSlots = rs.getInt("max_slots") - rs.getInt("used_slots");
            String slots = freeSlots + " of " + rs.getInt("max_slots") + " free";
            f.add(freeSlots > 0 ? Runbook.Finding.ok("replication slots", slots)
                    : Runbook.Finding.warn("replication slots", slots + ": creating Airbyte's slot will fail",
                            "drop an unused slot (see them with SELECT slot_name, active FROM pg_replication_slots;):  "
                            + "SELECT pg_drop_replication_slot('<name>');  or raise max_replication_slots"));
            int freeSenders = rs.getInt("max_senders") - rs.getInt("used_senders");
            String senders = freeSenders + " of " + rs.getInt("max_senders") + " free";
            f.add(freeSenders > 0 ? Runbook.Finding.ok("wal senders", senders)
                    : Runbook.Finding.warn("wal senders", senders + ": Airbyte's replication connection will be refused",
                            "stop an unused replication client (pg_stat_replication), or raise max_wal_senders"));
            return new Look(wal, f);
        }));
    }

    /** The step: a look, nothing to change. */
    static Runbook.Step step(Target target) {
        return new Runbook.Step() {
            public String name() { return "check-wal"; }
            public boolean readOnly() { return true; }
            public Runbook.Reading read(Pipeline p) {
                Pipeline.Answer<Look> look = look(p, target);
                return () -> new Runbook.Assessment(look.get().findings(), Runbook.Plan.none());
            }
        };
    }

    public Exit call() {
        if (!enable && (yes || timeout != null || neon.projectId != null))
            throw Failure.badInput("--yes, --timeout and --project-id only go with --enable: add --enable, or leave them out");
        return enable ? enable() : Runbook.run(step(db.target()), db, out);
    }

    // ---- --enable: logical replication through Neon's API ------------------------------------------------------

    /**
     * When the server is Neon and wal_level is not logical, turns on the project's logical replication (the console's
     * Settings > Logical Replication), then waits until a new connection shows wal_level = logical.
     */
    Exit enable() {
        Look first = lookOnce();
        if (first.wal().logical()) return print(first, List.of(), Exit.OK, null);
        if (!first.wal().neon()) {
            print(first, List.of(), Exit.NOT_READY, null);
            throw Failure.badInput("--enable turns logical replication on through Neon's API, and this server is not Neon: "
                    + "elsewhere, as a superuser, ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL");
        }
        NeonApi api = neon.api();
        String project = NeonApi.resolveProject(neon, api, first.wal().endpointId());
        JsonNode p = api.project(project);
        String named = "project " + project + " (" + p.path("name").asText(project) + ")";
        List<Runbook.Finding> done = new ArrayList<>();
        if (p.path("settings").path("enable_logical_replication").asBoolean(false)) {
            done.add(Runbook.Finding.ok("neon", "logical replication is already enabled on " + named
                    + ": this compute has not restarted with it yet"));
            if (out.dryRun) return print(first, done, Exit.OK, null);
        } else {
            ObjectNode body = NeonApi.enableLogicalReplicationBody();
            if (out.dryRun) {
                done.add(Runbook.Finding.ok("neon", "would enable logical replication on " + named
                        + " (cannot be undone; its active computes restart)"));
                return print(first, done, Exit.OK, api.wouldSend("PATCH", NeonApi.projectPath(project), body));
            }
            if (!yes) {
                Boolean answer = ask.apply("Enable logical replication on Neon " + named + "? It cannot be undone, and the "
                        + "project's active computes restart.");
                if (!Boolean.TRUE.equals(answer)) {
                    done.add(Runbook.Finding.fail("neon", "not changed: enabling logical replication on " + named + " cannot be "
                            + "undone and restarts its computes, " + (answer == null ? "and there is no terminal to ask on"
                            : "and it was not confirmed"), "to enable it:  " + Invocation.current().again("--yes")));
                    return print(first, done, Exit.NOT_READY, null);
                }
            }
            api.patchProject(project, body);
            Interrupts.committed("logical replication was enabled on " + named + " (it cannot be undone)");
            done.add(Runbook.Finding.ok("neon", "enabled logical replication on " + named + " (it cannot be undone)"));
        }
        return waitForLogical(first, done);
    }

    private Look lookOnce() {
        try (Connection c = db.connect()) {
            return look(c, db.target());
        } catch (SQLException e) {
            throw Runbook.refused(e, null);
        }
    }

    int timeoutSeconds() { return timeout == null ? 300 : timeout; }

    /** Polls new connections until wal_level is logical or the timeout passes; progress on stderr. */
    private Exit waitForLogical(Look first, List<Runbook.Finding> done) {
        Progress.line("waiting up to " + timeoutSeconds() + " s for a new connection to show wal_level = logical (the computes restart) ...");
        long start = System.nanoTime(), deadline = start + timeoutSeconds() * 1_000_000_000L, pause = pollMillis;
        while (true) {
            String seen;
            try (Connection c = Interrupts.track(db.target().connect(db.connectTimeout, 0))) {
                Look now = look(c, db.target());
                if (now.wal().logical()) return print(now, done, Exit.OK, null);
                seen = "wal_level is still " + now.wal().level();
            } catch (Failure | SQLException e) {
                seen = "cannot connect yet (" + Output.firstLine(e.getMessage()) + ")";
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                done.add(Runbook.Finding.fail("wait", "after " + timeoutSeconds() + " s a new connection still finds: " + seen,
                        "the computes may still be restarting: in a minute, run  " + Invocation.current().other("check-wal", List.of())
                        + "\nif it stays so, restart the compute (Neon console > your branch > Computes > Restart)"));
                return print(first, done, Exit.NOT_READY, null);
            }
            Progress.line("  " + (System.nanoTime() - start) / 1_000_000_000L + " s: " + seen);
            HttpJson.sleep(Math.min(pause, left / 1_000_000 + 1));
            pause = Math.min(pause * 2, 10_000);
        }
    }

    private Exit print(Look seen, List<Runbook.Finding> done, Exit exit, Map<String, Object> request) {
        List<Runbook.Finding> all = new ArrayList<>(seen.findings());
        all.addAll(done);
        out.print(List.of(new Runbook.Outcome("check-wal", exit, all, Runbook.Plan.none(), false)),
                request == null ? Map.of() : Map.of("request", request));
        return exit;
    }

    public static void main(String... args) { Cli.launch(new CheckWal(), args); }
}
