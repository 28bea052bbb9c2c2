/** The defaults a person would otherwise type, named once: picocli's defaultValue and every step use these. */
final class Defaults {
    private Defaults() {}

    static final String SLOT = "airbyte_slot";
    static final String PUBLICATION = "airbyte_publication";
    static final String SCHEMA = "public";
    static final String HEARTBEAT_TABLE = "airbyte_heartbeat";
    /** How long a step waits for a table's lock, or a new slot for the transactions open elsewhere. */
    static final String LOCK_TIMEOUT = "5s";
    /** How long doctor --deep may decode a slot's pending changes. */
    static final String PEEK_TIMEOUT = "10s";
    /** slot-status warns above this much WAL held by a slot. */
    static final String WARN_AT = "1GB";
}
