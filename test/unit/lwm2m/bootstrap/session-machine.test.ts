import { describe, expect, it } from 'vitest';
import { CoapCode } from '../../../../src/coap/types.js';
import {
  InvalidSessionTransitionError,
  nextSessionState,
  type SessionEvent,
  type SessionState,
} from '../../../../src/lwm2m/bootstrap/session-machine.js';

const shape = { steps: ['discover', 'delete', 'write', 'finish'] as const, retries: 1 };
const at = (step: number, attempt = 1): SessionState => ({ phase: shape.steps[step], step, attempt });
const next = (state: SessionState, event: SessionEvent) => nextSessionState(state, event, { steps: [...shape.steps], retries: shape.retries });

describe('bootstrap session state machine', () => {
  it('pending: start goes to the first step; superseded, closed and aborted end it; answers are refused', () => {
    expect(next({ phase: 'pending' }, { kind: 'start' })).toEqual(at(0));
    expect(next({ phase: 'pending' }, { kind: 'superseded' })).toEqual({ phase: 'failed', reason: 'superseded by a new bootstrap request from the device', step: undefined });
    expect(next({ phase: 'pending' }, { kind: 'closed' })).toEqual({ phase: 'failed', reason: 'bootstrap server closed', step: undefined });
    expect(next({ phase: 'pending' }, { kind: 'aborted', reason: 'x' })).toEqual({ phase: 'failed', reason: 'x', step: undefined });
    for (const event of [{ kind: 'answered', code: CoapCode.Changed }, { kind: 'timeout' }, { kind: 'reset' }] as SessionEvent[]) {
      expect(() => next({ phase: 'pending' }, event)).toThrow(InvalidSessionTransitionError);
    }
  });

  it('a 2.xx answer moves to the next step, and the finish answer to finished', () => {
    expect(next(at(0), { kind: 'answered', code: CoapCode.Content })).toEqual(at(1));
    expect(next(at(1), { kind: 'answered', code: CoapCode.Deleted })).toEqual(at(2));
    expect(next(at(2, 2), { kind: 'answered', code: CoapCode.Changed })).toEqual(at(3));
    expect(next(at(3), { kind: 'answered', code: CoapCode.Changed })).toEqual({ phase: 'finished' });
  });

  it('4.04 to a delete and 4.xx to discover are not failures', () => {
    expect(next(at(1), { kind: 'answered', code: CoapCode.NotFound })).toEqual(at(2));
    expect(next(at(0), { kind: 'answered', code: CoapCode.MethodNotAllowed })).toEqual(at(1));
  });

  it('a 4.xx answer to a write or finish fails at once, with the diagnostic', () => {
    expect(next(at(2), { kind: 'answered', code: CoapCode.BadRequest, diagnostic: 'bad tlv' })).toEqual({ phase: 'failed', reason: 'device answered 4.00 to write: bad tlv', step: 2 });
    expect(next(at(3), { kind: 'answered', code: CoapCode.NotAcceptable })).toEqual({ phase: 'failed', reason: 'device answered 4.06 to finish', step: 3 });
    expect(next(at(1), { kind: 'answered', code: CoapCode.Unauthorized })).toEqual({ phase: 'failed', reason: 'device answered 4.01 to delete', step: 1 });
  });

  it('timeouts, resets and 5.xx retry the same step while retries are left, then fail', () => {
    expect(next(at(1), { kind: 'timeout' })).toEqual(at(1, 2));
    expect(next(at(1, 2), { kind: 'timeout' })).toEqual({ phase: 'failed', reason: 'device did not answer delete (after 2 attempts)', step: 1 });
    expect(next(at(2), { kind: 'reset' })).toEqual(at(2, 2));
    expect(next(at(2, 2), { kind: 'reset' })).toEqual({ phase: 'failed', reason: 'device reset write (after 2 attempts)', step: 2 });
    expect(next(at(3), { kind: 'answered', code: CoapCode.ServiceUnavailable })).toEqual(at(3, 2));
    expect(next(at(3, 2), { kind: 'answered', code: CoapCode.InternalServerError })).toEqual({ phase: 'failed', reason: 'device answered 5.00 to finish (after 2 attempts)', step: 3 });
    const noRetries = nextSessionState(at(0), { kind: 'timeout' }, { steps: [...shape.steps], retries: 0 });
    expect(noRetries).toEqual({ phase: 'failed', reason: 'device did not answer discover', step: 0 });
  });

  it('superseded, closed and aborted end a running session; start is refused', () => {
    expect(next(at(2), { kind: 'superseded' })).toEqual({ phase: 'failed', reason: 'superseded by a new bootstrap request from the device', step: 2 });
    expect(next(at(3), { kind: 'closed' })).toEqual({ phase: 'failed', reason: 'bootstrap server closed', step: 3 });
    expect(next(at(2), { kind: 'aborted', reason: 'cannot encode' })).toEqual({ phase: 'failed', reason: 'cannot encode', step: 2 });
    expect(() => next(at(1), { kind: 'start' })).toThrow('bootstrap session cannot handle "start" while delete');
  });

  it('finished and failed accept nothing (a duplicated finish answer included)', () => {
    const all: SessionEvent[] = [
      { kind: 'start' }, { kind: 'answered', code: CoapCode.Changed }, { kind: 'timeout' }, { kind: 'reset' },
      { kind: 'superseded' }, { kind: 'closed' }, { kind: 'aborted', reason: 'x' },
    ];
    for (const event of all) {
      expect(() => next({ phase: 'finished' }, event)).toThrow(InvalidSessionTransitionError);
      expect(() => next({ phase: 'failed', reason: 'r', step: 1 }, event)).toThrow(InvalidSessionTransitionError);
    }
  });
});
