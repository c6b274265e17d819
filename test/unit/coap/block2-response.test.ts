import { describe, it, expect } from 'vitest';
import { parseMessage, serializeMessage } from '../../../src/coap/codec.js';
import { encodeBlock, encodeUint } from '../../../src/coap/options.js';
import { ACK_TYPE, NON_TYPE, block2Prefix, serializeBlock2 } from '../../../src/coap/block2-response.js';
import { CoapOptionNumber, type CoapOption } from '../../../src/coap/types.js';

const etag = Buffer.from('0011223344556677', 'hex');

/** What the general path (option objects, sorted and encoded by the codec) sends for the same block. */
function general(type: 'ACK' | 'NON', options: CoapOption[], num: number, more: boolean, szx: number, token: Buffer, chunk: Buffer): Buffer {
  return serializeMessage({ type, code: 0x45, messageId: 0xbeef, token, options: [...options, { number: CoapOptionNumber.Block2, value: encodeBlock({ num, more, szx }) }], payload: chunk });
}

describe('serializeBlock2', () => {
  const cases: Array<{ name: string; options: CoapOption[] }> = [
    { name: 'Content-Format and ETag', options: [{ number: CoapOptionNumber.ContentFormat, value: encodeUint(42) }, { number: CoapOptionNumber.ETag, value: etag }] },
    { name: 'ETag only (Block2 delta 19, extended)', options: [{ number: CoapOptionNumber.ETag, value: etag }] },
    { name: 'no options (Block2 delta 23)', options: [] },
    { name: 'Max-Age after Content-Format (delta 9)', options: [{ number: CoapOptionNumber.MaxAge, value: encodeUint(60) }, { number: CoapOptionNumber.ContentFormat, value: encodeUint(0) }] },
  ];
  for (const { name, options } of cases) {
    it(`equals the codec's bytes: ${name}`, () => {
      const prefix = block2Prefix(options)!;
      const chunk = Buffer.from([1, 2, 3, 4, 5]);
      for (const token of [Buffer.alloc(0), Buffer.from([9, 8, 7, 6])]) {
        for (const [num, more, szx] of [[1, true, 6], [15, false, 6], [16, true, 6], [4095, true, 0], [4096, false, 2], [0xfffff, true, 6]] as const) {
          expect(serializeBlock2(ACK_TYPE, 0x45, 0xbeef, token, prefix, num, more, szx, chunk)).toEqual(general('ACK', options, num, more, szx, token, chunk));
          expect(serializeBlock2(NON_TYPE, 0x45, 0xbeef, token, prefix, num, more, szx, chunk)).toEqual(general('NON', options, num, more, szx, token, chunk));
        }
      }
    });
  }

  it('parses back to the block asked for', () => {
    const prefix = block2Prefix([{ number: CoapOptionNumber.ETag, value: etag }])!;
    const msg = parseMessage(serializeBlock2(ACK_TYPE, 0x45, 7, Buffer.from([1]), prefix, 300, true, 6, Buffer.alloc(1024, 3)));
    expect(msg.type).toBe('ACK');
    expect(msg.messageId).toBe(7);
    expect(msg.options.map((o) => o.number)).toEqual([CoapOptionNumber.ETag, CoapOptionNumber.Block2]);
    expect(msg.options[1].value).toEqual(encodeBlock({ num: 300, more: true, szx: 6 }));
    expect(msg.payload).toEqual(Buffer.alloc(1024, 3));
  });

  it('refuses a body with an option that sorts after Block2', () => {
    expect(block2Prefix([{ number: CoapOptionNumber.ETag, value: etag }, { number: CoapOptionNumber.Size2, value: encodeUint(9) }])).toBeUndefined();
  });
});
