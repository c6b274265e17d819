/**
 * One bootstrap session as an explicit state machine. The session runner feeds it what
 * happened to the step in flight; `nextSessionState` is the only place that decides what
 * comes next (the next step, the same step again, or the end), so every edge is tested.
 *
 *   pending ──start──▶ discover ─▶ delete… ─▶ write… ─▶ finish ──2.04──▶ finished
 *                         │  timeout / 5.xx with retries left: same step, attempt + 1
 *                         └─ 4.xx, retries exhausted, superseded, closed, aborted ──▶ failed
 *
 * Two answers that are not failures: 4.04 to a delete (nothing to delete) and 4.xx to
 * discover (the device keeps its own layout secret; we write with the default ids).
 */
import { codeClass, CoapCode, formatCode } from '../../coap/types.js';
import type { StepKind } from './plan.js';

export type SessionPhase = 'pending' | StepKind | 'finished' | 'failed';

export type SessionState =
  | { phase: 'pending' }
  | { phase: StepKind; step: number; attempt: number }
  | { phase: 'finished' }
  | { phase: 'failed'; reason: string; step: number | undefined };

export type SessionEvent =
  | { kind: 'start' }
  /** The device answered the step in flight. */
  | { kind: 'answered'; code: number; diagnostic?: string }
  | { kind: 'timeout' }
  /** The device answered with RST: it has no exchange for our request (it rebooted?). */
  | { kind: 'reset' }
  /** A new bootstrap request from the same endpoint replaces this session. */
  | { kind: 'superseded' }
  /** The server is shutting down. */
  | { kind: 'closed' }
  /** Our side cannot go on (a payload we cannot encode, an answer we cannot read). */
  | { kind: 'aborted'; reason: string };

export interface SessionPlanShape {
  /** The kind of every step, in order; the last one is 'finish'. */
  steps: readonly StepKind[];
  /** Extra attempts per step after a timeout, a reset or a 5.xx answer. */
  retries: number;
}

export class InvalidSessionTransitionError extends Error {
  override readonly name = 'InvalidSessionTransitionError';
  constructor(
    readonly state: SessionState,
    readonly event: SessionEvent,
  ) {
    super(`bootstrap session cannot handle "${event.kind}" while ${state.phase}`);
  }
}

export function isTerminal(state: SessionState): state is Extract<SessionState, { phase: 'finished' | 'failed' }> {
  return state.phase === 'finished' || state.phase === 'failed';
}

function atStep(shape: SessionPlanShape, step: number): SessionState {
  const kind = shape.steps[step];
  if (kind === undefined) return { phase: 'finished' };
  return { phase: kind, step, attempt: 1 };
}

function retryOrFail(state: Extract<SessionState, { step: number; attempt: number }>, shape: SessionPlanShape, why: string): SessionState {
  if (state.attempt <= shape.retries) return { ...state, attempt: state.attempt + 1 };
  const attempts = state.attempt === 1 ? '' : ` (after ${state.attempt} attempts)`;
  return { phase: 'failed', reason: `${why}${attempts}`, step: state.step };
}

/** Whether an answer to a step means it did what we asked. */
function succeeded(kind: StepKind, code: number): boolean {
  if (codeClass(code) === 2) return true;
  // Deleting what is not there leaves the device as we want it.
  if (kind === 'delete') return code === CoapCode.NotFound;
  // Discovery only refines instance ids: a device that refuses it gets the default layout.
  return kind === 'discover' && codeClass(code) === 4;
}

export function nextSessionState(state: SessionState, event: SessionEvent, shape: SessionPlanShape): SessionState {
  if (isTerminal(state)) throw new InvalidSessionTransitionError(state, event);
  if (state.phase === 'pending') {
    if (event.kind === 'start') return atStep(shape, 0);
    if (event.kind === 'superseded' || event.kind === 'closed') return ended(event.kind, undefined);
    if (event.kind === 'aborted') return { phase: 'failed', reason: event.reason, step: undefined };
    throw new InvalidSessionTransitionError(state, event);
  }
  const kind = state.phase;
  switch (event.kind) {
    case 'start':
      throw new InvalidSessionTransitionError(state, event);
    case 'answered': {
      if (succeeded(kind, event.code)) return atStep(shape, state.step + 1);
      const answer = `device answered ${formatCode(event.code)} to ${kind}${event.diagnostic ? `: ${event.diagnostic}` : ''}`;
      // A 4.xx is the device's considered refusal: asking again gets the same answer.
      if (codeClass(event.code) === 5) return retryOrFail(state, shape, answer);
      return { phase: 'failed', reason: answer, step: state.step };
    }
    case 'timeout':
      return retryOrFail(state, shape, `device did not answer ${kind}`);
    case 'reset':
      return retryOrFail(state, shape, `device reset ${kind}`);
    case 'superseded':
    case 'closed':
      return ended(event.kind, state.step);
    case 'aborted':
      return { phase: 'failed', reason: event.reason, step: state.step };
  }
}

function ended(kind: 'superseded' | 'closed', step: number | undefined): SessionState {
  const reason = kind === 'superseded' ? 'superseded by a new bootstrap request from the device' : 'bootstrap server closed';
  return { phase: 'failed', reason, step };
}
