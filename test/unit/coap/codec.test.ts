import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { CoapFormatError, parseMessage, serializeMessage } from '../../../src/coap/codec.js';
import type { CoapMessage } from '../../../src/coap/types.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
/** A parsed message reads its options lazily (a getter); compare its fields as a plain object. */
const plain = (m: CoapMessage): CoapMessage => ({ type: m.type, code: m.code, messageId: m.messageId, token: m.token, options: m.options, payload: m.payload });

describe('codec: known vectors', () => {
  it('empty ACK is 4 bytes', () => {
    const msg: CoapMessage = { type: 'ACK', code: 0, messageId: 0x1234, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) };
    expect(serializeMessage(msg).toString('hex')).toBe('60001234');
    expect(plain(parseMessage(hex('60001234')))).toEqual(msg);
  });

  it('CON GET /temperature with a 2-byte token (RFC 7252 Figure 16 shape)', () => {
    const wire = Buffer.concat([hex('42 01 7d 34 71 3a bb'), Buffer.from('temperature')]);
    const msg = parseMessage(wire);
    expect(msg.type).toBe('CON');
    expect(msg.code).toBe(0x01);
    expect(msg.messageId).toBe(0x7d34);
    expect(msg.token.toString('hex')).toBe('713a');
    expect(msg.options).toEqual([{ number: 11, value: Buffer.from('temperature') }]);
    expect(msg.payload.length).toBe(0);
    expect(serializeMessage(msg).equals(wire)).toBe(true);
  });

  it('piggybacked 2.05 with payload "22.3 C"', () => {
    const wire = hex('62 45 7d 34 71 3a ff 32 32 2e 33 20 43');
    const msg = parseMessage(wire);
    expect(msg).toMatchObject({ type: 'ACK', code: 0x45, messageId: 0x7d34 });
    expect(msg.payload.toString()).toBe('22.3 C');
    expect(serializeMessage(msg).equals(wire)).toBe(true);
  });

  it('extended option deltas (13 and 14) and extended lengths', () => {
    const msg: CoapMessage = {
      type: 'NON',
      code: 0x02,
      messageId: 1,
      token: Buffer.alloc(0),
      options: [
        { number: 11, value: Buffer.alloc(20, 0x61) }, // length 20 → nibble 13, ext 7
        { number: 60, value: hex('0100') }, // delta 49 → nibble 13, ext 36
        { number: 2109, value: Buffer.alloc(0) }, // delta 2049 → nibble 14, ext 1780
      ],
      payload: Buffer.alloc(0),
    };
    const wire = serializeMessage(msg);
    expect(wire.toString('hex')).toBe('50020001' + 'bd07' + '61'.repeat(20) + 'd224' + '0100' + 'e006f4');
    expect(plain(parseMessage(wire))).toEqual(msg);
  });

  it('sorts options by number, keeping repeats in order', () => {
    const msg: CoapMessage = {
      type: 'CON', code: 1, messageId: 9, token: hex('01'),
      options: [
        { number: 15, value: Buffer.from('b=2') },
        { number: 11, value: Buffer.from('rd') },
        { number: 15, value: Buffer.from('a=1') },
        { number: 11, value: Buffer.from('x') },
      ],
      payload: Buffer.alloc(0),
    };
    const parsed = parseMessage(serializeMessage(msg));
    expect(parsed.options.map((o) => `${o.number}:${o.value.toString()}`)).toEqual(['11:rd', '11:x', '15:b=2', '15:a=1']);
  });

  it('round-trips an 8-byte token and a long payload', () => {
    const msg: CoapMessage = { type: 'CON', code: 0x03, messageId: 0xffff, token: hex('0102030405060708'), options: [{ number: 12, value: hex('2d16') }], payload: Buffer.alloc(1500, 7) };
    expect(plain(parseMessage(serializeMessage(msg)))).toEqual(msg);
  });
});

describe('codec: malformed input raises CoapFormatError', () => {
  const cases: Array<[string, string, number | undefined]> = [
    ['truncated header', '4001', undefined],
    ['TKL 9', '49010001' + '00'.repeat(9), 1],
    ['reserved delta nibble 15', '40010001f0', 1],
    ['reserved length nibble 15', '400100011f', 1],
    ['payload marker with no payload', '40010001ff', 1],
    ['option running past the end', '40010001b56162', 1],
    ['extended delta byte missing', '40010001d0', 1],
    ['token longer than the datagram', '44010001aabb', 1],
    ['empty message with a token', '41000001aa', 1],
  ];
  for (const [name, wire, messageId] of cases) {
    it(name, () => {
      let caught: unknown;
      try {
        parseMessage(hex(wire));
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(CoapFormatError);
      expect((caught as CoapFormatError).messageId).toBe(messageId);
    });
  }

  it('reports type CON for a malformed CON so the endpoint can RST it', () => {
    try {
      parseMessage(hex('40010042ff'));
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ type: 'CON', messageId: 0x42, reason: 'payload marker followed by no payload' });
    }
  });

  it('version 2 is rejected without header info (silently ignored)', () => {
    try {
      parseMessage(hex('80010001'));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(CoapFormatError);
      expect((err as CoapFormatError).messageId).toBeUndefined();
    }
  });

  it('property: parsing random bytes never throws anything but CoapFormatError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 64 }), fc.boolean(), (bytes, validHeader) => {
        const buf = Buffer.from(bytes);
        if (validHeader && buf.length > 0) buf[0] = 0x40 | (buf[0] & 0x3f);
        try {
          const msg = parseMessage(buf);
          // Anything accepted must re-serialize to the same bytes.
          expect(serializeMessage(msg).equals(buf)).toBe(true);
        } catch (err) {
          if (!(err instanceof CoapFormatError)) throw err;
        }
      }),
      { numRuns: 3000 },
    );
  });
});
