/** Every edge of the client handshake state machine, and what everything else does. */
import { describe, expect, it } from 'vitest';
import { clientTransition, type ClientEvent, type ClientPhase } from '../../../src/dtls/client/index.js';

const PHASES: ClientPhase[] = [
  'awaitServerHello', 'pskAwaitKeyExchangeOrDone', 'awaitServerCertificate', 'awaitServerKeyExchange', 'awaitCertificateRequestOrDone',
  'awaitServerHelloDone', 'awaitChangeCipherSpec', 'awaitFinished', 'resumedAwaitChangeCipherSpec', 'resumedAwaitFinished', 'established', 'closed',
];
const EVENTS: ClientEvent[] = [
  'HelloVerifyRequest', 'ServerHelloPsk', 'ServerHelloEcdhe', 'ServerHelloResumed', 'Certificate', 'ServerKeyExchange', 'CertificateRequest',
  'ServerHelloDone', 'ChangeCipherSpec', 'Finished', 'HelloRequest', 'OtherHandshake', 'FatalAlert', 'CloseNotify', 'RetransmissionsExhausted',
];

const EDGES: Array<[ClientPhase, ClientEvent, ClientPhase]> = [
  ['awaitServerHello', 'HelloVerifyRequest', 'awaitServerHello'],
  ['awaitServerHello', 'ServerHelloPsk', 'pskAwaitKeyExchangeOrDone'],
  ['awaitServerHello', 'ServerHelloEcdhe', 'awaitServerCertificate'],
  ['awaitServerHello', 'ServerHelloResumed', 'resumedAwaitChangeCipherSpec'],
  ['pskAwaitKeyExchangeOrDone', 'ServerKeyExchange', 'awaitServerHelloDone'],
  ['pskAwaitKeyExchangeOrDone', 'ServerHelloDone', 'awaitChangeCipherSpec'],
  ['awaitServerCertificate', 'Certificate', 'awaitServerKeyExchange'],
  ['awaitServerKeyExchange', 'ServerKeyExchange', 'awaitCertificateRequestOrDone'],
  ['awaitCertificateRequestOrDone', 'CertificateRequest', 'awaitServerHelloDone'],
  ['awaitCertificateRequestOrDone', 'ServerHelloDone', 'awaitChangeCipherSpec'],
  ['awaitServerHelloDone', 'ServerHelloDone', 'awaitChangeCipherSpec'],
  ['awaitChangeCipherSpec', 'ChangeCipherSpec', 'awaitFinished'],
  ['awaitFinished', 'Finished', 'established'],
  ['resumedAwaitChangeCipherSpec', 'ChangeCipherSpec', 'resumedAwaitFinished'],
  ['resumedAwaitFinished', 'Finished', 'established'],
];

describe('client handshake state machine', () => {
  for (const [from, event, to] of EDGES) {
    it(`${from} --${event}--> ${to}`, () => {
      expect(clientTransition(from, event)).toEqual({ kind: 'advance', next: to });
    });
  }

  it('every other (phase, event) pair is closed, ignored, refused or fails with unexpected_message', () => {
    const handshaking: ClientPhase[] = PHASES.filter((p) => p !== 'established' && p !== 'closed');
    for (const phase of PHASES) {
      for (const event of EVENTS) {
        if (EDGES.some(([f, e]) => f === phase && e === event)) continue;
        const t = clientTransition(phase, event);
        if (phase === 'closed') expect(t).toEqual({ kind: 'ignore' });
        else if (event === 'FatalAlert' || event === 'CloseNotify') expect(t).toEqual({ kind: 'advance', next: 'closed' });
        else if (event === 'RetransmissionsExhausted') expect(t).toEqual(phase === 'established' ? { kind: 'ignore' } : { kind: 'advance', next: 'closed' });
        else if (phase === 'established' && event === 'HelloRequest') expect(t).toEqual({ kind: 'refuseRenegotiation' });
        else if (event === 'ChangeCipherSpec' || event === 'HelloVerifyRequest' || (event === 'HelloRequest' && handshaking.includes(phase))) expect(t).toEqual({ kind: 'ignore' });
        else expect(t, `${phase} + ${event}`).toEqual({ kind: 'fail', alert: 10 });
      }
    }
  });

  it('a PSK handshake never accepts a certificate, an ECDHE one never skips it', () => {
    expect(clientTransition('pskAwaitKeyExchangeOrDone', 'Certificate')).toEqual({ kind: 'fail', alert: 10 });
    expect(clientTransition('awaitServerCertificate', 'ServerHelloDone')).toEqual({ kind: 'fail', alert: 10 });
    expect(clientTransition('awaitServerKeyExchange', 'ServerHelloDone')).toEqual({ kind: 'fail', alert: 10 });
    expect(clientTransition('awaitFinished', 'ServerHelloDone')).toEqual({ kind: 'fail', alert: 10 });
  });
});
