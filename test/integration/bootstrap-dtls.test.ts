/**
 * Bootstrap over DTLS with real sockets: a simulated device that holds only its bootstrap
 * PSK bootstraps over CoAPS, receives its server PSK, registers over CoAPS and is read over
 * HTTP; a device proving another device's bootstrap identity, and a device with bootstrap
 * credentials coming over plain CoAP, are refused with 4.03 and a securityViolation event.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SecurityViolationEvent } from '../../src/lwm2m/server/events.js';
import { SimulatedDevice } from '../../simulators/device/simulated-device.js';
import { api, startTestServer, type TestServer } from '../helpers/in-process-server.js';

const BS_KEY = 'a1'.repeat(16);
const SERVER_KEY = 'b2'.repeat(16);

function pskConfig(server: TestServer, name: string): Record<string, unknown> {
  return {
    bootstrap: { security: { mode: 'psk', identity: `${name}-bs`, key: BS_KEY } },
    servers: [
      { shortId: 1, uri: `coaps://127.0.0.1:${server.coapsPort}`, securityMode: 'psk', lifetime: 60, binding: 'U', pskIdentity: `${name}-id`, pskKey: SERVER_KEY, registerCredentials: true },
    ],
  };
}

describe('bootstrap over DTLS', () => {
  let server: TestServer;
  const cleanups: (() => Promise<void>)[] = [];
  const violations: SecurityViolationEvent[] = [];

  beforeEach(async () => {
    server = await startTestServer();
    violations.length = 0;
    server.lwm2m.events.on('securityViolation', (event) => void violations.push(event));
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await server.close();
  });

  it('announces its own port and keeps bootstrap keys out of API answers', async () => {
    expect(server.bootstrapCoapsPort).toBeGreaterThan(0);
    expect(server.bootstrapCoapsPort).not.toBe(server.bootstrapPort);
    const put = await api(server, 'PUT', '/api/bootstrap/shown', pskConfig(server, 'shown'));
    expect(put.status).toBe(201);
    expect(put.body.config.bootstrap).toEqual({ security: { mode: 'psk', identity: 'shown-bs', hasKey: true } });
    const read = await api(server, 'GET', '/api/bootstrap/shown');
    expect(JSON.stringify(read.body)).not.toContain(BS_KEY);
    expect(JSON.stringify(read.body)).not.toContain(SERVER_KEY);
    // One bootstrap identity cannot speak for two endpoints.
    const clash = await api(server, 'PUT', '/api/bootstrap/other', { ...pskConfig(server, 'other'), bootstrap: { security: { mode: 'psk', identity: 'shown-bs', key: BS_KEY } } });
    expect(clash.status).toBe(409);
  });

  it('a device with only bootstrap PSK credentials bootstraps over CoAPS, registers over CoAPS and is readable', async () => {
    expect((await api(server, 'PUT', '/api/bootstrap/dev-a', pskConfig(server, 'dev-a'))).status).toBe(201);
    expect(server.security.get('dev-a')).toBeUndefined();
    const device = new SimulatedDevice({
      endpointName: 'dev-a',
      serverUri: '',
      bootstrapUri: `coaps://127.0.0.1:${server.bootstrapCoapsPort}`,
      bootstrapSecurity: { mode: 'psk', identity: 'dev-a-bs', key: Buffer.from(BS_KEY, 'hex') },
      retryDelayMs: 0,
    });
    cleanups.push(() => device.stop());
    const finished = new Promise((resolve) => server.lwm2m.events.on('bootstrapFinished', (e) => void (e.endpoint === 'dev-a' && resolve(e))));
    await device.register();
    expect(device.state).toBe('registered');
    expect(await finished).toMatchObject({ endpoint: 'dev-a', result: 'finished' });

    // What the device received and now uses: the server PSK from the configuration.
    expect(device.bootstrapAccount).toMatchObject({ uri: `coaps://127.0.0.1:${server.coapsPort}`, shortServerId: 1 });
    expect(device.bootstrapAccount?.security).toEqual({ mode: 'psk', identity: 'dev-a-id', key: Buffer.from(SERVER_KEY, 'hex') });
    // registerCredentials put the matching entry into the server's security store.
    const info = server.security.get('dev-a');
    expect(info?.mode).toBe('psk');
    expect(info?.pskIdentity).toBe('dev-a-id');
    expect(info?.pskKey?.toString('hex')).toBe(SERVER_KEY);

    const client = await api(server, 'GET', '/api/clients/dev-a');
    expect(client.status).toBe(200);
    const [address, port] = String(client.body.address).split(':');
    expect(server.dtls.peerIdentity({ address, port: Number(port) })).toEqual({ kind: 'psk', identity: 'dev-a-id' });
    const read = await api(server, 'GET', '/api/clients/dev-a/3/0/2');
    expect(read.status).toBe(200);
    expect(typeof read.body.content.value).toBe('string');
    expect(violations).toEqual([]);
    const status = await api(server, 'GET', '/api/bootstrap/dev-a');
    expect(status.body.session.phase).toBe('finished');
  });

  it('delivers raw-public-key credentials: the device then registers over CoAPS with RPK', async () => {
    const serverKey = (await api(server, 'GET', '/api/security/server')).body.pubkey as string;
    const device = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const config = {
      bootstrap: { security: { mode: 'psk', identity: 'dev-r-bs', key: BS_KEY } },
      servers: [
        {
          shortId: 3,
          uri: `coaps://127.0.0.1:${server.coapsPort}`,
          securityMode: 'rpk',
          lifetime: 60,
          binding: 'U',
          clientPublicKey: device.publicKey.export({ type: 'spki', format: 'der' }).toString('hex'),
          clientPrivateKey: device.privateKey.export({ type: 'pkcs8', format: 'der' }).toString('hex'),
          serverPublicKey: serverKey,
          registerCredentials: true,
        },
      ],
    };
    expect((await api(server, 'PUT', '/api/bootstrap/dev-r', config)).status).toBe(201);
    const sim = new SimulatedDevice({
      endpointName: 'dev-r',
      serverUri: '',
      bootstrapUri: `coaps://127.0.0.1:${server.bootstrapCoapsPort}`,
      bootstrapSecurity: { mode: 'psk', identity: 'dev-r-bs', key: Buffer.from(BS_KEY, 'hex') },
      retryDelayMs: 0,
    });
    cleanups.push(() => sim.stop());
    await sim.register();
    expect(sim.state).toBe('registered');
    expect(sim.bootstrapAccount?.security?.mode).toBe('rpk');
    expect(server.security.get('dev-r')?.mode).toBe('rpk');

    const client = await api(server, 'GET', '/api/clients/dev-r');
    expect(client.status).toBe(200);
    const [address, port] = String(client.body.address).split(':');
    const identity = server.dtls.peerIdentity({ address, port: Number(port) });
    expect(identity?.kind).toBe('rpk');
    expect(identity?.kind === 'rpk' && identity.publicKeyDer.toString('hex')).toBe(config.servers[0]!.clientPublicKey);
    expect((await api(server, 'GET', '/api/clients/dev-r/3/0/0')).status).toBe(200);
    expect(violations).toEqual([]);
  });

  it('refuses (4.03) a device that proves one bootstrap identity and asks as another endpoint', async () => {
    await api(server, 'PUT', '/api/bootstrap/victim', pskConfig(server, 'victim'));
    await api(server, 'PUT', '/api/bootstrap/mallory', pskConfig(server, 'mallory'));
    const device = new SimulatedDevice({
      endpointName: 'victim',
      serverUri: '',
      bootstrapUri: `coaps://127.0.0.1:${server.bootstrapCoapsPort}`,
      bootstrapSecurity: { mode: 'psk', identity: 'mallory-bs', key: Buffer.from(BS_KEY, 'hex') },
      retryDelayMs: 0,
    });
    cleanups.push(() => device.stop());
    await expect(device.register()).rejects.toThrow('bootstrap request answered 4.03: not authorized for this endpoint');
    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatchObject({ endpoint: 'victim', secure: true, mode: 'psk', identity: 'mallory-bs', operation: 'bootstrap' });
    expect(violations[0].reason).toBe('PSK identity "mallory-bs" is not the identity of endpoint "victim"');
    // Nothing started for the victim, and its server credential was not registered.
    expect(server.bootstrapCoaps?.server.status('victim')).toBeUndefined();
    expect(server.security.get('victim')).toBeUndefined();
  });

  it('refuses (4.03) plain-CoAP bootstrap of a device that has bootstrap credentials', async () => {
    await api(server, 'PUT', '/api/bootstrap/dev-p', pskConfig(server, 'dev-p'));
    const device = new SimulatedDevice({ endpointName: 'dev-p', serverUri: '', bootstrapUri: `coap://127.0.0.1:${server.bootstrapPort}`, retryDelayMs: 0 });
    cleanups.push(() => device.stop());
    await expect(device.register()).rejects.toThrow('bootstrap request answered 4.03: not authorized for this endpoint');
    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatchObject({ endpoint: 'dev-p', secure: false, operation: 'bootstrap', reason: 'endpoint "dev-p" has psk security info and must use CoAPS' });
    expect(server.bootstrap?.server.status('dev-p')).toBeUndefined();
    expect(server.security.get('dev-p')).toBeUndefined();
  });

  it('forgets a deleted configuration\'s bootstrap identity: the DTLS handshake fails', async () => {
    await api(server, 'PUT', '/api/bootstrap/dev-d', pskConfig(server, 'dev-d'));
    const security = { mode: 'psk' as const, identity: 'dev-d-bs', key: Buffer.from(BS_KEY, 'hex'), client: 'builtin' as const };
    const before = new SimulatedDevice({ endpointName: 'dev-d', serverUri: '', bootstrapUri: `coaps://127.0.0.1:${server.bootstrapCoapsPort}`, bootstrapSecurity: security, retryDelayMs: 0 });
    cleanups.push(() => before.stop());
    await before.start();
    expect((await api(server, 'DELETE', '/api/bootstrap/dev-d')).status).toBe(204);
    const after = new SimulatedDevice({ endpointName: 'dev-d', serverUri: '', bootstrapUri: `coaps://127.0.0.1:${server.bootstrapCoapsPort}`, bootstrapSecurity: security, retryDelayMs: 0 });
    cleanups.push(() => after.stop());
    await expect(after.start()).rejects.toThrow();
    expect(violations).toEqual([]);
  }, 40_000);
});
