/**
 * The device's registration lifecycle as an explicit state machine. The device class asks
 * `nextState` before every step, so an impossible sequence (update while unregistered,
 * sleep while registering...) fails loudly instead of sending a request the server rejects.
 */

export type DeviceState =
  | 'unregistered'
  | 'registering'
  | 'registered'
  /** Queue mode: not answering, the socket stays bound so the address stays the same. */
  | 'sleeping'
  | 'deregistering'
  /** Terminal: the socket is closed. */
  | 'stopped';

export type DeviceEvent =
  | 'register'
  | 'registerSucceeded'
  | 'registerFailed'
  | 'sleep'
  | 'wake'
  /** The server forgot us (update answered 4.04) or the device rebooted. */
  | 'registrationLost'
  | 'deregister'
  | 'deregistered'
  | 'stop';

export class InvalidTransitionError extends Error {
  override readonly name = 'InvalidTransitionError';
  constructor(
    readonly state: DeviceState,
    readonly event: DeviceEvent,
  ) {
    super(`device cannot handle "${event}" while ${state}`);
  }
}

const TRANSITIONS: Record<DeviceState, Partial<Record<DeviceEvent, DeviceState>>> = {
  unregistered: { register: 'registering', stop: 'stopped' },
  registering: { registerSucceeded: 'registered', registerFailed: 'unregistered', stop: 'stopped' },
  registered: {
    sleep: 'sleeping',
    registrationLost: 'unregistered',
    deregister: 'deregistering',
    stop: 'stopped',
  },
  sleeping: { wake: 'registered', registrationLost: 'unregistered', deregister: 'deregistering', stop: 'stopped' },
  deregistering: { deregistered: 'unregistered', stop: 'stopped' },
  stopped: {},
};

export function nextState(state: DeviceState, event: DeviceEvent): DeviceState {
  const next = TRANSITIONS[state][event];
  if (next === undefined) throw new InvalidTransitionError(state, event);
  return next;
}

/** Every (state, event) pair the machine accepts, for tests and documentation. */
export function allowedTransitions(): Array<[DeviceState, DeviceEvent, DeviceState]> {
  return Object.entries(TRANSITIONS).flatMap(([state, events]) =>
    Object.entries(events).map(
      ([event, next]): [DeviceState, DeviceEvent, DeviceState] => [state as DeviceState, event as DeviceEvent, next as DeviceState],
    ),
  );
}
