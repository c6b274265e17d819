/**
 * Signed manifests over the whole stack: envelopes with payloads uploaded over HTTP, the
 * server's verifier refusing (422 + reason) every image the paired device's profile would
 * reject, and the simulated device refusing the same attacks on its own (Update Result 5
 * or 6) when an unpaired server sends them anyway. A good image installs, moves the
 * installed sequence number up, and cannot be replayed.
 */
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  COSE_ALG,
  buildEnvelope,
  decodeEnvelope,
  encryptImage,
  sha256Digest,
  softwareSigner,
  type CoseAuthenticator,
} from '../../src/firmware/manifest/index.js';
import { defaultProfile, type SecurityProfile } from '../../src/firmware/profiles/profile.js';
import { integratePayload } from '../../src/firmware/profiles/pairing-package.js';
import { SimulatedDevice } from '../../simulators/device/index.js';
import { buildSimImage } from '../../simulators/device/firmware/image-format.js';
import type { DeviceSuitConfig } from '../../simulators/device/firmware/suit-verifier.js';
import { CLASS, OTHER_ID, VENDOR, createTestPki, type TestPki } from '../unit/firmware/helpers.js';
import { api as apiRequest, getJson, startTestServer, uploadFirmware, type TestServer } from '../helpers/in-process-server.js';
import { defaultServerConfig } from '../../src/config.js';
import { startServer } from '../../src/server.js';
import { systemClock, type Clock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/logger.js';

const kid = (s: string) => new TextEncoder().encode(s);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('signed manifests: the server verifier and the simulated device refuse the same attacks', () => {
  let server: TestServer;
  let pki: TestPki;
  let author: { privateKey: KeyObject; chain: Uint8Array[] };
  let rogue: { privateKey: KeyObject; chain: Uint8Array[] };
  const deviceKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const otherDeviceKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const devices: SimulatedDevice[] = [];
  let profile: SecurityProfile;
  let cosigned: SecurityProfile;

  beforeAll(async () => {
    pki = createTestPki();
    author = pki.leaf('author');
    rogue = pki.leaf('rogue-author', { rogue: true });
    server = await startTestServer({ store: 'memory' });
    // Tier 2 as the defaults say, but reachable by the simulator's plain CoAP (the transport
    // floor is tested in profiles.test.ts); the root CA vouches for authors and operators.
    profile = { ...defaultProfile(2, [{ role: 'author', pem: pki.rootPem }]), name: 'fleet-t2', minTransportSecurity: 'none' };
    cosigned = {
      ...profile,
      name: 'fleet-t2-cosigned',
      requiredSigners: [{ role: 'author' }, { role: 'operator' }],
      // Operators' keys come from their own CA (a CA vouches for one role).
      trustAnchors: [...profile.trustAnchors, { role: 'operator', pem: pki.rogueRootPem }],
    };
    for (const p of [profile, cosigned]) {
      const { name, ...body } = p;
      expect((await api('PUT', `/api/profiles/${name}`, body)).status).toBe(201);
    }
    expect((await api('PUT', '/api/device-types/meter', { profile: 'fleet-t2', vendorId: hex(VENDOR), classId: hex(CLASS) })).status).toBe(200);
  });
  afterEach(async () => {
    await Promise.all(devices.splice(0).map((device) => device.stop()));
  });
  afterAll(async () => {
    await server?.close();
    pki?.cleanup();
  });

  const api = (method: string, path: string, body?: unknown) => apiRequest(server, method, path, body);


  const suitConfig = (p: SecurityProfile, overrides: Partial<DeviceSuitConfig> = {}): DeviceSuitConfig => ({
    profile: p,
    vendorId: VENDOR,
    classId: CLASS,
    decryptionKey: { kind: 'ecdh-es', privateKey: deviceKey.privateKey, kid: kid('dev-key') },
    ...overrides,
  });

  async function device(endpointName: string, suit: DeviceSuitConfig): Promise<SimulatedDevice> {
    const sim = new SimulatedDevice({ serverUri: server.coapUri, endpointName, lifetimeSec: 300, retryDelayMs: 0, rebootDelayMs: 20, firmwareVersion: '1.0.0', firmware: { suit, behaviour: { installMs: 20 } } });
    devices.push(sim);
    await sim.register();
    return sim;
  }

  /** A paired device (server checks) and a twin the server knows nothing about (only the device checks). */
  async function pair(name: string, p: SecurityProfile, suit = suitConfig(p)): Promise<{ paired: SimulatedDevice; raw: SimulatedDevice }> {
    const body = p.name === 'fleet-t2' ? { deviceType: 'meter', encryptionKeyId: 'dev-key' } : { profile: p.name, vendorId: hex(VENDOR), classId: hex(CLASS), encryptionKeyId: 'dev-key' };
    expect((await api('PUT', `/api/clients/${name}/profile`, body)).status).toBe(200);
    return { paired: await device(name, suit), raw: await device(`${name}-raw`, suit) };
  }

  interface SignOptions {
    sequence: number;
    version?: string;
    signers?: CoseAuthenticator[];
    classId?: Uint8Array;
    encryptFor?: { publicKey: KeyObject; kid: string } | null;
    compress?: boolean;
  }

  async function sign(o: SignOptions): Promise<{ envelope: Uint8Array; payload: Uint8Array; image: Buffer }> {
    const image = buildSimImage({ name: 'app', version: o.version ?? `2.${o.sequence}`, payload: randomBytes(3000) });
    const target = o.encryptFor === undefined ? { publicKey: deviceKey.publicKey, kid: 'dev-key' } : o.encryptFor;
    let payload: Uint8Array = new Uint8Array(image);
    let encryptionInfo: Uint8Array | undefined;
    if (target) {
      const encrypted = await encryptImage(new Uint8Array(image), { kind: 'ecdh-es', publicKey: target.publicKey, kid: kid(target.kid) }, { compress: o.compress });
      payload = encrypted.ciphertext;
      encryptionInfo = encrypted.encryptionInfo;
    }
    const signers = o.signers ?? [softwareSigner(author.privateKey, COSE_ALG.ES256, { kid: kid('author'), x5chain: author.chain })];
    const envelope = await buildEnvelope(
      {
        sequenceNumber: o.sequence,
        vendorId: VENDOR,
        classId: o.classId ?? CLASS,
        imageDigest: sha256Digest(new Uint8Array(image)),
        imageSize: image.length,
        encryptionInfo,
        compression: target && o.compress ? 'zlib' : undefined,
      },
      signers,
    );
    return { envelope, payload, image };
  }

  async function uploadSuit(envelope: Uint8Array, payload: Uint8Array, version: string): Promise<{ status: number; body: any }> {
    const response = await fetch(`${server.baseUrl}/api/firmware/suit?name=app&version=${version}`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'suit-envelope': Buffer.from(envelope).toString('base64') },
      body: Buffer.from(payload),
    });
    return { status: response.status, body: await response.json() };
  }

  /** Opaque upload: how a package the verifier never saw reaches a device. */
  const uploadRaw = (bytes: Uint8Array, version: string): Promise<string> => uploadFirmware(server.baseUrl, bytes, { name: 'app', version });

  async function deliver(endpoint: string, firmwareId: string): Promise<any> {
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

  /** Clears the previous refusal's Update Result, so the next result is surely the new package's. */
  async function resetObject5(sim: SimulatedDevice): Promise<void> {
    expect((await api('PUT', `/api/clients/${sim.endpointName}/5/0/1`, { value: '' })).status).toBe(200);
    expect([sim.firmware.state, sim.firmware.result]).toEqual([0, 0]);
  }

  /** The server refuses to offer it to the paired device; the twin, sent it anyway, refuses it itself. */
  async function refusedByBoth(pairs: { paired: SimulatedDevice; raw: SimulatedDevice }, signed: { envelope: Uint8Array; payload: Uint8Array }, serverCode: string, deviceResult: 5 | 6): Promise<string> {
    const version = `x${randomBytes(3).toString('hex')}`;
    const uploaded = await uploadSuit(signed.envelope, signed.payload, version);
    expect(uploaded.status).toBe(201);
    const refused = await api('POST', `/api/clients/${pairs.paired.endpointName}/firmware`, { firmwareId: uploaded.body.id, method: 'push' });
    expect(refused.status).toBe(422);
    expect(refused.body.error).toBe('image refused');
    expect(refused.body.code).toBe(serverCode);
    const before = pairs.raw.firmware.running;
    await resetObject5(pairs.raw);
    const done = await deliver(pairs.raw.endpointName, await uploadRaw(integratePayload(signed.envelope, signed.payload), version));
    expect([done.state, done.result]).toEqual(['failed', deviceResult]);
    expect(pairs.raw.firmware.running).toEqual(before);
    return refused.body.detail as string;
  }

  it('installs a good encrypted, compressed image on both, then refuses its replay and any older one', async () => {
    const pairs = await pair('meter-1', profile);
    const good = await sign({ sequence: 5, compress: true });
    const uploaded = await uploadSuit(good.envelope, good.payload, '2.5');
    expect(uploaded.status).toBe(201);
    expect(uploaded.body.suit).toEqual({ sequenceNumber: 5, vendorId: hex(VENDOR), classId: hex(CLASS), encrypted: true, compressed: true, payloadChecked: false, payloadBytes: good.payload.length });
    const done = await deliver('meter-1', uploaded.body.id);
    expect([done.state, done.result]).toEqual(['succeeded', 1]);
    expect(pairs.paired.firmware.running.version).toBe('2.5');
    expect(pairs.paired.firmware.snapshot().slots[1]).toMatchObject({ version: '2.5', sequence: 5, size: good.image.length });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await api('GET', '/api/clients/meter-1/profile')).body).toMatchObject({ profile: 'fleet-t2', source: 'device-type', installedSequence: 5 });
    expect((await deliver('meter-1-raw', await uploadRaw(integratePayload(good.envelope, good.payload), '2.5'))).state).toBe('succeeded');

    // Replay (equal) and downgrade (lower): refused by the verifier and by the devices.
    const replay = await refusedByBoth(pairs, good, 'sequence-not-newer', 5);
    expect(replay).toContain('manifest sequence 5 is not above the installed 5');
    await refusedByBoth(pairs, await sign({ sequence: 4 }), 'sequence-not-newer', 5);
  });

  it('refuses flipped bits in manifest and signature, and a flipped payload bit the server cannot see under encryption', async () => {
    const pairs = await pair('meter-2', profile);
    const good = await sign({ sequence: 7 });

    // Manifest bit: the upload already refuses it (its digest no longer matches); the device refuses it too.
    const manifest = Buffer.from(decodeEnvelope(good.envelope).manifestBytes);
    const flippedManifest = Buffer.from(good.envelope);
    const at = flippedManifest.indexOf(manifest) + manifest.length - 3;
    flippedManifest[at] ^= 0x01;
    const upload = await uploadSuit(flippedManifest, good.payload, 'fm');
    expect([upload.status, upload.body.code]).toEqual([400, 'digest-mismatch']);
    const done = await deliver('meter-2-raw', await uploadRaw(integratePayload(flippedManifest, good.payload), 'fm'));
    expect([done.state, done.result]).toEqual(['failed', 5]);

    // Signature bit: the last byte of the ES256 signature (the auth block's end).
    const block = Buffer.from(decodeEnvelope(good.envelope).authBlocks[0]);
    const flippedSignature = Buffer.from(good.envelope);
    flippedSignature[flippedSignature.indexOf(block) + block.length - 1] ^= 0x80;
    await refusedByBoth(pairs, { envelope: flippedSignature, payload: good.payload }, 'bad-signature', 5);

    // Payload bit of an unencrypted image: refused at upload; under encryption only the device can tell.
    const plain = await sign({ sequence: 8, encryptFor: null });
    const flippedPlain = Buffer.from(plain.payload);
    flippedPlain[100] ^= 0x01;
    const plainUpload = await uploadSuit(plain.envelope, flippedPlain, 'fp');
    expect([plainUpload.status, plainUpload.body.error, plainUpload.body.code]).toEqual([400, 'payload does not match the manifest', 'digest-mismatch']);
    const flippedCipher = Buffer.from(good.payload);
    flippedCipher[10] ^= 0x01;
    const accepted = await uploadSuit(good.envelope, flippedCipher, 'fc');
    expect(accepted.status).toBe(201);
    const delivered = await deliver('meter-2', accepted.body.id);
    expect([delivered.state, delivered.result]).toEqual(['failed', 5]);
    expect(pairs.paired.firmware.running.version).toBe('1.0.0');
  });

  it('refuses unknown keys, untrusted roots, expired chains, wrong class, another device\'s image and MAC-only manifests', async () => {
    const pairs = await pair('meter-3', profile);
    const stranger = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    await refusedByBoth(pairs, await sign({ sequence: 9, signers: [softwareSigner(stranger.privateKey, COSE_ALG.ES256, { kid: kid('stranger') })] }), 'unknown-key', 5);
    await refusedByBoth(pairs, await sign({ sequence: 9, signers: [softwareSigner(rogue.privateKey, COSE_ALG.ES256, { kid: kid('rogue'), x5chain: rogue.chain })] }), 'untrusted-chain', 5);
    const wrongClass = await refusedByBoth(pairs, await sign({ sequence: 9, classId: OTHER_ID }), 'class-mismatch', 6);
    expect(wrongClass).toContain(`manifest class id ${hex(OTHER_ID)} is not the device's ${hex(CLASS)}`);
    await refusedByBoth(pairs, await sign({ sequence: 9, encryptFor: { publicKey: otherDeviceKey.publicKey, kid: 'other-key' } }), 'decrypt-failed', 5);
    const macOnly = await sign({ sequence: 9, signers: [{ alg: COSE_ALG.HMAC256, kid: kid('fleet-mac'), secret: new Uint8Array(randomBytes(32)) }] });
    await refusedByBoth(pairs, macOnly, 'algorithm-not-allowed', 6);
  });

  it('refuses a certificate that expired on the device\'s clock', async () => {
    // Leaf certificates of the test PKI are valid 365 days: two years on, the chain has expired.
    const later = Date.now() + 2 * 365 * 86_400_000;
    const pairs = await pair('meter-4', profile, suitConfig(profile, { now: () => later }));
    const signed = await sign({ sequence: 10 });
    const done = await deliver('meter-4-raw', await uploadRaw(integratePayload(signed.envelope, signed.payload), 'exp'));
    expect([done.state, done.result]).toEqual(['failed', 5]);
    // The same image is fine today for the server and a device with a correct clock.
    const uploaded = await uploadSuit(signed.envelope, signed.payload, 'exp');
    expect((await api('POST', '/api/clients/meter-4/firmware', { firmwareId: uploaded.body.id, method: 'push' })).status).toBe(202);
    expect(pairs.paired.firmware.running.version).toBe('1.0.0');
    await api('DELETE', '/api/clients/meter-4/firmware');
  });

  it('refuses a manifest missing a required co-signer; takes it co-signed', async () => {
    const pairs = await pair('meter-5', cosigned);
    const authorOnly = await sign({ sequence: 11 });
    const detail = await refusedByBoth(pairs, authorOnly, 'missing-signer', 5);
    expect(detail).toContain("manifest is not authenticated by role 'operator'");
    const both = await sign({
      sequence: 11,
      signers: [
        softwareSigner(author.privateKey, COSE_ALG.ES256, { kid: kid('author'), x5chain: author.chain }),
        softwareSigner(rogue.privateKey, COSE_ALG.ES256, { kid: kid('operator'), x5chain: rogue.chain }),
      ],
    });
    const uploaded = await uploadSuit(both.envelope, both.payload, '2.11');
    expect((await deliver('meter-5', uploaded.body.id)).state).toBe('succeeded');
    expect(pairs.paired.firmware.running.version).toBe('2.11');
  });

  it('refuses unsigned images for a paired device and images for a device with no vendor/class ids', async () => {
    const pairs = await pair('meter-6', profile);
    const opaque = await uploadRaw(buildSimImage({ name: 'app', version: '3.0', payload: randomBytes(100) }), '3.0');
    const refused = await api('POST', '/api/clients/meter-6/firmware', { firmwareId: opaque, method: 'push' });
    expect([refused.status, refused.body.code]).toEqual([422, 'not-signed']);
    // The twin has no profile on the server: the server sends it, the device refuses a non-SUIT package.
    const done = await deliver('meter-6-raw', opaque);
    expect([done.state, done.result]).toEqual(['failed', 6]);
    await api('PUT', '/api/clients/meter-6/profile', { deviceType: null, profile: 'fleet-t2' });
    const signed = await sign({ sequence: 12 });
    const uploaded = await uploadSuit(signed.envelope, signed.payload, '2.12');
    const incomplete = await api('POST', '/api/clients/meter-6/firmware', { firmwareId: uploaded.body.id, method: 'push' });
    expect([incomplete.status, incomplete.body.code]).toEqual([422, 'device-incomplete']);
    expect(pairs.paired.firmware.running.version).toBe('1.0.0');
  });
});

describe('signed manifests on a server whose clock is past the signer certificate', () => {
  it('refuses the image with expired-certificate before sending anything', async () => {
    const pki = createTestPki();
    const author = pki.leaf('author');
    // Two years on: the test PKI's leaf certificates (365 days) have expired.
    const shift = 2 * 365 * 86_400_000;
    const clock: Clock = { now: () => Date.now() + shift, setTimeout: systemClock.setTimeout, clearTimeout: systemClock.clearTimeout };
    const dataDir = mkdtempSync(join(tmpdir(), 'lwm2m-expired-'));
    const server = await startServer({ ...defaultServerConfig, store: 'memory', coapHost: '127.0.0.1', coapPort: 0, coapsPort: 0, httpPort: 0, bootstrapPort: 0, bootstrapCoapsPort: 0, dataDir }, silentLogger, clock);
    const base = `http://127.0.0.1:${server.httpPort}`;
    const sim = new SimulatedDevice({ serverUri: `coap://127.0.0.1:${server.coapPort}`, endpointName: 'old-clock', lifetimeSec: 300, retryDelayMs: 0 });
    try {
      const json = async (method: string, path: string, body?: unknown) => {
        const response = await fetch(`${base}${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
        return { status: response.status, body: (await response.json()) as any };
      };
      const { name, ...body } = { ...defaultProfile(2, [{ role: 'author', pem: pki.rootPem }]), name: 'fleet-t2', minTransportSecurity: 'none' as const, encryptionRequired: false };
      expect((await json('PUT', `/api/profiles/${name}`, body)).status).toBe(201);
      expect((await json('PUT', '/api/clients/old-clock/profile', { profile: 'fleet-t2', vendorId: hex(VENDOR), classId: hex(CLASS) })).status).toBe(200);
      await sim.register();
      const image = new Uint8Array(buildSimImage({ name: 'app', version: '2', payload: randomBytes(500) }));
      const envelope = await buildEnvelope(
        { sequenceNumber: 1, vendorId: VENDOR, classId: CLASS, imageDigest: sha256Digest(image), imageSize: image.length },
        [softwareSigner(author.privateKey, COSE_ALG.ES256, { kid: kid('author'), x5chain: author.chain })],
      );
      const uploaded = await fetch(`${base}/api/firmware/suit?name=app&version=2`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', 'suit-envelope': Buffer.from(envelope).toString('base64') },
        body: Buffer.from(image),
      });
      expect(uploaded.status).toBe(201);
      const { id } = (await uploaded.json()) as { id: string };
      const refused = await json('POST', '/api/clients/old-clock/firmware', { firmwareId: id, method: 'push' });
      expect([refused.status, refused.body.code]).toEqual([422, 'expired-certificate']);
      expect((await json('GET', '/api/clients/old-clock/firmware')).status).toBe(404);
      expect(sim.firmware.state).toBe(0);
    } finally {
      await sim.stop();
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
      pki.cleanup();
    }
  });
});
