/**
 * The server-side handshake state machine, explicit: every phase a connection can be in
 * and one transition function that says what an incoming message does to it. The
 * connection (connection.ts) performs the effects; this file decides only legality.
 *
 * Full handshake (after the stateless cookie exchange, which owns no state at all):
 *   ClientHello(cookie) -> we send ServerHello [Certificate] [ServerKeyExchange]
 *   [CertificateRequest] ServerHelloDone, then expect
 *   [Certificate] ClientKeyExchange [CertificateVerify] ChangeCipherSpec Finished,
 *   and answer ChangeCipherSpec Finished.
 * Abbreviated (resumption): we send ServerHello ChangeCipherSpec Finished, expect
 *   ChangeCipherSpec Finished.
 */
export type HandshakePhase =
  | 'awaitClientCertificate'
  | 'awaitClientKeyExchange'
  | 'awaitClientKeyExchangeThenVerify'
  | 'awaitCertificateVerify'
  | 'awaitChangeCipherSpec'
  | 'awaitFinished'
  | 'resumedAwaitChangeCipherSpec'
  | 'resumedAwaitFinished'
  | 'established'
  | 'closed';

export type HandshakeEvent =
  | 'Certificate'
  | 'ClientKeyExchange'
  | 'CertificateVerify'
  | 'ChangeCipherSpec'
  | 'Finished'
  /** A ClientHello inside the secured session: a renegotiation attempt. */
  | 'ClientHello'
  | 'OtherHandshake'
  | 'FatalAlert'
  | 'CloseNotify'
  | 'RetransmissionsExhausted';

export type Transition =
  | { kind: 'advance'; next: HandshakePhase }
  /** Harmless out-of-order input (a ChangeCipherSpec that overtook its flight): drop it. */
  | { kind: 'ignore' }
  /** Renegotiation is refused with a warning; the session carries on. */
  | { kind: 'refuseRenegotiation' }
  | { kind: 'fail'; alert: number };

const UNEXPECTED_MESSAGE = 10;

const expected: Partial<Record<HandshakePhase, Partial<Record<HandshakeEvent, HandshakePhase>>>> = {
  awaitClientCertificate: { Certificate: 'awaitClientKeyExchangeThenVerify' },
  awaitClientKeyExchange: { ClientKeyExchange: 'awaitChangeCipherSpec' },
  awaitClientKeyExchangeThenVerify: { ClientKeyExchange: 'awaitCertificateVerify' },
  awaitCertificateVerify: { CertificateVerify: 'awaitChangeCipherSpec' },
  awaitChangeCipherSpec: { ChangeCipherSpec: 'awaitFinished' },
  awaitFinished: { Finished: 'established' },
  resumedAwaitChangeCipherSpec: { ChangeCipherSpec: 'resumedAwaitFinished' },
  resumedAwaitFinished: { Finished: 'established' },
};

export function transition(phase: HandshakePhase, event: HandshakeEvent): Transition {
  if (phase === 'closed') return { kind: 'ignore' };
  if (event === 'FatalAlert' || event === 'CloseNotify') return { kind: 'advance', next: 'closed' };
  if (event === 'RetransmissionsExhausted') {
    return phase === 'established' ? { kind: 'ignore' } : { kind: 'advance', next: 'closed' };
  }
  if (phase === 'established') {
    if (event === 'ClientHello') return { kind: 'refuseRenegotiation' };
    // A stray ChangeCipherSpec is the tail of a retransmitted client flight.
    if (event === 'ChangeCipherSpec') return { kind: 'ignore' };
    return { kind: 'fail', alert: UNEXPECTED_MESSAGE };
  }
  const next = expected[phase]?.[event];
  if (next) return { kind: 'advance', next };
  if (event === 'ChangeCipherSpec') return { kind: 'ignore' };
  return { kind: 'fail', alert: UNEXPECTED_MESSAGE };
}

export const isHandshaking = (phase: HandshakePhase): boolean => phase !== 'established' && phase !== 'closed';
