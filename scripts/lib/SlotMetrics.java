//DEPS io.prometheus:prometheus-metrics-exposition-textformats:1.10.0
//DEPS io.prometheus:prometheus-metrics-model:1.10.0

import com.fasterxml.jackson.databind.JsonNode;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Slot health as Prometheus metrics (the text exposition format, for node_exporter's textfile collector or any
 * scraper), from slot-status's --json numbers: one database, or every target of a fleet. The format, its names,
 * label escaping and HELP/TYPE lines come from io.prometheus's writer.
 */
final class SlotMetrics {
    private SlotMetrics() {}

    /** One target's look at its slots: whether it succeeded, and slot-status's "slots" (empty when it did not). */
    record Scrape(String target, boolean success, JsonNode slots) {}

    /** A gauge per slot: its name, its help, and its value from a slot's JSON (null: not known, no sample). */
    private record Gauge(String name, String help, Function<JsonNode, Double> value) {}

    private static final List<Gauge> GAUGES = List.of(
            new Gauge("cdc_slot_wal_retained_bytes", "WAL the replication slot keeps on the server (current position minus restart_lsn)",
                    s -> number(s.path("retainedBytes"))),
            new Gauge("cdc_slot_unconfirmed_bytes", "WAL written since the slot's confirmed_flush_lsn: how far behind the consumer's confirmed position is",
                    s -> number(s.path("unconfirmedBytes"))),
            new Gauge("cdc_slot_active", "1 when a consumer (Airbyte) is reading the slot now, else 0",
                    s -> s.path("active").asBoolean() ? 1.0 : 0.0),
            new Gauge("cdc_slot_consumer_sent_not_confirmed_bytes", "WAL sent to the connected consumer and not yet confirmed (only while one is connected and visible)",
                    s -> number(s.path("consumer").path("sentNotConfirmedBytes"))),
            new Gauge("cdc_slot_inactive_seconds", "Seconds since the slot was last in use (PostgreSQL 17+); Neon drops a slot that has not advanced for about 40 hours",
                    s -> s.path("inactiveHours").isNumber() ? s.get("inactiveHours").asDouble() * 3600 : null));

    /** The metrics of every scrape, each family once, in the text format. */
    static String text(List<Scrape> scrapes) {
        Map<String, GaugeSnapshot.Builder> families = new LinkedHashMap<>();
        for (Gauge g : GAUGES) families.put(g.name(), GaugeSnapshot.builder().name(g.name()).help(g.help()));
        GaugeSnapshot.Builder status = GaugeSnapshot.builder().name("cdc_slot_wal_status")
                .help("1 for the slot's wal_status (reserved, extended, unreserved; lost: its WAL is gone and the consumer must start over)");
        GaugeSnapshot.Builder count = GaugeSnapshot.builder().name("cdc_slots")
                .help("Logical slots read for the target (the one asked with --slot, or all of its database's): 0 when there is none, as after Neon dropped one");
        GaugeSnapshot.Builder success = GaugeSnapshot.builder().name("cdc_scrape_success")
                .help("1 when the target's slots could be read, 0 when not (it could not be reached, or refused)");
        for (Scrape s : scrapes) {
            success.dataPoint(point(1.0, Labels.of("target", s.target())).value(s.success() ? 1 : 0).build());
            if (!s.success()) continue;
            count.dataPoint(point(s.slots().size(), Labels.of("target", s.target())).build());
            for (JsonNode slot : s.slots()) {
                Labels labels = Labels.of("database", slot.path("database").asText(), "slot", slot.path("slot").asText(), "target", s.target());
                for (Gauge g : GAUGES) {
                    Double v = g.value().apply(slot);
                    if (v != null) families.get(g.name()).dataPoint(point(v, labels).build());
                }
                if (slot.hasNonNull("walStatus"))
                    status.dataPoint(point(1.0, labels.add("wal_status", slot.get("walStatus").asText())).build());
            }
        }
        List<io.prometheus.metrics.model.snapshots.MetricSnapshot> all = new ArrayList<>();
        families.values().forEach(b -> all.add(b.build()));
        all.add(status.build());
        all.add(count.build());
        all.add(success.build());
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            PrometheusTextFormatWriter.create().write(out, MetricSnapshots.of(all.toArray(io.prometheus.metrics.model.snapshots.MetricSnapshot[]::new)));
        } catch (IOException e) {
            throw new IllegalStateException(e); // a byte array does not fail
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private static GaugeSnapshot.GaugeDataPointSnapshot.Builder point(double value, Labels labels) {
        return GaugeSnapshot.GaugeDataPointSnapshot.builder().value(value).labels(labels);
    }

    private static Double number(JsonNode n) { return n.isNumber() ? n.asDouble() : null; }
}
