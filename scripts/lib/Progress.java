/**
 * What a command tells a person while it works, on stderr: a line now ({@link #line}), or the phase it is in, shown
 * only once that phase has lasted (thousands of tables, a slow link, a lock to wait for).
 */
final class Progress {
    private Progress() {}

    static void line(String line) { System.err.println(line); }

    /** How long a phase lasts before it is shown; then it is shown again every 10 s. */
    static long afterMillis = 3000;
    private static volatile String phase;
    private static volatile long phaseStarted;
    private static Thread ticker;

    /** What the command is doing now, or null when it is done. Costs nothing unless a phase lasts. */
    static synchronized void phase(String what) {
        phaseStarted = System.nanoTime();
        phase = what;
        if (what != null && ticker == null) {
            ticker = new Thread(Progress::tick, "progress");
            ticker.setDaemon(true);
            ticker.start();
        }
    }

    private static void tick() {
        long shownStart = 0, shownAt = 0;
        while (true) {
            java.util.concurrent.locks.LockSupport.parkNanos(50_000_000L);
            long started = phaseStarted, now = System.nanoTime();
            String what = phase;
            if (what == null || now - started < afterMillis * 1_000_000L) continue;
            if (started == shownStart && now - shownAt < 10_000_000_000L) continue;
            line(what + " (" + (now - started) / 1_000_000_000L + " s) ...");
            shownStart = started;
            shownAt = now;
        }
    }
}
