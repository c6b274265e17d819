/**
 * Security profiles on the real server: the tier defaults at first start, the profile API
 * (400 with every reason for bad bodies), device pairing (assigned, by device type,
 * declared at registration), the transport floor on register and update (4.03 + a
 * securityViolation event) and persistence across a restart with MAC secrets sealed.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bindUdpTransport, CoapCode, CoapEndpoint, type IncomingResponse, type RemoteAddress } from '../../src/coap/index.js';
import { defaultServerConfig } from '../../src/config.js';
import { connectDtls } from '../../src/dtls/client/index.js';
import type { SecurityViolationEvent } from '../../src/lwm2m/server/events.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { silentLogger } from '../../src/util/logger.js';
import { startTestServer, type TestServer } from '../helpers/in-process-server.js';

const PSK = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const MAC_SECRET = 'ab'.repeat(32);

async function api(baseUrl: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

function register(coap: CoapEndpoint, server: RemoteAddress, endpoint: string, extra: string[] = []): Promise<IncomingResponse> {
  return coap.request(server, { method: 'POST', path: ['rd'], query: [`ep=${endpoint}`, 'lt=300', 'b=U', ...extra], payload: Buffer.from('</3/0>,</5/0>'), contentFormat: 40, timeoutMs: 4000 });
}

function update(coap: CoapEndpoint, server: RemoteAddress, location: string[]): Promise<IncomingResponse> {
  return coap.request(server, { method: 'POST', path: location, query: [], timeoutMs: 4000 });
}

const locationOf = (response: IncomingResponse): string[] =>
  response.message.options.filter((o) => o.number === 8).map((o) => Buffer.from(o.value).toString('utf8'));

const tier1Body = {
  tier: 1,
  allowedAlgorithms: ['HMAC256'],
  minKeySizes: { rsa: 2048, ec: 256, hmac: 256 },
  requiredSigners: [{ role: 'author' }],
  requireCertificateChain: false,
  encryptionRequired: true,
  allowedKeyWrap: ['A128KW'],
  minTransportSecurity: 'psk',
  trustAnchors: [],
  hardwareBackedKeys: false,
  trustedKeys: [{ kid: 'fleet-mac', role: 'author', secretHex: MAC_SECRET }],
};

describe('security profiles: API, pairing and the transport floor', () => {
  let server: TestServer | undefined;
  const closers: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const c of closers.splice(0)) await c.close();
    await server?.close();
    server = undefined;
  });

  const plainDevice = async (s: TestServer): Promise<{ coap: CoapEndpoint; server: RemoteAddress }> => {
    const coap = new CoapEndpoint({ transport: await bindUdpTransport({ host: '127.0.0.1', port: 0 }), ackTimeoutMs: 500, maxRetransmit: 2 });
    closers.push(coap);
    return { coap, server: { address: '127.0.0.1', port: s.coapPort } };
  };
  const pskDevice = async (s: TestServer, identity: string): Promise<{ coap: CoapEndpoint; server: RemoteAddress }> => {
    const transport = await connectDtls({ host: '127.0.0.1', port: s.coapsPort, psk: { identity, key: PSK } });
    const coap = new CoapEndpoint({ transport, ackTimeoutMs: 500, maxRetransmit: 2 });
    closers.push(coap);
    return { coap, server: transport.server };
  };
  const violations = (s: TestServer): SecurityViolationEvent[] => {
    const seen: SecurityViolationEvent[] = [];
    s.lwm2m.events.on('securityViolation', (event) => void seen.push(event));
    return seen;
  };

  it('has the three tier defaults at first start, with their transport floors', async () => {
    server = await startTestServer({ store: 'memory' });
    const { status, body } = await api(server.baseUrl, 'GET', '/api/profiles');
    expect(status).toBe(200);
    expect(body.map((p: any) => [p.name, p.tier, p.minTransportSecurity, p.encryptionRequired])).toEqual([
      ['tier-1-psk', 1, 'psk', true],
      ['tier-2-x509', 2, 'rpk', true],
      ['tier-3-hsm', 3, 'x509', true],
    ]);
    const tier3 = (await api(server.baseUrl, 'GET', '/api/profiles/tier-3-hsm')).body;
    expect(tier3.requiredSigners).toEqual([{ role: 'author' }, { role: 'operator' }]);
    expect(tier3.minKeySizes).toEqual({ rsa: 3072, ec: 256, hmac: 256 });
    expect(tier3.warnings).toEqual(['requireCertificateChain is on but there are no trustAnchors: no signed image can pass']);
    expect((await api(server.baseUrl, 'GET', '/api/profiles/nope')).status).toBe(404);
  });

  it('refuses bad profile bodies with 400 and every reason', async () => {
    server = await startTestServer({ store: 'memory' });
    const bad = await api(server.baseUrl, 'PUT', '/api/profiles/weak', {
      name: 'other',
      tier: 4,
      allowedAlgorithms: ['ES256', 'MD5'],
      minKeySizes: { rsa: 1024, ec: 256, hmac: 256 },
      requiredSigners: [],
      requireCertificateChain: 'yes',
      encryptionRequired: true,
      allowedKeyWrap: [],
      minTransportSecurity: 'tls',
      trustAnchors: [{ role: 'author', pem: 'not a certificate' }],
      colour: 'red',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('invalid profile');
    expect(bad.body.reasons).toEqual([
      'unknown field "colour"',
      '"name" in the body ("other") differs from the URL\'s "weak"',
      '"tier" must be 1, 2 or 3',
      '"allowedAlgorithms" holds "MD5"; allowed: ES256, ESP256, EdDSA, PS256, RS256, HMAC256',
      '"minKeySizes.rsa" must be at least 2048 bits, got 1024',
      '"requiredSigners" must be a non-empty array of {"role"?: string, "kid"?: string}',
      '"requireCertificateChain" must be true or false',
      '"minTransportSecurity" must be one of none, psk, rpk, x509',
      expect.stringMatching(/^"trustAnchors\[0\]\.pem" is not a PEM certificate: /),
      '"encryptionRequired" is true but "allowedKeyWrap" allows no key wrap',
    ]);
    expect((await api(server.baseUrl, 'PUT', '/api/profiles/weak', [1, 2])).body.reasons).toEqual(['the body must be a JSON object describing the profile']);
    const hmacTier2 = await api(server.baseUrl, 'PUT', '/api/profiles/t2-mac', { ...tier1Body, tier: 2 });
    expect(hmacTier2.status).toBe(400);
    expect(hmacTier2.body.reasons).toEqual(['tiers 2 and 3 must not allow HMAC256 (a MAC proves no origin)']);
    const shortSecret = await api(server.baseUrl, 'PUT', '/api/profiles/t1', { ...tier1Body, trustedKeys: [{ kid: 'k', role: 'author', secretHex: 'abcd' }] });
    expect(shortSecret.body.reasons).toEqual(['"trustedKeys[0]".secretHex must be at least 32 bytes of hex (HMAC-256 keys)']);
    expect((await api(server.baseUrl, 'GET', '/api/profiles')).body).toHaveLength(3);
  });

  it('creates, replaces, shows secrets as write-only, and refuses to delete a profile in use', async () => {
    server = await startTestServer({ store: 'memory' });
    const created = await api(server.baseUrl, 'PUT', '/api/profiles/fleet-t1', tier1Body);
    expect(created.status).toBe(201);
    expect(created.body.trustedKeys).toEqual([{ kid: 'fleet-mac', role: 'author', secret: true }]);
    expect(JSON.stringify(created.body)).not.toContain(MAC_SECRET);
    // Sending the GET view back keeps the stored secret.
    const replaced = await api(server.baseUrl, 'PUT', '/api/profiles/fleet-t1', { ...tier1Body, minTransportSecurity: 'rpk', trustedKeys: created.body.trustedKeys });
    expect(replaced.status).toBe(200);
    expect(replaced.body.minTransportSecurity).toBe('rpk');
    expect(server.profiles.pairing.profile('fleet-t1')!.trustedKeys).toEqual([{ kid: 'fleet-mac', role: 'author', secretHex: MAC_SECRET }]);

    expect((await api(server.baseUrl, 'PUT', '/api/clients/dev-1/profile', { profile: 'fleet-t1' })).status).toBe(200);
    const inUse = await api(server.baseUrl, 'DELETE', '/api/profiles/fleet-t1');
    expect(inUse.status).toBe(409);
    expect(inUse.body.detail).toBe('profile "fleet-t1" is paired with device "dev-1"; pair them with another profile first');
    expect((await api(server.baseUrl, 'PUT', '/api/clients/dev-1/profile', { profile: null })).body.profile).toBeNull();
    expect((await api(server.baseUrl, 'DELETE', '/api/profiles/fleet-t1')).status).toBe(204);
    expect((await api(server.baseUrl, 'DELETE', '/api/profiles/fleet-t1')).status).toBe(404);

    const badDevice = await api(server.baseUrl, 'PUT', '/api/clients/dev-1/profile', { profile: 'fleet-t1', vendorId: 'xyz', installedSequence: -1, extra: 1 });
    expect(badDevice.status).toBe(400);
    expect(badDevice.body.reasons).toEqual([
      'unknown field "extra"',
      '"profile" must name an existing profile or be null, got "fleet-t1"',
      '"vendorId" must be 16 bytes as hex or a UUID, got "xyz"',
      '"installedSequence" must be a non-negative integer',
    ]);
    const badType = await api(server.baseUrl, 'PUT', '/api/device-types/sensor', { profile: 'nope' });
    expect(badType.status).toBe(400);
    expect(badType.body.reasons).toEqual(['"profile" must name an existing profile, got "nope"']);
  });

  it('refuses a tier-2 device over plain CoAP and over PSK with 4.03 and an event; admits it over RPK', async () => {
    server = await startTestServer({ store: 'memory' });
    const s = server;
    const seen = violations(s);
    expect((await api(s.baseUrl, 'PUT', '/api/clients/t2-plain/profile', { profile: 'tier-2-x509' })).body).toMatchObject({ profile: 'tier-2-x509', source: 'assigned' });
    const plain = await plainDevice(s);
    const refused = await register(plain.coap, plain.server, 't2-plain');
    expect(refused.code).toBe(CoapCode.Forbidden);
    expect(s.lwm2m.registrations.get('t2-plain')).toBeUndefined();
    expect(seen).toEqual([
      {
        endpoint: 't2-plain',
        reason: "profile tier-2-x509 requires at least 'rpk' transport security, device uses 'none'",
        remote: { address: '127.0.0.1', port: plain.coap.address().port },
        secure: false,
        operation: 'register',
      },
    ]);

    // PSK proves the identity (the identity guard passes) but is below tier 2's floor.
    await api(s.baseUrl, 'PUT', '/api/security/clients/t2-psk', { tls: { mode: 'psk', details: { identity: 't2-psk-id', key: PSK.toString('hex') } } });
    await api(s.baseUrl, 'PUT', '/api/clients/t2-psk/profile', { profile: 'tier-2-x509' });
    const psk = await pskDevice(s, 't2-psk-id');
    expect((await register(psk.coap, psk.server, 't2-psk')).code).toBe(CoapCode.Forbidden);
    expect(seen[1]).toMatchObject({ endpoint: 't2-psk', secure: true, mode: 'psk', identity: 't2-psk-id', operation: 'register', reason: "profile tier-2-x509 requires at least 'rpk' transport security, device uses 'psk'" });

    const serverKey = Buffer.from((await api(s.baseUrl, 'GET', '/api/security/server')).body.pubkey, 'hex');
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    await api(s.baseUrl, 'PUT', '/api/security/clients/t2-rpk', { tls: { mode: 'rpk', details: { key: publicKey.export({ type: 'spki', format: 'der' }).toString('hex') } } });
    await api(s.baseUrl, 'PUT', '/api/clients/t2-rpk/profile', { profile: 'tier-2-x509' });
    const transport = await connectDtls({
      host: '127.0.0.1',
      port: s.coapsPort,
      ecdsa: { privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), rawPublicKey: true, serverPublicKeyDer: serverKey },
    });
    const rpk = new CoapEndpoint({ transport, ackTimeoutMs: 500, maxRetransmit: 2 });
    closers.push(rpk);
    expect((await register(rpk, transport.server, 't2-rpk')).code).toBe(CoapCode.Created);
    expect(seen).toHaveLength(2);
  });

  it('checks updates against the profile in force now, and pairs by device type', async () => {
    server = await startTestServer({ store: 'memory' });
    const s = server;
    const seen = violations(s);
    await api(s.baseUrl, 'PUT', '/api/security/clients/psk-dev', { tls: { mode: 'psk', details: { identity: 'psk-dev-id', key: PSK.toString('hex') } } });
    await api(s.baseUrl, 'PUT', '/api/clients/psk-dev/profile', { profile: 'tier-1-psk' });
    const psk = await pskDevice(s, 'psk-dev-id');
    const created = await register(psk.coap, psk.server, 'psk-dev');
    expect(created.code).toBe(CoapCode.Created);
    const location = locationOf(created);
    expect((await update(psk.coap, psk.server, location)).code).toBe(CoapCode.Changed);

    // The operator moves the device's type to tier 2 and drops the explicit assignment.
    expect((await api(s.baseUrl, 'PUT', '/api/device-types/meter-v2', { profile: 'tier-2-x509', vendorId: 'FA6B4A53-D5AD-5FDF-BE9D-E663E4D41FFE', classId: '1492af1425695e48bf429b2d51f2ab45' })).body).toEqual({
      deviceType: 'meter-v2',
      profile: 'tier-2-x509',
      vendorId: 'fa6b4a53d5ad5fdfbe9de663e4d41ffe',
      classId: '1492af1425695e48bf429b2d51f2ab45',
    });
    const moved = await api(s.baseUrl, 'PUT', '/api/clients/psk-dev/profile', { profile: null, deviceType: 'meter-v2' });
    expect(moved.body).toMatchObject({ profile: 'tier-2-x509', source: 'device-type', assigned: null, deviceType: 'meter-v2', vendorId: 'fa6b4a53d5ad5fdfbe9de663e4d41ffe' });
    expect((await update(psk.coap, psk.server, location)).code).toBe(CoapCode.Forbidden);
    expect(seen.map((e) => [e.endpoint, e.operation])).toEqual([['psk-dev', 'update']]);
  });

  it('learns an unpaired device\'s type from /3/0/17 once types are paired, then holds it to that type\'s profile', async () => {
    server = await startTestServer({ store: 'memory' });
    const s = server;
    const seen = violations(s);
    await api(s.baseUrl, 'PUT', '/api/device-types/meter-v2', { profile: 'tier-2-x509' });
    const plain = await plainDevice(s);
    const asked: string[] = [];
    plain.coap.setRequestHandler((request) => {
      asked.push(`${request.method} ${request.path.join('/')}`);
      return request.method === 'GET' && request.path.join('/') === '3/0/17'
        ? { code: CoapCode.Content, payload: Buffer.from('meter-v2'), contentFormat: 0 }
        : { code: CoapCode.NotFound };
    });
    const created = await register(plain.coap, plain.server, 'learner');
    expect(created.code).toBe(CoapCode.Created);
    const deadline = Date.now() + 3000;
    while (seen.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    // (Other services read /3/0 and /5/0 of new devices too; only the type read is ours.)
    expect(asked.filter((line) => line.endsWith('3/0/17'))).toEqual(['GET 3/0/17']);
    expect((await api(s.baseUrl, 'GET', '/api/clients/learner/profile')).body).toMatchObject({ profile: 'tier-2-x509', source: 'device-type', deviceType: 'meter-v2' });
    expect(seen).toEqual([
      { endpoint: 'learner', reason: "profile tier-2-x509 requires at least 'rpk' transport security, device uses 'none'", remote: { address: '127.0.0.1', port: plain.coap.address().port }, secure: false, operation: 'register' },
    ]);
    expect((await update(plain.coap, plain.server, locationOf(created))).code).toBe(CoapCode.Forbidden);
    // An operator's assignment is never overridden by what a device reports.
    await api(s.baseUrl, 'PUT', '/api/clients/assigned-dev/profile', { profile: 'tier-1-psk' });
    expect((await register(plain.coap, plain.server, 'assigned-dev')).code).toBe(CoapCode.Forbidden);
    expect(asked.filter((line) => line.endsWith('3/0/17'))).toEqual(['GET 3/0/17']);
  });

  it('takes a profile declared at registration (sp=) when no operator pairing exists, never over one', async () => {
    server = await startTestServer({ store: 'memory' });
    const s = server;
    const seen = violations(s);
    const plain = await plainDevice(s);
    expect((await register(plain.coap, plain.server, 'free-dev')).code).toBe(CoapCode.Created);
    const unknown = await register(plain.coap, plain.server, 'decl-x', ['sp=no-such-profile']);
    expect(unknown.code).toBe(CoapCode.BadRequest);
    expect(unknown.payload.toString()).toBe('unknown security profile "no-such-profile" (sp=)');
    expect((await register(plain.coap, plain.server, 'decl-2', ['sp=tier-2-x509'])).code).toBe(CoapCode.Forbidden);
    expect(seen.map((e) => e.endpoint)).toEqual(['decl-2']);

    // A declaration is remembered from an accepted Register and checks the device's updates.
    await api(s.baseUrl, 'PUT', '/api/security/clients/decl-1', { tls: { mode: 'psk', details: { identity: 'decl-1-id', key: PSK.toString('hex') } } });
    const psk = await pskDevice(s, 'decl-1-id');
    const created = await register(psk.coap, psk.server, 'decl-1', ['sp=tier-1-psk']);
    expect(created.code).toBe(CoapCode.Created);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await api(s.baseUrl, 'GET', '/api/clients/decl-1/profile')).body).toMatchObject({ profile: 'tier-1-psk', source: 'declared', declared: 'tier-1-psk' });

    // A device cannot declare itself out of its operator's pairing.
    await api(s.baseUrl, 'PUT', '/api/profiles/open', { ...tier1Body, allowedKeyWrap: ['A128KW'], minTransportSecurity: 'none', trustedKeys: [] });
    await api(s.baseUrl, 'PUT', '/api/clients/pinned/profile', { profile: 'tier-2-x509' });
    expect((await register(plain.coap, plain.server, 'pinned', ['sp=open'])).code).toBe(CoapCode.Forbidden);
    expect(seen.map((e) => e.endpoint)).toEqual(['decl-2', 'pinned']);
  });
});

describe('security profiles in SQLite', () => {
  let dataDir: string | undefined;
  let running: RunningServer | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    dataDir = undefined;
  });

  it('keeps profiles and pairings across a restart, does not re-add a deleted default, and seals MAC secrets', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'lwm2m-profiles-'));
    const config = { ...defaultServerConfig, coapHost: '127.0.0.1', coapPort: 0, coapsPort: 0, httpPort: 0, bootstrapPort: 0, bootstrapCoapsPort: 0, dataDir };
    running = await startServer(config, silentLogger);
    let base = `http://127.0.0.1:${running.httpPort}`;
    expect((await api(base, 'PUT', '/api/profiles/fleet-t1', tier1Body)).status).toBe(201);
    expect((await api(base, 'DELETE', '/api/profiles/tier-3-hsm')).status).toBe(204);
    await api(base, 'PUT', '/api/clients/dev-9/profile', { profile: 'fleet-t1', installedSequence: 7, keys: [{ kid: 'dev-9-mac', role: 'author', secretHex: 'cd'.repeat(32) }] });
    await running.close();

    const files = readdirSync(dataDir).filter((f) => f.startsWith('lwm2m.sqlite'));
    const raw = Buffer.concat(files.map((f) => readFileSync(join(dataDir!, f))));
    expect(raw.includes(Buffer.from('fleet-t1'))).toBe(true);
    expect(raw.includes(Buffer.from(MAC_SECRET))).toBe(false);
    expect(raw.includes(Buffer.from('cd'.repeat(32)))).toBe(false);

    running = await startServer(config, silentLogger);
    base = `http://127.0.0.1:${running.httpPort}`;
    expect((await api(base, 'GET', '/api/profiles')).body.map((p: any) => p.name)).toEqual(['fleet-t1', 'tier-1-psk', 'tier-2-x509']);
    expect(running.profiles.pairing.profile('fleet-t1')!.trustedKeys).toEqual([{ kid: 'fleet-mac', role: 'author', secretHex: MAC_SECRET }]);
    expect((await api(base, 'GET', '/api/clients/dev-9/profile')).body).toMatchObject({
      profile: 'fleet-t1',
      source: 'assigned',
      installedSequence: 7,
      keys: [{ kid: 'dev-9-mac', role: 'author', secret: true }],
    });
    expect(running.profiles.pairing.device('dev-9')!.keys[0].secretHex).toBe('cd'.repeat(32));
  });
});
