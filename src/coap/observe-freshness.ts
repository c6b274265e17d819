/** RFC 7641 §3.4: is a notification newer than the last one delivered? */

const HALF_SEQUENCE_SPACE = 1 << 23;
/** After this long, sequence numbers may have wrapped; the newer arrival wins. */
export const OBSERVE_FRESHNESS_WINDOW_MS = 128_000;

export function isFreshNotification(
  lastSequence: number,
  lastAt: number,
  sequence: number,
  now: number,
): boolean {
  return (
    (lastSequence < sequence && sequence - lastSequence < HALF_SEQUENCE_SPACE) ||
    (lastSequence > sequence && lastSequence - sequence > HALF_SEQUENCE_SPACE) ||
    now > lastAt + OBSERVE_FRESHNESS_WINDOW_MS
  );
}
