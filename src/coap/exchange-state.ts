/**
 * The two message-layer state machines of RFC 7252 §4 and §5.2, as pure transition
 * functions so every edge is unit-tested without sockets or clocks.
 */

/**
 * One message WE sent and are waiting on.
 * - awaiting-ack: a CON request; an ACK may carry the response (piggybacked) or be empty.
 * - awaiting-ack-only: a CON that needs no response (separate response, CON notification).
 * - awaiting-response: NON request, or CON request after an empty ACK (separate response).
 */
export type OutgoingState = 'awaiting-ack' | 'awaiting-ack-only' | 'awaiting-response' | 'completed' | 'failed';

export type OutgoingEvent =
  | { kind: 'empty-ack' }
  | { kind: 'response' }
  | { kind: 'reset' }
  /** The retransmission timer fired after `retransmissions` retransmissions so far. */
  | { kind: 'ack-timeout'; retransmissions: number; maxRetransmit: number }
  | { kind: 'no-progress-timeout' }
  | { kind: 'closed' };

export type OutgoingAction =
  | 'none'
  | 'stop-retransmitting'
  | 'retransmit'
  | 'deliver'
  | 'fail-timeout'
  | 'fail-reset'
  | 'fail-closed';

export interface Transition<S, A> {
  state: S;
  action: A;
}

export function nextOutgoing(state: OutgoingState, event: OutgoingEvent): Transition<OutgoingState, OutgoingAction> {
  if (state === 'completed' || state === 'failed') return { state, action: 'none' };
  switch (event.kind) {
    case 'empty-ack':
      if (state === 'awaiting-ack') return { state: 'awaiting-response', action: 'stop-retransmitting' };
      if (state === 'awaiting-ack-only') return { state: 'completed', action: 'deliver' };
      return { state, action: 'none' };
    case 'response':
      // A response also acknowledges the request (piggybacked) or arrives separately.
      return { state: 'completed', action: 'deliver' };
    case 'reset':
      // RST answers a CON we are retransmitting; after an ACK it cannot refer to that message.
      if (state === 'awaiting-response') return { state, action: 'none' };
      return { state: 'failed', action: 'fail-reset' };
    case 'ack-timeout':
      if (state === 'awaiting-response') return { state, action: 'none' };
      if (event.retransmissions < event.maxRetransmit) return { state, action: 'retransmit' };
      return { state: 'failed', action: 'fail-timeout' };
    case 'no-progress-timeout':
      return { state: 'failed', action: 'fail-timeout' };
    case 'closed':
      return { state: 'failed', action: 'fail-closed' };
  }
}

/**
 * A CON request a peer sent US while our handler runs (RFC 7252 §5.2.2):
 * piggyback the response if it is ready in time, otherwise send an empty ACK first (when the
 * ack delay passes, or at once when the peer retransmits) and then a separate CON response.
 */
export type ServerExchangeState = 'handling' | 'acked' | 'answered';
export type ServerExchangeEvent = 'ack-delay-elapsed' | 'duplicate' | 'response-ready';
export type ServerExchangeAction = 'none' | 'send-empty-ack' | 'send-piggybacked' | 'send-separate';

export function nextServerExchange(
  state: ServerExchangeState,
  event: ServerExchangeEvent,
): Transition<ServerExchangeState, ServerExchangeAction> {
  switch (state) {
    case 'handling':
      if (event === 'response-ready') return { state: 'answered', action: 'send-piggybacked' };
      return { state: 'acked', action: 'send-empty-ack' };
    case 'acked':
      if (event === 'response-ready') return { state: 'answered', action: 'send-separate' };
      // Our empty ACK was lost: the peer retransmitted, so ACK again.
      if (event === 'duplicate') return { state, action: 'send-empty-ack' };
      return { state, action: 'none' };
    case 'answered':
      return { state, action: 'none' };
  }
}
