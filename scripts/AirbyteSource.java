///usr/bin/env jbang "$0" "$@" ; exit $?
//SOURCES lib/Runbook.java lib/Heartbeat.java lib/SourceCreate.java lib/SchemaLookup.java
//DESCRIPTION Airbyte's source-postgres configuration (CDC) from your connection string, the form to fill in, Airbyte Cloud's IPs to allow, or the source created through Airbyte's API (guide steps: Create a Postgres source in Airbyte, Allow inbound traffic)

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "airbyte-source", mixinStandardHelpOptions = true, version = "airbyte-source 1.0",
        description = {AirbyteSource.DESCRIPTION, "Turns your connection string into Airbyte's source-postgres configuration for CDC (JSON on "
                + "stdout, valid for connector 3.7 and 3.8), or the list of fields to fill in Airbyte's \"Create a source\" "
                + "form (--form), or Airbyte Cloud's addresses to allow in Neon's IP Allow (--ip-allowlist).",
                "It connects first, read-only, to check that every --schema exists in the database: a name that does not "
                + "(a typo such as pubic, or Sales for sales) is exit 2 and prints nothing, with the name meant when there "
                + "is one; a schema where the user may read no table is a warning. When the database cannot be reached "
                + "it is exit 3: --offline prints the configuration from the options alone, without connecting or "
                + "checking. The password is left out unless --include-password.",
                "--create makes the source in Airbyte through its API instead (AIRBYTE_CLIENT_ID and AIRBYTE_CLIENT_SECRET, "
                + "or AIRBYTE_API_TOKEN, from the environment), after checking on the database the schemas, then slot, "
                + "publication and role as Airbyte's connection test does. The password (URL, $PGPASSWORD or --password) "
                + "goes only into the request."},
        footer = {"%nExamples:",
                "  jbang airbyte-source --url \"$DATABASE_URL\" > source.json",
                "  jbang airbyte-source --url \"$DATABASE_URL\" --form",
                "  jbang airbyte-source --url \"$DATABASE_URL\" --offline > source.json",
                "  jbang airbyte-source --schema public --schema \"Sales Data\" > source.json",
                "  jbang airbyte-source --sslmode verify-full --ca-cert isrg-root-x1.pem --form",
                "  jbang airbyte-source --ip-allowlist us",
                "  AIRBYTE_CLIENT_ID=... AIRBYTE_CLIENT_SECRET=... jbang airbyte-source --url \"$DATABASE_URL\" --create --workspace-id W",
                "  AIRBYTE_API_TOKEN=... jbang airbyte-source --create --workspace-id 9a1b... --api-url http://localhost:8000 --dry-run"})
class AirbyteSource implements Callable<Exit>, Exit.Documented {
    static final String DESCRIPTION = "Airbyte's source-postgres configuration (CDC) from your connection string, the form "
            + "to fill in, Airbyte Cloud's IPs to allow, or the source created through Airbyte's API (guide steps: Create a "
            + "Postgres source in Airbyte, Allow inbound traffic)";

    @Mixin Db db = new Db();
    @Mixin SourceCreate.Options api = new SourceCreate.Options();
    @Mixin Flags.Slot slotOption = new Flags.Slot();
    @Mixin Flags.Publication publicationOption = new Flags.Publication();

    public Map<Exit, String> exitCodes() {
        return Map.of(Exit.OK, "printed (or, with --create, the source created or updated)",
                Exit.NOT_READY, "with --create: Airbyte's connection test would fail (nothing sent)",
                Exit.BAD_INPUT, "bad input: an option, a --schema that does not exist; with --create: no credentials, the "
                        + "workspace not found (404), or the name taken by several sources (nothing sent)",
                Exit.CANNOT_CONNECT, "the database cannot be reached or refuses the login (--offline needs neither); with "
                        + "--create: the API unreachable, timed out, not JSON, or the credentials refused (401)",
                Exit.REFUSED, "with --create: the API refused the request (403, other errors)");
    }
    @Option(names = "--schema", paramLabel = "SCHEMA", description = "Schema to sync, case-sensitive; repeat for several (default: public).")
    List<String> schemas;
    @Mixin Heartbeat.Options heartbeat = new Heartbeat.Options();

    @Option(names = "--role", paramLabel = "ROLE", description = "The role Airbyte connects as, when it is not the "
            + "connected user: the configuration's username, and the role whose access to the schemas is checked.")
    String role;
    @Option(names = "--include-password", description = "Put the password in the output (it is a secret: keep the file private).")
    boolean includePassword;
    @Option(names = "--ca-cert", paramLabel = "FILE", description = "PEM file of the CA that signed the server's certificate (needed for --sslmode verify-ca and verify-full).")
    Path caCert;
    @Option(names = "--form", description = "Print the fields to enter in Airbyte's \"Create a source\" form instead of JSON.")
    boolean form;
    @Option(names = "--offline", description = "Do not connect to the database: print the configuration (or --form) "
            + "from the options alone, without checking that the --schema names exist there; for a database this "
            + "machine cannot reach (e.g. Neon's IP Allow). Not with --create (see --skip-checks).")
    boolean offline;
    @Option(names = "--ip-allowlist", arity = "0..1", fallbackValue = "all", paramLabel = "us|eu|all",
            description = "Print Airbyte Cloud's addresses to allow in Neon's IP Allow (default: all).")
    String ipAllowlist;

    private final List<String> notes = new ArrayList<>();
    private static final String PASSWORD_NOTE = "note: the password is not in this output: enter it in Airbyte's "
            + "Password field (or run again with --include-password)";

    /** The source-postgres configuration, in the connector's field order; throws {@link Failure} on bad input. */
    public Map<String, Object> configuration() {
        notes.clear();
        Target t = db.target();
        if (t.isPooler())
            throw Failure.badInput("host " + t.host + " is Neon's connection pooler, which refuses the replication "
                    + "connection CDC needs: use the direct host " + t.directHost());
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("host", t.host);
        c.put("port", t.port);
        c.put("database", t.database);
        boolean otherRole = role != null && !Input.name("--role", role).equals(t.user);
        c.put("username", otherRole ? Input.name("--role", role) : t.user);
        if (otherRole) {
            notes.add("note: Airbyte connects as " + role + ", whose password is not known here: enter it in Airbyte's Password field");
        } else if (includePassword) {
            if (t.password == null)
                throw Failure.badInput("--include-password: no password found; put it in --url, $PGPASSWORD, or use --password to be prompted");
            c.put("password", t.password);
        } else {
            notes.add(PASSWORD_NOTE);
        }
        c.put("schemas", schemaNames());
        c.put("ssl_mode", sslMode(t.sslmode, t.sslrootcert));
        // Neon's connection strings ask for a channel-bound login; Airbyte's pgjdbc keeps to it when told so.
        if ("require".equals(t.params.get("channelBinding"))) c.put("jdbc_url_params", "channelBinding=require");
        Map<String, Object> cdc = new LinkedHashMap<>();
        cdc.put("method", "CDC");
        cdc.put("replication_slot", Input.slotName(slotOption.name));
        cdc.put("publication", Input.name("--publication", publicationOption.name));
        if (heartbeat.enabled) cdc.put("heartbeat_action_query", Heartbeat.query(heartbeat.table));
        c.put("replication_method", cdc);
        c.put("tunnel_method", Map.of("tunnel_method", "NO_TUNNEL"));
        if (t.isLocal())
            notes.add("warning: host " + t.host + " is reachable from this machine only; Airbyte Cloud needs a public host");
        return c;
    }

    /** The warnings and notes (for stderr) of the last {@link #configuration()} or {@link #form()}. */
    public List<String> notes() { return List.copyOf(notes); }

    /** Schema names as given (case-sensitive, spaces kept), without duplicates; default public. */
    private List<String> schemaNames() { return Input.schemas(schemas); }

    private Map<String, Object> sslMode(String mode, String urlRootCert) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("mode", mode);
        switch (mode) {
            case "allow", "prefer" -> throw Failure.badInput("--sslmode " + mode + ": Airbyte's CDC refuses allow and prefer; "
                    + "use --sslmode require (or verify-ca / verify-full with --ca-cert FILE)");
            case "disable" -> notes.add("warning: ssl_mode disable: Airbyte Cloud refuses an unencrypted connection "
                    + "without an SSH tunnel; use --sslmode require");
            case "verify-ca", "verify-full" -> {
                Path file = caCert != null ? caCert : urlRootCert != null && !urlRootCert.equals("system") ? Path.of(urlRootCert) : null;
                if (file == null)
                    throw Failure.badInput("--sslmode " + mode + " needs --ca-cert FILE: the PEM certificate of the CA that "
                            + "signed the server's certificate (Neon's certificates chain to Let's Encrypt's ISRG Root X1)");
                m.put("ca_certificate", pem(file));
            }
            default -> { } // require
        }
        if (caCert != null && !m.containsKey("ca_certificate"))
            notes.add("note: --ca-cert is only used with --sslmode verify-ca or verify-full; ignored");
        return m;
    }

    /** The file's text, once it is known to hold at least one X.509 certificate. */
    private static String pem(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
            if (CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(bytes)).isEmpty())
                throw new CertificateException();
        } catch (java.nio.file.NoSuchFileException e) {
            throw Failure.badInput("--ca-cert " + file + ": no such file: give the path of the CA certificate (PEM)");
        } catch (IOException e) {
            throw Failure.badInput("--ca-cert " + file + ": cannot read it (permissions, or a directory?): give a readable PEM file");
        } catch (CertificateException | RuntimeException e) {
            throw Failure.badInput("--ca-cert " + file + " is not a PEM certificate (-----BEGIN CERTIFICATE-----)");
        }
        String text = new String(bytes, StandardCharsets.UTF_8);
        if (!text.contains("-----BEGIN CERTIFICATE-----"))
            throw Failure.badInput("--ca-cert " + file + " is a DER file: Airbyte wants PEM (openssl x509 -inform der -in FILE -out ca.pem)");
        return text;
    }

    /** The fields a person enters in Airbyte's "Create a source" dialog, in the dialog's order. */
    public String form() {
        Map<String, Object> c = configuration();
        notes.remove(PASSWORD_NOTE); // the form's Password row says it
        @SuppressWarnings("unchecked") Map<String, Object> ssl = (Map<String, Object>) c.get("ssl_mode");
        @SuppressWarnings("unchecked") Map<String, Object> cdc = (Map<String, Object>) c.get("replication_method");
        @SuppressWarnings("unchecked") List<String> names = (List<String>) c.get("schemas");
        StringBuilder b = new StringBuilder("Airbyte: Sources > + New source > Postgres, then enter:\n");
        row(b, "Host", c.get("host"));
        row(b, "Port", c.get("port"));
        row(b, "Database Name", c.get("database"));
        row(b, "Username", c.get("username"));
        boolean otherRole = role != null && !Input.name("--role", role).equals(db.target().user);
        row(b, "Password", includePassword ? c.get("password") : otherRole ? "(the password of role " + c.get("username") + ")"
                : "(the password from your connection string)");
        b.append("  Optional fields:\n");
        for (int i = 0; i < names.size(); i++) row(b, i == 0 ? "Schemas" : "", names.get(i) + (i == 0 && names.size() > 1 ? "   (one entry each)" : ""));
        row(b, "SSL Mode", ssl.get("mode"));
        if (c.containsKey("jdbc_url_params")) row(b, "JDBC URL Parameters", c.get("jdbc_url_params"));
        if (ssl.containsKey("ca_certificate")) row(b, "CA Certificate", "(paste the content of " + (caCert != null ? caCert : db.target().sslrootcert) + ")");
        b.append("  Advanced:\n");
        row(b, "Replication Method", "Logical Replication (CDC)   (newer forms: Update Method > Read Changes using ... (CDC))");
        row(b, "Replication Slot", cdc.get("replication_slot"));
        row(b, "Publication", cdc.get("publication"));
        if (cdc.containsKey("heartbeat_action_query")) row(b, "Heartbeat Action Query", cdc.get("heartbeat_action_query"));
        b.append("Then click \"Set up source\": Airbyte tests the connection.\n");
        return b.toString();
    }

    private static void row(StringBuilder b, String label, Object value) {
        b.append(String.format("  %-20s %s%n", label, value));
    }

    /** Airbyte Cloud's addresses for a region (us, eu or all), with where to enter them in Neon. */
    static String allowlist(String region) {
        AirbyteApi.cloudIps("--ip-allowlist", region);
        String r = region.strip().toLowerCase();
        StringBuilder b = new StringBuilder("# Airbyte Cloud connects from these addresses (docs.airbyte.com/operating-airbyte/security).\n"
                + "# Only needed when IP Allow is on: Neon console > your project > Settings > IP Allow; add each line, then save.\n"
                + "# (Or let jbang allow-airbyte-ips --project-id <id> --region " + r + " add them through Neon's API.)\n");
        if (!r.equals("eu")) b.append("# US\n").append(String.join("\n", AirbyteApi.US)).append('\n');
        if (!r.equals("us")) b.append("# EU\n").append(String.join("\n", AirbyteApi.EU)).append('\n');
        return b.toString();
    }

    public Exit call() {
        if (api.create) return create();
        String allow = ipAllowlist == null ? null : allowlist(ipAllowlist);
        if (form || allow == null) {
            String text = form ? form() : Output.pretty(configuration()) + "\n";
            if (!offline) lookUpSchemas(); // after the options are known good, before anything is printed
            notes.forEach(System.err::println);
            System.out.print(text);
        }
        if (allow != null) System.out.print((form ? "\n" : "") + allow);
        return Exit.OK;
    }

    /**
     * Connects (read-only) and checks the --schema names in one round trip; exit 2 for a name that does not exist,
     * exit 3, with the way round it, when the database cannot be reached. Warnings join {@link #notes()}.
     */
    private void lookUpSchemas() {
        Target t = db.target();
        Connection c;
        try {
            c = db.connect();
        } catch (Failure f) {
            if (f.exit != Exit.CANNOT_CONNECT) throw f;
            throw new Failure(f.exit, f.reason + " (the --schema names are checked on the database; --offline "
                    + "prints the configuration without connecting or checking them)");
        }
        Progress.phase("airbyte-source: looking up the schemas in database " + t.database);
        try (c) {
            c.setAutoCommit(false); // with read-only: BEGIN READ ONLY, sent with the look-up in one round trip
            c.setReadOnly(true);
            notes.addAll(SchemaLookup.check(c, schemaNames(), t.database, role != null ? Input.name("--role", role) : t.user, null));
        } catch (SQLException e) {
            throw Runbook.refused(e, null);
        }
    }

    /** --create: the configuration with the password, sent to Airbyte's API and nowhere else. */
    private Exit create() {
        if (form || ipAllowlist != null) throw Failure.badInput("--create does not go with --form or --ip-allowlist");
        if (offline) throw Failure.badInput("--create does not go with --offline: it connects for its checks "
                + "(--skip-checks creates the source without them)");
        if (db.target().password == null)
            throw Failure.badInput("--create needs the database password, which Airbyte keeps: put it in --url or $PGPASSWORD, "
                    + "or use --password to be prompted (~/.pgpass is not read for this)");
        includePassword = true;
        Map<String, Object> configuration = configuration();
        Target t = db.target();
        Exit exit = SourceCreate.create(api, db, configuration, c -> notes.addAll(SchemaLookup.check(c, schemaNames(), t.database,
                (String) configuration.get("username"), "nothing was sent")));
        if (exit == Exit.OK) notes.forEach(System.err::println); // after a failure, its one line says it all
        return exit;
    }

    public static void main(String... args) { Cli.launch(new AirbyteSource(), args); }
}
