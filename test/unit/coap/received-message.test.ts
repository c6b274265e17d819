import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { parseMessage, serializeMessage } from '../../../src/coap/codec.js';
import {
  firstUnknownCriticalOption,
  getOption,
  getOptions,
  getUintOption,
  hasOption,
  uriPath,
  uriQuery,
} from '../../../src/coap/options.js';
import { CoapOptionNumber, type CoapMessage, type CoapOption } from '../../../src/coap/types.js';

/** The same message as a plain object, so the option readers take their general path. */
const plain = (m: CoapMessage): CoapMessage => ({ type: m.type, code: m.code, messageId: m.messageId, token: m.token, options: [...m.options], payload: m.payload });

describe('ReceivedMessage: options read from the datagram', () => {
  const wire = serializeMessage({
    type: 'CON',
    code: 0x02,
    messageId: 0x1234,
    token: Buffer.from('0a0b', 'hex'),
    options: [
      { number: CoapOptionNumber.UriPath, value: Buffer.from('rd') },
      { number: CoapOptionNumber.ContentFormat, value: Buffer.from([0x00, 0x28]) },
      { number: CoapOptionNumber.UriQuery, value: Buffer.from('ep=grüße-01') },
      { number: CoapOptionNumber.UriQuery, value: Buffer.from('lt=300') },
      { number: CoapOptionNumber.Block1, value: Buffer.from([0x16]) },
    ],
    payload: Buffer.from('</1/0>'),
  });

  it('answers each reader with the exact values on the wire', () => {
    const msg = parseMessage(wire);
    expect(uriPath(msg)).toEqual(['rd']);
    expect(uriQuery(msg)).toEqual(['ep=grüße-01', 'lt=300']);
    expect(getUintOption(msg, CoapOptionNumber.ContentFormat)).toBe(40);
    expect(getUintOption(msg, CoapOptionNumber.Block1)).toBe(0x16);
    expect(getUintOption(msg, CoapOptionNumber.Observe)).toBeUndefined();
    expect(getOption(msg, CoapOptionNumber.UriQuery)?.toString()).toBe('ep=grüße-01');
    expect(getOptions(msg, CoapOptionNumber.UriQuery).map(String)).toEqual(['ep=grüße-01', 'lt=300']);
    expect(hasOption(msg, CoapOptionNumber.Block1)).toBe(true);
    expect(hasOption(msg, CoapOptionNumber.Block2)).toBe(false);
    expect(msg.payload.toString()).toBe('</1/0>');
  });

  it('builds the option list once, on first use, in wire order', () => {
    const msg = parseMessage(wire);
    const first = msg.options;
    expect(first.map((o) => o.number)).toEqual([11, 12, 15, 15, 27]);
    expect(msg.options).toBe(first);
  });

  it('finds an unknown critical option without building the list', () => {
    const msg = parseMessage(
      serializeMessage({ type: 'CON', code: 1, messageId: 1, token: Buffer.alloc(0), options: [{ number: 11, value: Buffer.from('a') }, { number: 2109, value: Buffer.alloc(0) }, { number: 2111, value: Buffer.alloc(0) }], payload: Buffer.alloc(0) }),
    );
    expect(firstUnknownCriticalOption(msg)).toBe(2109);
    expect(firstUnknownCriticalOption(parseMessage(wire))).toBeUndefined();
  });

  it('property: every reader agrees with the same message held as a plain object', () => {
    const option = fc.record({
      number: fc.constantFrom(1, 4, 6, 8, 11, 12, 14, 15, 17, 23, 27, 60, 2109, 2110),
      value: fc.uint8Array({ maxLength: 20 }).map((bytes) => Buffer.from(bytes)),
    });
    fc.assert(
      fc.property(fc.array(option, { maxLength: 8 }), (options: CoapOption[]) => {
        const parsed = parseMessage(serializeMessage({ type: 'NON', code: 1, messageId: 7, token: Buffer.alloc(0), options, payload: Buffer.alloc(0) }));
        const reference = plain(parsed);
        for (const number of [1, 4, 6, 11, 12, 15, 23, 60, 2109, 2110, 3]) {
          expect(getOption(parsed, number)).toEqual(getOption(reference, number));
          expect(getOptions(parsed, number)).toEqual(getOptions(reference, number));
          expect(hasOption(parsed, number)).toBe(hasOption(reference, number));
          if ((getOption(reference, number)?.length ?? 0) <= 4) expect(getUintOption(parsed, number)).toBe(getUintOption(reference, number));
        }
        expect(uriPath(parsed)).toEqual(uriPath(reference));
        expect(uriQuery(parsed)).toEqual(uriQuery(reference));
        expect(firstUnknownCriticalOption(parsed)).toBe(firstUnknownCriticalOption(reference));
      }),
      { numRuns: 500 },
    );
  });
});
