///usr/bin/env jbang "$0" "$@" ; exit $?
//SOURCES lib/Runbook.java lib/AirbyteApi.java lib/AirbyteStreams.java
//DESCRIPTION Connect the Airbyte source to a destination with exactly the publication's tables as streams, then sync (guide step: Configure a destination)

import com.fasterxml.jackson.databind.JsonNode;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "airbyte-connection", mixinStandardHelpOptions = true, version = "airbyte-connection 1.0",
        description = {AirbyteConnection.DESCRIPTION,
                "Reads the publication's tables from the database (never the heartbeat table), asks Airbyte which sync "
                + "modes it offers for each (GET /streams), and creates the connection from the source to the destination "
                + "with exactly those tables as streams: incremental deduped for a table with a primary key, incremental "
                + "append where that is all Airbyte offers, full refresh (with a warning) for a table Airbyte offers no "
                + "incremental mode for. A table Airbyte does not list at all is a failure before anything is sent. A "
                + "connection of that name between the same source and destination is updated, never duplicated.",
                "--sync starts a sync; --follow follows it until it ends. Credentials come from the environment only: "
                + "AIRBYTE_CLIENT_ID and AIRBYTE_CLIENT_SECRET, or AIRBYTE_API_TOKEN."},
        footer = {"%nExamples:",
                "  jbang airbyte-connection --url \"$DATABASE_URL\" --workspace-id W --source-name shop --destination-id D --dry-run",
                "  jbang airbyte-connection --url \"$DATABASE_URL\" --workspace-id W --source-id S --destination-id D --sync --follow",
                "  jbang airbyte-connection --workspace-id W --source-name shop --destination-id D --cron '0 0 */6 * * ?'"})
class AirbyteConnection implements Callable<Exit>, Exit.Documented {
    static final String DESCRIPTION = "Connect the Airbyte source to a destination with exactly the publication's tables "
            + "as streams, then sync (guide step: Configure a destination)";

    public Map<Exit, String> exitCodes() {
        return Map.of(Exit.OK, "the connection was created or updated (and the sync, with --follow, succeeded); with --dry-run: "
                        + "it would be",
                Exit.NOT_READY, "not done: no publication or no tables in it, a --table not in it, a source that is not CDC or "
                        + "reads another database or publication, a table Airbyte does not offer (nothing sent); or the sync "
                        + "failed or was cancelled (its job id is printed)",
                Exit.BAD_INPUT, "bad input: an option; no credentials; the workspace, source or destination not found (404); "
                        + "a name several sources or connections have",
                Exit.CANNOT_CONNECT, "the database or Airbyte's API unreachable, timed out, not JSON, or the credentials refused (401)",
                Exit.REFUSED, "Airbyte refused the request (403, or its message, e.g. a sync mode it does not offer)",
                Exit.INTERRUPTED, "interrupted (Ctrl-C, SIGTERM); a sync job already started keeps running in Airbyte");
    }

    @Mixin Output out = new Output();
    @Mixin Db db = new Db();
    @Mixin AirbyteApi.Access api = new AirbyteApi.Access();
    @Mixin Flags.Publication publication = new Flags.Publication();
    @Option(names = "--workspace-id", paramLabel = "ID", description = "The Airbyte workspace (the id in its URL).") String workspaceId;
    @Option(names = "--source-name", paramLabel = "NAME", description = "The source, by its name in the workspace (as "
            + "airbyte-source --create named it).") String sourceName;
    @Option(names = "--source-id", paramLabel = "ID", description = "The source, by its id (instead of --source-name).") String sourceId;
    @Option(names = "--destination-id", paramLabel = "ID", description = "The destination (the id in its URL in Airbyte).") String destinationId;
    @Option(names = "--name", description = "The connection's name (default: the source's).") String name;
    @Option(names = "--schema", paramLabel = "SCHEMA", description = "Only the publication's tables in this schema (repeatable).")
    List<String> schemas;
    @Option(names = "--table", paramLabel = "SCHEMA.TABLE", description = "Only this table of the publication (repeatable).")
    List<String> tables;
    @Option(names = "--heartbeat-table", defaultValue = Defaults.HEARTBEAT_TABLE, paramLabel = "[SCHEMA.]TABLE",
            description = "The heartbeat table, never a stream (without a schema: in any schema) (default: ${DEFAULT-VALUE}).")
    String heartbeatTable = Defaults.HEARTBEAT_TABLE;
    @Option(names = "--leave-out-keyless", description = "Leave out the tables Airbyte offers no incremental sync for (no "
            + "primary key) instead of syncing them in full every time.") boolean leaveOutKeyless;
    @Option(names = "--cron", paramLabel = "EXPR", description = "Sync on this schedule: Airbyte's Quartz cron, seconds "
            + "minutes hours day-of-month month day-of-week, in UTC (default: manual).") String cron;
    @Option(names = "--sync", description = "Start a sync once the connection is saved.") boolean sync;
    // Not --wait: every command's --wait SECONDS is how long to retry the database connection.
    @Option(names = "--follow", description = "With --sync: follow the sync until it ends (progress on stderr); exit 0 only "
            + "when it succeeded. Ctrl-C stops following, not the sync.") boolean follow;
    /** Between two looks at a running job (tests make it short). */
    long pollMillis = 10_000;

    private final List<Runbook.Finding> findings = new ArrayList<>();
    private final Map<String, Object> extra = new LinkedHashMap<>();

    public Exit call() throws SQLException {
        String workspace = AirbyteApi.id("--workspace-id", workspaceId, "the id in your Airbyte workspace's URL");
        if ((sourceId == null) == (sourceName == null))
            throw Failure.badInput("give the source: --source-name NAME or --source-id ID (one of them)");
        if (sourceId != null) AirbyteApi.id("--source-id", sourceId, "the source's id (in its URL in Airbyte)");
        String destination = AirbyteApi.id("--destination-id", destinationId, "the destination's id (in its URL in Airbyte)");
        String schedule = cron == null ? null : AirbyteStreams.cron(cron);
        if (follow && !sync) throw Failure.badInput("--follow goes with --sync: it follows the sync job --sync starts");
        if (follow && out.dryRun) throw Failure.badInput("--follow does not go with --dry-run: nothing is started");
        String pub = Input.name("--publication", publication.name);
        String[] heartbeat = Input.tableName("--heartbeat-table", heartbeatTable);
        if (schemas != null) schemas.forEach(s -> Input.name("--schema", s));
        if (tables != null) tables.forEach(t -> Input.tableName("--table", t));
        if (name != null && name.isBlank()) throw Failure.badInput("--name is empty: give the connection a name");
        api.requireCredentials();

        List<AirbyteStreams.Table> published;
        try (Connection c = db.connect()) {
            c.setReadOnly(true);
            published = AirbyteStreams.published(c, pub, heartbeat);
        }
        if (published == null)
            return stop("publication", "no publication " + Input.ident(pub) + " in this database: Airbyte's CDC reads nothing without it",
                    Invocation.current().other("create-publication", List.of("--publication", pub)));
        List<AirbyteStreams.Table> wanted = wanted(published);
        if (wanted == null) return Exit.NOT_READY;

        AirbyteApi a = api.connect();
        JsonNode source = sourceId != null ? a.source(sourceId.strip()) : sourceNamed(a, workspace);
        String source_ = source.path("sourceId").asText(sourceId);
        String connectionName = name != null ? name.strip() : source.path("name").asText(source_);
        findings.add(Runbook.Finding.ok("source", "\"" + source.path("name").asText() + "\" (" + source_ + ")"));
        JsonNode config = source.path("configuration"), cdc = config.path("replication_method");
        String replication = cdc.path("method").asText(""), reads = cdc.path("publication").asText(""), database = config.path("database").asText("");
        if (!replication.isEmpty() && !replication.equals("CDC"))
            return stop("source", "the source reads with " + replication + ", not CDC: it would read no changes through the slot",
                    "make it a CDC source:  " + AirbyteApi.recreate(source, workspace, api.apiUrl, null));
        if (!database.isEmpty() && !database.equals(db.target().database))
            return stop("source", "the source reads database " + database + ", not " + db.target().database + ": its streams "
                    + "would be checked against the wrong database", "run this with --url of database " + database);
        if (!reads.isEmpty() && !reads.equals(pub))
            return stop("source", "the source reads publication " + reads + ", not " + pub + ": its CDC would not see these tables",
                    "if it is the right one:  " + Invocation.current().replacing("--publication", reads));

        AirbyteStreams.Selection sel = AirbyteStreams.choose(wanted, a.streams(source_, destination), leaveOutKeyless);
        if (!sel.notOffered().isEmpty()) return notOffered(sel.notOffered(), source, workspace);
        findings.add(Runbook.Finding.ok("streams", sel.streams().size() + ": " + byMode(sel.streams())));
        if (!sel.fullRefresh().isEmpty())
            findings.add(Runbook.Finding.warn("full refresh", names(sel.fullRefresh()) + ": Airbyte offers no incremental "
                    + "sync for them (source-postgres offers it only for tables with a primary key), so every sync copies them whole",
                    "give each a primary key (ALTER TABLE ... ADD PRIMARY KEY (<columns>)), then run this again; or leave them out:  "
                    + Invocation.current().again("--leave-out-keyless")));
        if (!sel.leftOut().isEmpty())
            findings.add(Runbook.Finding.ok("left out", names(sel.leftOut()) + " (no incremental sync offered: --leave-out-keyless)"));

        List<JsonNode> same = a.connectionsNamed(workspace, connectionName, source_, destination);
        if (same.size() > 1)
            throw Failure.badInput(same.size() + " connections are named \"" + connectionName + "\" between this source and "
                    + "destination: give --name a name of its own, or delete the extra ones in Airbyte");
        JsonNode existing = same.isEmpty() ? null : same.get(0);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("name", connectionName);
        if (existing == null) {
            body.put("sourceId", source_);
            body.put("destinationId", destination);
        }
        // An update keeps the schedule it has unless --cron is given: a cron set in Airbyte's console stays.
        if (schedule != null) body.put("schedule", Map.of("scheduleType", "cron", "cronExpression", schedule));
        else if (existing == null) body.put("schedule", Map.of("scheduleType", "manual"));
        body.put("configurations", Map.of("streams", sel.streams().stream().map(s -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", s.name());
            m.put("namespace", s.namespace());
            m.put("syncMode", s.syncMode());
            return m;
        }).toList()));
        String method = existing == null ? "POST" : "PATCH";
        String path = existing == null ? "/connections" : "/connections/" + HttpJson.enc(existing.path("connectionId").asText());
        if (out.dryRun) {
            extra.put("request", Map.of("method", method, "url", a.http.base + path, "body", body));
            if (sync) extra.put("then", Map.of("method", "POST", "url", a.http.base + "/jobs",
                    "body", Map.of("connectionId", existing == null ? "<the new connection's id>" : existing.path("connectionId").asText(), "jobType", "sync")));
            return print(Exit.OK, false);
        }
        String id = a.http.need(a.http.send(method, path, body), "connectionId", method + " " + path.replaceFirst("/[^/]*$", "/{id}")).asText();
        Interrupts.committed("the Airbyte connection \"" + connectionName + "\" (" + id + ") was " + (existing == null ? "created" : "updated"));
        extra.put("connection", Map.of("connectionId", id, "name", connectionName));
        if (existing != null) {
            findings.add(Runbook.Finding.ok("before", byMode(streamsOf(existing))));
            findings.add(Runbook.Finding.ok("after", byMode(sel.streams())));
        }
        findings.add(Runbook.Finding.ok("connection", (existing == null ? "created" : "updated (it existed: not duplicated)")
                + " \"" + connectionName + "\": " + id + (schedule != null ? ", schedule " + schedule
                : existing == null ? ", manual schedule" : ", schedule as it was")));
        return sync ? sync(a, id, connectionName, source) : print(Exit.OK, true);
    }

    /** --table and --schema narrow the publication's tables; a --table not in it is a failure, with the fix. */
    private List<AirbyteStreams.Table> wanted(List<AirbyteStreams.Table> published) {
        List<AirbyteStreams.Table> wanted = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        if (tables != null)
            for (String raw : tables) {
                String[] t = Input.tableName("--table", raw);
                List<AirbyteStreams.Table> found = published.stream()
                        .filter(p -> p.name().equals(t[1]) && (t[0] == null || p.schema().equals(t[0]))).toList();
                if (found.isEmpty()) missing.add(raw);
                found.stream().filter(p -> !wanted.contains(p)).forEach(wanted::add);
            }
        if (schemas != null)
            published.stream().filter(p -> schemas.stream().anyMatch(s -> Input.name("--schema", s).equals(p.schema())))
                    .filter(p -> !wanted.contains(p)).forEach(wanted::add);
        if (tables == null && schemas == null) wanted.addAll(published);
        String pub = Input.ident(publication.name);
        if (!missing.isEmpty()) {
            List<String> words = new ArrayList<>(List.of("--publication", publication.name));
            missing.forEach(m -> words.addAll(List.of("--table", m)));
            stop("tables", "not in publication " + pub + ": " + String.join(", ", missing) + ": Airbyte would get no changes of them",
                    Invocation.current().other("create-publication", words));
            return null;
        }
        if (wanted.isEmpty()) {
            stop("tables", "publication " + pub + " has no " + (schemas == null ? "" : "such ") + "tables to sync",
                    Invocation.current().other("create-publication", List.of("--publication", publication.name)));
            return null;
        }
        return wanted;
    }

    /**
     * Published tables Airbyte does not list: the source's user cannot read them, or its schemas leave theirs out.
     * Nothing is sent; the fixes are the grant, or the source made again with their schemas.
     */
    private Exit notOffered(List<AirbyteStreams.Table> absent, JsonNode source, String workspace) {
        JsonNode config = source.path("configuration");
        String user = config.path("username").asText("");
        List<String> schemaWords = new ArrayList<>(), schemas = new ArrayList<>();
        config.path("schemas").forEach(n -> schemas.add(n.asText()));
        absent.stream().map(AirbyteStreams.Table::schema).distinct().forEach(s -> {
            schemaWords.addAll(List.of("--schema", s));
            if (!schemas.contains(s)) schemas.add(s);
        });
        List<String> grant = new ArrayList<>(List.of("--role", user));
        grant.addAll(schemaWords);
        return stop("streams", "Airbyte does not offer " + names(absent) + " for this source: its user "
                + (user.isEmpty() ? "" : user + " ") + "cannot read them, or the source's schemas leave theirs out; nothing was sent",
                (user.isEmpty() ? "" : "let the user read them:  " + Invocation.current().other("grant-access", grant) + "\nor ")
                + "add their schemas to the source:  " + AirbyteApi.recreate(source, workspace, api.apiUrl, schemas));
    }

    private JsonNode sourceNamed(AirbyteApi a, String workspace) {
        List<JsonNode> found = a.sourcesNamed(workspace, sourceName.strip());
        if (found.size() != 1)
            throw Failure.badInput(found.isEmpty() ? "no source named \"" + sourceName + "\" in workspace " + workspace
                    + ": create it with jbang airbyte-source --create, or give --source-id"
                    : found.size() + " sources are named \"" + sourceName + "\" in workspace " + workspace + ": give --source-id");
        return a.source(found.get(0).path("sourceId").asText());
    }

    /** POST /jobs, and with --follow the job followed until it ends. */
    private Exit sync(AirbyteApi a, String connectionId, String connectionName, JsonNode source) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("connectionId", connectionId);
        body.put("jobType", "sync");
        JsonNode job = a.http.send("POST", "/jobs", body);
        long jobId = a.http.need(job, "jobId", "POST /jobs").asLong();
        Interrupts.committed("sync job " + jobId + " was started in Airbyte and keeps running (cancel it in Airbyte: "
                + "Connections > " + connectionName + " > Job history)");
        extra.put("job", Map.of("jobId", jobId));
        if (!follow) {
            findings.add(Runbook.Finding.ok("sync", "job " + jobId + " started; follow it in Airbyte: Connections > " + connectionName));
            return print(Exit.OK, true);
        }
        while (!List.of("succeeded", "failed", "cancelled").contains(job.path("status").asText())) {
            HttpJson.sleep(pollMillis);
            job = a.http.send("GET", "/jobs/" + jobId, null);
            Progress.line("sync job " + jobId + ": " + AirbyteApi.describe(job));
        }
        extra.put("job", Map.of("jobId", jobId, "status", job.path("status").asText()));
        if (job.path("status").asText().equals("succeeded")) {
            findings.add(Runbook.Finding.ok("sync", "job " + jobId + ": " + AirbyteApi.describe(job)));
            return print(Exit.OK, true);
        }
        findings.add(Runbook.Finding.fail("sync", "job " + jobId + ": " + AirbyteApi.describe(job),
                "read its log in Airbyte (Connections > " + connectionName + " > Job history), then:  " + doctor(connectionId, source)));
        return print(Exit.NOT_READY, true);
    }

    /** doctor, with Airbyte's side of this connection: the slot the source reads, this publication and heartbeat table. */
    private String doctor(String connectionId, JsonNode source) {
        List<String> words = new ArrayList<>(List.of("--publication", publication.name, "--airbyte-connection", connectionId));
        String slot = source.path("configuration").path("replication_method").path("replication_slot").asText("");
        if (!slot.isEmpty()) words.addAll(List.of("--slot", slot));
        if (!heartbeatTable.equals(Defaults.HEARTBEAT_TABLE)) words.addAll(List.of("--heartbeat-table", heartbeatTable));
        if (api.apiUrl != null) words.addAll(List.of("--api-url", api.apiUrl));
        return Invocation.current().other("doctor", words);
    }

    private Exit stop(String check, String message, String fix) {
        findings.add(Runbook.Finding.fail(check, message, fix));
        return print(Exit.NOT_READY, false);
    }

    private Exit print(Exit exit, boolean applied) {
        // The ids are in the report's lines; the documents are for programs (--json) and for review (--dry-run).
        out.print(List.of(new Runbook.Outcome("airbyte-connection", exit, findings, Runbook.Plan.none(), applied)),
                out.json || out.dryRun ? extra : Map.of());
        return exit;
    }

    private static List<AirbyteStreams.Stream> streamsOf(JsonNode connection) {
        List<AirbyteStreams.Stream> l = new ArrayList<>();
        for (JsonNode s : connection.path("configurations").path("streams"))
            l.add(new AirbyteStreams.Stream(s.path("namespace").asText(), s.path("name").asText(), s.path("syncMode").asText("?")));
        return l;
    }

    /** "incremental_deduped_history: public.a, public.b; full_refresh_overwrite: public.c". */
    private static String byMode(List<AirbyteStreams.Stream> streams) {
        if (streams.isEmpty()) return "no streams";
        Map<String, List<String>> modes = new LinkedHashMap<>();
        for (AirbyteStreams.Stream s : streams) modes.computeIfAbsent(s.syncMode(), m -> new ArrayList<>()).add(s.namespace() + "." + s.name());
        return modes.entrySet().stream().map(e -> e.getKey() + ": " + Output.few(e.getValue())).collect(Collectors.joining("; "));
    }

    private static String names(List<AirbyteStreams.Table> tables) {
        return tables.size() + " table(s): " + Output.few(tables.stream().map(AirbyteStreams.Table::qualified).toList());
    }

    public static void main(String... args) { Cli.launch(new AirbyteConnection(), args); }
}
