//SOURCES Runbook.java

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.NullNode;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Set;

/**
 * JSON over HTTP for the Neon and Airbyte includes (java.net.http, no SDK): a bearer token, a timeout per request,
 * bounded retries with backoff for the statuses an API calls safe to retry, and one-line errors with exit codes.
 * Secrets stay out of every message: request headers are never put in one, and whatever the server says back is
 * redacted of the token and of every value registered with {@link Secrets#add}.
 */
final class HttpJson {
    static final ObjectMapper JSON = new ObjectMapper();

    /** An API's own reading of a failed status (the fix to name), or null for the generic one. */
    interface Explain { Failure explain(int status, String request, String serverMessage); }

    final String service, base, where;
    private final Set<Integer> retryable;
    private final Duration timeout;
    private final HttpClient client;
    private String bearer;
    int attempts = 6;
    long backoffMillis = 1000;
    Explain explain = (status, request, message) -> null;
    /** A new bearer token when the one in use has expired (HTTP 401), or null: Airbyte's tokens last minutes. */
    java.util.function.Supplier<String> renew;
    /** Gateway errors a GET may be sent again after: it changes nothing. */
    private static final Set<Integer> GATEWAY = Set.of(502, 503, 504);

    /**
     * @param service   "Neon API", for messages
     * @param base      the URL every path is appended to
     * @param where     how the user sets {@code base}, for messages ("NEON_API_HOST")
     * @param retryable statuses that mean "not done, try again" (Neon: 423, 503)
     */
    HttpJson(String service, String base, String where, int timeoutSeconds, Set<Integer> retryable) {
        if (!base.matches("https?://[^\\s/]+(/\\S*)?"))
            throw Failure.badInput(where + " '" + base + "' is not an http(s) URL");
        this.service = service;
        this.base = base.replaceFirst("/+$", "");
        this.where = where;
        this.retryable = retryable;
        this.timeout = Duration.ofSeconds(Math.max(1, timeoutSeconds));
        this.client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(timeout)
                .followRedirects(HttpClient.Redirect.NEVER).build();
    }

    /** The same API, timeout and retries, without a token: for the call that gets one. */
    HttpJson anonymous() {
        HttpJson h = new HttpJson(service, base, where, (int) timeout.toSeconds(), retryable);
        h.attempts = attempts;
        h.backoffMillis = backoffMillis;
        return h;
    }

    /** Sends {@code Authorization: Bearer token} from now on; the token is a secret. */
    void bearer(String token) {
        // The JDK would name a header value it refuses in its exception message: refuse it here, without showing it.
        if (!token.chars().allMatch(c -> c > ' ' && c < 127))
            throw Failure.badInput("the " + service + " key or token holds a space or a character an HTTP header cannot "
                    + "carry: copy it again");
        bearer = token;
        Secrets.add(token);
    }

    /** A path segment or query value, percent-encoded. */
    static String enc(String s) { return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20"); }

    /** Sends one request and returns the JSON answer (NullNode for an empty one); throws {@link Failure}. */
    JsonNode send(String method, String path, Object body) {
        String request = method + " " + path.replaceFirst("\\?.*", "");
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(timeout).header("Accept", "application/json");
        if (body == null) b.method(method, HttpRequest.BodyPublishers.noBody());
        else b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofByteArray(bytes(body)));
        long pause = backoffMillis;
        boolean renewed = false;
        for (int attempt = 1; ; attempt++) {
            if (bearer != null) b.setHeader("Authorization", "Bearer " + bearer);
            HttpRequest req = b.build();
            HttpResponse<String> r;
            try {
                r = client.send(req, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            } catch (HttpTimeoutException e) {
                throw new Failure(Exit.CANNOT_CONNECT, service + " did not answer " + request + " within "
                        + timeout.toSeconds() + " s: check the network and " + where + ", then run again");
            } catch (IOException e) {
                throw new Failure(Exit.CANNOT_CONNECT, "cannot reach " + service + " at " + URI.create(base).getHost()
                        + " (" + e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + redact(Output.firstLine(e.getMessage())))
                        + "): check the network and " + where);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new Failure(Exit.CANNOT_CONNECT, "interrupted while waiting for " + service);
            }
            int status = r.statusCode();
            if (status >= 200 && status < 300) return parse(r, request);
            if (status == 401 && renew != null && !renewed) { // expired while a long run went on: a new token, once
                renewed = true;
                bearer(renew.get());
                attempt--;
                continue;
            }
            if ((retryable.contains(status) || method.equals("GET") && GATEWAY.contains(status)) && attempt < attempts) {
                Progress.line(service + " answered HTTP " + status + " to " + request + "; retrying in " + pause + " ms ("
                        + attempt + " of " + (attempts - 1) + " retries)");
                sleep(pause);
                pause = Math.min(pause * 2, 16_000);
                continue;
            }
            throw failure(status, request, serverMessage(r.body()), attempt);
        }
    }

    private Failure failure(int status, String request, String message, int tries) {
        Failure own = explain.explain(status, request, message);
        if (own != null) return own;
        String said = message.isEmpty() ? "" : ": " + message;
        String after = tries > 1 ? ", " + tries + " attempts" : "";
        if (status == 423)
            return new Failure(Exit.CANNOT_CONNECT, service + " is busy with another operation (HTTP 423" + after
                    + ")" + said + " - wait for it to finish, then run again");
        if (status == 429 || status >= 500)
            return new Failure(Exit.CANNOT_CONNECT, service + " could not take " + request + " now (HTTP " + status
                    + after + ")" + said + " - run again later");
        return new Failure(Exit.REFUSED, service + " refused " + request + " (HTTP " + status + ")" + said);
    }

    private JsonNode parse(HttpResponse<String> r, String request) {
        if (r.body() == null || r.body().isBlank()) return NullNode.getInstance();
        try {
            return JSON.readTree(r.body());
        } catch (IOException e) {
            String type = r.headers().firstValue("Content-Type").orElse("no content type");
            throw new Failure(Exit.CANNOT_CONNECT, service + " answered " + request + " with something that is not JSON (HTTP "
                    + r.statusCode() + ", " + type + "): is " + base + " the API's address? (" + where + ")");
        }
    }

    /** The texts of a JSON array (none for anything else). */
    static List<String> texts(JsonNode array) {
        List<String> l = new java.util.ArrayList<>();
        if (array.isArray()) array.forEach(n -> l.add(n.asText()));
        return l;
    }

    /** A field the answer must have; a clear error when it does not. */
    JsonNode need(JsonNode answer, String field, String request) {
        JsonNode v = answer.path(field);
        if (v.isMissingNode() || v.isNull())
            throw new Failure(Exit.CANNOT_CONNECT, service + "'s answer to " + request + " has no \"" + field
                    + "\": is " + base + " the API's address? (" + where + ")");
        return v;
    }

    /** The server's own explanation, one short line, redacted: Neon says "message", Airbyte "detail" or "title". */
    private String serverMessage(String body) {
        if (body == null || body.isBlank()) return "";
        String text;
        try {
            JsonNode j = JSON.readTree(body);
            text = "";
            for (String k : List.of("message", "detail", "title", "error_description", "error"))
                if (j.path(k).isTextual() && !j.path(k).asText().isBlank()) { text = j.path(k).asText(); break; }
        } catch (IOException e) {
            text = body.stripLeading().startsWith("<") ? "" : body; // an HTML error page says nothing useful in one line
        }
        text = redact(Output.firstLine(text.strip()));
        return text.length() > 200 ? text.substring(0, 200) + "..." : text;
    }

    /** What a server said, without any secret (even one it echoes) or bearer token. */
    static String redact(String s) {
        return Secrets.redact(s).replaceAll("(?i)(bearer\\s+)\\S+", "$1****");
    }

    private static byte[] bytes(Object body) {
        try {
            return JSON.writeValueAsBytes(body);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Failure(Exit.CANNOT_CONNECT, "interrupted");
        }
    }
}
