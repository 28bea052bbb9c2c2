import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
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

    private final ServerSocket listener;
    private final int targetPort;
    private final long delayNanos, rttNanos;
    private final PrintStream trace;
    private final AtomicLong roundTrips = new AtomicLong(), connections = new AtomicLong();
    private int open; // connections whose client has not closed yet; guarded by this

    /** {@code trace}: where to print every chunk and round trip, or null. */
    LatencyProxy(int targetPort, int rttMs, PrintStream trace) throws IOException {
        this.targetPort = targetPort;
        this.delayNanos = rttMs * 1_000_000L / 2;
        this.rttNanos = 2 * delayNanos;
        this.trace = trace;
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
                AtomicBoolean received = new AtomicBoolean(true); // the client has received since it last sent
                long[] roundStarted = {System.nanoTime() - rttNanos};
                pipe("client", client, server, () -> {
                    long now = System.nanoTime();
                    if (received.getAndSet(false) && now - roundStarted[0] >= rttNanos) {
                        roundTrips.incrementAndGet();
                        roundStarted[0] = now;
                        if (trace != null) trace.println("-- round trip");
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
     * a chunk arrives, {@code onDeliver} just before it is delivered (once written, the client may answer at once),
     * {@code onEof} when the sender has closed.
     */
    private void pipe(String from, Socket in, Socket out, Runnable onRead, Runnable onDeliver, Runnable onEof) throws IOException {
        InputStream source = in.getInputStream();
        OutputStream sink = out.getOutputStream();
        BlockingQueue<Object[]> queue = new LinkedBlockingQueue<>();
        daemon("proxy-read-" + from, () -> {
            byte[] buf = new byte[64 * 1024];
            try {
                for (int n; (n = source.read(buf)) > 0; ) {
                    onRead.run();
                    if (trace != null) trace.printf("%s %6d bytes  %s%n", from, n,
                            new String(buf, 0, Math.min(n, 60), StandardCharsets.ISO_8859_1).replaceAll("[^ -~]", "."));
                    queue.add(new Object[] {System.nanoTime() + delayNanos, Arrays.copyOf(buf, n)});
                }
            } catch (IOException ignored) { // closed
            }
            queue.add(new Object[] {System.nanoTime() + delayNanos, EOF});
            onEof.run();
        });
        daemon("proxy-write-" + from, () -> {
            try {
                while (true) {
                    Object[] chunk = queue.take();
                    for (long wait; (wait = (long) chunk[0] - System.nanoTime()) > 0; ) LockSupport.parkNanos(wait);
                    byte[] bytes = (byte[]) chunk[1];
                    if (bytes == EOF) break;
                    onDeliver.run();
                    sink.write(bytes);
                    sink.flush();
                }
            } catch (IOException | InterruptedException ignored) { // closed
            }
            try { in.close(); out.close(); } catch (IOException ignored) { }
        });
    }

    private static void daemon(String name, Runnable body) {
        Thread t = new Thread(body, name);
        t.setDaemon(true);
        t.start();
    }
}
