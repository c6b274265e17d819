/** Our DTLS client engine against our DTLS server core, in memory on a ManualClock. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContentType, HandshakeType } from '../../../src/dtls/constants.js';
import { parseHandshakeFragments } from '../../../src/dtls/handshake-framing.js';
import { parseRecords } from '../../../src/dtls/record.js';
import { DtlsClientConnection } from '../../../src/dtls/client/index.js';
import { makePki, makeWire, PSK, pskServer, type Pki } from './client-harness.js';

const psk = { identity: 'dev', key: PSK };

/** The handshake message types in a datagram's plaintext epoch-0 records. */
function handshakeTypes(datagram: Buffer): number[] {
  return parseRecords(datagram, 0)
    .records.filter((r) => r.type === ContentType.Handshake && r.epoch === 0)
    .flatMap((r) => parseHandshakeFragments(r.fragment).map((f) => f.msgType));
}

describe('DTLS client: PSK against our server', () => {
  for (const [id, name] of [
    [0xc0a8, 'TLS_PSK_WITH_AES_128_CCM_8'],
    [0x00ae, 'TLS_PSK_WITH_AES_128_CBC_SHA256'],
  ] as const) {
    it(`completes ${name} after the cookie exchange and carries data both ways`, () => {
      const w = makeWire(pskServer(), { psk, cipherSuites: [id] });
      w.client.start();
      w.pump();
      expect(w.established).toBe(true);
      expect(w.client.cipherSuiteName).toBe(name);
      expect(w.client.wasResumed).toBe(false);
      expect(w.server.stats()).toMatchObject({ helloVerifyRequestsSent: 1, handshakesCompleted: 1, sessions: 1, recordsDroppedBadMac: 0 });
      expect(w.events.find((e) => e.kind === 'handshakeCompleted')).toMatchObject({ identity: { kind: 'psk', identity: 'dev' }, cipherSuite: name, resumed: false });
      expect(w.client.sendApplicationData(Buffer.from('ping'))).toBe(true);
      w.pump();
      expect(w.serverDelivered).toEqual(['ping']);
      expect(w.delivered).toEqual(['echo:ping']);
      expect(w.client.stats).toMatchObject({ retransmissions: 0, recordsDroppedBadMac: 0, alertsSent: 0 });
    });
  }

  it('accepts a PSK identity hint (ServerKeyExchange) and still sends its own identity', () => {
    const w = makeWire({ psk: { pskFor: (id) => (id === 'dev' ? PSK : undefined), hint: 'lwm2m' } }, { psk });
    w.client.start();
    w.pump();
    expect(w.established).toBe(true);
  });

  it('a wrong key fails with the server’s bad_record_mac alert and no session', () => {
    const w = makeWire(pskServer(), { psk: { identity: 'dev', key: Buffer.alloc(16, 7) } });
    w.client.start();
    w.pump();
    expect(w.established).toBe(false);
    expect(w.closed?.error).toMatchObject({ alert: 20, alertFromPeer: true });
    expect(w.server.stats()).toMatchObject({ sessions: 0, handshakesFailed: 1 });
  });

  it('an unknown identity fails with unknown_psk_identity', () => {
    const w = makeWire(pskServer(), { psk: { identity: 'stranger', key: PSK } });
    w.client.start();
    w.pump();
    expect(w.closed?.error).toMatchObject({ alert: 115, alertFromPeer: true });
  });

  it('refuses a configuration that can offer nothing', () => {
    expect(() => new DtlsClientConnection({ psk, cipherSuites: [0xc0ae] }, { sendDatagram() {}, deliver() {}, onEstablished() {}, onClosed() {} })).toThrow(/no cipher suite/);
    expect(() => new DtlsClientConnection({}, { sendDatagram() {}, deliver() {}, onEstablished() {}, onClosed() {} })).toThrow(/psk or ecdsa/);
  });

  it('close() sends close_notify: the server ends the session', () => {
    const w = makeWire(pskServer(), { psk });
    w.client.start();
    w.pump();
    w.client.close();
    w.pump();
    expect(w.client.isClosed()).toBe(true);
    expect(w.closed).toEqual({ reason: 'closed by the application' });
    expect(w.server.stats().sessions).toBe(0);
    expect(w.events.at(-1)).toMatchObject({ kind: 'sessionClosed', reason: 'peer sent close_notify' });
  });

  it('drops a replayed server record', () => {
    const replay: Buffer[] = [];
    const w = makeWire(pskServer(), { psk }, (d, dir) => {
      if (dir === 'toClient' && parseRecords(d, 0).records[0]?.type === ContentType.ApplicationData) replay.push(d);
      return 'deliver';
    });
    w.client.start();
    w.pump();
    w.client.sendApplicationData(Buffer.from('once'));
    w.pump();
    w.client.handleDatagram(replay[0]);
    expect(w.delivered).toEqual(['echo:once']);
    expect(w.client.stats.recordsDroppedReplay).toBe(1);
  });

  it('drops a server record with a flipped bit without an alert', () => {
    const captured: Buffer[] = [];
    const w = makeWire(pskServer(), { psk }, (d, dir) => {
      if (dir === 'toClient' && parseRecords(d, 0).records[0]?.type === ContentType.ApplicationData) {
        captured.push(Buffer.from(d));
        return 'drop';
      }
      return 'deliver';
    });
    w.client.start();
    w.pump();
    w.client.sendApplicationData(Buffer.from('x'));
    w.pump();
    const forged = Buffer.from(captured[0]);
    forged[forged.length - 1] ^= 1;
    w.client.handleDatagram(forged);
    expect(w.client.stats).toMatchObject({ recordsDroppedBadMac: 1, alertsSent: 0 });
    w.client.handleDatagram(captured[0]);
    expect(w.delivered).toEqual(['echo:x']);
    expect(w.client.established).toBe(true);
  });
});

describe('DTLS client: session resumption', () => {
  const other = { address: '10.0.0.2', port: 40001 };

  it('resumes with an abbreviated handshake (no ServerHelloDone), keeping EMS', () => {
    const types: number[] = [];
    const w = makeWire(pskServer(), { psk }, (d, dir) => {
      if (dir === 'toClient') types.push(...handshakeTypes(d));
      return 'deliver';
    });
    w.client.start();
    w.pump();
    const session = w.client.session()!;
    expect(session).toMatchObject({ cipherSuite: 0xc0a8, extendedMasterSecret: true });
    expect(session.sessionId).toHaveLength(32);
    types.length = 0;

    const second = w.addClient({ psk, resumeSession: session }, other);
    second.client.start();
    w.pump();
    expect(second.established).toBe(true);
    expect(second.client.wasResumed).toBe(true);
    expect(types).toEqual([HandshakeType.HelloVerifyRequest, HandshakeType.ServerHello]);
    expect(w.server.stats()).toMatchObject({ resumptions: 1, handshakesCompleted: 2, sessions: 2 });
    expect(w.events.filter((e) => e.kind === 'handshakeCompleted').map((e) => e.kind === 'handshakeCompleted' && e.resumed)).toEqual([false, true]);
    second.client.sendApplicationData(Buffer.from('again'));
    w.pump();
    expect(second.delivered).toEqual(['echo:again']);
  });

  it('resends its last flight when the server repeats its abbreviated flight', () => {
    let dropFirstResumedFinished = true;
    const w = makeWire(pskServer(), { psk }, (d, dir) => {
      const records = parseRecords(d, 0).records;
      // The client's CCS + Finished of the abbreviated handshake: lose it once.
      if (dir === 'toServer' && dropFirstResumedFinished && records[0]?.type === ContentType.ChangeCipherSpec && records.length === 2 && d.length < 80) {
        dropFirstResumedFinished = false;
        return 'drop';
      }
      return 'deliver';
    });
    w.client.start();
    w.pump();
    const session = w.client.session()!;
    dropFirstResumedFinished = true;
    const second = w.addClient({ psk, resumeSession: session }, other);
    second.client.start();
    w.pump();
    expect(second.established).toBe(true);
    expect(w.server.stats().handshakesCompleted).toBe(1);
    w.clock.advance(1000); // the server's retransmission timer
    w.pump();
    expect(w.server.stats()).toMatchObject({ handshakesCompleted: 2, resumptions: 1 });
    expect(second.client.stats.retransmissions).toBe(1);
  });

  it('falls back to a full handshake when the server does not know the session', () => {
    const first = makeWire(pskServer(), { psk });
    first.client.start();
    first.pump();
    const session = first.client.session()!;
    const fresh = makeWire(pskServer(), { psk, resumeSession: session });
    fresh.client.start();
    fresh.pump();
    expect(fresh.established).toBe(true);
    expect(fresh.client.wasResumed).toBe(false);
    expect(fresh.client.session()!.sessionId.equals(session.sessionId)).toBe(false);
  });

  it('refuses a resumption whose extended-master-secret property changed (RFC 7627 §5.3)', () => {
    const w = makeWire(pskServer(), { psk });
    w.client.start();
    w.pump();
    // The session was EMS; a client that (wrongly) remembers it as non-EMS sees the server
    // resume it with EMS and must abort rather than resume across the change.
    const second = w.addClient({ psk, resumeSession: { ...w.client.session()!, extendedMasterSecret: false } }, other);
    second.client.start();
    w.pump();
    expect(second.established).toBe(false);
    expect(second.closed).toMatchObject({ reason: 'extended master secret changed on resumption', error: { alert: 40, alertFromPeer: false } });
    expect(w.server.stats()).toMatchObject({ resumptions: 0, sessions: 1 });
  });
});

describe('DTLS client: ECDHE-ECDSA', () => {
  let pki: Pki;
  beforeAll(() => {
    pki = makePki();
  });
  afterAll(() => pki.cleanup());

  for (const [id, name] of [
    [0xc0ae, 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8'],
    [0xc02b, 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'],
  ] as const) {
    it(`raw public keys both ways (RFC 7250) with ${name}`, () => {
      const clientSpki = pki.spki('client.key');
      const w = makeWire(
        { ecdsa: { privateKeyPem: pki.pem('server.key'), rawPublicKey: true, rpkAllowed: (k) => k.equals(clientSpki) } },
        { ecdsa: { privateKeyPem: pki.pem('client.key'), rawPublicKey: true, serverPublicKeyDer: pki.spki('server.key') }, cipherSuites: [id] },
      );
      w.client.start();
      w.pump();
      expect(w.established).toBe(true);
      expect(w.client.cipherSuiteName).toBe(name);
      const completed = w.events.find((e) => e.kind === 'handshakeCompleted');
      expect(completed).toMatchObject({ cipherSuite: name, identity: { kind: 'rpk' } });
      if (completed?.kind === 'handshakeCompleted' && completed.identity?.kind === 'rpk') expect(completed.identity.publicKeyDer.equals(clientSpki)).toBe(true);
      w.client.sendApplicationData(Buffer.from('rpk'));
      w.pump();
      expect(w.delivered).toEqual(['echo:rpk']);
    });
  }

  it('refuses a server raw public key that is not the expected one (bad_certificate)', () => {
    const w = makeWire(
      { ecdsa: { privateKeyPem: pki.pem('other.key'), rawPublicKey: true, rpkAllowed: () => true } },
      { ecdsa: { privateKeyPem: pki.pem('client.key'), rawPublicKey: true, serverPublicKeyDer: pki.spki('server.key') } },
    );
    w.client.start();
    w.pump();
    expect(w.established).toBe(false);
    expect(w.closed?.error).toMatchObject({ alert: 42, alertFromPeer: false });
    expect(w.closed?.reason).toBe('server raw public key is not the expected one');
    expect(w.server.stats()).toMatchObject({ sessions: 0, handshakesFailed: 1, alertsReceived: 1 });
  });

  it('the server refuses a client raw public key it does not know', () => {
    const w = makeWire(
      { ecdsa: { privateKeyPem: pki.pem('server.key'), rawPublicKey: true, rpkAllowed: () => false } },
      { ecdsa: { privateKeyPem: pki.pem('client.key'), rawPublicKey: true, serverPublicKeyDer: pki.spki('server.key') } },
    );
    w.client.start();
    w.pump();
    expect(w.closed?.error).toMatchObject({ alert: 42, alertFromPeer: true });
  });

  it('X.509 both ways: validates the server chain and answers the CertificateRequest', () => {
    const w = makeWire(
      { ecdsa: { privateKeyPem: pki.pem('server.key'), certificateChainPem: [pki.pem('server.pem'), pki.pem('ca.pem')], trustAnchorsPem: [pki.pem('ca.pem')] } },
      { ecdsa: { privateKeyPem: pki.pem('client.key'), certificateChainPem: [pki.pem('client.pem')], trustAnchorsPem: [pki.pem('ca.pem')] } },
    );
    w.client.start();
    w.pump();
    expect(w.established).toBe(true);
    expect(w.client.serverCommonName).toBe('server');
    expect(w.events.find((e) => e.kind === 'handshakeCompleted')).toMatchObject({ identity: { kind: 'x509', subjectCN: 'device-42' } });
  });

  it('X.509 server authentication only, pinned to the server key', () => {
    const w = makeWire(
      { ecdsa: { privateKeyPem: pki.pem('server.key'), certificateChainPem: [pki.pem('server.pem')] } },
      { ecdsa: { privateKeyPem: pki.pem('client.key'), trustAnchorsPem: [pki.pem('ca.pem')], serverPublicKeyDer: pki.spki('server.key') } },
    );
    w.client.start();
    w.pump();
    expect(w.established).toBe(true);
    const completed = w.events.find((e) => e.kind === 'handshakeCompleted');
    expect(completed).toMatchObject({ kind: 'handshakeCompleted', cipherSuite: 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8' });
    expect(completed && 'identity' in completed).toBe(false);
  });

  it('refuses a server chain that does not end at our trust anchor (unknown_ca)', () => {
    const w = makeWire(
      { ecdsa: { privateKeyPem: pki.pem('rogue-server.key'), certificateChainPem: [pki.pem('rogue-server.pem'), pki.pem('rogue-ca.pem')] } },
      { ecdsa: { privateKeyPem: pki.pem('client.key'), trustAnchorsPem: [pki.pem('ca.pem')] } },
    );
    w.client.start();
    w.pump();
    expect(w.established).toBe(false);
    expect(w.closed?.error).toMatchObject({ alert: 48, alertFromPeer: false });
  });

  it('refuses a server certificate outside its validity (certificate_expired)', () => {
    const w = makeWire(
      { ecdsa: { privateKeyPem: pki.pem('server.key'), certificateChainPem: [pki.pem('server.pem')] } },
      { ecdsa: { privateKeyPem: pki.pem('client.key'), trustAnchorsPem: [pki.pem('ca.pem')] } },
      undefined,
    );
    w.clock.advance(Date.now() + 10 * 86_400_000 - w.clock.now());
    w.client.start();
    w.pump();
    expect(w.closed?.error).toMatchObject({ alert: 45 });
  });

  it('refuses to build a client that would trust any server', () => {
    const io = { sendDatagram() {}, deliver() {}, onEstablished() {}, onClosed() {} };
    expect(() => new DtlsClientConnection({ ecdsa: { privateKeyPem: pki.pem('client.key'), rawPublicKey: true } }, io)).toThrow(/serverPublicKeyDer/);
    expect(() => new DtlsClientConnection({ ecdsa: { privateKeyPem: pki.pem('client.key') } }, io)).toThrow(/trustAnchorsPem/);
  });

  it('fragments a large flight into small datagrams both ways (pmtu 200)', () => {
    const sizes: number[] = [];
    const w = makeWire(
      { ecdsa: { privateKeyPem: pki.pem('server.key'), certificateChainPem: [pki.pem('server.pem'), pki.pem('ca.pem')], trustAnchorsPem: [pki.pem('ca.pem')] }, limits: { pmtu: 200 } },
      { ecdsa: { privateKeyPem: pki.pem('client.key'), certificateChainPem: [pki.pem('client.pem'), pki.pem('ca.pem')], trustAnchorsPem: [pki.pem('ca.pem')] }, pmtu: 200 },
      (d) => {
        sizes.push(d.length);
        return 'deliver';
      },
    );
    w.client.start();
    w.pump();
    expect(w.established).toBe(true);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(200);
    expect(w.toServerCount).toBeGreaterThan(6);
    expect(w.toClientCount).toBeGreaterThan(6);
  });
});
