import { execFileSync } from 'node:child_process';
import { type KeyObject, createHash, generateKeyPairSync, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pkcs11Session } from '../../src/firmware/hsm/index.js';
import { COSE_ALG, buildEnvelope, sha256Digest, softwareSigner, verifyEnvelope } from '../../src/firmware/manifest/index.js';

const SOFTHSM = '/usr/lib/softhsm/libsofthsm2.so';
const VENDOR = new Uint8Array(16).fill(1);
const CLASS = new Uint8Array(16).fill(2);

/** Runs `fn` repeatedly for about `ms` and returns operations per second. */
async function rate(ms: number, fn: () => unknown | Promise<unknown>): Promise<number> {
  await fn();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    await fn();
    n++;
  }
  return Math.round((n * 1000) / (performance.now() - start));
}

async function verifyCase(name: string, pair: { privateKey: KeyObject; publicKey: KeyObject }, alg: number, nodeAlg: string | null, ms: number) {
  const env = await buildEnvelope(
    { sequenceNumber: 1, vendorId: VENDOR, classId: CLASS, imageDigest: sha256Digest(new Uint8Array(1024)), imageSize: 1024 },
    [softwareSigner(pair.privateKey, alg, { kid: new TextEncoder().encode('k') })],
  );
  const keys = [{ kid: 'k', role: 'author', publicKey: pair.publicKey }];
  const manifestRate = await rate(ms, () => verifyEnvelope(env, { keys }));
  const msg = new Uint8Array(120);
  const opts = alg === COSE_ALG.PS256 ? { key: pair.privateKey, padding: 6, saltLength: 32 } : pair.privateKey;
  const sig = nodeSign(nodeAlg, msg, opts);
  const vopts = alg === COSE_ALG.PS256 ? { key: pair.publicKey, padding: 6, saltLength: 32 } : pair.publicKey;
  const rawRate = await rate(ms, () => nodeVerify(nodeAlg, msg, vopts, sig));
  return { [`${name}.manifestVerifyPerSec`]: manifestRate, [`${name}.rawVerifyPerSec`]: rawRate, [`${name}.ratio`]: Math.round((manifestRate / rawRate) * 100) / 100 };
}

async function hsmSignRate(ms: number): Promise<Record<string, number>> {
  if (!existsSync(SOFTHSM)) return {};
  const dir = mkdtempSync(join(tmpdir(), 'bench-hsm-'));
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${dir}\nobjectstore.backend = file\n`);
  const previous = process.env.SOFTHSM2_CONF;
  process.env.SOFTHSM2_CONF = conf;
  try {
    execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'bench', '--pin', '1234', '--so-pin', '4321'], { stdio: 'ignore' });
    const session = Pkcs11Session.open({ modulePath: SOFTHSM, tokenLabel: 'bench', pin: '1234', keyLabel: 'bench' });
    try {
      session.ensureKeyPair();
      const digest = new Uint8Array(createHash('sha256').update('x').digest());
      return { 'hsm.es256SignPerSec': await rate(ms, () => session.signDigest(digest)) };
    } finally {
      session.close();
    }
  } finally {
    if (previous === undefined) delete process.env.SOFTHSM2_CONF;
    else process.env.SOFTHSM2_CONF = previous;
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Manifest verification rates beside raw node:crypto verification of the same key types (the
 * ratio shows our CBOR/COSE overhead), and ES256 signing through softhsm2. About 10 s in total.
 */
export async function runManifestBench(msPerCase = 1200): Promise<Record<string, number>> {
  const results: Record<string, number> = {};
  Object.assign(results, await verifyCase('es256', generateKeyPairSync('ec', { namedCurve: 'P-256' }), COSE_ALG.ES256, 'sha256', msPerCase));
  Object.assign(results, await verifyCase('ed25519', generateKeyPairSync('ed25519'), COSE_ALG.EdDSA, null, msPerCase));
  Object.assign(results, await verifyCase('rsa3072', generateKeyPairSync('rsa', { modulusLength: 3072 }), COSE_ALG.PS256, 'sha256', msPerCase));
  Object.assign(results, await hsmSignRate(msPerCase));
  return results;
}
