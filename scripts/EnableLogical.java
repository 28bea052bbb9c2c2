//SOURCES Runbook.java NeonApi.java

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import picocli.CommandLine.Option;

/**
 * check-wal --enable: when the server is Neon and wal_level is not logical, turns on the project's logical
 * replication through Neon's API (the console's Settings > Logical Replication), then waits until a new
 * connection shows wal_level = logical. Already logical: nothing is sent.
 */
final class EnableLogical {
    @Option(names = "--enable", description = "On Neon, when wal_level is not logical: enable logical replication through "
            + "Neon's API (needs NEON_API_KEY), then wait until a new connection shows wal_level = logical. It cannot be "
            + "undone and restarts the project's active computes: asks on a terminal, else needs --yes.")
    boolean enable;
    @Option(names = "--yes", description = "With --enable: go ahead without asking.") boolean yes;
    @Option(names = "--timeout", paramLabel = "SECONDS", description = "With --enable: how long to "
            + "wait for wal_level = logical (default: 300).")
    Integer timeout;

    /** Asks a person yes or no; null when there is no terminal to ask on. Tests put their own. */
    Function<String, Boolean> ask = Runbook::confirm;
    /** The first pause between two looks at wal_level, doubled up to 10 s. */
    long pollMillis = 1000;

    int run(CheckWal wal) {
        Runbook.Output out = wal.out;
        Runbook.Outcome first;
        try (Connection c = wal.db.connect()) {
            first = Runbook.runOn(c, wal, true);
        } catch (SQLException e) {
            throw Runbook.refused(e, null);
        }
        if ("logical".equals(wal.walLevel)) {
            out.print(List.of(first));
            return first.exitCode();
        }
        if (!wal.onNeon) {
            out.print(List.of(first));
            throw Runbook.badInput("--enable turns logical replication on through Neon's API, and this server is not Neon: "
                    + "elsewhere, as a superuser, ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL");
        }
        NeonApi api = wal.neon.api();
        String project = NeonApi.resolveProject(wal.neon, api, wal.endpointId);
        JsonNode p = api.project(project);
        String named = "project " + project + " (" + p.path("name").asText(project) + ")";
        List<Runbook.Finding> done = new ArrayList<>();
        if (p.path("settings").path("enable_logical_replication").asBoolean(false)) {
            done.add(Runbook.Finding.ok("neon", "logical replication is already enabled on " + named
                    + ": this compute has not restarted with it yet"));
            if (out.dryRun) return print(out, first, done, Runbook.OK, null);
        } else {
            ObjectNode body = NeonApi.enableLogicalReplicationBody();
            if (out.dryRun) {
                done.add(Runbook.Finding.ok("neon", "would enable logical replication on " + named
                        + " (cannot be undone; its active computes restart)"));
                return print(out, first, done, Runbook.OK, api.wouldSend("PATCH", NeonApi.projectPath(project), body));
            }
            if (!yes) {
                Boolean answer = ask.apply("Enable logical replication on Neon " + named + "? It cannot be undone, and the "
                        + "project's active computes restart.");
                if (!Boolean.TRUE.equals(answer)) {
                    done.add(Runbook.Finding.fail("neon", "not changed: enabling logical replication on " + named + " cannot be "
                            + "undone and restarts its computes, " + (answer == null ? "and there is no terminal to ask on"
                            : "and it was not confirmed"), "run again with --yes to enable it"));
                    return print(out, first, done, Runbook.NOT_READY, null);
                }
            }
            api.patchProject(project, body);
            Interrupts.committed("logical replication was enabled on " + named + " (it cannot be undone)");
            done.add(Runbook.Finding.ok("neon", "enabled logical replication on " + named + " (it cannot be undone)"));
        }
        return waitForLogical(wal, first, done);
    }

    int timeoutSeconds() { return timeout == null ? 300 : timeout; }

    /** Polls new connections until wal_level is logical or the timeout passes; progress on stderr. */
    private int waitForLogical(CheckWal wal, Runbook.Outcome first, List<Runbook.Finding> done) {
        Progress.line("waiting up to " + timeoutSeconds() + " s for a new connection to show wal_level = logical (the computes restart) ...");
        long start = System.nanoTime(), deadline = start + timeoutSeconds() * 1_000_000_000L, pause = pollMillis;
        while (true) {
            String seen;
            try (Connection c = wal.db.target().connect(wal.db.connectTimeout, 0)) {
                Runbook.Outcome now = Runbook.runOn(c, wal, true);
                if ("logical".equals(wal.walLevel)) return print(wal.out, now, done, now.exitCode(), null);
                seen = "wal_level is still " + wal.walLevel;
            } catch (Runbook.Failure | SQLException e) {
                seen = "cannot connect yet (" + Runbook.firstLine(e.getMessage()) + ")";
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                done.add(Runbook.Finding.fail("wait", "after " + timeoutSeconds() + " s a new connection still finds: " + seen,
                        "the computes may still be restarting: in a minute, run  " + Invocation.current().other("check-wal", List.of())
                        + "\nif it stays so, "
                        + "restart the compute (Neon console > your branch > Computes > Restart)"));
                return print(wal.out, first, done, Runbook.NOT_READY, null);
            }
            Progress.line("  " + (System.nanoTime() - start) / 1_000_000_000L + " s: " + seen);
            HttpJson.sleep(Math.min(pause, left / 1_000_000 + 1));
            pause = Math.min(pause * 2, 10_000);
        }
    }

    private static int print(Runbook.Output out, Runbook.Outcome seen, List<Runbook.Finding> done, int exit, Map<String, Object> request) {
        List<Runbook.Finding> all = new ArrayList<>(seen.findings());
        all.addAll(done);
        out.print(List.of(new Runbook.Outcome(seen.step(), exit, all, Runbook.Plan.none(), false)),
                request == null ? Map.of() : Map.of("request", request));
        return exit;
    }
}
