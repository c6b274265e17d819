/**
 * The client-side handshake state machine, explicit: every phase a client can be in and one
 * transition function deciding what an incoming message does. The engine
 * (client-connection.ts) performs the effects; this file decides only legality.
 *
 * Full PSK:    ClientHello -> [HelloVerifyRequest -> ClientHello(cookie)] -> ServerHello
 *              [ServerKeyExchange(hint)] ServerHelloDone -> we send ClientKeyExchange CCS
 *              Finished -> CCS Finished.
 * Full ECDHE:  ... ServerHello Certificate ServerKeyExchange [CertificateRequest]
 *              ServerHelloDone -> we send [Certificate] ClientKeyExchange [CertificateVerify]
 *              CCS Finished -> CCS Finished.
 * Abbreviated: ... ServerHello(same session id) CCS Finished -> we send CCS Finished.
 */
export type ClientPhase =
  | 'awaitServerHello'
  | 'pskAwaitKeyExchangeOrDone'
  | 'awaitServerCertificate'
  | 'awaitServerKeyExchange'
  | 'awaitCertificateRequestOrDone'
  | 'awaitServerHelloDone'
  | 'awaitChangeCipherSpec'
  | 'awaitFinished'
  | 'resumedAwaitChangeCipherSpec'
  | 'resumedAwaitFinished'
  | 'established'
  | 'closed';

export type ClientEvent =
  | 'HelloVerifyRequest'
  /** ServerHello, classified by what the server chose. */
  | 'ServerHelloPsk'
  | 'ServerHelloEcdhe'
  | 'ServerHelloResumed'
  | 'Certificate'
  | 'ServerKeyExchange'
  | 'CertificateRequest'
  | 'ServerHelloDone'
  | 'ChangeCipherSpec'
  | 'Finished'
  /** A HelloRequest from the server: a renegotiation invitation, which we decline. */
  | 'HelloRequest'
  | 'OtherHandshake'
  | 'FatalAlert'
  | 'CloseNotify'
  | 'RetransmissionsExhausted';

export type ClientTransition =
  | { kind: 'advance'; next: ClientPhase }
  /** Harmless (a ChangeCipherSpec that overtook its flight, a late HelloVerifyRequest): drop it. */
  | { kind: 'ignore' }
  /** Renegotiation declined with a no_renegotiation warning; the session carries on. */
  | { kind: 'refuseRenegotiation' }
  | { kind: 'fail'; alert: number };

const UNEXPECTED_MESSAGE = 10;

const expected: Partial<Record<ClientPhase, Partial<Record<ClientEvent, ClientPhase>>>> = {
  awaitServerHello: {
    HelloVerifyRequest: 'awaitServerHello',
    ServerHelloPsk: 'pskAwaitKeyExchangeOrDone',
    ServerHelloEcdhe: 'awaitServerCertificate',
    ServerHelloResumed: 'resumedAwaitChangeCipherSpec',
  },
  pskAwaitKeyExchangeOrDone: { ServerKeyExchange: 'awaitServerHelloDone', ServerHelloDone: 'awaitChangeCipherSpec' },
  awaitServerCertificate: { Certificate: 'awaitServerKeyExchange' },
  awaitServerKeyExchange: { ServerKeyExchange: 'awaitCertificateRequestOrDone' },
  awaitCertificateRequestOrDone: { CertificateRequest: 'awaitServerHelloDone', ServerHelloDone: 'awaitChangeCipherSpec' },
  awaitServerHelloDone: { ServerHelloDone: 'awaitChangeCipherSpec' },
  awaitChangeCipherSpec: { ChangeCipherSpec: 'awaitFinished' },
  awaitFinished: { Finished: 'established' },
  resumedAwaitChangeCipherSpec: { ChangeCipherSpec: 'resumedAwaitFinished' },
  resumedAwaitFinished: { Finished: 'established' },
};

export function clientTransition(phase: ClientPhase, event: ClientEvent): ClientTransition {
  if (phase === 'closed') return { kind: 'ignore' };
  if (event === 'FatalAlert' || event === 'CloseNotify') return { kind: 'advance', next: 'closed' };
  if (event === 'RetransmissionsExhausted') return phase === 'established' ? { kind: 'ignore' } : { kind: 'advance', next: 'closed' };
  if (phase === 'established') {
    if (event === 'HelloRequest') return { kind: 'refuseRenegotiation' };
    if (event === 'ChangeCipherSpec' || event === 'HelloVerifyRequest') return { kind: 'ignore' };
    return { kind: 'fail', alert: UNEXPECTED_MESSAGE };
  }
  const next = expected[phase]?.[event];
  if (next) return { kind: 'advance', next };
  // A HelloRequest during a handshake is to be ignored (RFC 5246 §7.4.1.1).
  if (event === 'HelloRequest' || event === 'ChangeCipherSpec' || event === 'HelloVerifyRequest') return { kind: 'ignore' };
  return { kind: 'fail', alert: UNEXPECTED_MESSAGE };
}

export const clientIsHandshaking = (phase: ClientPhase): boolean => phase !== 'established' && phase !== 'closed';
