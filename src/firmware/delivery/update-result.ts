/**
 * Object 5 Update Result (/5/0/5) codes 0–11 (LwM2M 1.1 §E.6, 1.2 adds 10 and 11) as typed
 * outcomes, so the driver and the API never reason about bare numbers.
 */
export type UpdateOutcome =
  | 'initial'
  | 'success'
  | 'not-enough-flash'
  | 'out-of-ram'
  | 'connection-lost'
  | 'integrity-failure'
  | 'unsupported-package'
  | 'invalid-uri'
  | 'update-failed'
  | 'unsupported-protocol'
  | 'cancelled'
  | 'deferred';

/** What the driver does with a result the device reports. */
export type ResultHandling = 'none' | 'success' | 'retry-transfer' | 'fail' | 'defer';

export interface UpdateResultInfo {
  code: number;
  outcome: UpdateOutcome;
  handling: ResultHandling;
  description: string;
}

const TABLE: readonly UpdateResultInfo[] = [
  { code: 0, outcome: 'initial', handling: 'none', description: 'initial value (no result yet)' },
  { code: 1, outcome: 'success', handling: 'success', description: 'firmware updated successfully' },
  { code: 2, outcome: 'not-enough-flash', handling: 'fail', description: 'not enough flash memory for the new package' },
  { code: 3, outcome: 'out-of-ram', handling: 'fail', description: 'out of RAM during the download' },
  // A lost link is the one failure a new attempt can cure.
  { code: 4, outcome: 'connection-lost', handling: 'retry-transfer', description: 'connection lost during the download' },
  { code: 5, outcome: 'integrity-failure', handling: 'fail', description: 'integrity check failure for the new package' },
  { code: 6, outcome: 'unsupported-package', handling: 'fail', description: 'unsupported package type' },
  { code: 7, outcome: 'invalid-uri', handling: 'fail', description: 'invalid URI' },
  { code: 8, outcome: 'update-failed', handling: 'fail', description: 'firmware update failed (the device reverted)' },
  { code: 9, outcome: 'unsupported-protocol', handling: 'fail', description: 'unsupported protocol' },
  { code: 10, outcome: 'cancelled', handling: 'fail', description: 'firmware update cancelled' },
  { code: 11, outcome: 'deferred', handling: 'defer', description: 'firmware update deferred by the user' },
];

export const UPDATE_RESULT_CODES: readonly number[] = TABLE.map((entry) => entry.code);

/** Undefined for a code outside 0–11: a device reporting it is talking nonsense. */
export function updateResultInfo(code: number): UpdateResultInfo | undefined {
  return Number.isInteger(code) ? TABLE[code] : undefined;
}

/** Object 5 State (/5/0/3). */
export const FirmwareState = { idle: 0, downloading: 1, downloaded: 2, updating: 3 } as const;

export function isFirmwareState(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 3;
}
