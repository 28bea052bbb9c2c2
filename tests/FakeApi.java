import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * Test support: a local HTTP server (JDK's com.sun.net.httpserver on 127.0.0.1, any free port) that plays an API.
 * Routes answer "METHOD /path" (the path without the query; "METHOD /path/*" answers any last segment, an id); every
 * request is recorded with its headers and body
 * so tests can check each one. An unknown route answers 404 and is recorded too.
 */
final class FakeApi implements AutoCloseable {
    // The JDK's server writes headers and body apart: without TCP_NODELAY every request waits out a delayed ACK (40 ms).
    static { System.setProperty("sun.net.httpserver.nodelay", "true"); }

    static final ObjectMapper JSON = new ObjectMapper();

    record Request(String method, String path, String query, Map<String, String> headers, String body) {
        String header(String name) { return headers.get(name.toLowerCase()); }
        JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                throw new AssertionError("not JSON: " + body);
            }
        }
        @Override public String toString() { return method + " " + path + (query == null ? "" : "?" + query); }
    }

    record Reply(int status, String body, String contentType) {
        static Reply json(int status, Object body) {
            try {
                return new Reply(status, body instanceof String s ? s : JSON.writeValueAsString(body), "application/json");
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
        static Reply ok(Object body) { return json(200, body); }
        /** Never answers: the client's timeout is what ends it. */
        static final Reply HANG = new Reply(-1, "", "");
    }

    static final String NEON_KEY = "napi_Test0Key1Never2Printed3", AIRBYTE_CLIENT_SECRET = "abs-Client-Secret-Never-Printed",
            AIRBYTE_TOKEN = "eyJ.test-Access-Token.Never-Printed", AIRBYTE_TOKEN_RENEWED = "eyJ.test-Renewed-Token.Never-Printed";
    /** Nothing any script prints may contain one of these. */
    static final List<String> SECRETS = List.of(NEON_KEY, AIRBYTE_CLIENT_SECRET, AIRBYTE_TOKEN, AIRBYTE_TOKEN_RENEWED,
            Pg.OWNER_PASSWORD, Pg.READER_PASSWORD);

    /** Runs a script in-process like Pg.run, and fails when a secret shows in anything it printed. */
    static Pg.Run run(Callable<?> script, Map<String, String> env, String... args) {
        Pg.Run r = Pg.run(script, env, args);
        for (String secret : SECRETS)
            if (r.all().contains(secret)) throw new AssertionError("a secret was printed: " + r.all().replace(secret, "<SECRET>"));
        return r;
    }

    final List<Request> requests = Collections.synchronizedList(new ArrayList<>());
    private final Map<String, ObjectNode> projects = new LinkedHashMap<>();
    private final Map<String, Function<Request, Reply>> routes = new java.util.concurrent.ConcurrentHashMap<>();
    private final HttpServer server;
    private final CountDownLatch closed = new CountDownLatch(1);

    FakeApi() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(Executors.newCachedThreadPool());
        server.createContext("/", this::handle);
        server.start();
    }

    /** The server's address, with a base path: url("/api/v2") = http://127.0.0.1:port/api/v2. */
    String url(String basePath) { return "http://127.0.0.1:" + server.getAddress().getPort() + basePath; }

    FakeApi on(String methodAndPath, Function<Request, Reply> handler) {
        routes.put(methodAndPath, handler);
        return this;
    }

    /** Answers in turn; the last answer repeats. */
    FakeApi on(String methodAndPath, Reply... replies) {
        AtomicInteger n = new AtomicInteger();
        return on(methodAndPath, r -> replies[Math.min(n.getAndIncrement(), replies.length - 1)]);
    }

    List<Request> requests(String methodAndPath) {
        synchronized (requests) {
            return requests.stream().filter(r -> (r.method() + " " + r.path()).equals(methodAndPath)).toList();
        }
    }

    /** "METHOD /path" of every request so far, in order (queries are in {@link #requests}). */
    List<String> log() {
        synchronized (requests) {
            return requests.stream().map(r -> r.method() + " " + r.path()).toList();
        }
    }

    /** NEON_API_KEY and NEON_API_HOST for this server as Neon's API. */
    Map<String, String> neonEnv() { return Map.of("NEON_API_KEY", NEON_KEY, "NEON_API_HOST", url("/api/v2")); }

    /**
     * Neon's API for a project kept in memory: GET /api/v2/projects/{id}, and PATCH, which sets each setting it is
     * sent (allowed_ips replaced whole, as Neon does) and answers the project as it now is.
     */
    FakeApi neonProject(String id, String name, String settingsJson) {
        ObjectNode project = JSON.createObjectNode().put("id", id).put("name", name);
        try {
            project.set("settings", JSON.readTree(settingsJson));
        } catch (IOException e) {
            throw new IllegalArgumentException(e);
        }
        projects.put(id, project);
        on("GET /api/v2/projects/" + id, r -> Reply.ok(Map.of("project", project)));
        on("PATCH /api/v2/projects/" + id, r -> {
            r.json().path("project").path("settings").properties().forEach(e -> ((ObjectNode) project.get("settings")).set(e.getKey(), e.getValue()));
            return Reply.ok(Map.of("project", project, "operations", List.of()));
        });
        return this;
    }

    ObjectNode project(String id) { return projects.get(id); }

    private void handle(HttpExchange x) throws IOException {
        Map<String, String> headers = new LinkedHashMap<>();
        x.getRequestHeaders().forEach((k, v) -> headers.put(k.toLowerCase(), String.join(",", v)));
        String body = new String(x.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        Request r = new Request(x.getRequestMethod(), x.getRequestURI().getRawPath(), x.getRequestURI().getRawQuery(), headers, body);
        requests.add(r);
        Function<Request, Reply> route = routes.get(r.method() + " " + r.path());
        if (route == null) route = routes.get(r.method() + " " + r.path().replaceFirst("/[^/]+$", "/*"));
        Reply reply;
        try {
            reply = route == null ? Reply.json(404, Map.of("message", "no route " + r)) : route.apply(r);
        } catch (RuntimeException | AssertionError e) { // a broken test route answers 500 rather than hang the client
            reply = Reply.json(500, Map.of("message", "test route failed: " + e));
        }
        if (reply == Reply.HANG) {
            try { closed.await(); } catch (InterruptedException ignored) { }
            x.close();
            return;
        }
        byte[] bytes = reply.body().getBytes(StandardCharsets.UTF_8);
        x.getResponseHeaders().set("Content-Type", reply.contentType());
        x.sendResponseHeaders(reply.status(), bytes.length == 0 ? -1 : bytes.length);
        if (bytes.length > 0) try (OutputStream o = x.getResponseBody()) { o.write(bytes); }
        x.close();
    }

    @Override public void close() {
        closed.countDown();
        server.stop(0);
        ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
    }

    /**
     * A TCP forwarder on 127.0.0.1 whose target port can change: new connections go to the current target, as a
     * Neon compute that restarts with other settings would. Used to let "a new connection" reach another server.
     */
    static final class Proxy implements AutoCloseable {
        private final ServerSocket listener = new ServerSocket(0, 50, java.net.InetAddress.getByName("127.0.0.1"));
        volatile int target;

        Proxy(int target) throws IOException {
            this.target = target;
            Thread t = new Thread(this::accept, "proxy");
            t.setDaemon(true);
            t.start();
        }

        int port() { return listener.getLocalPort(); }

        private void accept() {
            while (!listener.isClosed()) {
                try {
                    Socket client = listener.accept();
                    Socket server = new Socket("localhost", target);
                    pump(client.getInputStream(), server.getOutputStream(), client, server);
                    pump(server.getInputStream(), client.getOutputStream(), client, server);
                } catch (IOException e) {
                    if (listener.isClosed()) return;
                }
            }
        }

        private static void pump(InputStream in, OutputStream out, Socket a, Socket b) {
            Thread t = new Thread(() -> {
                try (a; b) {
                    in.transferTo(out);
                } catch (IOException ignored) { }
            }, "proxy-pump");
            t.setDaemon(true);
            t.start();
        }

        @Override public void close() throws IOException { listener.close(); }
    }
}
