import { describe, expect, it } from 'vitest';
import { parseMessage, serializeLocationResponse, serializeMessage } from '../../../src/coap/codec.js';
import { CoapCode, CoapOptionNumber } from '../../../src/coap/types.js';

const general = (segments: string[], token: Buffer, type: 'ACK' | 'NON' = 'ACK'): Buffer =>
  serializeMessage({
    type,
    code: CoapCode.Created,
    messageId: 0x1234,
    token,
    options: segments.map((segment) => ({ number: CoapOptionNumber.LocationPath, value: Buffer.from(segment, 'utf8') })),
    payload: Buffer.alloc(0),
  });

describe('serializeLocationResponse', () => {
  it('writes the bytes of a 2.01 with Location-Path rd/{id} exactly', () => {
    const bytes = serializeLocationResponse('ACK', CoapCode.Created, 0x1234, Buffer.from([0xaa, 0xbb]), ['rd', '0-AbCdEf_1']);
    expect(bytes.toString('hex')).toBe(
      '62' + '41' + '1234' + 'aabb' + '82' + Buffer.from('rd').toString('hex') + '0a' + Buffer.from('0-AbCdEf_1').toString('hex'),
    );
  });

  it('matches the general serializer for long, non-ASCII, empty and many segments', () => {
    const cases: string[][] = [
      ['rd', 'x'.repeat(12)],
      ['rd', 'y'.repeat(13)],
      ['rd', 'z'.repeat(268), 'w'.repeat(269)],
      ['räd', 'ид-😀'],
      ['rd', 'ид-1'],
      [''],
      ['a', 'b', 'c', 'd', 'e', 'f'],
      [],
    ];
    for (const segments of cases) {
      for (const token of [Buffer.alloc(0), Buffer.from('0102030405060708', 'hex')]) {
        expect(serializeLocationResponse('ACK', CoapCode.Created, 0x1234, token, segments)).toEqual(general(segments, token));
        expect(serializeLocationResponse('NON', CoapCode.Created, 0x1234, token, segments)).toEqual(general(segments, token, 'NON'));
      }
    }
  });

  it('parses back to the same segments', () => {
    const parsed = parseMessage(serializeLocationResponse('ACK', CoapCode.Created, 7, Buffer.from([1]), ['rd', '3f-Q9_zk-2Lm']));
    expect(parsed.options.map((o) => [o.number, o.value.toString('utf8')])).toEqual([
      [CoapOptionNumber.LocationPath, 'rd'],
      [CoapOptionNumber.LocationPath, '3f-Q9_zk-2Lm'],
    ]);
    expect(parsed.payload.length).toBe(0);
  });
});
