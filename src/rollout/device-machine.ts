/**
 * Per-device rollout state inside one campaign. Pure: (phase, event) → next phase or
 * undefined when the event does not apply. The scheduler persists the new phase before it
 * performs the action the phase describes (intent first), so a crash never loses a start.
 *
 * planned       member of a stage that has not opened yet
 * pending       stage open, not looked at yet
 * waiting       looked at, not allowed to start yet (busy, asleep, window too short,
 *               battery, deferral, maintenance window, limits); the reason is kept
 * transferring  a transfer was (or is about to be) started
 * paused        the device turned busy mid-transfer; the transfer is held
 * downloaded    the device holds the image; Update waits for an idle window
 * updating      Update executed; waiting for the device's verdict
 * succeeded / failed / skipped / cancelled: final
 */
export const DEVICE_PHASES = [
  'planned',
  'pending',
  'waiting',
  'transferring',
  'paused',
  'downloaded',
  'updating',
  'succeeded',
  'failed',
  'skipped',
  'cancelled',
] as const;
export type DevicePhase = (typeof DEVICE_PHASES)[number];

export const FINAL_PHASES: ReadonlySet<DevicePhase> = new Set(['succeeded', 'failed', 'skipped', 'cancelled']);
/** Phases in which the device may hold (part of) the image. */
export const IN_FLIGHT_PHASES: ReadonlySet<DevicePhase> = new Set(['transferring', 'paused', 'downloaded', 'updating']);

export type DeviceEvent =
  | 'open'
  | 'not-eligible'
  | 'start'
  | 'busy'
  | 'resume'
  | 'downloaded'
  | 'execute'
  | 'succeeded'
  | 'failed'
  | 'timeout'
  | 'skip'
  | 'cancel';

const TABLE: Record<DevicePhase, Partial<Record<DeviceEvent, DevicePhase>>> = {
  planned: { open: 'pending', skip: 'skipped', cancel: 'cancelled' },
  pending: { 'not-eligible': 'waiting', start: 'transferring', skip: 'skipped', cancel: 'cancelled' },
  waiting: { 'not-eligible': 'waiting', start: 'transferring', skip: 'skipped', cancel: 'cancelled' },
  transferring: { busy: 'paused', downloaded: 'downloaded', succeeded: 'succeeded', failed: 'failed', timeout: 'failed', cancel: 'cancelled' },
  paused: { resume: 'transferring', downloaded: 'downloaded', succeeded: 'succeeded', failed: 'failed', timeout: 'failed', cancel: 'cancelled' },
  downloaded: { execute: 'updating', succeeded: 'succeeded', failed: 'failed', timeout: 'failed', cancel: 'cancelled' },
  updating: { succeeded: 'succeeded', failed: 'failed', timeout: 'failed', cancel: 'cancelled' },
  succeeded: {},
  failed: {},
  skipped: {},
  cancelled: {},
};

export function deviceTransition(phase: DevicePhase, event: DeviceEvent): DevicePhase | undefined {
  return TABLE[phase][event];
}

/** Every (phase, event, next) edge, for tests and documentation. */
export function deviceEdges(): Array<[DevicePhase, DeviceEvent, DevicePhase]> {
  const edges: Array<[DevicePhase, DeviceEvent, DevicePhase]> = [];
  for (const phase of DEVICE_PHASES) for (const [event, next] of Object.entries(TABLE[phase])) edges.push([phase, event as DeviceEvent, next]);
  return edges;
}

export const PHASE_INDEX: Record<DevicePhase, number> = Object.fromEntries(DEVICE_PHASES.map((p, i) => [p, i])) as Record<DevicePhase, number>;
