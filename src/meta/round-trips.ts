// Metadata round trips of this process, by kind: what a shared-database backend sends over the network.
// A process-wide tally (not per store) so the metrics page reads it without the roles handing it down.
export type RoundTripKind = 'get' | 'get_many' | 'scan' | 'commit';

const tally: Record<RoundTripKind, number> = { get: 0, get_many: 0, scan: 0, commit: 0 };

/** Counts one request sent to the metadata database (a retried commit counts once per attempt). */
export function countRoundTrip(kind: RoundTripKind): void {
  tally[kind]++;
}

/** The round trips counted since the process started, by kind. */
export function metaRoundTrips(): Readonly<Record<RoundTripKind, number>> {
  return { ...tally };
}
