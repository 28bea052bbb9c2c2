//SOURCES Runbook.java HttpJson.java AirbyteCheck.java

import com.fasterxml.jackson.databind.JsonNode;
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

    /**
     * Where Airbyte's API is and how long to wait for it; the credentials come from the environment only:
     * AIRBYTE_CLIENT_ID and AIRBYTE_CLIENT_SECRET, or AIRBYTE_API_TOKEN.
     */
    static final class Access {
        @Option(names = "--api-url", paramLabel = "URL", description = "A self-managed Airbyte, e.g. http://localhost:8000 "
                + "(its API is <URL>/api/public/v1); default: Airbyte Cloud, " + CLOUD + ".")
        String apiUrl;
        @Option(names = "--api-timeout", paramLabel = "SECONDS", defaultValue = "30", description = "Seconds to wait for each "
                + "answer of Airbyte's API (default: ${DEFAULT-VALUE}).")
        int apiTimeout = 30;

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
                token = token(http, id, secret);
                http.renew = () -> token(http, id, secret);
            }
            http.bearer(token);
            http.explain = AirbyteApi::explain;
            return new AirbyteApi(http);
        }

        /** POST /applications/token: an access token for the application's id and secret (it lasts minutes). */
        private static String token(HttpJson api, String id, String secret) {
            HttpJson http = api.anonymous();
            http.explain = (status, request, message) -> status == 401 || status == 403 ? new Failure(
                    Exit.CANNOT_CONNECT, "Airbyte refused AIRBYTE_CLIENT_ID / AIRBYTE_CLIENT_SECRET (HTTP " + status
                    + "): check them in Airbyte > Settings > Applications (and --api-url for a self-managed Airbyte)") : null;
            Map<String, String> body = new LinkedHashMap<>();
            body.put("client_id", id);
            body.put("client_secret", secret);
            body.put("grant-type", "client_credentials");
            return http.need(http.send("POST", "/applications/token", body), "access_token", "POST /applications/token").asText();
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

    /** An id Airbyte gave (a workspace, source, destination or connection: a UUID), checked before it goes in a path. */
    static String id(String option, String value, String what) {
        if (value == null || !value.strip().matches("[A-Za-z0-9-]{1,64}"))
            throw Failure.badInput(option + (value == null ? " is missing" : " '" + value + "' is not an id") + ": give " + what);
        return value.strip();
    }

    final HttpJson http;

    AirbyteApi(HttpJson http) { this.http = http; }

    static Failure explain(int status, String request, String message) {
        return switch (status) {
            case 401 -> new Failure(Exit.CANNOT_CONNECT, "Airbyte refused the access token (HTTP 401): "
                    + "AIRBYTE_API_TOKEN is wrong or expired (tokens last minutes: prefer AIRBYTE_CLIENT_ID and AIRBYTE_CLIENT_SECRET)");
            case 403 -> new Failure(Exit.REFUSED, "Airbyte does not let this application " + request + " (HTTP 403): "
                    + "its user needs access to the workspace");
            case 404 -> new Failure(Exit.BAD_INPUT, "Airbyte has no " + request.replaceFirst("^\\S+ ", "") + " (HTTP 404): "
                    + (request.endsWith(" /streams") ? "check the source and --destination-id"
                    : request.matches("\\S+ /[a-z]+") ? "check --workspace-id (the id in the workspace's URL)" : "check that id")
                    + " and --api-url");
            default -> null;
        };
    }

    /** Every item of a listing (GET path?...&limit=100&offset=N), page after page. */
    List<JsonNode> all(String path) {
        List<JsonNode> items = new ArrayList<>();
        for (int offset = 0; ; offset += 100) {
            JsonNode data = http.need(http.send("GET", path + "&limit=100&offset=" + offset, null), "data", "GET " + path.replaceFirst("\\?.*", ""));
            data.forEach(items::add);
            if (data.size() < 100) return items;
        }
    }

    /** The workspace's sources with this name. */
    List<JsonNode> sourcesNamed(String workspaceId, String name) {
        return all("/sources?workspaceIds=" + HttpJson.enc(workspaceId)).stream()
                .filter(s -> name.equals(s.path("name").asText()) && workspaceId.equals(s.path("workspaceId").asText(workspaceId))).toList();
    }

    JsonNode source(String id) { return http.send("GET", "/sources/" + HttpJson.enc(id), null); }

    JsonNode connection(String id) { return http.send("GET", "/connections/" + HttpJson.enc(id), null); }

    /** The workspace's connections with this name between this source and destination. */
    List<JsonNode> connectionsNamed(String workspaceId, String name, String sourceId, String destinationId) {
        return all("/connections?workspaceIds=" + HttpJson.enc(workspaceId)).stream()
                .filter(c -> name.equals(c.path("name").asText()) && sourceId.equals(c.path("sourceId").asText())
                        && destinationId.equals(c.path("destinationId").asText())).toList();
    }

    /** What Airbyte offers for this source and destination: one entry per stream, with its sync modes. */
    JsonNode streams(String sourceId, String destinationId) {
        JsonNode streams = http.send("GET", "/streams?sourceId=" + HttpJson.enc(sourceId) + "&destinationId=" + HttpJson.enc(destinationId), null);
        if (!streams.isArray())
            throw new Failure(Exit.CANNOT_CONNECT, "Airbyte's answer to GET /streams is not a list of streams: is " + http.base
                    + " the API's address? (--api-url)");
        return streams;
    }

    /**
     * The airbyte-source --create command that makes this source again, as it is (its name, workspace, user, slot,
     * publication, schemas, heartbeat), with {@code schemas} in place of its own when given; the connection options
     * are this invocation's. Its other settings (initial wait, LSN commit) go back to their defaults.
     */
    static String recreate(JsonNode source, String workspaceId, String apiUrl, List<String> schemas) {
        JsonNode config = source.path("configuration"), cdc = config.path("replication_method");
        List<String> words = new ArrayList<>(List.of("--create", "--workspace-id", source.path("workspaceId").asText(workspaceId),
                "--name", source.path("name").asText()));
        if (config.hasNonNull("username")) words.addAll(List.of("--role", config.get("username").asText()));
        if (cdc.hasNonNull("replication_slot")) words.addAll(List.of("--slot", cdc.get("replication_slot").asText()));
        if (cdc.hasNonNull("publication")) words.addAll(List.of("--publication", cdc.get("publication").asText()));
        List<String> names = new ArrayList<>();
        if (schemas != null) names.addAll(schemas);
        else config.path("schemas").forEach(n -> names.add(n.asText()));
        for (String n : names) words.addAll(List.of("--schema", n));
        if (cdc.hasNonNull("heartbeat_action_query")) words.add("--heartbeat");
        if (apiUrl != null) words.addAll(List.of("--api-url", apiUrl));
        return Invocation.current().other("airbyte-source", words);
    }

    /** The connection's newest sync job, or null when it has none. */
    JsonNode lastSync(String connectionId) {
        JsonNode data = http.need(http.send("GET", "/jobs?connectionId=" + HttpJson.enc(connectionId)
                + "&jobType=sync&limit=1&orderBy=createdAt%7CDESC", null), "data", "GET /jobs");
        return data.isEmpty() ? null : data.get(0);
    }

    /** A job's status, time, rows and bytes, in one line: "running, 1 min 20 s, 1,234 rows, 5 MB". */
    static String describe(JsonNode job) {
        List<String> parts = new ArrayList<>(List.of(job.path("status").asText("unknown")));
        String duration = job.path("duration").asText("");
        if (!duration.isEmpty()) {
            try {
                long s = java.time.Duration.parse(duration).toSeconds();
                parts.add(s >= 60 ? s / 60 + " min " + s % 60 + " s" : s + " s");
            } catch (java.time.format.DateTimeParseException unreadable) {
                parts.add(duration);
            }
        }
        if (job.hasNonNull("rowsSynced")) parts.add(String.format("%,d rows", job.get("rowsSynced").asLong()));
        if (job.hasNonNull("bytesSynced")) parts.add(Output.size(job.get("bytesSynced").asLong()));
        return String.join(", ", parts);
    }
}
