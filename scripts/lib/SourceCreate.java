//SOURCES AirbyteApi.java

import com.fasterxml.jackson.databind.JsonNode;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * airbyte-source --create: the source made (or updated) in Airbyte through its API, after the checks Airbyte's own
 * connection test runs, with the password in the request body and nowhere else.
 */
final class SourceCreate {
    private SourceCreate() {}

    /** airbyte-source's options for --create. */
    static final class Options {
        @Option(names = "--create", description = "Create the source in Airbyte through its API (or update the one of the "
                + "same name in the workspace), after checking the --schema names and Airbyte's own checks of slot, "
                + "publication and role. Prints the source id.")
        boolean create;
        @Option(names = "--workspace-id", paramLabel = "ID", description = "With --create: the Airbyte workspace (the id in "
                + "the workspace's URL).")
        String workspaceId;
        @Option(names = "--name", description = "With --create: the source's name (default: Postgres <database> on <host>).")
        String name;
        @Option(names = "--skip-checks", description = "With --create: do not connect to the database to check the schemas, "
                + "slot, publication and role first.")
        boolean skipChecks;
        @Option(names = "--dry-run", description = "With --create: check and look up, then print the request that would "
                + "be sent (password masked); change nothing.")
        boolean dryRun;
        @Mixin AirbyteApi.Access access = new AirbyteApi.Access();
    }

    /**
     * A look-up of the command's own on the database, before Airbyte's checks on the same connection (airbyte-source:
     * its --schema names); throws {@link Failure} to stop before anything is sent.
     */
    interface DatabaseCheck { void run(Connection c) throws SQLException; }

    /**
     * --create: checks (unless skipped: {@code first}, then Airbyte's), then POST /sources, or PATCH /sources/{id}
     * when the workspace has a source of that name. Prints the source id on stdout; the password is only in the
     * request body.
     */
    static Exit create(Options o, Db db, Map<String, Object> configuration, DatabaseCheck first) {
        String workspace = AirbyteApi.id("--workspace-id", o.workspaceId, "--create needs --workspace-id ID (the id in your Airbyte workspace's URL)");
        o.access.requireCredentials();
        String name = o.name != null ? Input.name("--name", o.name)
                : "Postgres " + configuration.get("database") + " on " + configuration.get("host");
        if (!o.skipChecks) {
            Runbook.Outcome checked;
            try (Connection c = db.connect()) {
                first.run(c);
                @SuppressWarnings("unchecked") Map<String, Object> cdc = (Map<String, Object>) configuration.get("replication_method");
                String slot = (String) cdc.get("replication_slot"), publication = (String) cdc.get("publication");
                checked = Runbook.runOn(c, new AirbyteCheck(db.target(), slot, publication, (String) configuration.get("username"),
                        Invocation.current().other("create-slot", List.of("--slot", slot, "--publication", publication)),
                        Invocation.current().other("create-publication", List.of("--publication", publication))),
                        Runbook.Mode.DRY_RUN, Runbook.Transaction.OWN);
            } catch (SQLException e) {
                throw Runbook.refused(e, null);
            }
            if (checked.exit() != Exit.OK) {
                new Output().print(List.of(checked));
                Progress.line("not created: Airbyte's connection test would fail the same way (--skip-checks to create it anyway)");
                return checked.exit();
            }
            Progress.line("checked as Airbyte does: " + String.join("; ", checked.findings().stream().map(Runbook.Finding::message).toList()));
        }
        AirbyteApi api = o.access.connect();
        Secrets.add((String) configuration.get("password"));
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("sourceType", "postgres");
        config.putAll(configuration);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("name", name);
        body.put("workspaceId", workspace);
        body.put("configuration", config);
        List<JsonNode> same = api.sourcesNamed(workspace, name);
        if (same.size() > 1)
            throw Failure.badInput(same.size() + " sources are named \"" + name + "\" in workspace " + workspace
                    + ": give --name a name of its own, or delete the extra ones in Airbyte");
        String existing = same.isEmpty() ? null : same.get(0).path("sourceId").asText();
        if (!same.isEmpty() && !"postgres".equals(same.get(0).path("sourceType").asText("postgres")))
            throw Failure.badInput("the source \"" + name + "\" (" + existing + ") is a " + same.get(0).path("sourceType").asText()
                    + " source, not postgres: give --name another name");
        String method = existing == null ? "POST" : "PATCH", path = existing == null ? "/sources" : "/sources/" + HttpJson.enc(existing);
        if (o.dryRun) {
            config.put("password", "****");
            System.out.println("Dry run: nothing has been sent. Would send " + method + " " + api.http.base + path + ":\n" + Output.pretty(body));
            return Exit.OK;
        }
        String id = api.http.need(api.http.send(method, path, body), "sourceId", method + " " + path).asText();
        Interrupts.committed("the Airbyte source \"" + name + "\" (" + id + ") was " + (existing == null ? "created" : "updated"));
        Progress.line((existing == null ? "created" : "updated") + " the Airbyte source \"" + name + "\" in workspace " + workspace
                + (existing == null ? "" : " (it existed: updated, not duplicated)") + "; test it in Airbyte: Sources > " + name);
        System.out.println(id);
        return Exit.OK;
    }
}
