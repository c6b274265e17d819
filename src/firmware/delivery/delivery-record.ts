/** The persisted record of one (device, image) delivery: what the state machine reads and writes. */
import type { UpdateOutcome } from './update-result.js';

export type DeliveryMethod = 'push' | 'pull';
export type RequestedMethod = DeliveryMethod | 'auto';

/**
 * pending: created, not started yet (or waiting for the device to register again)
 * inspecting: reading the device's Object 5 (state, result, protocols, delivery method)
 * transferring: push write in flight, or the device is pulling from our URI
 * paused: the transfer is on hold while the device is busy (push: the server sends no
 *   block; pull: the device stopped by itself); resume goes on from the bytes acknowledged
 * held: the device holds the package (State 2) and Update waits for releaseUpdate()
 * downloaded: the device holds the package (State 2); Update is being executed
 * updating: Update executed, the device is installing and rebooting (State 3)
 * verifying: the device said success; waiting for it to register with the new version
 * deferred: the user deferred (result 11); Update is executed again later
 * succeeded / failed: terminal
 */
export type DeliveryState =
  | 'pending'
  | 'inspecting'
  | 'transferring'
  | 'paused'
  | 'held'
  | 'downloaded'
  | 'updating'
  | 'verifying'
  | 'deferred'
  | 'succeeded'
  | 'failed';

export const TERMINAL_STATES: ReadonlySet<DeliveryState> = new Set(['succeeded', 'failed']);

/** Outcome of a finished delivery: an Update Result outcome, or why the server gave up. */
export type DeliveryOutcome =
  | UpdateOutcome
  | 'cancelled'
  | 'timeout'
  | 'device-error'
  | 'wrong-version'
  | 'bad-device-state'
  | 'unsupported-device';

export interface HistoryEntry {
  at: number;
  from: DeliveryState;
  to: DeliveryState;
  /** The event's kind ("device-state", "timeout"...). */
  event: string;
  detail?: string;
}

export interface DeliveryRecord {
  id: string;
  endpoint: string;
  imageId: string;
  /** The PkgVersion the device must report after the update. */
  imageVersion: string;
  imageName: string;
  requestedMethod: RequestedMethod;
  method: DeliveryMethod | undefined;
  state: DeliveryState;
  createdAt: number;
  updatedAt: number;
  /** When the current state was entered (the phase timeout counts from here or from the last progress). */
  stateSince: number;
  bytes: number;
  total: number;
  /** The last Update Result the device reported. */
  result: number | undefined;
  /** The last State the device reported. */
  deviceState: number | undefined;
  outcome: DeliveryOutcome | undefined;
  reason: string | undefined;
  /** Transfer attempts started so far. */
  attempts: number;
  deferrals: number;
  /** Path segment of the pull URI (/fw/<token>), unguessable, one per delivery. */
  pullToken: string | undefined;
  /** What the device ran before, for the record. */
  previousVersion: string | undefined;
  /** The device's Maximum Defer Period (/5/0/13) in ms, when it has one. */
  maxDeferMs: number | undefined;
  /** A push failed because the device went silent: retry when it registers (or updates) again. */
  retryOnRegistration: boolean;
  /** Started with holdUpdate: after the download, Update waits for releaseUpdate(). Absent in older records. */
  holdUpdate?: boolean;
  /** releaseUpdate() was called (possibly before the download finished). */
  updateReleased?: boolean;
  history: HistoryEntry[];
}
