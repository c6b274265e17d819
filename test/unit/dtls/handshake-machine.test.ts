import { describe, expect, it } from 'vitest';
import { transition, type HandshakeEvent, type HandshakePhase } from '../../../src/dtls/handshake-machine.js';

const phases: HandshakePhase[] = [
  'awaitClientCertificate', 'awaitClientKeyExchange', 'awaitClientKeyExchangeThenVerify', 'awaitCertificateVerify',
  'awaitChangeCipherSpec', 'awaitFinished', 'resumedAwaitChangeCipherSpec', 'resumedAwaitFinished', 'established', 'closed',
];
const events: HandshakeEvent[] = [
  'Certificate', 'ClientKeyExchange', 'CertificateVerify', 'ChangeCipherSpec', 'Finished', 'ClientHello', 'OtherHandshake',
  'FatalAlert', 'CloseNotify', 'RetransmissionsExhausted',
];

const legal: Record<string, HandshakePhase> = {
  'awaitClientCertificate/Certificate': 'awaitClientKeyExchangeThenVerify',
  'awaitClientKeyExchange/ClientKeyExchange': 'awaitChangeCipherSpec',
  'awaitClientKeyExchangeThenVerify/ClientKeyExchange': 'awaitCertificateVerify',
  'awaitCertificateVerify/CertificateVerify': 'awaitChangeCipherSpec',
  'awaitChangeCipherSpec/ChangeCipherSpec': 'awaitFinished',
  'awaitFinished/Finished': 'established',
  'resumedAwaitChangeCipherSpec/ChangeCipherSpec': 'resumedAwaitFinished',
  'resumedAwaitFinished/Finished': 'established',
};

describe('server handshake state machine: every (phase, event) edge', () => {
  for (const phase of phases) {
    for (const event of events) {
      it(`${phase} + ${event}`, () => {
        const t = transition(phase, event);
        const key = `${phase}/${event}`;
        if (phase === 'closed') expect(t).toEqual({ kind: 'ignore' });
        else if (event === 'FatalAlert' || event === 'CloseNotify') expect(t).toEqual({ kind: 'advance', next: 'closed' });
        else if (event === 'RetransmissionsExhausted') expect(t).toEqual(phase === 'established' ? { kind: 'ignore' } : { kind: 'advance', next: 'closed' });
        else if (legal[key]) expect(t).toEqual({ kind: 'advance', next: legal[key] });
        else if (phase === 'established' && event === 'ClientHello') expect(t).toEqual({ kind: 'refuseRenegotiation' });
        else if (event === 'ChangeCipherSpec') expect(t).toEqual({ kind: 'ignore' });
        else expect(t).toEqual({ kind: 'fail', alert: 10 });
      });
    }
  }
});
