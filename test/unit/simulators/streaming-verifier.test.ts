import { describe, expect, it } from 'vitest';
import { StreamingVerifier, buildSimImage, verifyImage } from '../../../simulators/device/firmware/image-format.js';

/**
 * The simulated device checks an image as it streams in; it gathers blocks before hashing
 * them, so the verdict must not depend on how the image was cut into chunks.
 */
const payload = Buffer.from(Array.from({ length: 20_000 }, (_, i) => (i * 31 + (i >> 9)) & 0xff));
const image = buildSimImage({ name: 'sv', version: '1.0', payload });

function streamed(bytes: Buffer, sizes: number[]): ReturnType<StreamingVerifier['verdict']> {
  const verifier = new StreamingVerifier();
  let offset = 0;
  for (let i = 0; offset < bytes.length; i++) {
    const size = sizes[i % sizes.length];
    verifier.update(bytes.subarray(offset, offset + size));
    offset += size;
  }
  return verifier.verdict();
}

describe('StreamingVerifier', () => {
  it('accepts the image whatever the chunk sizes (smaller, equal to and larger than what it gathers)', () => {
    for (const sizes of [[1024], [16], [1000, 3, 2049], [3072], [3073], [5000, 1], [image.length]]) {
      const verdict = streamed(image, sizes);
      expect(verdict.ok, `chunks of ${sizes.join(',')}`).toBe(true);
      if (verdict.ok) expect(verdict.header.version).toBe('1.0');
    }
  });

  it('rejects one changed byte anywhere in the payload, in a chunk still gathered or already hashed', () => {
    for (const at of [image.length - payload.length, image.length - payload.length + 3071, image.length - 5000, image.length - 1]) {
      const bad = Buffer.from(image);
      bad[at] ^= 0x01;
      expect(streamed(bad, [1024])).toEqual({ ok: false, result: 5, reason: 'payload digest does not match the header' });
    }
  });

  it('rejects a payload one byte short, and agrees with verifyImage on the whole image', () => {
    expect(streamed(image.subarray(0, image.length - 1), [1024])).toEqual({ ok: false, result: 5, reason: `payload is ${payload.length - 1} bytes, header says ${payload.length}` });
    expect(verifyImage(image).ok).toBe(true);
  });
});
