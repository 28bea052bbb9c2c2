/**
 * The most round trips a command may take through the link, its login (3 with SCRAM) and its last message (Terminate)
 * included: a guide step needs one read and one apply with its second look; doctor logs in twice (the second time as
 * Airbyte's replication connection does); setup reads every step at once, applies and commits, then makes the slot.
 * The benchmark fails a step over its budget; tests/RoundTripsTest holds every change to it.
 */
final class Budgets {
    private Budgets() {}

    static final int GUIDE_STEP = 7, DOCTOR = 12, SETUP = 12;
}
