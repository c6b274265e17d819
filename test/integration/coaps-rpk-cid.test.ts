/**
 * The real server with devices on our own DTLS client library (src/dtls/client): a raw
 * public key device is admitted by its key in the security store and bound to its
 * endpoint, and a Connection ID device that changes source port keeps its registration,
 * whose address follows the session.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { CoapCode, CoapEndpoint, type IncomingResponse, type RemoteAddress } from '../../src/coap/index.js';
import { connectDtls, type DtlsClientTransport } from '../../src/dtls/client/index.js';
import { api, startTestServer, type TestServer } from '../helpers/in-process-server.js';

const PSK = Buffer.from('5a5b5c5d5e5f60616263646566676869', 'hex');

function register(coap: CoapEndpoint, server: RemoteAddress, endpoint: string): Promise<IncomingResponse> {
  return coap.request(server, { method: 'POST', path: ['rd'], query: [`ep=${endpoint}`, 'lt=300', 'b=U'], payload: Buffer.from('</3/0>'), contentFormat: 40, timeoutMs: 4000 });
}

describe('CoAPS with our DTLS client: raw public keys and Connection ID', () => {
  let server: TestServer | undefined;
  const endpoints: CoapEndpoint[] = [];
  afterEach(async () => {
    for (const endpoint of endpoints.splice(0)) await endpoint.close();
    await server?.close();
    server = undefined;
  });

  const device = (transport: DtlsClientTransport): CoapEndpoint => {
    const coap = new CoapEndpoint({ transport, ackTimeoutMs: 500, maxRetransmit: 2 });
    endpoints.push(coap);
    coap.setRequestHandler((request) =>
      request.path.join('/') === '3/0/0' ? { code: CoapCode.Content, payload: Buffer.from(`port ${transport.address().port}`), contentFormat: 0 } : { code: CoapCode.NotFound },
    );
    return coap;
  };

  it('admits a raw public key listed for an endpoint, for that endpoint only; an unlisted key fails the handshake', async () => {
    server = await startTestServer();
    const s = server;
    const serverKey = Buffer.from((await api(s, 'GET', '/api/security/server')).body.pubkey, 'hex');
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    await api(s, 'PUT', '/api/security/clients/rpk-dev', { tls: { mode: 'rpk', details: { key: spki.toString('hex') } } });
    await api(s, 'PUT', '/api/security/clients/other-dev', { tls: { mode: 'psk', details: { identity: 'other', key: PSK.toString('hex') } } });

    const ecdsa = { privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), rawPublicKey: true, serverPublicKeyDer: serverKey };
    const transport = await connectDtls({ host: '127.0.0.1', port: s.coapsPort, ecdsa });
    const coap = device(transport);
    expect((await register(coap, transport.server, 'other-dev')).code).toBe(CoapCode.Forbidden);
    expect((await register(coap, transport.server, 'rpk-dev')).code).toBe(CoapCode.Created);
    const read = await api(s, 'GET', '/api/clients/rpk-dev/3/0/0');
    expect(read.body.content.value).toBe(`port ${transport.address().port}`);

    const stranger = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await expect(connectDtls({ host: '127.0.0.1', port: s.coapsPort, ecdsa: { ...ecdsa, privateKeyPem: stranger }, retransmission: { maxRetransmissions: 1, initialMs: 200 } })).rejects.toThrow();
  });

  it('moves the registration with a Connection ID session to its new source port', async () => {
    server = await startTestServer();
    const s = server;
    await api(s, 'PUT', '/api/security/clients/mover', { tls: { mode: 'psk', details: { identity: 'mover-id', key: PSK.toString('hex') } } });
    const transport = await connectDtls({ host: '127.0.0.1', port: s.coapsPort, psk: { identity: 'mover-id', key: PSK }, cid: true });
    expect(transport.connectionId).toBeDefined();
    const coap = device(transport);
    expect((await register(coap, transport.server, 'mover')).code).toBe(CoapCode.Created);
    const firstPort = transport.address().port;
    expect((await api(s, 'GET', '/api/clients/mover')).body.address).toBe(`127.0.0.1:${firstPort}`);

    const updates: string[] = [];
    s.lwm2m.events.on('updated', ({ registration, previous }) => void updates.push(`${previous.address.port}->${registration.address.port}`));
    const moved = await transport.rebind();
    expect(moved.port).not.toBe(firstPort);
    // Any record from the new port moves the session; this one is not a registration update.
    const ping = await coap.request(transport.server, { method: 'GET', path: ['nothing-here'], timeoutMs: 4000 });
    expect(ping.code).toBe(CoapCode.NotFound);
    expect(updates).toEqual([`${firstPort}->${moved.port}`]);
    expect((await api(s, 'GET', '/api/clients/mover')).body.address).toBe(`127.0.0.1:${moved.port}`);
    // And the server's own requests reach the device at its new port, through the same session.
    expect((await api(s, 'GET', '/api/clients/mover/3/0/0')).body.content.value).toBe(`port ${moved.port}`);
    expect(s.dtls.stats().handshakesCompleted).toBe(1);
  });
});
