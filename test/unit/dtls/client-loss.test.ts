/**
 * The client over a bad network (lost, duplicated, reordered datagrams) against our server,
 * retransmission back-off and give-up on a ManualClock, and Connection IDs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContentType } from '../../../src/dtls/constants.js';
import { parseRecords } from '../../../src/dtls/record.js';
import { makePki, makeWire, PSK, pskServer, type Pki } from './client-harness.js';

const psk = { identity: 'dev', key: PSK };

/** Runs the wire, advancing the clock one retransmission step at a time, until established. */
function settle(w: ReturnType<typeof makeWire>, maxSteps = 8): number {
  w.pump();
  let waited = 0;
  for (let delay = 1000; !w.established && !w.closed && waited < 2 ** maxSteps * 1000; delay *= 2) {
    w.clock.advance(delay);
    waited += delay;
    w.pump();
  }
  return waited;
}

describe('DTLS client on a lossy wire', () => {
  let pki: Pki;
  beforeAll(() => {
    pki = makePki();
  });
  afterAll(() => pki.cleanup());

  it('completes when the first copy of every datagram in each direction is lost', () => {
    const seen = new Set<string>();
    const w = makeWire(pskServer(), { psk }, (d, dir) => {
      // Drop a datagram the first time its content is seen. Retransmissions differ in record
      // sequence numbers (and so in ciphertext), so the key is each record's type, epoch,
      // length and, in clear, its handshake header.
      const records = parseRecords(d, 0).records;
      const key = dir + records.map((r) => `${r.type}/${r.epoch}/${r.fragment.length}/${r.epoch === 0 ? r.fragment.subarray(0, 12).toString('hex') : ''}`).join(',');
      if (seen.has(key)) return 'deliver';
      seen.add(key);
      return 'drop';
    });
    w.client.start();
    settle(w);
    expect(w.established).toBe(true);
    expect(w.client.stats.retransmissions).toBeGreaterThanOrEqual(2);
    // Application data is not retransmitted by DTLS (CoAP does that): the first copy is lost.
    w.client.sendApplicationData(Buffer.from('after-loss'));
    w.client.sendApplicationData(Buffer.from('after-loss'));
    w.pump();
    expect(w.serverDelivered).toEqual(['after-loss']);
  });

  it('completes when every datagram is duplicated (duplicates are dropped as replays)', () => {
    const w = makeWire(pskServer(), { psk }, () => 'duplicate');
    w.client.start();
    w.pump();
    expect(w.established).toBe(true);
    w.client.sendApplicationData(Buffer.from('dup'));
    w.pump();
    expect(w.serverDelivered).toEqual(['dup']);
    expect(w.delivered).toEqual(['echo:dup']);
    expect(w.client.stats.recordsDroppedReplay).toBeGreaterThanOrEqual(1);
  });

  it('completes an X.509 handshake whose fragments arrive in reverse order', () => {
    const w = makeWire(
      { ecdsa: { privateKeyPem: pki.pem('server.key'), certificateChainPem: [pki.pem('server.pem'), pki.pem('ca.pem')] }, limits: { pmtu: 300 } },
      { ecdsa: { privateKeyPem: pki.pem('client.key'), trustAnchorsPem: [pki.pem('ca.pem')] } },
      (_d, dir, i) => (dir === 'toClient' && i >= 1 && i <= 5 ? 'hold' : 'deliver'),
    );
    w.client.start();
    settle(w);
    expect(w.established).toBe(true);
  });

  it('backs off 1, 2, 4, 8 s and gives up after maxRetransmissions when the server is silent', () => {
    const sentAt: number[] = [];
    const w = makeWire(pskServer(), { psk, retransmission: { maxRetransmissions: 3 } }, (_d, dir) => {
      if (dir === 'toServer') sentAt.push(w.clock.now());
      return 'drop';
    });
    const start = w.clock.now();
    w.client.start();
    w.clock.advance(60_000);
    expect(sentAt.map((t) => t - start)).toEqual([0, 1000, 3000, 7000]);
    expect(w.closed).toMatchObject({ reason: 'handshake timed out after 3 retransmissions', error: { name: 'DtlsHandshakeError' } });
    expect(w.clock.pendingTimers()).toBe(1); // only the server's idle sweep is left
  });
});

describe('DTLS client: Connection ID (RFC 9146)', () => {
  it('uses the server’s CID on its records; the session follows a NAT rebinding', () => {
    const w = makeWire(pskServer(), { psk, cid: true });
    w.client.start();
    w.pump();
    expect(w.client.serverConnectionId).toHaveLength(6);
    w.client.sendApplicationData(Buffer.from('before'));
    w.pump();
    w.from = { address: '10.0.0.1', port: 40999 };
    w.client.sendApplicationData(Buffer.from('after'));
    w.pump();
    expect(w.serverDelivered).toEqual(['before', 'after']);
    expect(w.delivered).toEqual(['echo:before', 'echo:after']);
    expect(w.server.stats()).toMatchObject({ addressChanges: 1, sessions: 1 });
    expect(w.server.peerIdentity({ address: '10.0.0.1', port: 40999 })).toEqual({ kind: 'psk', identity: 'dev' });
  });

  it('asks for its own CID on records sent to it, and parses them', () => {
    const cidRecords: number[] = [];
    const w = makeWire(pskServer(), { psk, cid: { length: 4 } }, (d, dir) => {
      if (dir === 'toClient') cidRecords.push(...parseRecords(d, 4).records.filter((r) => r.type === ContentType.Tls12Cid).map((r) => r.cid!.length));
      return 'deliver';
    });
    w.client.start();
    w.pump();
    w.client.sendApplicationData(Buffer.from('c'));
    w.pump();
    expect(w.delivered).toEqual(['echo:c']);
    expect(cidRecords).toEqual([4, 4]); // the server's Finished and its echo
  });

  it('without cid the server sends no CID and a rebinding looks like a stranger', () => {
    const w = makeWire(pskServer(), { psk });
    w.client.start();
    w.pump();
    expect(w.client.serverConnectionId).toBeUndefined();
    w.from = { address: '10.0.0.1', port: 40999 };
    w.client.sendApplicationData(Buffer.from('lost'));
    w.pump();
    expect(w.serverDelivered).toEqual([]);
    expect(w.server.stats()).toMatchObject({ addressChanges: 0, recordsDroppedNoSession: 1 });
  });
});
