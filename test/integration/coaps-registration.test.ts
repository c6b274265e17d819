/**
 * CoAPS end to end on the real server: devices register over DTLS-PSK through
 * node-dtls-client, the server reaches them back through their sessions, and the endpoint
 * name is bound to the credential (impersonation and plain CoAP for a secured endpoint are
 * refused with 4.03, changing nothing).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { bindUdpTransport, CoapCode, CoapEndpoint, type IncomingResponse, type RemoteAddress } from '../../src/coap/index.js';
import type { SecurityViolationEvent } from '../../src/lwm2m/server/events.js';
import { api, startTestServer, type TestServer } from '../helpers/in-process-server.js';
import { connectPskDevice, type PskDevice } from './coaps-psk-client.js';

const KEY_A = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const KEY_B = Buffer.from('ffeeddccbbaa99887766554433221100', 'hex');

const pskInfo = (identity: string, key: Buffer) => ({ tls: { mode: 'psk', details: { identity, key: key.toString('hex') } } });

function register(coap: CoapEndpoint, server: RemoteAddress, endpoint: string): Promise<IncomingResponse> {
  return coap.request(server, {
    method: 'POST',
    path: ['rd'],
    query: [`ep=${endpoint}`, 'lt=300', 'lwm2m=1.1', 'b=U'],
    payload: Buffer.from('</1/0>,</3/0>'),
    contentFormat: 40,
    timeoutMs: 4000,
  });
}

const text = (response: IncomingResponse): string => response.payload.toString('utf8');

describe('CoAPS: registration over DTLS-PSK and the endpoint bound to its credential', () => {
  let server: TestServer | undefined;
  const devices: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const device of devices.splice(0)) await device.close();
    await server?.close();
    server = undefined;
  });

  const start = async (overrides: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> => {
    server = await startTestServer(overrides);
    return server;
  };
  const pskDevice = async (s: TestServer, identity: string, key: Buffer): Promise<PskDevice> => {
    const device = await connectPskDevice(s.coapsPort, identity, key);
    devices.push(device);
    return device;
  };
  const plainDevice = async (s: TestServer): Promise<{ coap: CoapEndpoint; server: RemoteAddress }> => {
    const coap = new CoapEndpoint({ transport: await bindUdpTransport({ host: '127.0.0.1', port: 0 }), ackTimeoutMs: 500, maxRetransmit: 2 });
    devices.push(coap);
    return { coap, server: { address: '127.0.0.1', port: s.coapPort } };
  };
  const violations = (s: TestServer): SecurityViolationEvent[] => {
    const seen: SecurityViolationEvent[] = [];
    s.lwm2m.events.on('securityViolation', (event) => void seen.push(event));
    return seen;
  };

  it('registers a PSK device over CoAPS, reads it back through its session, and accepts its updates', async () => {
    const s = await start();
    expect(s.coapsPort).toBeGreaterThan(0);
    expect(s.coapsPort).not.toBe(s.coapPort);
    expect((await api(s, 'PUT', '/api/security/clients/dev-a', pskInfo('id-a', KEY_A))).status).toBe(200);

    const device = await pskDevice(s, 'id-a', KEY_A);
    device.coap.setRequestHandler((request) =>
      request.method === 'GET' && request.path.join('/') === '3/0/0'
        ? { code: CoapCode.Content, payload: Buffer.from('ACME over DTLS'), contentFormat: 0 }
        : { code: CoapCode.NotFound },
    );
    const created = await register(device.coap, device.server, 'dev-a');
    expect(created.code).toBe(CoapCode.Created);
    const location = created.message.options.filter((o) => o.number === 8).map((o) => o.value.toString());
    expect(location[0]).toBe('rd');

    const listed = await api(s, 'GET', '/api/clients/dev-a');
    expect(listed.status).toBe(200);
    expect(listed.body.registrationId).toBe(location[1]);
    const [address, port] = String(listed.body.address).split(':');
    expect(address).toBe('127.0.0.1');
    // The registration's address is the DTLS session's: the server finds the session there.
    expect(s.dtls.peerIdentity({ address, port: Number(port) })).toEqual({ kind: 'psk', identity: 'id-a' });

    // The read leaves through the CoAPS listener (plain CoAP to this address would never reach node-dtls-client).
    const read = await api(s, 'GET', '/api/clients/dev-a/3/0/0');
    expect(read.status).toBe(200);
    expect(read.body.content.value).toBe('ACME over DTLS');

    const updated = await device.coap.request(device.server, { method: 'POST', path: ['rd', location[1]], query: ['lt=600'], timeoutMs: 4000 });
    expect(updated.code).toBe(CoapCode.Changed);
    expect((await api(s, 'GET', '/api/clients/dev-a')).body.lifetime).toBe(600);
  });

  it('refuses identity X registering, updating or deregistering as Y with 4.03, and Y is untouched', async () => {
    const s = await start();
    const seen = violations(s);
    await api(s, 'PUT', '/api/security/clients/dev-a', pskInfo('id-a', KEY_A));
    await api(s, 'PUT', '/api/security/clients/dev-b', pskInfo('id-b', KEY_B));

    const b = await pskDevice(s, 'id-b', KEY_B);
    const created = await register(b.coap, b.server, 'dev-b');
    expect(created.code).toBe(CoapCode.Created);
    const before = (await api(s, 'GET', '/api/clients/dev-b')).body;
    const idB = before.registrationId as string;

    const a = await pskDevice(s, 'id-a', KEY_A);
    const impersonation = await register(a.coap, a.server, 'dev-b');
    expect(impersonation.code).toBe(CoapCode.Forbidden);
    // The device learns nothing about dev-b's credentials.
    expect(text(impersonation)).toBe('not authorized for this endpoint');
    const update = await a.coap.request(a.server, { method: 'POST', path: ['rd', idB], query: ['lt=1'], timeoutMs: 4000 });
    expect(update.code).toBe(CoapCode.Forbidden);
    const removal = await a.coap.request(a.server, { method: 'DELETE', path: ['rd', idB], timeoutMs: 4000 });
    expect(removal.code).toBe(CoapCode.Forbidden);

    const after = await api(s, 'GET', '/api/clients/dev-b');
    expect(after.status).toBe(200);
    expect(after.body).toEqual(before);
    expect(seen.map((e) => [e.operation, e.endpoint, e.secure, e.mode, e.identity])).toEqual([
      ['register', 'dev-b', true, 'psk', 'id-a'],
      ['update', 'dev-b', true, 'psk', 'id-a'],
      ['deregister', 'dev-b', true, 'psk', 'id-a'],
    ]);
    expect(seen[0].reason).toBe('PSK identity "id-a" is not the identity of endpoint "dev-b"');
    // X registering as itself still works: the refusal was about the claim, not the session.
    expect((await register(a.coap, a.server, 'dev-a')).code).toBe(CoapCode.Created);
  });

  it('refuses plain CoAP for an endpoint with security info, and admits one without (--allow-nosec default)', async () => {
    const s = await start();
    const seen = violations(s);
    await api(s, 'PUT', '/api/security/clients/dev-a', pskInfo('id-a', KEY_A));
    const plain = await plainDevice(s);

    const refused = await register(plain.coap, plain.server, 'dev-a');
    expect(refused.code).toBe(CoapCode.Forbidden);
    expect((await api(s, 'GET', '/api/clients/dev-a')).status).toBe(404);
    expect(seen).toEqual([
      {
        endpoint: 'dev-a',
        reason: 'endpoint "dev-a" has psk security info and must use CoAPS',
        remote: { address: '127.0.0.1', port: plain.coap.address().port },
        secure: false,
        operation: 'register',
      },
    ]);

    const admitted = await register(plain.coap, plain.server, 'open-device');
    expect(admitted.code).toBe(CoapCode.Created);
    expect((await api(s, 'GET', '/api/clients/open-device')).status).toBe(200);
  });

  it('a device registered over plain CoAP loses plain CoAP once it gets security info', async () => {
    const s = await start();
    const plain = await plainDevice(s);
    const created = await register(plain.coap, plain.server, 'late');
    expect(created.code).toBe(CoapCode.Created);
    const id = created.message.options.filter((o) => o.number === 8)[1].value.toString();
    await api(s, 'PUT', '/api/security/clients/late', pskInfo('id-late', KEY_A));
    const update = await plain.coap.request(plain.server, { method: 'POST', path: ['rd', id], timeoutMs: 4000 });
    expect(update.code).toBe(CoapCode.Forbidden);
    // Nor does the server send it requests in clear any more: they go to CoAPS, where it has no session.
    const read = await api(s, 'GET', '/api/clients/late/3/0/0?timeout=1');
    expect(read.status).toBe(504);
  });

  it('with --no-allow-nosec, plain CoAP is refused even for devices without security info', async () => {
    const s = await start({ allowNoSec: false });
    const seen = violations(s);
    const plain = await plainDevice(s);
    const refused = await register(plain.coap, plain.server, 'open-device');
    expect(refused.code).toBe(CoapCode.Forbidden);
    expect(seen[0].reason).toBe('plain CoAP is not allowed on this server (--allow-nosec is off); endpoint "open-device" needs security info');
    expect((await api(s, 'GET', '/api/clients/open-device')).status).toBe(404);
  });

  it('a deleted credential no longer opens a session, and a replaced key takes effect at once', async () => {
    const s = await start();
    await api(s, 'PUT', '/api/security/clients/dev-a', pskInfo('id-a', KEY_A));
    await api(s, 'PUT', '/api/security/clients/dev-a', pskInfo('id-a', KEY_B));
    await expect(connectPskDevice(s.coapsPort, 'id-a', KEY_A)).rejects.toThrow();
    const device = await pskDevice(s, 'id-a', KEY_B);
    expect((await register(device.coap, device.server, 'dev-a')).code).toBe(CoapCode.Created);

    expect((await api(s, 'DELETE', '/api/security/clients/dev-a')).status).toBe(204);
    await expect(connectPskDevice(s.coapsPort, 'id-a', KEY_B)).rejects.toThrow();
    expect(s.dtls.stats().unknownPskIdentity).toBe(1);
  });
});
