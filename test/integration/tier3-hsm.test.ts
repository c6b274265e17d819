/**
 * Tier 3 end to end with real PKCS#11 tokens (softhsm2): each device's P-256 unwrapping key is
 * generated inside its own token and never leaves it (ECDH runs in the token); the server's
 * operator signing key lives in another token. A tier-3 device installs an image encrypted for
 * its token's public key and co-signed by the HSM key; an image encrypted for another
 * device's key is refused by the device itself with Update Result 5.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11Session } from '../../src/firmware/hsm/index.js';
import { COSE_ALG, buildEnvelope, encryptImage, sha256Digest, softwareSigner, type CoseAuthenticator } from '../../src/firmware/manifest/index.js';
import { defaultProfile, type SecurityProfile } from '../../src/firmware/profiles/profile.js';
import { SimulatedDevice } from '../../simulators/device/index.js';
import { buildSimImage } from '../../simulators/device/firmware/image-format.js';
import type { DeviceKeySource } from '../../simulators/device/firmware/key-source.js';
import { openPkcs11KeySource } from '../../simulators/device/firmware/key-source-pkcs11.js';
import { CLASS, SOFTHSM_LIB, VENDOR, createSoftHsmToken, createTestPki, type TestPki } from '../unit/firmware/helpers.js';
import { api as apiRequest, getJson, startTestServer, type TestServer } from '../helpers/in-process-server.js';

const available = existsSync(SOFTHSM_LIB);
if (!available && process.env.CI) throw new Error(`softhsm2 is required in CI but ${SOFTHSM_LIB} is missing`);
if (!available) console.warn(`tier-3 HSM integration tests skipped: softhsm2 not installed (${SOFTHSM_LIB} missing)`);

const kid = (s: string) => new TextEncoder().encode(s);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/**
 * Certifies a public key whose private half is in a token: openssl cannot sign a CSR with it,
 * so a throwaway key makes the request and -force_pubkey puts the token's key in the certificate.
 */
function certifyTokenKey(pki: TestPki, name: string, publicKey: KeyObject): { caPem: string; chain: Uint8Array[] } {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: pki.dir, stdio: 'ignore' });
  run(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'opca.key']);
  run(['req', '-x509', '-new', '-key', 'opca.key', '-subj', '/CN=operator-ca', '-days', '3650', '-out', 'opca.pem', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  writeFileSync(join(pki.dir, `${name}.pub.pem`), publicKey.export({ type: 'spki', format: 'pem' }));
  run(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.throwaway.key`]);
  run(['req', '-new', '-key', `${name}.throwaway.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`]);
  run(['x509', '-req', '-in', `${name}.csr`, '-force_pubkey', `${name}.pub.pem`, '-CA', 'opca.pem', '-CAkey', 'opca.key', '-CAcreateserial', '-days', '365', '-extfile', 'leaf.ext', '-out', `${name}.pem`]);
  const leaf = new X509Certificate(readFileSync(join(pki.dir, `${name}.pem`)));
  return { caPem: readFileSync(join(pki.dir, 'opca.pem'), 'utf8'), chain: [new Uint8Array(leaf.raw)] };
}

describe.runIf(available)('tier 3: device keys and the server signing key in softhsm2 tokens', () => {
  let token: ReturnType<typeof createSoftHsmToken>;
  let server: TestServer;
  let pki: TestPki;
  let author: { privateKey: KeyObject; chain: Uint8Array[] };
  let hsm: Pkcs11Session;
  let operatorChain: Uint8Array[];
  let profile: SecurityProfile;
  const keySources: DeviceKeySource[] = [];
  const devices: SimulatedDevice[] = [];

  beforeAll(async () => {
    // One softhsm2 configuration (the module reads it once per process) holding three tokens.
    token = createSoftHsmToken('server-hsm');
    for (const label of ['device-a', 'device-b']) {
      execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', token!.pin, '--so-pin', '654321'], { stdio: 'ignore' });
    }
    hsm = Pkcs11Session.open({ modulePath: SOFTHSM_LIB, tokenLabel: 'server-hsm', pin: token!.pin, keyLabel: 'operator-signing' });
    const operatorPublic = hsm.ensureKeyPair();
    pki = createTestPki();
    author = pki.leaf('author');
    const operator = certifyTokenKey(pki, 'operator', operatorPublic);
    operatorChain = operator.chain;
    // Tier-3 defaults (author + operator signatures, X.509 chains, ECDH-ES only), but over the
    // simulator's plain CoAP: the transport floor is profiles.test.ts's subject, not this one's.
    profile = {
      ...defaultProfile(3, [
        { role: 'author', pem: pki.rootPem },
        { role: 'operator', pem: operator.caPem },
      ]),
      name: 'fleet-t3',
      minTransportSecurity: 'none',
    };
    server = await startTestServer({ store: 'memory' });
    const { name, ...body } = profile;
    expect((await api('PUT', `/api/profiles/${name}`, body)).status).toBe(201);
  });
  afterEach(async () => {
    await Promise.all(devices.splice(0).map((device) => device.stop()));
  });
  afterAll(async () => {
    await server?.close();
    for (const source of keySources.splice(0)) source.close();
    hsm?.close();
    token?.cleanup();
    pki?.cleanup();
  });

  const api = (method: string, path: string, body?: unknown) => apiRequest(server, method, path, body);


  /** A tier-3 device paired on the server, its unwrapping key created in its own token. */
  async function tier3Device(endpointName: string, tokenLabel: string, keyId: string): Promise<{ sim: SimulatedDevice; keys: DeviceKeySource; log: string[] }> {
    // The device's own log says why it refused a package (the server only sees the Update Result).
    const log: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void log.push(JSON.parse(line).msg as string) });
    const keys = openPkcs11KeySource({ modulePath: SOFTHSM_LIB, tokenLabel, pin: token!.pin, keyLabel: 'firmware-kek' }, { kid: kid(keyId) });
    keySources.push(keys);
    expect((await api('PUT', `/api/clients/${endpointName}/profile`, { profile: 'fleet-t3', vendorId: hex(VENDOR), classId: hex(CLASS), encryptionKeyId: keyId })).status).toBe(200);
    const sim = new SimulatedDevice({
      serverUri: server.coapUri,
      endpointName,
      lifetimeSec: 300,
      retryDelayMs: 0,
      rebootDelayMs: 20,
      firmwareVersion: '1.0.0',
      logger,
      firmware: { suit: { profile, vendorId: VENDOR, classId: CLASS, keySource: keys }, behaviour: { installMs: 20 } },
    });
    devices.push(sim);
    await sim.register();
    return { sim, keys, log };
  }

  const authorSigner = (): CoseAuthenticator => softwareSigner(author.privateKey, COSE_ALG.ES256, { kid: kid('author'), x5chain: author.chain });
  const operatorSigner = (): CoseAuthenticator => hsm.signer({ kid: kid('operator'), x5chain: operatorChain });

  async function sign(o: { sequence: number; publicKey: KeyObject; keyId: string; signers?: CoseAuthenticator[] }): Promise<{ envelope: Uint8Array; payload: Uint8Array; image: Buffer }> {
    const image = buildSimImage({ name: 'app', version: `3.${o.sequence}`, payload: randomBytes(2500) });
    const encrypted = await encryptImage(new Uint8Array(image), { kind: 'ecdh-es', publicKey: o.publicKey, kid: kid(o.keyId) }, { compress: true });
    const envelope = await buildEnvelope(
      {
        sequenceNumber: o.sequence,
        vendorId: VENDOR,
        classId: CLASS,
        imageDigest: sha256Digest(new Uint8Array(image)),
        imageSize: image.length,
        encryptionInfo: encrypted.encryptionInfo,
        compression: 'zlib',
      },
      o.signers ?? [authorSigner(), operatorSigner()],
    );
    return { envelope, payload: encrypted.ciphertext, image };
  }

  async function uploadSuit(signed: { envelope: Uint8Array; payload: Uint8Array }, version: string): Promise<{ status: number; body: any }> {
    const response = await fetch(`${server.baseUrl}/api/firmware/suit?name=app&version=${version}`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'suit-envelope': Buffer.from(signed.envelope).toString('base64') },
      body: Buffer.from(signed.payload),
    });
    return { status: response.status, body: await response.json() };
  }

  async function deliver(endpoint: string, firmwareId: string): Promise<{ state: string; result: number }> {
    const started = await api('POST', `/api/clients/${endpoint}/firmware`, { firmwareId, method: 'push' });
    expect(started.status).toBe(202);
    const deadline = Date.now() + 8000;
    for (;;) {
      const { body } = await getJson(`${server.baseUrl}/api/clients/${endpoint}/firmware`);
      if (body.state === 'succeeded' || body.state === 'failed') return body;
      if (Date.now() > deadline) throw new Error(`delivery to ${endpoint} still ${body.state}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  it('keeps every private key inside its token', async () => {
    const { keys } = await tier3Device('t3-keys', 'device-a', 'dev-a');
    expect(keys.storage).toBe('pkcs11');
    expect(keys.privateKeyIsProtected()).toBe(true);
    expect(hsm.privateKeyIsProtected()).toBe(true);
  });

  it('installs an image encrypted for the token key and co-signed by the HSM key; refuses one encrypted for another device', async () => {
    const a = await tier3Device('t3-a', 'device-a', 'dev-a');
    const b = await tier3Device('t3-b', 'device-b', 'dev-b');
    expect(hex(new Uint8Array(a.keys.publicKey!.export({ format: 'der', type: 'spki' })))).not.toBe(hex(new Uint8Array(b.keys.publicKey!.export({ format: 'der', type: 'spki' }))));

    // Encrypted for A's token key (the public key exported from the token), signed by author + HSM operator.
    const forA = await sign({ sequence: 3, publicKey: a.keys.publicKey!, keyId: 'dev-a' });
    const uploaded = await uploadSuit(forA, '3.3');
    expect(uploaded.status).toBe(201);
    const done = await deliver('t3-a', uploaded.body.id);
    expect([done.state, done.result]).toEqual(['succeeded', 1]);
    expect(a.sim.firmware.running.version).toBe('3.3');
    expect(a.sim.firmware.snapshot().slots[1]).toMatchObject({ version: '3.3', sequence: 3, size: forA.image.length });

    // Encrypted for B's token key but labelled with A's key id: the server cannot tell, it
    // delivers; A's token derives a different secret, the key unwrap fails, Update Result 5.
    const forB = await sign({ sequence: 4, publicKey: b.keys.publicKey!, keyId: 'dev-a' });
    const misdirected = await uploadSuit(forB, '3.4');
    expect(misdirected.status).toBe(201);
    const refused = await deliver('t3-a', misdirected.body.id);
    expect([refused.state, refused.result]).toEqual(['failed', 5]);
    expect(a.log).toContain('download rejected: decrypt-failed: content key could not be unwrapped: payload encrypted for another key');
    expect(a.sim.firmware.running.version).toBe('3.3');

    // The same image honestly labelled for B installs on B, whose token holds the matching key.
    const forBLabelled = await sign({ sequence: 6, publicKey: b.keys.publicKey!, keyId: 'dev-b' });
    const toB = await uploadSuit(forBLabelled, '3.6');
    expect(toB.status).toBe(201);
    const refusedForA = await api('POST', '/api/clients/t3-a/firmware', { firmwareId: toB.body.id, method: 'push' });
    expect([refusedForA.status, refusedForA.body.code]).toEqual([422, 'decrypt-failed']);
    const doneB = await deliver('t3-b', toB.body.id);
    expect([doneB.state, doneB.result]).toEqual(['succeeded', 1]);
    expect(b.sim.firmware.running.version).toBe('3.6');
  });

  it('refuses a tier-3 image without the HSM operator signature', async () => {
    const a = await tier3Device('t3-c', 'device-a', 'dev-a');
    const authorOnly = await sign({ sequence: 5, publicKey: a.keys.publicKey!, keyId: 'dev-a', signers: [authorSigner()] });
    const uploaded = await uploadSuit(authorOnly, '3.5');
    expect(uploaded.status).toBe(201);
    const refused = await api('POST', '/api/clients/t3-c/firmware', { firmwareId: uploaded.body.id, method: 'push' });
    expect([refused.status, refused.body.code]).toEqual([422, 'missing-signer']);
    expect(refused.body.detail).toContain("role 'operator'");
    expect(a.sim.firmware.running.version).toBe('1.0.0');
  });
});
