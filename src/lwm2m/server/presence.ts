/**
 * Queue mode (LwM2M 1.1 §6.5): the presence of a queue-mode device as a state machine.
 * It is awake after each register/update, for an awake window; it falls asleep when the
 * window elapses or when it stops answering. Only a registration message wakes it.
 */
export type PresenceState = 'awake' | 'sleeping';

export type PresenceInput =
  /** Register or update received: the device listens now (the window restarts). */
  | 'registrationMessage'
  /** The device answered one of our requests while awake (the window restarts). */
  | 'answered'
  /** The awake window passed with nothing in flight. */
  | 'windowElapsed'
  /** A request got no answer (CoAP retransmissions exhausted). */
  | 'noAnswer';

export function nextPresence(state: PresenceState, input: PresenceInput): PresenceState {
  switch (input) {
    case 'registrationMessage':
      return 'awake';
    case 'answered':
      // A late answer does not prove the device listens again; only a registration message does.
      return state;
    case 'windowElapsed':
    case 'noAnswer':
      return 'sleeping';
  }
}
