import picocli.CommandLine.Option;

/**
 * The options several commands share, each described once, with its default from {@link Defaults}: a command mixes in
 * the ones it takes (setup and doctor take the steps' own).
 */
final class Flags {
    private Flags() {}

    static final class Publication {
        @Option(names = "--publication", defaultValue = Defaults.PUBLICATION, description = "The publication Airbyte "
                + "reads through (default: ${DEFAULT-VALUE}).")
        String name = Defaults.PUBLICATION;
    }

    static final class Slot {
        @Option(names = "--slot", defaultValue = Defaults.SLOT, description = "The replication slot Airbyte reads from: "
                + "lower-case letters, digits and underscores, at most 63 (default: ${DEFAULT-VALUE}).")
        String name = Defaults.SLOT;
    }

    static final class LockTimeout {
        @Option(names = "--lock-timeout", defaultValue = Defaults.LOCK_TIMEOUT, paramLabel = "DURATION", description = "Give "
                + "up, changing nothing, when a table stays locked by another session this long (and, for a new slot, "
                + "when a transaction open elsewhere keeps it waiting): digits with ms, s or min (default: ${DEFAULT-VALUE}).")
        String value = Defaults.LOCK_TIMEOUT;
    }
}
