///usr/bin/env jbang "$0" "$@" ; exit $?
//SOURCES lib/Runbook.java lib/NeonApi.java lib/AirbyteApi.java
//DESCRIPTION Add Airbyte Cloud's addresses to a Neon project's IP allowlist through Neon's API, keeping every address already there (guide step: Allow inbound traffic)

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "allow-airbyte-ips", mixinStandardHelpOptions = true, version = "allow-airbyte-ips 1.0",
        description = {AllowAirbyteIps.DESCRIPTION, "Adds Airbyte Cloud's addresses to a Neon project's IP allowlist (console: your project > Settings > "
                + "IP Allow) through Neon's API: reads the list, adds the addresses that are missing, writes the whole list "
                + "back (Neon replaces it), and shows it before and after. Every address already there is kept, and so is "
                + "\"protected branches only\". Nothing to add: nothing is sent.",
                "An empty allowlist means every address may connect: turning that into \"only Airbyte\" needs --restrict.",
                "NEON_API_KEY comes from the environment (never an argument); NEON_API_HOST for another API address. "
                + "Needs no database connection."},
        footer = {"%nExamples:",
                "  NEON_API_KEY=... jbang allow-airbyte-ips --project-id old-fire-32990194 --region us --dry-run",
                "  NEON_API_KEY=... jbang allow-airbyte-ips --project-id old-fire-32990194 --region eu",
                "  NEON_API_KEY=... jbang allow-airbyte-ips --url \"$DATABASE_URL\" --region all      # the project found by its endpoint"})
class AllowAirbyteIps implements Callable<Exit>, Exit.Documented {
    static final String DESCRIPTION = "Add Airbyte Cloud's addresses to a Neon project's IP allowlist through Neon's API, "
            + "keeping every address already there (guide step: Allow inbound traffic)";

    public Map<Exit, String> exitCodes() {
        return Map.of(Exit.OK, "the allowlist holds Airbyte's addresses (added now, or already there)",
                Exit.NOT_READY, "not done: the allowlist is empty (everyone may connect) and --restrict was not given, or "
                        + "the list read back lacks an address",
                Exit.BAD_INPUT, "bad input: an option; NEON_API_KEY not set; the project not found (404)",
                Exit.CANNOT_CONNECT, "Neon's API unreachable, timed out, not JSON, busy after retries (423, 503), or the key refused (401)",
                Exit.REFUSED, "Neon's API refused the request (403, other errors)",
                Exit.INTERRUPTED, "interrupted (Ctrl-C, SIGTERM); the last line says whether the allowlist was already written");
    }

    @Mixin Output out = new Output();
    @Mixin NeonApi.Options neon = new NeonApi.Options();
    @Option(names = "--region", required = true, paramLabel = "us|eu|all", description = "The region of your Airbyte Cloud workspace.")
    String region;
    @Option(names = "--restrict", description = "Allow it when the allowlist is empty (everyone may connect now): "
            + "afterwards only the listed addresses may.")
    boolean restrict;
    @Option(names = "--url", paramLabel = "URL", description = "Without --project-id: a connection string of the project "
            + "(default: $DATABASE_URL); its host names the endpoint, whose project is looked up. Nothing connects to it.")
    String url;
    @Option(names = "--host", description = "Without --project-id and --url: the endpoint's host, e.g. ep-cool-darkness-123456.us-east-2.aws.neon.tech.")
    String host;

    public Exit call() {
        List<String> airbyte = AirbyteApi.cloudIps("--region", region);
        NeonApi api = neon.api();
        String project = NeonApi.resolveProject(neon, api, neon.projectId() != null ? null : endpoint());
        JsonNode p = api.project(project);
        String named = project + " (" + p.path("name").asText(project) + ")";
        JsonNode allowed = p.path("settings").path("allowed_ips");
        List<String> before = HttpJson.texts(allowed.path("ips"));
        boolean protectedOnly = allowed.path("protected_branches_only").asBoolean(false);
        List<String> missing = airbyte.stream().filter(ip -> !covered(ip, before)).toList();

        List<Runbook.Finding> f = new ArrayList<>();
        f.add(Runbook.Finding.ok("project", named));
        f.add(Runbook.Finding.ok("before", before.isEmpty() ? "no allowlist: every address may connect"
                : list(before) + (protectedOnly ? " (applied to protected branches only)" : "")));
        if (missing.isEmpty()) {
            f.add(Runbook.Finding.ok("result", "already done: all " + airbyte.size() + " Airbyte Cloud address(es) ("
                    + region.strip().toLowerCase() + ") are allowed"));
            return print(f, Exit.OK, false, Map.of());
        }
        if (before.isEmpty() && !restrict) {
            f.add(Runbook.Finding.fail("allowlist", "empty, so every address may connect, Airbyte's too: adding Airbyte's "
                    + "addresses would allow only them and shut out every other client (your apps, psql)",
                    "nothing needs doing for Airbyte; to allow only listed addresses, first add your own in the Neon console "
                    + "> Settings > IP Allow, or run again with --restrict"));
            return print(f, Exit.NOT_READY, false, Map.of());
        }
        List<String> after = new ArrayList<>(before);
        after.addAll(missing);
        ObjectNode allowedAfter = allowed.isObject() ? ((ObjectNode) allowed).deepCopy() : HttpJson.JSON.createObjectNode();
        ArrayNode ips = allowedAfter.putArray("ips");
        after.forEach(ips::add);
        allowedAfter.put("protected_branches_only", protectedOnly);
        ObjectNode settings = HttpJson.JSON.createObjectNode();
        settings.set("allowed_ips", allowedAfter);
        ObjectNode body = NeonApi.settingsBody(settings);
        f.add(Runbook.Finding.ok("add", list(missing)));
        if (out.dryRun) {
            f.add(Runbook.Finding.ok("after", "would be " + list(after)));
            return print(f, Exit.OK, false, Map.of("request", api.wouldSend("PATCH", NeonApi.projectPath(project), body)));
        }
        JsonNode saved = api.patchProject(project, body).path("settings").path("allowed_ips");
        Interrupts.committed("the allowlist of project " + named + " was written with Airbyte's addresses");
        if (saved.isMissingNode()) saved = api.project(project).path("settings").path("allowed_ips");
        List<String> now = HttpJson.texts(saved.path("ips"));
        List<String> absent = after.stream().filter(ip -> !now.contains(ip)).toList();
        if (!absent.isEmpty()) {
            f.add(Runbook.Finding.fail("after", "Neon's allowlist now lacks " + String.join(", ", absent) + ": " + list(now),
                    "check the project's IP Allow in the Neon console"));
            return print(f, Exit.NOT_READY, true, Map.of());
        }
        f.add(Runbook.Finding.ok("after", list(now)));
        f.add(Runbook.Finding.ok("result", "added " + missing.size() + " Airbyte Cloud address(es) to project " + named));
        return print(f, Exit.OK, true, Map.of());
    }

    /** The endpoint id from --url, --host, $DATABASE_URL or $PGHOST; null when none names a Neon endpoint. */
    private String endpoint() {
        Db d = new Db();
        d.url = url;
        d.host = host;
        d.env = neon.env;
        return NeonApi.endpointId(d.target());
    }

    private Exit print(List<Runbook.Finding> f, Exit exit, boolean applied, Map<String, Object> extra) {
        out.print(List.of(new Runbook.Outcome("allow-airbyte-ips", exit, f, Runbook.Plan.none(), applied)), extra);
        return exit;
    }

    private static String list(List<String> ips) { return ips.size() + " address(es): " + String.join(", ", ips); }


    /** Whether an entry of the list already admits the address (or block): equal, or inside an IPv4 range or CIDR. */
    static boolean covered(String ip, List<String> entries) {
        long[] want = span(ip);
        for (String e : entries) {
            if (e.strip().equals(ip)) return true;
            long[] has = span(e);
            if (want != null && has != null && has[0] <= want[0] && want[1] <= has[1]) return true;
        }
        return false;
    }

    /** The IPv4 addresses [first, last] of an allowlist entry (address, range a-b, CIDR); null for anything else. */
    static long[] span(String entry) {
        String e = entry.strip();
        try {
            int dash = e.indexOf('-'), slash = e.indexOf('/');
            if (dash > 0) return new long[] {ipv4(e.substring(0, dash)), ipv4(e.substring(dash + 1))};
            if (slash > 0) {
                int bits = Integer.parseInt(e.substring(slash + 1).strip());
                if (bits < 0 || bits > 32) return null;
                long size = 1L << (32 - bits), first = ipv4(e.substring(0, slash)) & ~(size - 1) & 0xFFFFFFFFL;
                return new long[] {first, first + size - 1};
            }
            long a = ipv4(e);
            return new long[] {a, a};
        } catch (IllegalArgumentException notIpv4) {
            return null;
        }
    }

    private static long ipv4(String s) {
        String[] parts = s.strip().split("\\.", -1);
        if (parts.length != 4) throw new IllegalArgumentException(s);
        long v = 0;
        for (String part : parts) {
            int octet = Integer.parseInt(part);
            if (octet < 0 || octet > 255) throw new IllegalArgumentException(s);
            v = v << 8 | octet;
        }
        return v;
    }

    public static void main(String... args) { Cli.launch(new AllowAirbyteIps(), args); }
}
