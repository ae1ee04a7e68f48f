/**
 * The names of the check optimisations (instrument.ts describes each), apart from the
 * instrumentation itself so that the command line can list and parse them without loading
 * Binaryen.
 */

/** The optimisations of the checks, each of which can be turned off alone (instrument.ts). */
export const CHECK_OPTIMIZATIONS = ["groups", "dominance", "pageCaches", "loopRestart", "versioning", "leanFallback", "pairLoads", "privateAccesses", "leafCaches"] as const;
export type CheckOptimization = (typeof CHECK_OPTIMIZATIONS)[number];
