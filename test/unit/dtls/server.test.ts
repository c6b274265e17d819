/** The DTLS server core in memory (no sockets), driven by the small test client. */
import { describe, expect, it } from 'vitest';
import type { RemoteAddress } from '../../../src/coap/types.js';
import { DtlsServer, type DtlsEvent, type DtlsLimits } from '../../../src/dtls/index.js';
import { parseRecords } from '../../../src/dtls/record.js';
import { ManualClock } from '../../../src/util/clock.js';
import { TestPskClient, type TestClientOptions } from './test-client.js';

const PSK = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const A: RemoteAddress = { address: '10.0.0.1', port: 5684 };

function harness(limits: Partial<DtlsLimits> = {}, hint?: string) {
  const clock = new ManualClock();
  const sent: Array<{ datagram: Buffer; remote: RemoteAddress }> = [];
  const delivered: Array<{ data: string; remote: RemoteAddress }> = [];
  const events: DtlsEvent[] = [];
  const server = new DtlsServer(
    { psk: { pskFor: (id) => (id === 'dev' ? PSK : undefined), ...(hint ? { hint } : {}) }, clock, limits },
    { sendDatagram: (datagram, remote) => sent.push({ datagram, remote }), deliver: (data, remote) => delivered.push({ data: data.toString(), remote }) },
  );
  server.onEvent((e) => events.push(e));
  /** Hands the server a datagram and returns what it sent back. */
  const toServer = (datagram: Buffer, from: RemoteAddress = A): Array<{ datagram: Buffer; remote: RemoteAddress }> => {
    const before = sent.length;
    server.handleDatagram(datagram, from);
    return sent.slice(before);
  };
  const deliverAll = (client: TestPskClient, out: Array<{ datagram: Buffer }>): void => out.forEach((o) => client.receive(o.datagram));
  /** Full handshake; returns the client. */
  const connect = (opts: Partial<TestClientOptions> = {}, from: RemoteAddress = A): TestPskClient => {
    const client = new TestPskClient({ identity: 'dev', psk: PSK, ...opts });
    deliverAll(client, toServer(client.hello(), from));
    deliverAll(client, toServer(client.hello(), from));
    if (!client.resumed) deliverAll(client, toServer(client.finishFlight(), from));
    else deliverAll(client, toServer(client.resumeFinish(), from));
    return client;
  };
  return { clock, server, sent, delivered, events, toServer, deliverAll, connect };
}

describe('stateless cookie exchange', () => {
  it('answers a cookieless ClientHello with a small HelloVerifyRequest and allocates nothing', () => {
    const h = harness();
    const client = new TestPskClient({ identity: 'dev', psk: PSK });
    const hello = client.hello();
    const out = h.toServer(hello);
    expect(out).toHaveLength(1);
    expect(out[0].datagram.length).toBeLessThan(hello.length);
    const [record] = parseRecords(out[0].datagram, 0).records;
    expect(record.sequence).toBe(parseRecords(hello, 0).records[0].sequence);
    expect(record.fragment[0]).toBe(3); // HelloVerifyRequest
    expect(h.server.stats()).toMatchObject({ sessions: 0, handshakesInProgress: 0, helloVerifyRequestsSent: 1, handshakesStarted: 0 });
    expect(h.clock.pendingTimers()).toBe(1); // only the idle sweep
  });

  it('does not accept a cookie made for another address', () => {
    const h = harness();
    const client = new TestPskClient({ identity: 'dev', psk: PSK });
    h.deliverAll(client, h.toServer(client.hello(), A));
    const out = h.toServer(client.hello(), { address: '10.0.0.2', port: 5684 });
    expect(parseRecords(out[0].datagram, 0).records[0].fragment[0]).toBe(3);
    expect(h.server.stats()).toMatchObject({ sessions: 0, helloVerifyRequestsSent: 2 });
  });
});

describe('handshake and application data', () => {
  it('completes a PSK CCM_8 handshake with EMS, and carries data both ways', () => {
    const h = harness();
    const client = h.connect();
    expect(client.established).toBe(true);
    expect(h.server.peerIdentity(A)).toEqual({ kind: 'psk', identity: 'dev' });
    h.toServer(client.appData(Buffer.from('up')));
    expect(h.delivered).toEqual([{ data: 'up', remote: A }]);
    expect(h.server.send(Buffer.from('down'), A)).toBe(true);
    client.receive(h.sent[h.sent.length - 1].datagram);
    expect(client.received.map(String)).toEqual(['down']);
    expect(h.server.stats()).toMatchObject({ sessions: 1, handshakesCompleted: 1, handshakesInProgress: 0 });
  });

  it('completes TLS_PSK_WITH_AES_128_CBC_SHA256 without EMS', () => {
    const h = harness();
    const client = h.connect({ suite: 0x00ae, extendedMasterSecret: false });
    expect(client.established).toBe(true);
    h.toServer(client.appData(Buffer.from('cbc')));
    expect(h.delivered.map((d) => d.data)).toEqual(['cbc']);
  });

  it('fragments its flight to the PMTU and the client reassembles it', () => {
    const h = harness({ pmtu: 120 }, 'h'.repeat(300));
    const client = new TestPskClient({ identity: 'dev', psk: PSK });
    h.deliverAll(client, h.toServer(client.hello()));
    const flight = h.toServer(client.hello());
    expect(flight.length).toBeGreaterThan(3);
    for (const o of flight) expect(o.datagram.length).toBeLessThanOrEqual(120);
    h.deliverAll(client, [...flight].reverse());
    expect(client.handshakeTypes).toEqual([2, 12, 14]);
    h.deliverAll(client, h.toServer(client.finishFlight()));
    expect(client.established).toBe(true);
  });

  it('drops records with a bad tag or a replayed sequence number, counting each', () => {
    const h = harness();
    const client = h.connect();
    const record = client.appData(Buffer.from('once'));
    h.toServer(record);
    h.toServer(record);
    const forged = Buffer.from(client.appData(Buffer.from('forged')));
    forged[forged.length - 1] ^= 1;
    h.toServer(forged);
    expect(h.delivered.map((d) => d.data)).toEqual(['once']);
    expect(h.server.stats()).toMatchObject({ recordsDroppedReplay: 1, recordsDroppedBadMac: 1, sessions: 1 });
  });

  it('fails an unknown identity with unknown_psk_identity and an event', () => {
    const h = harness();
    const client = new TestPskClient({ identity: 'nobody', psk: PSK });
    h.deliverAll(client, h.toServer(client.hello()));
    h.deliverAll(client, h.toServer(client.hello()));
    h.deliverAll(client, h.toServer(client.finishFlight()));
    expect(client.alerts).toEqual([[2, 115]]);
    expect(h.events).toContainEqual({ kind: 'unknownPskIdentity', remote: A, identity: 'nobody' });
    expect(h.server.stats()).toMatchObject({ sessions: 0, handshakesFailed: 1, unknownPskIdentity: 1 });
  });
});

describe('retransmission', () => {
  it('resends its flight after 1 s, 2 s, 4 s ... and abandons the handshake after the configured tries', () => {
    const h = harness({ maxRetransmissions: 3 });
    const client = new TestPskClient({ identity: 'dev', psk: PSK });
    h.deliverAll(client, h.toServer(client.hello()));
    h.toServer(client.hello()); // flight "lost"
    const count = () => h.sent.length;
    const start = count();
    h.clock.advance(999);
    expect(count()).toBe(start);
    h.clock.advance(1);
    expect(count()).toBe(start + 1);
    h.clock.advance(1999);
    expect(count()).toBe(start + 1);
    h.clock.advance(1);
    expect(count()).toBe(start + 2);
    h.clock.advance(4000);
    expect(count()).toBe(start + 3);
    h.clock.advance(8000);
    expect(count()).toBe(start + 3);
    expect(h.server.stats()).toMatchObject({ sessions: 0, handshakesFailed: 1, retransmissions: 3 });
  });

  it('a retransmitted flight is still usable by the client (fresh record numbers)', () => {
    const h = harness();
    const client = new TestPskClient({ identity: 'dev', psk: PSK });
    h.deliverAll(client, h.toServer(client.hello()));
    const first = h.toServer(client.hello());
    h.clock.advance(1000);
    const again = h.sent.slice(-1);
    expect(parseRecords(again[0].datagram, 0).records[0].sequence).toBeGreaterThan(parseRecords(first[first.length - 1].datagram, 0).records.at(-1)!.sequence);
    h.deliverAll(client, again);
    h.deliverAll(client, h.toServer(client.finishFlight()));
    expect(client.established).toBe(true);
  });

  it('answers a duplicate of the client final flight by resending CCS+Finished', () => {
    const h = harness();
    const client = h.connect();
    const out = h.toServer(client.retransmitFinished());
    expect(out).toHaveLength(1);
    expect(parseRecords(out[0].datagram, 0).records.map((r) => r.type)).toEqual([20, 22]);
    // Once per datagram, however many stale records it carries.
    const twice = h.toServer(Buffer.concat([client.retransmitFinished(), client.retransmitFinished()]));
    expect(twice).toHaveLength(1);
  });
});

describe('alerts, close and renegotiation', () => {
  it('refuses renegotiation with a no_renegotiation warning and keeps the session', () => {
    const h = harness();
    const client = h.connect();
    h.deliverAll(client, h.toServer(client.renegotiationHello()));
    expect(client.alerts).toEqual([[1, 100]]);
    h.toServer(client.appData(Buffer.from('still here')));
    expect(h.delivered.map((d) => d.data)).toEqual(['still here']);
    expect(h.server.stats().renegotiationsRefused).toBe(1);
  });

  it('answers close_notify and forgets the session', () => {
    const h = harness();
    const client = h.connect();
    h.deliverAll(client, h.toServer(client.alert(1, 0)));
    expect(client.alerts).toEqual([[1, 0]]);
    expect(h.server.stats().sessions).toBe(0);
    expect(h.server.peerIdentity(A)).toBeUndefined();
  });

  it('ignores an unauthenticated plaintext alert aimed at an established session', () => {
    const h = harness();
    h.connect();
    const forged = Buffer.from('15fefd0000000000000099000202' + '28', 'hex');
    h.toServer(forged);
    expect(h.server.stats().sessions).toBe(1);
  });

  it('a fresh, cookie-verified hello from the same address replaces the old session', () => {
    const h = harness();
    h.connect();
    const second = h.connect();
    expect(second.established).toBe(true);
    expect(h.server.stats()).toMatchObject({ sessions: 1, handshakesCompleted: 2 });
  });
});

describe('Connection ID (RFC 9146)', () => {
  it('moves the session to a new address on an authenticated CID record and reports it', () => {
    const h = harness();
    const moves: Array<[RemoteAddress, RemoteAddress]> = [];
    h.server.onAddressChange((o, n) => moves.push([o, n]));
    const client = h.connect({ offerCid: Buffer.alloc(0) });
    expect(client.serverCid).toHaveLength(6);
    const B = { address: '10.0.0.1', port: 40000 };
    h.toServer(client.appData(Buffer.from('from B')), B);
    expect(moves).toEqual([[A, B]]);
    expect(h.delivered).toEqual([{ data: 'from B', remote: B }]);
    expect(h.server.peerIdentity(B)).toEqual({ kind: 'psk', identity: 'dev' });
    expect(h.server.peerIdentity(A)).toBeUndefined();
    h.server.send(Buffer.from('to B'), B);
    expect(h.sent.at(-1)!.remote).toEqual(B);
  });

  it('does not move on a forged CID record or on an older (reordered) record', () => {
    const h = harness();
    const client = h.connect({ offerCid: Buffer.alloc(0) });
    const older = client.appData(Buffer.from('older'));
    const newer = client.appData(Buffer.from('newer'));
    h.toServer(newer, A);
    const forged = Buffer.from(client.appData(Buffer.from('x')));
    forged[forged.length - 2] ^= 1;
    h.toServer(forged, { address: '6.6.6.6', port: 1 });
    h.toServer(older, { address: '10.0.0.9', port: 9 });
    expect(h.server.stats().addressChanges).toBe(0);
    // The older record is still delivered (it is authentic), but as coming from the session's address.
    expect(h.delivered.map((d) => d.remote)).toEqual([A, A]);
    expect(h.server.peerIdentity(A)).toBeDefined();
  });
});

describe('session resumption', () => {
  it('resumes by session id with an abbreviated handshake', () => {
    const h = harness();
    const first = h.connect();
    const resumed = h.connect({ resume: { sessionId: first.sessionId, masterSecret: first.master! } }, { address: '10.0.0.1', port: 6000 });
    expect(resumed.resumed).toBe(true);
    expect(resumed.established).toBe(true);
    expect(resumed.handshakeTypes).toEqual([2, 20]);
    h.toServer(resumed.appData(Buffer.from('resumed')), { address: '10.0.0.1', port: 6000 });
    expect(h.delivered.map((d) => d.data)).toEqual(['resumed']);
    expect(h.server.stats()).toMatchObject({ resumptions: 1, handshakesCompleted: 2 });
  });

  it('falls back to a full handshake for an unknown session id', () => {
    const h = harness();
    const client = h.connect({ resume: { sessionId: Buffer.alloc(32, 1), masterSecret: Buffer.alloc(48) } });
    expect(client.resumed).toBe(false);
    expect(client.established).toBe(true);
  });
});

describe('limits', () => {
  it('refuses handshakes beyond maxHandshakesInProgress', () => {
    const h = harness({ maxHandshakesInProgress: 1 });
    for (const port of [1, 2]) {
      const c = new TestPskClient({ identity: 'dev', psk: PSK });
      const from = { address: '10.0.0.1', port };
      h.deliverAll(c, h.toServer(c.hello(), from));
      h.toServer(c.hello(), from);
    }
    expect(h.server.stats()).toMatchObject({ handshakesInProgress: 1, handshakesRejectedByLimit: 1 });
  });

  it('rate-limits handshakes per source IP', () => {
    const h = harness({ handshakeBurstPerIp: 2, handshakesPerIpPerSecond: 1 });
    for (const port of [1, 2]) h.connect({}, { address: '10.0.0.7', port });
    const refused = new TestPskClient({ identity: 'dev', psk: PSK });
    h.deliverAll(refused, h.toServer(refused.hello(), { address: '10.0.0.7', port: 3 }));
    expect(h.toServer(refused.hello(), { address: '10.0.0.7', port: 3 })).toEqual([]);
    expect(h.server.stats()).toMatchObject({ handshakesCompleted: 2, handshakesRejectedByLimit: 1 });
    h.clock.advance(1000);
    h.connect({}, { address: '10.0.0.7', port: 4 });
    expect(h.server.stats().handshakesCompleted).toBe(3);
  });

  it('evicts idle sessions', () => {
    const h = harness({ idleTimeoutMs: 10_000 });
    h.connect();
    h.clock.advance(9_000);
    expect(h.server.stats().sessions).toBe(1);
    h.clock.advance(5_000);
    expect(h.server.stats()).toMatchObject({ sessions: 0, sessionsEvictedIdle: 1 });
  });
});

describe('unauthenticated input on an established session', () => {
  it('an injected plaintext handshake message neither kills nor changes the session', () => {
    const h = harness();
    const client = h.connect();
    // epoch 0, message_seq 9 ClientKeyExchange: would be "unexpected" if it were processed.
    const forged = Buffer.from('16fefd000000000000005000' + '0f' + '100000030009000000000003' + '000100', 'hex');
    forged.writeUInt16BE(forged.length - 13, 11);
    h.toServer(forged);
    h.toServer(client.appData(Buffer.from('alive')));
    expect(h.delivered.map((d) => d.data)).toEqual(['alive']);
    expect(h.server.stats()).toMatchObject({ sessions: 1, alertsSent: 0 });
  });

  it('close() sends close_notify to every established session', () => {
    const h = harness();
    const client = h.connect();
    h.server.close();
    h.deliverAll(client, h.sent.slice(-1));
    expect(client.alerts).toEqual([[1, 0]]);
    expect(h.server.stats().sessions).toBe(0);
  });
});
