import { describe, it, expect } from 'vitest';
import { nextOutgoing, nextServerExchange, type OutgoingEvent, type OutgoingState } from '../../../src/coap/exchange-state.js';
import { isFreshNotification } from '../../../src/coap/observe-freshness.js';

const timeout = (retransmissions: number): OutgoingEvent => ({ kind: 'ack-timeout', retransmissions, maxRetransmit: 4 });

describe('outgoing message state machine', () => {
  const table: Array<[OutgoingState, OutgoingEvent, OutgoingState, string]> = [
    ['awaiting-ack', { kind: 'empty-ack' }, 'awaiting-response', 'stop-retransmitting'],
    ['awaiting-ack', { kind: 'response' }, 'completed', 'deliver'],
    ['awaiting-ack', { kind: 'reset' }, 'failed', 'fail-reset'],
    ['awaiting-ack', timeout(3), 'awaiting-ack', 'retransmit'],
    ['awaiting-ack', timeout(4), 'failed', 'fail-timeout'],
    ['awaiting-ack', { kind: 'no-progress-timeout' }, 'failed', 'fail-timeout'],
    ['awaiting-ack', { kind: 'closed' }, 'failed', 'fail-closed'],
    ['awaiting-ack-only', { kind: 'empty-ack' }, 'completed', 'deliver'],
    ['awaiting-ack-only', { kind: 'reset' }, 'failed', 'fail-reset'],
    ['awaiting-ack-only', timeout(0), 'awaiting-ack-only', 'retransmit'],
    ['awaiting-ack-only', timeout(4), 'failed', 'fail-timeout'],
    ['awaiting-response', { kind: 'empty-ack' }, 'awaiting-response', 'none'],
    ['awaiting-response', { kind: 'response' }, 'completed', 'deliver'],
    ['awaiting-response', { kind: 'reset' }, 'awaiting-response', 'none'],
    ['awaiting-response', timeout(0), 'awaiting-response', 'none'],
    ['awaiting-response', { kind: 'no-progress-timeout' }, 'failed', 'fail-timeout'],
    ['awaiting-response', { kind: 'closed' }, 'failed', 'fail-closed'],
    ['completed', { kind: 'response' }, 'completed', 'none'],
    ['completed', { kind: 'closed' }, 'completed', 'none'],
    ['failed', { kind: 'response' }, 'failed', 'none'],
  ];
  for (const [from, event, to, action] of table) {
    it(`${from} + ${event.kind} → ${to} / ${action}`, () => {
      expect(nextOutgoing(from, event)).toEqual({ state: to, action });
    });
  }
});

describe('server exchange state machine', () => {
  it('covers every edge', () => {
    expect(nextServerExchange('handling', 'response-ready')).toEqual({ state: 'answered', action: 'send-piggybacked' });
    expect(nextServerExchange('handling', 'ack-delay-elapsed')).toEqual({ state: 'acked', action: 'send-empty-ack' });
    expect(nextServerExchange('handling', 'duplicate')).toEqual({ state: 'acked', action: 'send-empty-ack' });
    expect(nextServerExchange('acked', 'response-ready')).toEqual({ state: 'answered', action: 'send-separate' });
    expect(nextServerExchange('acked', 'duplicate')).toEqual({ state: 'acked', action: 'send-empty-ack' });
    expect(nextServerExchange('acked', 'ack-delay-elapsed')).toEqual({ state: 'acked', action: 'none' });
    expect(nextServerExchange('answered', 'duplicate')).toEqual({ state: 'answered', action: 'none' });
    expect(nextServerExchange('answered', 'response-ready')).toEqual({ state: 'answered', action: 'none' });
  });
});

describe('RFC 7641 §3.4 freshness', () => {
  it('orders 24-bit sequence numbers with wrap-around and the 128 s rule', () => {
    expect(isFreshNotification(5, 0, 6, 1000)).toBe(true);
    expect(isFreshNotification(6, 0, 5, 1000)).toBe(false);
    expect(isFreshNotification(6, 0, 6, 1000)).toBe(false);
    expect(isFreshNotification(0xfffffe, 0, 1, 1000)).toBe(true); // wrapped
    expect(isFreshNotification(1, 0, 0xfffffe, 1000)).toBe(false);
    expect(isFreshNotification(6, 0, 5, 128_001)).toBe(true); // too old to compare
    expect(isFreshNotification(6, 0, 5, 128_000)).toBe(false);
  });
});
