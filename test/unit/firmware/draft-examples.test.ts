import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  decodeCbor,
  decodeEnvelope,
  encodeCbor,
  loadPublicKey,
  toHex,
  verifyEnvelope,
} from '../../../src/firmware/manifest/index.js';
import { CLASS, FIXTURES, VENDOR, ec, readHexFixture } from './helpers.js';

const draftKey = loadPublicKey(readFileSync(join(FIXTURES, 'draft-example-key.pub.pem'), 'utf8'));
const trust = { keys: [{ kid: 'draft-example', role: 'author', publicKey: draftKey }] };

describe('draft-ietf-suit-manifest appendix examples', () => {
  it('Example 0 (secure boot) decodes and its ES256 signature verifies with the draft key', async () => {
    const m = await verifyEnvelope(readHexFixture('draft-example-0.hex'), trust);
    expect(m.sequenceNumber).toBe(0);
    expect(toHex(m.vendorId!)).toBe(toHex(VENDOR));
    expect(toHex(m.classId!)).toBe(toHex(CLASS));
    expect(toHex(m.imageDigest!.bytes)).toBe('00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210');
    expect(m.imageDigest!.alg).toBe(-16);
    expect(m.imageSize).toBe(34768);
    expect(m.components.map((c) => c.map(toHex))).toEqual([['00']]);
    expect(m.checksVendor && m.checksClass).toBe(true);
    expect(toHex(m.manifestDigest)).toBe('6658ea560262696dd1f13b782239a064da7c6c5cbaf52fded428a6fc83c7e5af');
    expect(m.envelopeSize).toBe(237);
    expect(m.signers).toEqual([{ alg: 'ES256', kind: 'signature', role: 'author', id: 'draft-example', keyBits: 256, viaCertificate: false }]);
  });

  it('Example 1 (download and install) carries the URI in its install sequence', async () => {
    const m = await verifyEnvelope(readHexFixture('draft-example-1.hex'), trust);
    expect(m.sequenceNumber).toBe(1);
    expect(m.uri).toBe('http://example.com/file.bin');
    expect(m.sequences).toEqual([7, 20]);
  });

  it('Example 2 verifies its severed install and text members against their digests', async () => {
    const m = await verifyEnvelope(readHexFixture('draft-example-2.hex'), trust);
    expect(m.sequenceNumber).toBe(2);
    expect(m.uri).toBe('http://example.com/very/long/path/to/file/file.bin');
    expect(m.text?.vendorDomain).toBe('arm.com');
    expect(m.text?.description?.startsWith('## Example 2: Simultaneous Download')).toBe(true);
  });

  it('a tampered severed text member is refused with digest-mismatch', async () => {
    const bytes = readHexFixture('draft-example-2.hex');
    const idx = Buffer.from(bytes).indexOf(Buffer.from('arm.com'));
    bytes[idx] ^= 0x01;
    await expect(verifyEnvelope(bytes, trust)).rejects.toMatchObject({ code: 'digest-mismatch' });
  });

  it('the examples are refused under a key that did not sign them', async () => {
    const other = ec().publicKey;
    await expect(verifyEnvelope(readHexFixture('draft-example-0.hex'), { keys: [{ kid: 'x', role: 'author', publicKey: other }] })).rejects.toMatchObject({
      code: 'unknown-key',
    });
  });

  it('our encoder is deterministic: re-encoding the decoded examples reproduces their bytes', () => {
    for (const name of ['draft-example-0.hex', 'draft-example-1.hex', 'draft-example-2.hex']) {
      const bytes = readHexFixture(name);
      expect(toHex(encodeCbor(decodeCbor(bytes)))).toBe(toHex(bytes));
      const env = decodeEnvelope(bytes);
      expect(toHex(encodeCbor(decodeCbor(env.manifestBytes)))).toBe(toHex(env.manifestBytes));
    }
  });
});
