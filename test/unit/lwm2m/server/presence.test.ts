import { describe, expect, it } from 'vitest';
import { nextPresence, type PresenceInput, type PresenceState } from '../../../../src/lwm2m/server/presence.js';

describe('nextPresence', () => {
  const cases: [PresenceState, PresenceInput, PresenceState][] = [
    ['sleeping', 'registrationMessage', 'awake'],
    ['awake', 'registrationMessage', 'awake'],
    ['awake', 'answered', 'awake'],
    ['sleeping', 'answered', 'sleeping'],
    ['awake', 'windowElapsed', 'sleeping'],
    ['sleeping', 'windowElapsed', 'sleeping'],
    ['awake', 'noAnswer', 'sleeping'],
    ['sleeping', 'noAnswer', 'sleeping'],
  ];
  for (const [from, input, to] of cases) {
    it(`${from} + ${input} → ${to}`, () => {
      expect(nextPresence(from, input)).toBe(to);
    });
  }
});
