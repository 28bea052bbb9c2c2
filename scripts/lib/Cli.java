import java.sql.SQLException;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;

/**
 * How a command meets the terminal: picocli set up with the runbook's exit codes (rendered from {@link Exit} into
 * --help), one line for every expected failure, a bug told apart from a refusal, Ctrl-C handled as psql does, and
 * questions asked only of a person at a terminal.
 */
final class Cli {
    private Cli() {}

    /** Wide enough that the examples of every --help stay on whole lines. */
    static final int HELP_WIDTH = 120;

    /** pgjdbc logs some failures (a host name its verifier rejects) to the console; the runbook says them in its own line. */
    private static final java.util.logging.Logger PGJDBC = java.util.logging.Logger.getLogger("org.postgresql");
    static { PGJDBC.setUseParentHandlers(false); }

    /** A CommandLine for {@code command}: bad options exit 2, expected failures print one line, exit codes in --help. */
    static CommandLine cli(Callable<?> command) {
        CommandLine cmd = new CommandLine(command);
        cmd.setUsageHelpWidth(HELP_WIDTH);
        cmd.setExitCodeExceptionMapper(t -> t instanceof Failure f ? f.exit.code : Exit.BUG.code);
        cmd.setExecutionStrategy(parsed -> {
            Invocation.started(parsed.commandSpec().name(), parsed.originalArgs());
            try {
                int code = new CommandLine.RunLast().execute(parsed);
                return parsed.commandSpec().commandLine().getExecutionResult() instanceof Exit e ? e.code : code;
            } finally {
                Progress.phase(null);
                Interrupts.finished(); // after Ctrl-C, the interrupt handler says what became of the database and exits
            }
        });
        cmd.setParameterExceptionHandler((ex, args) -> {
            boolean url = ex instanceof CommandLine.UnmatchedArgumentException u && u.getUnmatched().stream().anyMatch(a -> a.contains("://"));
            String line = Secrets.hideUrlPasswords(ex.getMessage() + (url ? " (a connection string goes after --url)" : " (see --help)"));
            ex.getCommandLine().getErr().println(ex.getCommandLine().getCommandName() + ": " + line);
            if (java.util.List.of(args).contains("--json")) jsonError(Exit.BAD_INPUT, line);
            return Exit.BAD_INPUT.code;
        });
        cmd.setExecutionExceptionHandler((ex, c, parsed) -> {
            Failure f = ex instanceof Failure x ? x : ex instanceof SQLException s ? Runbook.refused(s, null) : null;
            boolean json = parsed.originalArgs().contains("--json");
            if (f == null) {
                unexpected(c.getCommandName(), ex, c.getErr(), System.getenv("RUNBOOK_DEBUG") != null);
                if (json) jsonError(Exit.BUG, Secrets.redact("unexpected error: " + ex.getClass().getSimpleName() + ": "
                        + Output.firstLine(ex.getMessage())));
                return Exit.BUG.code;
            }
            c.getErr().println(c.getCommandName() + ": " + f.getMessage());
            if (json) jsonError(f.exit, f.getMessage());
            return f.exit.code;
        });
        cmd.getCommandSpec().usageMessage().exitCodeListHeading("%nExit codes:%n")
                .exitCodeList(Exit.forHelp(command instanceof Exit.Documented d ? d.exitCodes() : Map.of()));
        return cmd;
    }

    /** With --json, an error is a document on stdout too, so that a program reading it learns why: its exit code and line. */
    private static void jsonError(Exit exit, String error) {
        Map<String, Object> doc = new java.util.LinkedHashMap<>();
        doc.put("exitCode", exit.code);
        doc.put("error", error);
        System.out.println(Output.pretty(doc));
    }

    /** A command's main: Ctrl-C and SIGTERM cancel what runs on the server (see {@link Interrupts}), then its exit code. */
    static void launch(Callable<?> command, String... args) {
        CommandLine cmd = cli(command);
        Interrupts.install(cmd.getCommandName());
        System.exit(cmd.execute(args));
    }

    /**
     * A bug or an error nobody foresaw: one line saying so, and with RUNBOOK_DEBUG the stack trace. Both pass through
     * {@link Secrets#redact}, as whatever threw may have put a password or a key in its message.
     */
    static void unexpected(String command, Throwable ex, java.io.PrintWriter err, boolean stackTrace) {
        err.println(Secrets.redact(command + ": unexpected error: " + ex.getClass().getSimpleName() + ": "
                + Output.firstLine(ex.getMessage()) + (stackTrace ? "" : " - this is a bug: run the command again with "
                + "RUNBOOK_DEBUG=1 for its stack trace, and report it")));
        if (stackTrace) {
            java.io.StringWriter trace = new java.io.StringWriter();
            ex.printStackTrace(new java.io.PrintWriter(trace));
            err.print(Secrets.redact(trace.toString()));
        }
        err.flush();
    }

    /** A person at a terminal. From Java 22 System.console() is not null for pipes too; isTerminal() tells them apart. */
    static boolean terminal() {
        java.io.Console console = System.console();
        if (console == null) return false;
        try {
            return (Boolean) java.io.Console.class.getMethod("isTerminal").invoke(console);
        } catch (ReflectiveOperationException before22) {
            return true;
        }
    }

    /**
     * Asks for a password as psql does: on the terminal, without echo, even when stdout goes to a file; with no
     * terminal at all, one line of standard input (the prompt on stderr). Never on stdout, which may be a document.
     */
    static String password(String prompt) {
        Interrupts.prompting(true);
        try {
            if (System.console() != null) {
                char[] typed = System.console().readPassword("%s", prompt);
                return typed == null ? null : new String(typed);
            }
            java.io.File tty = new java.io.File("/dev/tty");
            try (var in = new java.io.FileInputStream(tty); var out = new java.io.FileOutputStream(tty)) {
                out.write(prompt.getBytes(java.nio.charset.StandardCharsets.UTF_8));
                echo(tty, false);
                try {
                    return new java.io.BufferedReader(new java.io.InputStreamReader(in, java.nio.charset.StandardCharsets.UTF_8)).readLine();
                } finally {
                    echo(tty, true);
                    out.write('\n');
                }
            } catch (java.io.IOException noTerminal) { // no controlling terminal (cron, CI): standard input
                System.err.print(prompt);
                System.err.flush();
                try {
                    return new java.io.BufferedReader(new java.io.InputStreamReader(System.in, java.nio.charset.StandardCharsets.UTF_8)).readLine();
                } catch (java.io.IOException e) {
                    return null;
                }
            }
        } finally {
            Interrupts.prompting(false);
        }
    }

    /** The terminal's echo on or off (stty, on the terminal itself). */
    private static void echo(java.io.File tty, boolean on) throws java.io.IOException {
        try {
            new ProcessBuilder("stty", on ? "echo" : "-echo").redirectInput(tty).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start().waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Asks a yes/no question on the terminal: true for yes or y; null when there is no terminal to ask on. */
    static Boolean confirm(String question) {
        if (!terminal()) return null;
        String answer;
        Interrupts.prompting(true);
        try {
            answer = System.console().readLine("%s Type yes to go on: ", question);
        } finally {
            Interrupts.prompting(false);
        }
        return answer != null && (answer.strip().equalsIgnoreCase("yes") || answer.strip().equalsIgnoreCase("y"));
    }
}
