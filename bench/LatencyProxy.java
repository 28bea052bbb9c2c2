import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Arrays;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A TCP proxy on 127.0.0.1 that makes a local server look far away: every chunk of bytes, in either direction, is
 * delivered {@code rtt/2} after the proxy read it, in order (latency, not bandwidth: chunks in flight overlap).
 * It counts round trips: a round trip starts when the client sends after it has received from the server (or sends
 * for the first time on a connection), over every connection, so the startup and authentication exchange counts too.
 * A send less than one round trip after the current one started cannot answer anything the server said in it: that
 * is the client still writing a large message while the server already replies to its start, not a new round trip.
 */
final class LatencyProxy implements AutoCloseable {
    private static final byte[] EOF = new byte[0];
    private static final java.io.PrintStream DEBUG = System.getenv("PROXY_DEBUG") != null ? System.err : null;

    private final ServerSocket listener;
    private final int targetPort;
    private final long delayNanos, rttNanos;
    private final AtomicLong roundTrips = new AtomicLong();
    private final AtomicLong connections = new AtomicLong();
    private int open; // connections whose client has not closed yet; guarded by this

    LatencyProxy(int targetPort, int rttMs) throws IOException {
        this.targetPort = targetPort;
        this.delayNanos = rttMs * 1_000_000L / 2;
        this.rttNanos = 2 * delayNanos;
        listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        daemon("proxy-accept", this::acceptLoop);
    }

    int port() { return listener.getLocalPort(); }

    /**
     * Round trips and connections since the last call, which starts the count again. Waits for every client to
     * have closed its connection first, so that a connection's last message (Terminate) counts where it belongs.
     */
    synchronized long[] takeCounts() throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        for (long left; open > 0 && (left = deadline - System.nanoTime()) > 0; ) wait(left / 1_000_000 + 1);
        if (open > 0) throw new IllegalStateException(open + " connection(s) still open 10 s after the step ended");
        return new long[] {roundTrips.getAndSet(0), connections.getAndSet(0)};
    }

    private synchronized void opened(int n) {
        open += n;
        notifyAll();
    }

    @Override public void close() throws IOException { listener.close(); }

    private void acceptLoop() {
        while (!listener.isClosed()) {
            try {
                Socket client = listener.accept();
                Socket server = new Socket(InetAddress.getLoopbackAddress(), targetPort);
                client.setTcpNoDelay(true);
                server.setTcpNoDelay(true);
                connections.incrementAndGet();
                opened(1);
                // true: the client has received from the server since it last sent
                AtomicBoolean received = new AtomicBoolean(true);
                long[] roundStarted = {System.nanoTime() - rttNanos};
                pipe("client", client, server, () -> {
                    long now = System.nanoTime();
                    if (received.getAndSet(false) && now - roundStarted[0] >= rttNanos) {
                        if (DEBUG != null) DEBUG.println("ROUND TRIP");
                        roundTrips.incrementAndGet();
                        roundStarted[0] = now;
                    }
                }, () -> { }, () -> opened(-1));
                pipe("server", server, client, () -> { }, () -> received.set(true), () -> { });
            } catch (IOException e) {
                if (!listener.isClosed()) System.err.println("proxy: " + e);
            }
        }
    }

    /**
     * One direction: a reader stamps each chunk with its due time, a writer delivers it then. {@code onRead} runs as
     * a chunk arrives, {@code onDeliver} just before it is delivered, {@code onEof} when the sender has closed.
     */
    private void pipe(String label, Socket from, Socket to, Runnable onRead, Runnable onDeliver, Runnable onEof) throws IOException {
        InputStream in = from.getInputStream();
        OutputStream out = to.getOutputStream();
        BlockingQueue<Object[]> queue = new LinkedBlockingQueue<>();
        daemon(label, () -> {
            byte[] buf = new byte[64 * 1024];
            try {
                for (int n; (n = in.read(buf)) > 0; ) {
                    onRead.run();
                    if (DEBUG != null) DEBUG.printf("%d %s %d %s%n", System.nanoTime() / 1_000_000 % 100000, Thread.currentThread().getName(), n, new String(buf, 0, Math.min(n, 40)).replaceAll("[^ -~]", "."));
                    queue.add(new Object[] {System.nanoTime() + delayNanos, Arrays.copyOf(buf, n)});
                }
            } catch (IOException ignored) { // the other side closed
            }
            queue.add(new Object[] {System.nanoTime() + delayNanos, EOF});
            onEof.run();
        });
        daemon("proxy-write", () -> {
            try {
                while (true) {
                    Object[] chunk = queue.take();
                    for (long wait; (wait = (long) chunk[0] - System.nanoTime()) > 0; ) LockSupport.parkNanos(wait);
                    byte[] bytes = (byte[]) chunk[1];
                    if (bytes == EOF) break;
                    onDeliver.run(); // before the write: once written, the client may answer at once
                    out.write(bytes);
                    out.flush();
                }
            } catch (IOException | InterruptedException ignored) { // the other side closed
            }
            try { from.close(); to.close(); } catch (IOException ignored) { }
        });
    }

    private static void daemon(String name, Runnable body) {
        Thread t = new Thread(body, name);
        t.setDaemon(true);
        t.start();
    }
}
