import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;

/**
 * What commands print, kept apart per thread: fleet runs many commands at once in one JVM, and each prints to
 * System.out and System.err as when it runs alone. While installed, those two send each thread's bytes to that
 * thread's buffers, and every other thread's where they went before.
 */
final class Captured {
    private Captured() {}

    /** A command's run: its exit code and what it printed. */
    record Run(int exit, String out, String err) {}

    private static final InheritableThreadLocal<OutputStream[]> BUFFERS = new InheritableThreadLocal<>();
    private static PrintStream out, err;

    /** From now on System.out and System.err go to the running thread's buffers, when it has them. */
    static synchronized void install() {
        if (out != null) return;
        out = System.out;
        err = System.err;
        System.setOut(new PrintStream(router(out, 0), true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(router(err, 1), true, StandardCharsets.UTF_8));
    }

    static synchronized void uninstall() {
        if (out == null) return;
        System.setOut(out);
        System.setErr(err);
        out = err = null;
    }

    /** Runs {@code work} on this thread with its own buffers. */
    static Run run(Callable<Integer> work) throws Exception {
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        BUFFERS.set(new OutputStream[] {o, e});
        try {
            int exit = work.call();
            System.out.flush();
            System.err.flush();
            return new Run(exit, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            BUFFERS.remove();
        }
    }

    private static OutputStream router(PrintStream fallback, int which) {
        return new OutputStream() {
            private OutputStream target() {
                OutputStream[] b = BUFFERS.get();
                return b == null ? fallback : b[which];
            }
            @Override public void write(int b) throws IOException { target().write(b); }
            @Override public void write(byte[] b, int off, int len) throws IOException { target().write(b, off, len); }
            @Override public void flush() throws IOException { target().flush(); }
        };
    }
}
