import { describe, expect, it } from 'vitest';
import { encodeHandshakeFragment, fragmentHandshake, HandshakeInbox, parseHandshakeFragments } from '../../../src/dtls/handshake-framing.js';
import { encodeRecord, parseRecords } from '../../../src/dtls/record.js';
import { ReplayWindow } from '../../../src/dtls/replay-window.js';

describe('record codec', () => {
  it('encodes the 13-byte header exactly and parses several records from one datagram', () => {
    const a = encodeRecord({ type: 22, version: 0xfefd, epoch: 0, sequence: 0x010203040506, fragment: Buffer.from([0xaa, 0xbb]) });
    expect(a.toString('hex')).toBe('16' + 'fefd' + '0000' + '010203040506' + '0002' + 'aabb');
    const b = encodeRecord({ type: 23, version: 0xfefd, epoch: 1, sequence: 7, fragment: Buffer.from('xyz') });
    const { records, malformed } = parseRecords(Buffer.concat([a, b]), 0);
    expect(malformed).toBe(0);
    expect(records).toEqual([
      { type: 22, version: 0xfefd, epoch: 0, sequence: 0x010203040506, fragment: Buffer.from([0xaa, 0xbb]) },
      { type: 23, version: 0xfefd, epoch: 1, sequence: 7, fragment: Buffer.from('xyz') },
    ]);
  });

  it('parses a tls12_cid record using the configured CID length', () => {
    const cid = Buffer.from('0102030405', 'hex');
    const raw = encodeRecord({ type: 25, version: 0xfefd, epoch: 1, sequence: 3, cid, fragment: Buffer.from('q') });
    expect(raw.subarray(11, 16).equals(cid)).toBe(true);
    expect(parseRecords(raw, 5).records[0]).toEqual({ type: 25, version: 0xfefd, epoch: 1, sequence: 3, cid, fragment: Buffer.from('q') });
  });

  it('accepts 0xFEFF and 0xFE00 only on epoch-0 handshake records', () => {
    const rec = (type: number, version: number, epoch: number) => encodeRecord({ type, version, epoch, sequence: 0, fragment: Buffer.from([1]) });
    expect(parseRecords(rec(22, 0xfeff, 0), 0).records).toHaveLength(1);
    expect(parseRecords(rec(22, 0xfe00, 0), 0).records).toHaveLength(1);
    expect(parseRecords(rec(23, 0xfeff, 1), 0).records).toHaveLength(0);
    expect(parseRecords(rec(22, 0xfeff, 1), 0).records).toHaveLength(0);
    expect(parseRecords(rec(22, 0x0303, 0), 0).records).toHaveLength(0);
  });

  it('stops at a truncated record and counts it, keeping the records before it', () => {
    const good = encodeRecord({ type: 23, version: 0xfefd, epoch: 1, sequence: 1, fragment: Buffer.from('ok') });
    const truncated = encodeRecord({ type: 23, version: 0xfefd, epoch: 1, sequence: 2, fragment: Buffer.from('long') }).subarray(0, 15);
    const { records, malformed } = parseRecords(Buffer.concat([good, truncated]), 0);
    expect(records).toHaveLength(1);
    expect(malformed).toBe(1);
  });
});

describe('anti-replay window (RFC 6347 §4.1.2.6)', () => {
  it('accepts new numbers, refuses duplicates, and judges the 64-record edge exactly', () => {
    const w = new ReplayWindow();
    expect(w.check(0)).toBe(true);
    w.mark(0);
    expect(w.check(0)).toBe(false);
    w.mark(100);
    expect(w.check(100)).toBe(false);
    expect(w.check(37)).toBe(true); // 100 - 63: the oldest number still inside the window
    expect(w.check(36)).toBe(false); // 100 - 64: outside, refused without knowing
    w.mark(37);
    expect(w.check(37)).toBe(false);
    expect(w.check(99)).toBe(true);
    w.mark(99);
    expect(w.check(99)).toBe(false);
    expect(w.isNewest(100)).toBe(false);
    expect(w.isNewest(101)).toBe(true);
  });

  it('keeps marks across a shift and forgets them after a jump larger than the window', () => {
    const w = new ReplayWindow();
    w.mark(10);
    w.mark(12);
    w.mark(20);
    expect(w.check(10)).toBe(false);
    expect(w.check(11)).toBe(true);
    expect(w.check(12)).toBe(false);
    w.mark(2 ** 48 - 1);
    expect(w.check(2 ** 48 - 2)).toBe(true);
    expect(w.check(20)).toBe(false);
  });
});

describe('handshake fragmentation and reassembly (RFC 6347 §4.2.3)', () => {
  const body = Buffer.from(Array.from({ length: 1000 }, (_, i) => i & 0xff));
  const message = { msgType: 11, messageSeq: 3, body };

  it('splits a message so every fragment, header included, fits the limit', () => {
    const fragments = fragmentHandshake(message, 212);
    expect(fragments.map((f) => f.body.length)).toEqual([200, 200, 200, 200, 200]);
    for (const f of fragments) expect(encodeHandshakeFragment(f).length).toBeLessThanOrEqual(212);
    const header = encodeHandshakeFragment(fragments[1]).subarray(0, 12);
    expect(header.toString('hex')).toBe('0b' + '0003e8' + '0003' + '0000c8' + '0000c8');
  });

  it('reassembles fragments that arrive out of order and overlap', () => {
    const inbox = new HandshakeInbox(3);
    const pieces = [
      { ...message, length: 1000, fragmentOffset: 600, body: body.subarray(600, 1000) },
      { ...message, length: 1000, fragmentOffset: 0, body: body.subarray(0, 300) },
      { ...message, length: 1000, fragmentOffset: 250, body: body.subarray(250, 650) },
    ];
    expect(inbox.add(pieces[0])).toEqual({ kind: 'messages', messages: [] });
    expect(inbox.add(pieces[1])).toEqual({ kind: 'messages', messages: [] });
    const done = inbox.add(pieces[2]);
    expect(done).toEqual({ kind: 'messages', messages: [{ msgType: 11, messageSeq: 3, body }] });
    expect(inbox.add(pieces[1])).toEqual({ kind: 'retransmission', messageSeq: 3 });
  });

  it('holds a later message until the earlier one completes, then releases both in order', () => {
    const inbox = new HandshakeInbox(0);
    const m1 = { msgType: 16, length: 2, messageSeq: 1, fragmentOffset: 0, body: Buffer.from([1, 2]) };
    const m0 = { msgType: 11, length: 1, messageSeq: 0, fragmentOffset: 0, body: Buffer.from([9]) };
    expect(inbox.add(m1)).toEqual({ kind: 'messages', messages: [] });
    const r = inbox.add(m0);
    expect(r.kind === 'messages' && r.messages.map((m) => m.messageSeq)).toEqual([0, 1]);
  });

  it('parses several fragments in one record and rejects one that overruns its message', () => {
    const raw = Buffer.concat(fragmentHandshake(message, 600).map(encodeHandshakeFragment));
    expect(parseHandshakeFragments(raw).map((f) => f.fragmentOffset)).toEqual([0, 588]);
    const bad = encodeHandshakeFragment({ msgType: 1, length: 4, messageSeq: 0, fragmentOffset: 2, body: Buffer.from([1, 2, 3]) });
    expect(() => parseHandshakeFragments(bad)).toThrow(/beyond message length/);
    const inbox = new HandshakeInbox(0);
    inbox.add({ msgType: 1, length: 4, messageSeq: 0, fragmentOffset: 0, body: Buffer.from([1]) });
    expect(() => inbox.add({ msgType: 2, length: 4, messageSeq: 0, fragmentOffset: 1, body: Buffer.from([1]) })).toThrow(/disagrees/);
  });
});
