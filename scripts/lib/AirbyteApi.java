//SOURCES Runbook.java HttpJson.java AirbyteCheck.java

import com.fasterxml.jackson.databind.JsonNode;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import picocli.CommandLine.Option;

/**
 * Airbyte's side: Airbyte Cloud's egress addresses, and the calls to Airbyte's API (https://reference.airbyte.com)
 * that create or update the Postgres source (airbyte-source --create), after the check Airbyte itself runs.
 */
final class AirbyteApi {
    static final String CLOUD = "https://api.airbyte.com/v1";
    /** Rate limited: the request was not taken, so it is safe to send again. */
    static final Set<Integer> RETRYABLE = Set.of(429);

    /** Airbyte Cloud's egress addresses (docs.airbyte.com/operating-airbyte/security). */
    static final List<String> US = List.of("34.106.109.131", "34.106.196.165", "34.106.60.246", "34.106.229.69",
            "34.106.127.139", "34.106.218.58", "34.106.115.240", "34.106.225.141", "34.33.7.0/29");
    static final List<String> EU = List.of("13.37.4.46", "13.37.142.60", "35.181.124.238");

    /** The addresses of a region: us, eu or all; exit 2 otherwise. */
    static List<String> cloudIps(String option, String region) {
        String r = region == null ? "" : region.strip().toLowerCase();
        List<String> ips = new ArrayList<>();
        if (r.equals("us") || r.equals("all")) ips.addAll(US);
        if (r.equals("eu") || r.equals("all")) ips.addAll(EU);
        if (ips.isEmpty())
            throw Failure.badInput(option + " '" + region + "' is not one of us, eu, all (the region of your Airbyte Cloud workspace)");
        return ips;
    }

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
        @Option(names = "--api-url", paramLabel = "URL", description = "With --create: a self-managed Airbyte, e.g. "
                + "http://localhost:8000 (its API is <URL>/api/public/v1); default: Airbyte Cloud, " + CLOUD + ".")
        String apiUrl;
        @Option(names = "--skip-checks", description = "With --create: do not connect to the database to check the schemas, "
                + "slot, publication and role first.")
        boolean skipChecks;
        @Option(names = "--dry-run", description = "With --create: check and look up, then print the request that would "
                + "be sent (password masked); change nothing.")
        boolean dryRun;
        @Option(names = "--api-timeout", paramLabel = "SECONDS", defaultValue = "30", description = "With --create: seconds "
                + "to wait for each answer of Airbyte's API (default: ${DEFAULT-VALUE}).")
        int apiTimeout;

        /** Where AIRBYTE_CLIENT_ID, AIRBYTE_CLIENT_SECRET and AIRBYTE_API_TOKEN are read; tests put their own. */
        Map<String, String> env = System.getenv();
        int attempts = 6;
        long backoffMillis = 1000;

        /** The API's base: Cloud, or a self-managed instance's public API. */
        String base() {
            if (apiUrl == null || apiUrl.isBlank()) return CLOUD;
            String u = apiUrl.strip().replaceFirst("/+$", "");
            if (u.matches("(?s)[^/]*//[^/]*@.*")) // shown in requests and errors, where a password must not be
                throw Failure.badInput("--api-url holds a user or password: leave them out and give AIRBYTE_API_TOKEN "
                        + "(or AIRBYTE_CLIENT_ID and AIRBYTE_CLIENT_SECRET) instead");
            return u.endsWith("/v1") ? u : u + "/api/public/v1";
        }

        /**
         * A client with a bearer token: from AIRBYTE_CLIENT_ID and AIRBYTE_CLIENT_SECRET (POST /applications/token),
         * else AIRBYTE_API_TOKEN; exit 2 when neither is set.
         */
        AirbyteApi connect() {
            requireCredentials();
            String id = get("AIRBYTE_CLIENT_ID"), secret = get("AIRBYTE_CLIENT_SECRET"), token = get("AIRBYTE_API_TOKEN");
            HttpJson http = new HttpJson("Airbyte API", base(), "--api-url", apiTimeout, RETRYABLE);
            http.attempts = attempts;
            http.backoffMillis = backoffMillis;
            if (id != null && secret != null) {
                Secrets.add(secret);
                http.explain = (status, request, message) -> status == 401 || status == 403 ? new Failure(
                        Exit.CANNOT_CONNECT, "Airbyte refused AIRBYTE_CLIENT_ID / AIRBYTE_CLIENT_SECRET (HTTP " + status
                        + "): check them in Airbyte > Settings > Applications (and --api-url for a self-managed Airbyte)") : null;
                Map<String, String> body = new LinkedHashMap<>();
                body.put("client_id", id);
                body.put("client_secret", secret);
                body.put("grant-type", "client_credentials");
                token = http.need(http.send("POST", "/applications/token", body), "access_token", "POST /applications/token").asText();
            }
            http.bearer(token);
            http.explain = AirbyteApi::explain;
            return new AirbyteApi(http);
        }

        /** Exit 2 unless the environment has a client id and secret, or a token, and --api-url holds neither. */
        void requireCredentials() {
            base();
            String id = get("AIRBYTE_CLIENT_ID"), secret = get("AIRBYTE_CLIENT_SECRET");
            if (id != null && secret != null || get("AIRBYTE_API_TOKEN") != null) return;
            throw Failure.badInput(id != null || secret != null
                    ? (id == null ? "AIRBYTE_CLIENT_ID" : "AIRBYTE_CLIENT_SECRET") + " is not set: both come from Airbyte > Settings > Applications"
                    : "no Airbyte credentials: export AIRBYTE_CLIENT_ID and AIRBYTE_CLIENT_SECRET (Airbyte > Settings > "
                      + "Applications > Create an application), or AIRBYTE_API_TOKEN");
        }

        private String get(String name) {
            String v = env.get(name);
            return v == null || v.isBlank() ? null : v.strip();
        }
    }

    final HttpJson http;

    AirbyteApi(HttpJson http) { this.http = http; }

    static Failure explain(int status, String request, String message) {
        return switch (status) {
            case 401 -> new Failure(Exit.CANNOT_CONNECT, "Airbyte refused the access token (HTTP 401): "
                    + "AIRBYTE_API_TOKEN is wrong or expired (tokens last minutes: prefer AIRBYTE_CLIENT_ID and AIRBYTE_CLIENT_SECRET)");
            case 403 -> new Failure(Exit.REFUSED, "Airbyte does not let this application " + request + " (HTTP 403): "
                    + "its user needs access to the workspace");
            case 404 -> new Failure(Exit.BAD_INPUT, "Airbyte has no " + request.replaceFirst("^\\S+ ", "")
                    + " (HTTP 404): check --workspace-id (the id in the workspace's URL) and --api-url");
            default -> null;
        };
    }

    /** The workspace's sources with this name: GET /sources?workspaceIds=..., every page of 100. */
    List<JsonNode> sourcesNamed(String workspaceId, String name) {
        List<JsonNode> found = new ArrayList<>();
        for (int offset = 0; ; offset += 100) {
            JsonNode page = http.send("GET", "/sources?workspaceIds=" + HttpJson.enc(workspaceId) + "&limit=100&offset=" + offset, null);
            JsonNode data = http.need(page, "data", "GET /sources");
            for (JsonNode s : data)
                if (name.equals(s.path("name").asText()) && workspaceId.equals(s.path("workspaceId").asText(workspaceId))) found.add(s);
            if (data.size() < 100) return found;
        }
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
    static Exit createSource(Options o, Db db, Map<String, Object> configuration, DatabaseCheck first) {
        if (o.workspaceId == null || !o.workspaceId.strip().matches("[A-Za-z0-9-]{1,64}"))
            throw Failure.badInput("--create needs --workspace-id ID (the id in your Airbyte workspace's URL)");
        String workspace = o.workspaceId.strip();
        o.requireCredentials();
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
        AirbyteApi api = o.connect();
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
