//SOURCES AirbyteApi.java AirbyteStreams.java

import com.fasterxml.jackson.databind.JsonNode;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * doctor --airbyte-connection: Airbyte's side, read through its API and set against what doctor sees in the database.
 * The connection's source must read this database, slot and publication; every selected stream must be published
 * (else its changes never arrive); the CDC settings that decide what a failed sync costs; and the last sync, whose
 * failure is explained by what the other groups found (Airbyte's public API gives a job's status, not its message).
 */
final class DoctorAirbyte {
    private DoctorAirbyte() {}

    /** More WAL than this waiting in the slot, and a short initial wait: a sync may end before the first change arrives. */
    static final long BACKLOG = 1L << 30;

    static List<Runbook.Finding> check(DoctorChecks.Context x, String connectionId, AirbyteApi.Access access,
                                       Map<String, List<Runbook.Finding>> found) throws SQLException {
        List<Runbook.Finding> f = new ArrayList<>();
        JsonNode connection, source, last;
        AirbyteApi api;
        try {
            api = access.connect();
            connection = api.connection(connectionId);
        } catch (Failure e) {
            f.add(e.exit == Exit.BAD_INPUT ? Runbook.Finding.fail("connection", e.getMessage(), "give the id from the connection's URL in Airbyte")
                    : Runbook.Finding.warn("airbyte api", "not known: " + e.getMessage(), null));
            return f;
        }
        try {
            source = api.source(connection.path("sourceId").asText());
            last = api.lastSync(connectionId);
        } catch (Failure e) {
            f.add(Runbook.Finding.warn("airbyte api", "not known: " + e.getMessage(), null));
            return f;
        }
        String name = connection.path("name").asText(connectionId);
        String schedule = connection.path("schedule").path("scheduleType").asText("manual");
        f.add(connection.path("status").asText("active").equals("active")
                ? Runbook.Finding.ok("connection", "\"" + name + "\": active, " + (schedule.equals("cron")
                        ? "schedule " + connection.path("schedule").path("cronExpression").asText() : schedule + " schedule"))
                : Runbook.Finding.warn("connection", "\"" + name + "\" is " + connection.path("status").asText() + ": it does not sync",
                        "turn it on in Airbyte: Connections > " + name));
        JsonNode config = source.path("configuration");
        f.addAll(source(x, source, access.apiUrl));
        List<AirbyteStreams.Table> published = AirbyteStreams.published(x.c(), x.publication(), null);
        if (published != null) {
            f.addAll(schemas(source, published, access.apiUrl));
            f.addAll(streams(x, connection, published, name));
        }
        f.addAll(settings(x, config.path("replication_method")));
        f.add(lastSync(last, name, found, f));
        return f;
    }

    /** The source reads this database, slot and publication, with CDC. */
    static List<Runbook.Finding> source(DoctorChecks.Context x, JsonNode source, String apiUrl) throws SQLException {
        List<Runbook.Finding> f = new ArrayList<>();
        JsonNode config = source.path("configuration");
        JsonNode cdc = config.path("replication_method");
        String method = cdc.path("method").asText("");
        if (!method.equals("CDC"))
            f.add(Runbook.Finding.fail("replication", "the source reads with " + (method.isEmpty() ? "no replication method" : method)
                    + ", not CDC: it reads no changes through the slot", "in Airbyte: the source's Update Method > Read Changes using "
                    + "Write-Ahead Log (CDC), or make it again:  " + AirbyteApi.recreate(source, null, apiUrl, null)));
        String database;
        try (var st = x.c().createStatement(); var rs = st.executeQuery("SELECT current_database() AS db")) {
            rs.next();
            database = rs.getString("db");
        }
        if (!config.path("database").asText(database).equals(database))
            f.add(Runbook.Finding.fail("database", "the source reads database " + config.path("database").asText() + ", doctor "
                    + "checked " + database, "run doctor on that database, or point the source at this one"));
        String host = config.path("host").asText(""), here = x.target().host;
        if (host.split("\\.", 2)[0].endsWith("-pooler"))
            f.add(Runbook.Finding.fail("host", "the source connects to a Neon pooler host, " + host + ", which replication does "
                    + "not pass", "in Airbyte: the source's Host, " + host.replaceFirst("^([^.]*)-pooler", "$1")));
        else if (!host.isEmpty() && !host.equalsIgnoreCase(here))
            f.add(Runbook.Finding.warn("host", "the source connects to " + host + ", doctor to " + here + ": the same server?",
                    "run doctor with the source's host, or correct the source's Host in Airbyte"));
        for (String[] pair : List.of(new String[] {"replication_slot", x.slot(), "--slot"}, new String[] {"publication", x.publication(), "--publication"})) {
            String theirs = cdc.path(pair[0]).asText("");
            if (method.equals("CDC") && !theirs.equals(pair[1]))
                f.add(Runbook.Finding.fail(pair[0].replace("replication_", ""), "the source reads " + pair[0].replace('_', ' ')
                        + " " + theirs + ", doctor checked " + pair[1] + ": the other checks are not about what Airbyte reads",
                        "check the one Airbyte reads:  " + Invocation.current().replacing(pair[2], theirs)));
        }
        if (f.isEmpty())
            f.add(Runbook.Finding.ok("source", "reads database " + database + " on " + host + " with CDC: slot " + x.slot()
                    + ", publication " + x.publication() + (config.has("schemas") ? ", schemas " + Output.few(HttpJson.texts(config.path("schemas"))) : "")));
        return f;
    }

    /** The source's schemas hold every published table's: Airbyte sees no table outside them. */
    static List<Runbook.Finding> schemas(JsonNode source, List<AirbyteStreams.Table> published, String apiUrl) {
        JsonNode listed = source.path("configuration").path("schemas");
        if (!listed.isArray() || listed.isEmpty()) return List.of();
        List<String> theirs = HttpJson.texts(listed), missing = published.stream().map(AirbyteStreams.Table::schema).distinct()
                .filter(s -> !theirs.contains(s)).toList();
        if (missing.isEmpty()) return List.of();
        List<String> all = new ArrayList<>(theirs);
        all.addAll(missing);
        return List.of(Runbook.Finding.fail("schemas", "the source's schemas (" + String.join(", ", theirs) + ") leave out "
                + String.join(", ", missing) + ", where published tables are: Airbyte does not see them",
                "add them to the source:  " + AirbyteApi.recreate(source, null, apiUrl, all)));
    }

    /** Every selected stream must be published; published tables not selected are decoded and skipped. */
    static List<Runbook.Finding> streams(DoctorChecks.Context x, JsonNode connection, List<AirbyteStreams.Table> published, String name) {
        List<Runbook.Finding> f = new ArrayList<>();
        Set<String> publishedNames = published.stream().map(AirbyteStreams.Table::qualified).collect(Collectors.toSet());
        List<String> selected = new ArrayList<>(), outside = new ArrayList<>(), outsideOptions = new ArrayList<>();
        for (JsonNode s : connection.path("configurations").path("streams")) {
            AirbyteStreams.Table t = new AirbyteStreams.Table(s.path("namespace").asText(), s.path("name").asText(), false);
            selected.add(t.qualified());
            if (!publishedNames.contains(t.qualified())) { outside.add(t.qualified()); outsideOptions.add(t.arg()); }
        }
        if (!outside.isEmpty()) {
            List<String> words = new ArrayList<>(List.of("--publication", x.publication()));
            outsideOptions.forEach(t -> words.addAll(List.of("--table", t)));
            f.add(Runbook.Finding.fail("streams", outside.size() + " selected stream(s) not in publication " + x.publication() + ": "
                    + Output.few(outside) + ": their changes will never arrive", "publish them:  "
                    + Invocation.current().other("create-publication", words) + "\nor deselect them in Airbyte: Connections > " + name + " > Schema"));
        } else f.add(Runbook.Finding.ok("streams", selected.size() + " selected, every one in publication " + x.publication()));
        List<String> unselected = publishedNames.stream().filter(t -> !selected.contains(t)).sorted().toList();
        if (!unselected.isEmpty())
            f.add(Runbook.Finding.ok("not selected", unselected.size() + " published table(s): " + Output.few(unselected)
                    + " (their changes are decoded and skipped)"));
        return f;
    }

    /** The CDC settings that decide whether a sync ends early, and what a failed one costs. */
    static List<Runbook.Finding> settings(DoctorChecks.Context x, JsonNode cdc) throws SQLException {
        List<Runbook.Finding> f = new ArrayList<>();
        int wait = cdc.path("initial_waiting_seconds").asInt(1200);
        long backlog = 0;
        try (PreparedStatement ps = x.c().prepareStatement("SELECT coalesce(pg_wal_lsn_diff(" + Catalog.CURRENT_LSN
                + ", confirmed_flush_lsn), 0)::int8 AS backlog FROM pg_replication_slots WHERE slot_name = ?")) {
            ps.setString(1, x.slot());
            try (var rs = ps.executeQuery()) { if (rs.next()) backlog = rs.getLong("backlog"); }
        }
        if (wait < 1200 && backlog > BACKLOG)
            f.add(Runbook.Finding.warn("initial wait", wait + " s, and the slot holds " + Output.size(backlog) + " not yet read: "
                    + "a sync may end with 0 records (\"Closing cause next is returned as null\") before the first change "
                    + "arrives", "in Airbyte: the source's Advanced > Initial Waiting Time in Seconds, 1200 or more"));
        else f.add(Runbook.Finding.ok("initial wait", wait + " s for the first change"));
        String lsn = cdc.path("lsn_commit_behaviour").asText("After loading Data in the destination");
        f.add(lsn.startsWith("While reading")
                ? Runbook.Finding.warn("lsn commit", "\"" + lsn + "\": the slot moves on before the destination has the data, "
                        + "so a failed load forces a full resync", "in Airbyte: the source's Advanced > LSN commit behaviour, "
                        + "After loading Data in the destination")
                : Runbook.Finding.ok("lsn commit", "\"" + lsn + "\": a failed load is read again"));
        String lost = cdc.path("invalid_cdc_cursor_position_behavior").asText("Fail sync");
        f.add(Runbook.Finding.ok("lost position", "\"" + lost + "\": when the slot no longer holds where Airbyte stopped, "
                + (lost.startsWith("Re-sync") ? "every table is synced again in full, without a failure"
                : "the sync fails (\"Saved offset no longer present\") until the connection is reset")));
        return f;
    }

    /**
     * The last sync; a failed one explained by the failures doctor found, with the message Airbyte's log then shows
     * (the public API gives no message).
     */
    static Runbook.Finding lastSync(JsonNode job, String name, Map<String, List<Runbook.Finding>> found, List<Runbook.Finding> airbyte) {
        if (job == null) return Runbook.Finding.ok("last sync", "none yet");
        String status = job.path("status").asText(), line = "job " + job.path("jobId").asText() + " started "
                + job.path("startTime").asText("?") + ": " + AirbyteApi.describe(job);
        if (!List.of("failed", "incomplete", "cancelled").contains(status)) return Runbook.Finding.ok("last sync", line);
        List<String> causes = new ArrayList<>();
        if (airbyte.stream().anyMatch(f -> f.status() == Runbook.Status.FAIL && List.of("replication", "database", "slot",
                "publication", "host", "schemas").contains(f.check())))
            causes.add("the source's settings above (its log: \"Expected exactly one replication slot\" or \"... publication "
                    + "but found 0\")");
        if (airbyte.stream().anyMatch(f -> f.check().equals("initial wait") && f.status() != Runbook.Status.OK))
            causes.add("the short initial wait above (its log: \"Closing cause next is returned as null\", 0 records)");
        if (failed(found, "slot")) causes.add("the slot failures above (its log: \"Saved offset no longer present\" or "
                + "\"Expected exactly one replication slot\")");
        if (failed(found, "publication") || failed(found, "replica identity")) causes.add("the publication failures above "
                + "(its log: \"publication ... does not exist\", or UPDATEs refused on the source)");
        if (warned(found, "slot", "heartbeat")) causes.add("an idle slot without a heartbeat (its log: \"Saved offset is before "
                + "replication slot's confirmed lsn\")");
        String why = causes.isEmpty() ? "doctor found nothing on the database that explains it: read its log in Airbyte "
                + "(Connections > " + name + " > Job history)" : "likely " + String.join("; or ", causes) + "; fix those, then reset "
                + "the connection in Airbyte if its log says the saved offset is gone";
        return status.equals("failed") ? Runbook.Finding.fail("last sync", line, why) : Runbook.Finding.warn("last sync", line, why);
    }

    private static boolean failed(Map<String, List<Runbook.Finding>> found, String group) {
        return found.getOrDefault(group, List.of()).stream().anyMatch(f -> f.status() == Runbook.Status.FAIL);
    }

    private static boolean warned(Map<String, List<Runbook.Finding>> found, String group, String check) {
        return found.getOrDefault(group, List.of()).stream().anyMatch(f -> f.check().equals(check) && f.status() != Runbook.Status.OK);
    }

}
