//SOURCES Runbook.java CdcStream.java

import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * Airbyte source-postgres's own connection test (3.7), as it runs it: two queries that must find one row each, with
 * Airbyte's messages, then a replication connection. Read-only. Used by doctor and by airbyte-source --create.
 */
final class AirbyteCheck implements Runbook.Step {
    private final Target target;
    private final String slot, publication, airbyteRole, slotFix, publicationFix;

    /** {@code airbyteRole} is the role Airbyte connects as; the fixes are the commands to print on failure. */
    AirbyteCheck(Target target, String slot, String publication, String airbyteRole, String slotFix, String publicationFix) {
        this.target = target;
        this.slot = slot;
        this.publication = publication;
        this.airbyteRole = airbyteRole;
        this.slotFix = slotFix;
        this.publicationFix = publicationFix;
    }

    public String name() { return "airbyte check"; }
    public boolean readOnly() { return true; }

    static final String SLOT = "SELECT * FROM pg_replication_slots WHERE slot_name = ? AND plugin = ? AND database = ?";
    static final String PUBLICATION = "SELECT * FROM pg_publication WHERE pubname = ?";

    public Runbook.Reading read(Pipeline p) {
        Pipeline.Answer<Integer> pubs = p.query(PUBLICATION, AirbyteCheck::count, publication);
        Pipeline.Answer<String> user = p.query("SELECT current_user AS me", Pipeline.one(rs -> rs.getString("me")));
        Pipeline.Answer<Integer> slots = p.query(SLOT, AirbyteCheck::count, slot, "pgoutput", target.database);
        return () -> assess(Found.of(pubs), user.get(), Found.of(slots));
    }

    /** What one of Airbyte's queries found: how many rows, or the server's refusal (doctor asks each apart then). */
    private record Found(int rows, String refused) {
        static Found of(Pipeline.Answer<Integer> answer) throws SQLException {
            try {
                return new Found(answer.get(), null);
            } catch (SQLException e) { // a lost connection never gets here: the pipeline throws it
                return new Found(-1, Output.firstLine(e.getMessage()));
            }
        }
    }

    private Runbook.Assessment assess(Found pubs, String user, Found slots) {
        List<Runbook.Finding> f = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        if (slots.refused() != null) {
            failures.add(slots.refused());
            f.add(Runbook.Finding.fail("slot query", "slot " + slot + ": the server refuses Airbyte's query: " + slots.refused(),
                    "as a superuser, give back what PostgreSQL lets every role read:  GRANT SELECT ON pg_catalog.pg_replication_slots TO PUBLIC;"));
        } else if (slots.rows() == 1) f.add(Runbook.Finding.ok("slot query", "finds slot " + slot + " (pgoutput, this database)"));
        else {
            String m = "Expected exactly one replication slot but found " + slots.rows() + ". Please read the docs and add a "
                    + "replication slot to your database.";
            failures.add(m);
            // A slot comes after its publication: when both are missing, the publication's fix comes first.
            f.add(Runbook.Finding.fail("slot query", "slot " + slot + " (pgoutput, this database): Airbyte says \"" + m
                    + "\"", pubs.rows() == 1 ? slotFix : publicationFix + "\nthen:  " + slotFix));
        }
        if (pubs.refused() != null) {
            failures.add(pubs.refused());
            f.add(Runbook.Finding.fail("publication query", "publication " + publication + ": the server refuses Airbyte's "
                    + "query: " + pubs.refused(), "as a superuser, give back what PostgreSQL lets every role read:  "
                    + "GRANT SELECT ON pg_catalog.pg_publication TO PUBLIC;"));
        } else if (pubs.rows() == 1) f.add(Runbook.Finding.ok("publication query", "finds publication " + publication));
        else {
            String m = "Expected exactly one publication but found " + pubs.rows() + ". Please read the docs and add a publication "
                    + "to your database.";
            failures.add(m);
            f.add(Runbook.Finding.fail("publication query", "publication " + publication + ": Airbyte says \"" + m + "\"", publicationFix));
        }
        String replication = replicationConnection();
        if (replication == null) f.add(Runbook.Finding.ok("replication", "a replication connection as "
                + Input.ident(user) + " runs IDENTIFY_SYSTEM"));
        else {
            failures.add(replication);
            f.add(Runbook.Finding.fail("replication", "a replication connection as " + Input.ident(user) + " fails: "
                    + replication, target.isPooler() ? "use the direct host " + target.directHost()
                    : "as a superuser (and allow it replication connections in pg_hba.conf):  ALTER ROLE " + Input.ident(user)
                    + " REPLICATION;"));
        }
        String as = airbyteRole == null || user.equals(airbyteRole) ? "" : " (tested as " + Input.ident(user)
                + "; Airbyte connects as " + Input.ident(airbyteRole) + ")";
        f.add(failures.isEmpty() ? Runbook.Finding.ok("verdict", "Airbyte's connection test would pass" + as)
                : Runbook.Finding.fail("verdict", "Airbyte's connection test would fail with: " + failures.get(0) + as, null));
        return new Runbook.Assessment(f, Runbook.Plan.none());
    }

    private static int count(java.sql.ResultSet rs) throws SQLException {
        int n = 0;
        while (rs.next()) n++;
        return n;
    }

    /** Null when Airbyte's replication connection works, else the message Airbyte would show. */
    private String replicationConnection() {
        try (Connection r = CdcStream.connect(target); var st = r.createStatement(); var rs = st.executeQuery("IDENTIFY_SYSTEM")) {
            return rs.next() ? null : "The DB connection is not a valid replication connection";
        } catch (SQLException e) {
            String m = e.getMessage() == null ? "" : e.getMessage();
            if (m.equals("FATAL: must be superuser or replication role to start walsender"))
                return "User '" + target.user + "' does not have enough privileges for CDC replication. Please read the docs and "
                        + "add required privileges.";
            return Output.firstLine(m);
        }
    }
}
