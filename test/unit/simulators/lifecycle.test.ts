import { describe, expect, it } from 'vitest';
import {
  allowedTransitions,
  InvalidTransitionError,
  nextState,
  type DeviceEvent,
  type DeviceState,
} from '../../../simulators/device/lifecycle.js';

const STATES: DeviceState[] = ['unregistered', 'registering', 'registered', 'sleeping', 'deregistering', 'stopped'];
const EVENTS: DeviceEvent[] = [
  'register',
  'registerSucceeded',
  'registerFailed',
  'sleep',
  'wake',
  'registrationLost',
  'deregister',
  'deregistered',
  'stop',
];

// The whole table, written out: every allowed edge and its target.
const EXPECTED: Record<string, DeviceState> = {
  'unregistered register': 'registering',
  'unregistered stop': 'stopped',
  'registering registerSucceeded': 'registered',
  'registering registerFailed': 'unregistered',
  'registering stop': 'stopped',
  'registered sleep': 'sleeping',
  'registered registrationLost': 'unregistered',
  'registered deregister': 'deregistering',
  'registered stop': 'stopped',
  'sleeping wake': 'registered',
  'sleeping registrationLost': 'unregistered',
  'sleeping deregister': 'deregistering',
  'sleeping stop': 'stopped',
  'deregistering deregistered': 'unregistered',
  'deregistering stop': 'stopped',
};

describe('device lifecycle', () => {
  for (const state of STATES) {
    for (const event of EVENTS) {
      const expected = EXPECTED[`${state} ${event}`];
      it(`${state} + ${event} → ${expected ?? 'refused'}`, () => {
        if (expected) expect(nextState(state, event)).toBe(expected);
        else expect(() => nextState(state, event)).toThrow(InvalidTransitionError);
      });
    }
  }

  it('lists exactly the allowed edges', () => {
    const listed = Object.fromEntries(allowedTransitions().map(([s, e, n]) => [`${s} ${e}`, n]));
    expect(listed).toEqual(EXPECTED);
  });

  it('stopped is terminal', () => {
    for (const event of EVENTS) expect(() => nextState('stopped', event)).toThrow(/while stopped/);
  });
});
