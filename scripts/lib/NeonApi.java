//SOURCES Runbook.java HttpJson.java

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Option;

/**
 * The calls the runbook makes to Neon's API (https://api-docs.neon.tech): read a project, change its settings,
 * find the project of an endpoint. The key comes from NEON_API_KEY only, never from an argument, and is never
 * printed; the base URL from NEON_API_HOST, as neonctl reads it.
 */
final class NeonApi {
    static final String DEFAULT_HOST = "https://console.neon.tech/api/v2";
    /** Another operation is running on the project (423); the service is briefly unavailable (503). */
    static final Set<Integer> RETRYABLE = Set.of(423, 503);

    /** Options of the scripts that call Neon's API. */
    static final class Options {
        @Option(names = "--project-id", paramLabel = "ID", description = "The Neon project (default: $NEON_PROJECT_ID; "
                + "else found by listing your projects for the endpoint of the connection host). Neon console: your "
                + "project > Settings > General.")
        String projectId;
        @Option(names = "--api-timeout", paramLabel = "SECONDS", defaultValue = "30", description = "Seconds to wait for "
                + "each answer of Neon's API (default: ${DEFAULT-VALUE}).")
        int apiTimeout;

        /** Where NEON_API_KEY, NEON_API_HOST and NEON_PROJECT_ID are read; tests put their own. */
        Map<String, String> env = System.getenv();
        /** Retries of 423 and 503: how many attempts in all, and the first pause, doubled each time. */
        int attempts = 6;
        long backoffMillis = 1000;

        /** --project-id, else $NEON_PROJECT_ID, else null. */
        String projectId() {
            String id = projectId != null ? projectId : env.get("NEON_PROJECT_ID");
            if (id == null || id.isBlank()) return null;
            if (!id.strip().matches("[A-Za-z0-9_-]{1,64}"))
                throw Failure.badInput("--project-id '" + id + "' is not a Neon project id (like old-fire-32990194)");
            return id.strip();
        }

        String host() {
            String h = env.get("NEON_API_HOST");
            return h == null || h.isBlank() ? DEFAULT_HOST : h.strip();
        }

        /** A client with the key; exit 2 when NEON_API_KEY is not set. */
        NeonApi api() {
            String key = env.get("NEON_API_KEY");
            if (key == null || key.isBlank())
                throw Failure.badInput("NEON_API_KEY is not set: create a key in the Neon console > Account settings > "
                        + "API keys (or an organization's API keys), then export NEON_API_KEY=<key>");
            HttpJson http = new HttpJson("Neon API", host(), "NEON_API_HOST", apiTimeout, RETRYABLE);
            http.bearer(key.strip());
            http.attempts = attempts;
            http.backoffMillis = backoffMillis;
            http.explain = NeonApi::explain;
            return new NeonApi(http);
        }
    }

    final HttpJson http;

    NeonApi(HttpJson http) { this.http = http; }

    /** Neon's statuses with the fix named; null leaves the rest to HttpJson. */
    static Failure explain(int status, String request, String message) {
        return switch (status) {
            case 401 -> new Failure(Exit.CANNOT_CONNECT, "NEON_API_KEY was refused (HTTP 401): create a key in "
                    + "the Neon console > Account settings > API keys, then export NEON_API_KEY=<key>");
            case 403 -> new Failure(Exit.REFUSED, "NEON_API_KEY may not " + request + " (HTTP 403): use a key that "
                    + "can manage this project (for an organization's project, one of the organization's API keys)");
            case 404 -> new Failure(Exit.BAD_INPUT, "Neon has no " + request.replaceFirst("^\\S+ ", "") + " (HTTP 404): "
                    + "check the project id (--project-id or NEON_PROJECT_ID; Neon console > your project > Settings > "
                    + "General) and that NEON_API_KEY belongs to its account or organization");
            default -> null;
        };
    }

    static String projectPath(String id) { return "/projects/" + HttpJson.enc(id); }

    /** A request as --dry-run shows it: the key appears as the variable it comes from. */
    Map<String, Object> wouldSend(String method, String path, Object body) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("method", method);
        r.put("url", http.base + path);
        r.put("headers", Map.of("Authorization", "Bearer $NEON_API_KEY", "Content-Type", "application/json"));
        r.put("body", body);
        return r;
    }

    /** GET /projects/{id}: the project, with its settings. */
    JsonNode project(String id) {
        String path = projectPath(id);
        return http.need(http.send("GET", path, null), "project", "GET " + path);
    }

    /** The body that changes some of the project's settings; Neon leaves the settings it is not sent as they are. */
    static ObjectNode settingsBody(ObjectNode settings) {
        ObjectNode body = HttpJson.JSON.createObjectNode();
        body.putObject("project").set("settings", settings);
        return body;
    }

    /** Turns on logical replication: cannot be undone, and Neon suspends the project's active computes. */
    static ObjectNode enableLogicalReplicationBody() {
        ObjectNode settings = HttpJson.JSON.createObjectNode();
        settings.put("enable_logical_replication", true);
        return settingsBody(settings);
    }

    /** PATCH /projects/{id} with a settings body; returns the project as Neon now has it. */
    JsonNode patchProject(String id, ObjectNode body) {
        String path = projectPath(id);
        return http.need(http.send("PATCH", path, body), "project", "PATCH " + path);
    }

    /** Every project the key can see (GET /projects, pages of 400); {@code orElse} says how to do without the list. */
    List<JsonNode> projects(String orElse) {
        List<JsonNode> all = new ArrayList<>();
        String cursor = null;
        while (true) {
            JsonNode page;
            try {
                page = http.send("GET", "/projects?limit=400" + (cursor == null ? "" : "&cursor=" + HttpJson.enc(cursor)), null);
            } catch (Failure f) { // e.g. 400 "org_id is required" for a personal key in an organization
                if (f.exit != Exit.REFUSED) throw f;
                throw new Failure(f.exit, f.getMessage() + " - or " + orElse);
            }
            JsonNode projects = http.need(page, "projects", "GET /projects");
            projects.forEach(all::add);
            String next = page.path("pagination").path("cursor").asText(null);
            if (projects.size() < 400 || next == null || next.isEmpty() || next.equals(cursor)) return all;
            cursor = next;
        }
    }

    /**
     * The project that has the endpoint: lists the key's projects, then each one's endpoints. Exit 2 when none has it.
     */
    String projectOf(String endpointId) {
        List<JsonNode> projects = projects("give --project-id (Neon console > your project > Settings)");
        Progress.line("looking for the Neon project of endpoint " + endpointId + " ...");
        for (JsonNode p : projects) {
            String id = p.path("id").asText();
            for (JsonNode e : http.send("GET", projectPath(id) + "/endpoints", null).path("endpoints"))
                if (endpointId.equals(e.path("id").asText())) {
                    Progress.line("endpoint " + endpointId + " belongs to project " + id + " (" + p.path("name").asText(id) + ")");
                    return id;
                }
        }
        throw Failure.badInput("none of the " + projects.size() + " Neon project(s) NEON_API_KEY can see has endpoint " + endpointId
                + ": give --project-id (Neon console > your project > Settings > General), or use a key of the "
                + "organization that owns the project");
    }

    /**
     * The connection string of a database of the project's default branch, through its read-write compute
     * (GET /projects/{id}/connection_uri). It holds the role's password: registered as a secret before it goes anywhere.
     */
    String connectionUri(String projectId, String database, String role) {
        String path = projectPath(projectId) + "/connection_uri?database_name=" + HttpJson.enc(database) + "&role_name=" + HttpJson.enc(role);
        String uri = http.need(http.send("GET", path, null), "uri", "GET " + projectPath(projectId) + "/connection_uri").asText();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("^[a-z]+://[^:/@]*:([^@]*)@").matcher(uri);
        if (m.find()) {
            Secrets.add(m.group(1));
            Secrets.add(java.net.URLDecoder.decode(m.group(1), java.nio.charset.StandardCharsets.UTF_8));
        }
        return uri;
    }

    private static final Pattern OPTIONS_ENDPOINT = Pattern.compile("(?:^|\\s)endpoint=([A-Za-z0-9-]+)");

    /**
     * The Neon endpoint id of a connection: {@code options=endpoint=...} when given, else the host's first label
     * without {@code -pooler} ({@code ep-cool-darkness-123456[-pooler][.c-2].us-east-2.aws.neon.tech}); a
     * {@code c-N} label is skipped wherever it is. Null when the host is not a Neon endpoint's.
     */
    static String endpointId(Target t) {
        if (t.options != null) {
            Matcher m = OPTIONS_ENDPOINT.matcher(t.options);
            if (m.find()) return m.group(1);
        }
        for (String label : t.host.toLowerCase().split("\\.")) {
            if (label.matches("c-\\d+")) continue;
            String id = label.replaceFirst("-pooler$", "");
            return id.matches("ep-[a-z0-9-]+") ? id : null;
        }
        return null;
    }

    /** --project-id or $NEON_PROJECT_ID, else the project of the endpoint, found through the API. */
    static String resolveProject(Options o, NeonApi api, String endpointId) {
        String id = o.projectId();
        if (id != null) return id;
        if (endpointId == null)
            throw Failure.badInput("which Neon project? give --project-id (or NEON_PROJECT_ID; Neon console > your project "
                    + "> Settings > General), or a Neon connection (--url) to find it by its endpoint");
        return api.projectOf(endpointId);
    }
}
