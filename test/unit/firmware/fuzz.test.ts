import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COSE_ALG, ManifestError, buildEnvelope, decodeEnvelope, decryptImage, encryptImage, sha256Digest, softwareSigner, verifyEnvelope } from '../../../src/firmware/manifest/index.js';
import { CLASS, VENDOR, ec, readHexFixture } from './helpers.js';

const author = ec();
const keys = [{ kid: 'a', role: 'author', publicKey: author.publicKey }];
const seeds = [readHexFixture('draft-example-0.hex'), readHexFixture('draft-example-1.hex'), readHexFixture('draft-example-2.hex')];

/** Any outcome is fine except an exception that is not a ManifestError (a crash). */
async function onlyManifestErrors(bytes: Uint8Array): Promise<void> {
  try {
    decodeEnvelope(bytes);
    await verifyEnvelope(bytes, { keys });
  } catch (err) {
    if (!(err instanceof ManifestError)) throw err;
  }
}

describe('decoder robustness', () => {
  it('random bytes only ever produce ManifestError', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), onlyManifestErrors), { numRuns: 400 });
  });

  it('mutated real envelopes (bit flips, truncation, splices) only ever produce ManifestError', async () => {
    const own = await buildEnvelope(
      { sequenceNumber: 3, vendorId: VENDOR, classId: CLASS, imageDigest: sha256Digest(new Uint8Array(8)), imageSize: 8, uri: 'coap://x/y', text: { name: 'n', version: 'v' } },
      [softwareSigner(author.privateKey, COSE_ALG.ES256, { kid: new TextEncoder().encode('a') })],
    );
    const corpus = [...seeds, own];
    const mutation = fc.record({
      seed: fc.nat({ max: corpus.length - 1 }),
      flips: fc.array(fc.record({ at: fc.nat(), bit: fc.nat({ max: 7 }), set: fc.option(fc.nat({ max: 255 })) }), { minLength: 1, maxLength: 6 }),
      cut: fc.option(fc.nat()),
    });
    await fc.assert(
      fc.asyncProperty(mutation, async ({ seed, flips, cut }) => {
        let bytes = corpus[seed].slice();
        for (const f of flips) {
          const i = f.at % bytes.length;
          bytes[i] = f.set ?? bytes[i] ^ (1 << f.bit);
        }
        if (cut !== null) bytes = bytes.slice(0, cut % bytes.length);
        await onlyManifestErrors(bytes);
      }),
      { numRuns: 600 },
    );
  });

  it('hostile CBOR shapes are refused quickly: huge lengths, deep nesting, duplicate keys, indefinite items', async () => {
    const hostile = [
      '9bffffffffffffffff', // array claiming 2^64 items
      '5affffffff00', // bstr claiming 4 GiB
      '81'.repeat(5000) + '00', // deep nesting
      'd86ba202400240', // duplicate map key
      'd86b9f02ff', // indefinite array
      'd86ba20240035f4100ff', // indefinite bstr
      'd86bf97e00', // float
    ];
    const started = Date.now();
    for (const h of hostile) {
      const bytes = new Uint8Array(Buffer.from(h, 'hex'));
      await expect(verifyEnvelope(bytes, { keys })).rejects.toBeInstanceOf(ManifestError);
    }
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('mutated encryption info only ever produces ManifestError when decrypting', async () => {
    const kek = new Uint8Array(16).fill(7);
    const enc = await encryptImage(new Uint8Array(64), { kind: 'aes-kw', kek });
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.nat({ max: 255 }), async (at, value) => {
        const info = enc.encryptionInfo.slice();
        info[at % info.length] = value;
        try {
          await decryptImage(enc.ciphertext, info, { kind: 'aes-kw', kek });
        } catch (err) {
          if (!(err instanceof ManifestError)) throw err;
        }
      }),
      { numRuns: 300 },
    );
  });
});
