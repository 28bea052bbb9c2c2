import java.sql.Connection;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Ctrl-C (SIGINT) and SIGTERM as psql handles them: the statement running on the server is cancelled (a cancel
 * request, as pgjdbc's Statement.cancel() sends), the command waits briefly for the server to roll it back, says in one
 * line what became of the database, and exits 130. Without this the JVM would exit at once and leave the server
 * running what it was asked: a slot waiting for an open transaction would be created after the command had exited.
 */
final class Interrupts {
    private Interrupts() {}

    static final int EXIT = 130;
    /** How long the server has to confirm the cancel (the statement ends, its transaction rolled back). */
    static final long WAIT_MILLIS = 5000;

    private static final Set<Connection> OPEN = ConcurrentHashMap.newKeySet();
    private static final List<String> COMMITTED = new CopyOnWriteArrayList<>();
    private static final CountDownLatch FINISHED = new CountDownLatch(1);
    private static volatile boolean requested, prompting;

    /** A connection whose running statement an interrupt cancels. */
    static Connection track(Connection c) {
        OPEN.add(c);
        return c;
    }

    /** Whose work this thread does, when a command runs for one of several targets (fleet). */
    private static final InheritableThreadLocal<String> SCOPE = new InheritableThreadLocal<>();

    static void scope(String target) {
        if (target == null) SCOPE.remove();
        else SCOPE.set(target);
    }

    /** Something that stays whatever happens next (a commit, an API call that was answered), for the last line. */
    static void committed(String what) { COMMITTED.add(SCOPE.get() == null ? what : SCOPE.get() + ": " + what); }

    static boolean requested() { return requested; }

    /** While a person is asked a question nothing runs on the server: an interrupt need not wait. */
    static void prompting(boolean now) { prompting = now; }

    /**
     * Called from a command's main only: a test's JVM keeps its own handlers. sun.misc.Signal (module jdk.unsupported)
     * is reached by reflection, which spares every first run javac's warning about a proprietary API.
     */
    static void install(String command) {
        Thread main = Thread.currentThread();
        installedBy = main;
        try {
            Class<?> signal = Class.forName("sun.misc.Signal"), handler = Class.forName("sun.misc.SignalHandler");
            Object stopper = java.lang.reflect.Proxy.newProxyInstance(handler.getClassLoader(), new Class<?>[] {handler},
                    (proxy, method, args) -> switch (method.getName()) {
                        case "handle" -> { stop(command, main); yield null; }
                        case "hashCode" -> System.identityHashCode(proxy);
                        case "equals" -> proxy == args[0];
                        default -> "interrupt handler";
                    });
            for (String name : List.of("INT", "TERM")) {
                try {
                    signal.getMethod("handle", signal, handler).invoke(null, signal.getConstructor(String.class).newInstance(name), stopper);
                } catch (java.lang.reflect.InvocationTargetException refused) {
                    // the JVM keeps this signal (-Xrs), or it was ignored when the JVM started (nohup): its default stays
                }
            }
        } catch (ReflectiveOperationException | RuntimeException unavailable) {
            // no sun.misc.Signal in this JVM: Ctrl-C ends the JVM at once, as any Java program
        }
    }

    /** The thread that installed the handler: the command's own, whose end is the one the handler waits for. */
    private static volatile Thread installedBy;

    /**
     * The command's work is over, whatever its outcome. After an interrupt the handler decides the exit. A command
     * that fleet runs on another thread is part of the fleet's work, not the end of it.
     */
    static void finished() {
        if (installedBy != null && Thread.currentThread() != installedBy) return;
        FINISHED.countDown();
        if (requested) while (true) java.util.concurrent.locks.LockSupport.park();
    }

    private static void stop(String command, Thread main) {
        if (requested) return; // a second Ctrl-C while the first is handled
        requested = true;
        long deadline = System.nanoTime() + WAIT_MILLIS * 1_000_000L;
        boolean done;
        try {
            do { // again and again: a cancel that reached the server between two statements is ignored there
                for (Connection c : OPEN) cancel(c);
                main.interrupt(); // a pause (retrying, --watch) ends now
            } while (!(done = FINISHED.await(200, TimeUnit.MILLISECONDS) || prompting) && System.nanoTime() < deadline);
        } catch (InterruptedException e) {
            done = false;
        }
        List<String> stayed = new ArrayList<>(COMMITTED);
        String became = stayed.isEmpty() ? "nothing was changed"
                : "what was committed before stays: " + String.join("; ", stayed) + "; nothing else was changed";
        if (!done) became = "the server did not confirm the cancel within " + WAIT_MILLIS / 1000 + " s, so what it was "
                + "running may still finish" + (stayed.isEmpty() ? "" : " (committed before: " + String.join("; ", stayed) + ")")
                + ": look with jbang doctor before running it again";
        System.out.flush();
        System.err.println(command + ": interrupted; cancelled on the server: " + became);
        System.err.flush();
        for (Connection c : OPEN) {
            try { c.close(); } catch (Exception ignored) { }
        }
        Runtime.getRuntime().halt(EXIT);
    }

    private static void cancel(Connection c) {
        try {
            if (!c.isClosed()) c.unwrap(org.postgresql.core.BaseConnection.class).cancelQuery();
        } catch (Exception unreachable) {
            // the server is gone or the connection closed: nothing is running there
        }
    }
}
