import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Airbyte's public API (self-managed paths, /api/public/v1) on a {@link FakeApi}, following its documented contract:
 * the token exchange, sources, connections, the streams a source offers a destination, and jobs. The streams are
 * answered from the test database as source-postgres's stream factory does: the tables and views the source's user may
 * SELECT in the source's schemas, incremental modes only for tables with a primary key. Connections are refused as
 * Airbyte refuses them: an unknown stream, a sync mode not offered, a cursor field, '*' in a cron's seconds or minutes.
 * Every call but the token exchange needs the token, which expires after {@link #tokenLasts} calls.
 */
final class FakeAirbyte {
    static final String API = "/api/public/v1", WORKSPACE = "9a1b2c3d-0000-4000-8000-00000000abcd", DESTINATION = "dest-0001";
    static final String CLIENT = "client-id-42";

    final FakeApi http;
    final String db;
    /** Read once: Pg's server() is locked while Pg.run runs a command, and the routes answer during that run. */
    private final int port = Pg.port();
    final Map<String, ObjectNode> sources = new LinkedHashMap<>(), connections = new LinkedHashMap<>();
    final List<String> destinations = new ArrayList<>(List.of(DESTINATION));
    final Map<Long, ObjectNode> jobs = new LinkedHashMap<>();
    /** The statuses the next job goes through, one per look; the last one stays. */
    List<String> jobStatuses = List.of("pending", "running", "succeeded");
    private final Map<Long, List<String>> ahead = new LinkedHashMap<>();
    /** How many requests a token serves before it has expired (401), as Airbyte's last minutes; the next one is another. */
    volatile int tokenLasts = Integer.MAX_VALUE;
    private volatile String token = FakeApi.AIRBYTE_TOKEN;
    private volatile int uses;
    private final AtomicLong ids = new AtomicLong(1000);

    FakeAirbyte(FakeApi http, String db) {
        this.http = http;
        this.db = db;
        http.on("POST " + API + "/applications/token", r -> {
            token = http.requests("POST " + API + "/applications/token").size() > 1 ? FakeApi.AIRBYTE_TOKEN_RENEWED : FakeApi.AIRBYTE_TOKEN;
            uses = 0;
            return FakeApi.Reply.ok(Map.of("access_token", token, "token_type", "Bearer", "expires_in", 180));
        });
        route("GET /sources", r -> FakeApi.Reply.ok(page(sources.values().stream()
                .filter(s -> s.get("workspaceId").asText().equals(query(r, "workspaceIds"))).toList(), r)));
        route("GET /sources/*", r -> {
            ObjectNode s = sources.get(last(r));
            return s == null ? notFound("source", last(r)) : FakeApi.Reply.ok(s);
        });
        route("GET /streams", r -> {
            ObjectNode s = sources.get(query(r, "sourceId"));
            if (s == null) return notFound("source", query(r, "sourceId"));
            if (!destinations.contains(query(r, "destinationId"))) return notFound("destination", query(r, "destinationId"));
            return FakeApi.Reply.ok(streams(s));
        });
        route("GET /connections", r -> FakeApi.Reply.ok(page(connections.values().stream()
                .filter(c -> c.get("workspaceId").asText().equals(query(r, "workspaceIds"))).toList(), r)));
        route("GET /connections/*", r -> {
            ObjectNode c = connections.get(last(r));
            return c == null ? notFound("connection", last(r)) : FakeApi.Reply.ok(c);
        });
        route("POST /connections", r -> {
            JsonNode b = r.json();
            ObjectNode source = sources.get(b.path("sourceId").asText());
            if (source == null) return notFound("source", b.path("sourceId").asText());
            if (!destinations.contains(b.path("destinationId").asText())) return notFound("destination", b.path("destinationId").asText());
            ObjectNode c = FakeApi.JSON.createObjectNode().put("connectionId", "conn-" + ids.incrementAndGet())
                    .put("workspaceId", source.get("workspaceId").asText()).put("sourceId", b.path("sourceId").asText())
                    .put("destinationId", b.path("destinationId").asText()).put("status", "active");
            FakeApi.Reply refused = configure(c, b, source);
            if (refused != null) return refused;
            connections.put(c.get("connectionId").asText(), c);
            return FakeApi.Reply.ok(c);
        });
        route("PATCH /connections/*", r -> {
            ObjectNode c = connections.get(last(r));
            if (c == null) return notFound("connection", last(r));
            ObjectNode changed = c.deepCopy();
            FakeApi.Reply refused = configure(changed, r.json(), sources.get(c.get("sourceId").asText()));
            if (refused != null) return refused;
            connections.put(last(r), changed);
            return FakeApi.Reply.ok(changed);
        });
        route("POST /jobs", r -> {
            String connection = r.json().path("connectionId").asText();
            if (!connections.containsKey(connection)) return notFound("connection", connection);
            return FakeApi.Reply.ok(job(connection, r.json().path("jobType").asText(), jobStatuses));
        });
        route("GET /jobs/*", r -> {
            ObjectNode j = jobs.get(Long.parseLong(last(r)));
            if (j == null) return notFound("job", last(r));
            List<String> next = ahead.get(j.get("jobId").asLong());
            if (next.size() > 1) next.remove(0);
            j.put("status", next.get(0)).put("duration", "PT" + (j.get("rowsSynced").asLong() + 1) + "S");
            if (!next.get(0).equals("pending")) j.put("rowsSynced", j.get("rowsSynced").asLong() + 5).put("bytesSynced", j.get("bytesSynced").asLong() + 640);
            return FakeApi.Reply.ok(j);
        });
        route("GET /jobs", r -> {
            List<ObjectNode> of = new ArrayList<>(jobs.values().stream()
                    .filter(j -> j.get("connectionId").asText().equals(query(r, "connectionId"))).toList());
            java.util.Collections.reverse(of); // orderBy=createdAt|DESC
            return FakeApi.Reply.ok(Map.of("data", of.subList(0, Math.min(of.size(), Integer.parseInt(query(r, "limit"))))));
        });
    }

    Map<String, String> credentials() { return Map.of("AIRBYTE_CLIENT_ID", CLIENT, "AIRBYTE_CLIENT_SECRET", FakeApi.AIRBYTE_CLIENT_SECRET); }

    /** A Postgres source for CDC, as airbyte-source --create makes it; its password is masked when read, as Airbyte does. */
    String source(String name, String username, List<String> schemas, String slot, String publication) {
        String id = "src-" + ids.incrementAndGet();
        ObjectNode s = FakeApi.JSON.createObjectNode().put("sourceId", id).put("name", name).put("sourceType", "postgres")
                .put("workspaceId", WORKSPACE);
        ObjectNode config = s.putObject("configuration").put("host", "localhost").put("port", port).put("database", db)
                .put("username", username).put("password", "**********");
        schemas.forEach(config.putArray("schemas")::add);
        config.putObject("replication_method").put("method", "CDC").put("replication_slot", slot).put("publication", publication)
                .put("initial_waiting_seconds", 1200).put("lsn_commit_behaviour", "After loading Data in the destination");
        sources.put(id, s);
        return id;
    }

    /** A connection made in Airbyte's console: its streams as "schema.table mode". */
    String connection(String name, String sourceId, String... streams) {
        String id = "conn-" + ids.incrementAndGet();
        ObjectNode c = FakeApi.JSON.createObjectNode().put("connectionId", id).put("name", name).put("workspaceId", WORKSPACE)
                .put("sourceId", sourceId).put("destinationId", DESTINATION).put("status", "active");
        c.putObject("schedule").put("scheduleType", "manual");
        ArrayNode list = c.putObject("configurations").putArray("streams");
        for (String s : streams) {
            String[] table = s.split(" ")[0].split("\\.", 2);
            list.addObject().put("name", table[1]).put("namespace", table[0]).put("syncMode", s.split(" ")[1]);
        }
        connections.put(id, c);
        return id;
    }

    /** A job of the connection that has already ended, as a scheduled sync leaves it. */
    long finishedJob(String connectionId, String status) { return job(connectionId, "sync", List.of(status)).get("jobId").asLong(); }

    private ObjectNode job(String connectionId, String type, List<String> statuses) {
        long id = ids.incrementAndGet();
        ObjectNode j = FakeApi.JSON.createObjectNode().put("jobId", id).put("status", statuses.get(0)).put("jobType", type)
                .put("startTime", "2026-12-02T03:00:00Z").put("connectionId", connectionId).put("rowsSynced", 0).put("bytesSynced", 0);
        jobs.put(id, j);
        ahead.put(id, new ArrayList<>(statuses));
        return j;
    }

    /** The source's streams for a destination, from the database, as source-postgres lists them. */
    private ArrayNode streams(ObjectNode source) {
        JsonNode config = source.get("configuration");
        List<String> schemas = new ArrayList<>();
        config.get("schemas").forEach(s -> schemas.add(s.asText()));
        ArrayNode out = FakeApi.JSON.createArrayNode();
        String query = "SELECT n.nspname, c.relname, EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p') "
                + "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'm') "
                + "AND NOT c.relispartition AND n.nspname = ANY (?) AND has_table_privilege(?, c.oid, 'SELECT') ORDER BY 1, 2";
        try (java.sql.Connection c = java.sql.DriverManager.getConnection("jdbc:postgresql://localhost:" + port + "/" + db, "postgres", "");
             java.sql.PreparedStatement ps = c.prepareStatement(query)) {
            ps.setArray(1, c.createArrayOf("text", schemas.toArray()));
            ps.setString(2, config.get("username").asText());
            try (java.sql.ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    ObjectNode s = out.addObject().put("streamName", rs.getString(2)).put("streamnamespace", rs.getString(1));
                    ArrayNode modes = s.putArray("syncModes").add("full_refresh_overwrite").add("full_refresh_append");
                    if (rs.getBoolean(3)) modes.add("incremental_append").add("incremental_deduped_history");
                    s.putArray("defaultCursorField").add("_ab_cdc_lsn");
                    s.put("sourceDefinedCursorField", true);
                    s.putArray("sourceDefinedPrimaryKey");
                }
            }
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
        }
        return out;
    }

    /** Name, schedule and streams from a request body into the connection, or Airbyte's refusal. */
    private FakeApi.Reply configure(ObjectNode c, JsonNode body, ObjectNode source) {
        if (body.has("name")) c.put("name", body.get("name").asText());
        if (body.has("schedule")) {
            String cron = body.get("schedule").path("cronExpression").asText("");
            String[] f = cron.split(" ");
            if (!cron.isEmpty() && (f[0].contains("*") || f.length > 1 && f[1].contains("*")))
                return FakeApi.Reply.json(400, Map.of("message", "The cron expression " + cron + " is not valid: a sync may not run every second or minute"));
            c.set("schedule", body.get("schedule"));
        }
        ArrayNode offered = streams(source);
        ArrayNode chosen = FakeApi.JSON.createArrayNode();
        JsonNode asked = body.path("configurations").path("streams");
        if (asked.isMissingNode() && c.has("configurations")) return null;
        if (asked.isMissingNode() || asked.isEmpty())
            offered.forEach(s -> chosen.addObject().put("name", s.get("streamName").asText()).put("namespace", s.get("streamnamespace").asText())
                    .put("syncMode", "full_refresh_overwrite"));
        for (JsonNode s : asked) {
            JsonNode o = null;
            for (JsonNode x : offered)
                if (x.get("streamName").asText().equals(s.path("name").asText()) && x.get("streamnamespace").asText().equals(s.path("namespace").asText())) o = x;
            if (o == null)
                return FakeApi.Reply.json(400, Map.of("message", "No streams found with name [" + s.path("name").asText() + "] and namespace ["
                        + s.path("namespace").asText() + "]"));
            if (s.has("cursorField"))
                return FakeApi.Reply.json(400, Map.of("message", "Cursor Field " + s.get("cursorField") + " is already defined by source for stream " + s.path("name").asText()));
            List<String> modes = new ArrayList<>();
            o.get("syncModes").forEach(m -> modes.add(m.asText()));
            String mode = s.path("syncMode").asText("full_refresh_overwrite");
            if (!modes.contains(mode))
                return FakeApi.Reply.json(400, Map.of("message", "Cannot set sync mode to " + mode + " for stream " + s.path("name").asText()
                        + ". Valid sync modes are: " + modes));
            chosen.addObject().put("name", s.path("name").asText()).put("namespace", s.path("namespace").asText()).put("syncMode", mode);
        }
        c.putObject("configurations").set("streams", chosen);
        return null;
    }

    /** A route of the API that answers 401 without the token the exchange gave. */
    private void route(String methodAndPath, java.util.function.Function<FakeApi.Request, FakeApi.Reply> handler) {
        String[] mp = methodAndPath.split(" ", 2);
        http.on(mp[0] + " " + API + mp[1], r -> ("Bearer " + token).equals(r.header("Authorization")) && uses++ < tokenLasts
                ? handler.apply(r) : FakeApi.Reply.json(401, Map.of("message", "Unauthorized")));
    }

    private static Map<String, Object> page(List<ObjectNode> all, FakeApi.Request r) {
        int limit = Integer.parseInt(query(r, "limit")), offset = Integer.parseInt(query(r, "offset"));
        return Map.of("data", all.subList(Math.min(offset, all.size()), Math.min(offset + limit, all.size())), "next", "", "previous", "");
    }

    static String query(FakeApi.Request r, String name) {
        for (String kv : r.query() == null ? new String[0] : r.query().split("&")) {
            String[] p = kv.split("=", 2);
            if (p[0].equals(name)) return java.net.URLDecoder.decode(p.length > 1 ? p[1] : "", java.nio.charset.StandardCharsets.UTF_8);
        }
        throw new AssertionError("no " + name + " in " + r);
    }

    private static String last(FakeApi.Request r) { return r.path().substring(r.path().lastIndexOf('/') + 1); }

    private static FakeApi.Reply notFound(String what, String id) {
        return FakeApi.Reply.json(404, Map.of("message", "Could not find " + what + " with id: " + id));
    }
}
