/**
 * An image taken back (its delivery ended, or another image put under its token) stops
 * being served at once, also to a device half-way through pulling it: the endpoint's
 * Block2 cache would otherwise serve its later blocks for up to EXCHANGE_LIFETIME.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { serializeMessage } from '../../../src/coap/codec.js';
import { encodeBlock, getBlockOption } from '../../../src/coap/options.js';
import { CoapCode, CoapOptionNumber, formatCode } from '../../../src/coap/types.js';
import { RawPeer } from '../../helpers/raw-coap.js';
import { startFirmwareHarness, type FirmwareHarness } from './harness.js';

const SZX_1024 = 6;
let messageId = 100;

function blockGet(token: string, num: number): Buffer {
  messageId++;
  return serializeMessage({
    type: 'CON',
    code: CoapCode.GET,
    messageId,
    token: Buffer.from([messageId & 0xff]),
    options: [
      { number: CoapOptionNumber.UriPath, value: Buffer.from('fw') },
      { number: CoapOptionNumber.UriPath, value: Buffer.from(token) },
      { number: CoapOptionNumber.Block2, value: encodeBlock({ num, more: false, szx: SZX_1024 }) },
    ],
    payload: Buffer.alloc(0),
  });
}

describe('a withdrawn image', () => {
  let harness: FirmwareHarness | undefined;
  let peer: RawPeer | undefined;
  afterEach(async () => {
    peer?.close();
    await harness?.close();
    harness = peer = undefined;
  });

  async function pullingTwoBlocks(bytes: Buffer): Promise<number> {
    harness = await startFirmwareHarness();
    peer = await RawPeer.open();
    harness.firmware.host.host('tok-w', bytes, createHash('sha256').update(bytes).digest('hex'));
    const port = harness.coap.address().port;
    for (const num of [0, 1]) {
      const answer = await peer.exchange(blockGet('tok-w', num), port);
      expect(answer && formatCode(answer.code)).toBe('2.05');
      expect(answer && getBlockOption(answer, CoapOptionNumber.Block2)).toEqual({ num, more: true, szx: SZX_1024 });
      expect(answer?.payload.equals(bytes.subarray(num * 1024, num * 1024 + 1024))).toBe(true);
    }
    return port;
  }

  it('answers the next block 4.04 once its delivery withdrew it', async () => {
    const port = await pullingTwoBlocks(Buffer.alloc(4096, 7));
    harness!.firmware.host.withdraw('tok-w');
    const answer = await peer!.exchange(blockGet('tok-w', 2), port);
    expect(answer && formatCode(answer.code)).toBe('4.04');
    expect(answer?.payload.toString()).toBe('no such firmware image (the delivery ended or never existed)');
  });

  it('serves the new image, not cached blocks of the old one, when another is put under the token', async () => {
    const port = await pullingTwoBlocks(Buffer.alloc(4096, 7));
    const replacement = Buffer.alloc(4096, 9);
    harness!.firmware.host.host('tok-w', replacement, createHash('sha256').update(replacement).digest('hex'));
    const answer = await peer!.exchange(blockGet('tok-w', 2), port);
    expect(answer && formatCode(answer.code)).toBe('2.05');
    expect(answer?.payload.equals(replacement.subarray(2048, 3072))).toBe(true);
  });
});
