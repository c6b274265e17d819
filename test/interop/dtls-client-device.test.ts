/**
 * The simulated device over coaps:// against our DTLS server transport with a small CoAP
 * registration handler: PSK through node-dtls-client, PSK with a Connection ID, raw public
 * keys and X.509 through our client library. Each registers (POST /rd, 2.01) and the server
 * sees the authenticated identity on the request.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { CoapCode } from '../../src/coap/types.js';
import { bindDtlsTransport, type DtlsPeerIdentity, type DtlsTransport, type DtlsTransportOptions } from '../../src/dtls/index.js';
import type { DeviceSecurity } from '../../simulators/device/dtls-transport.js';
import { SimulatedDevice } from '../../simulators/device/simulated-device.js';
import { makePki, PSK, type Pki } from '../unit/dtls/client-harness.js';

interface RdServer {
  transport: DtlsTransport;
  endpoint: CoapEndpoint;
  registrations: Array<{ ep: string; identity?: DtlsPeerIdentity }>;
}

async function rdServer(options: Omit<DtlsTransportOptions, 'host' | 'port'>): Promise<RdServer> {
  const transport = await bindDtlsTransport({ host: '127.0.0.1', port: 0, ...options });
  const endpoint = new CoapEndpoint({ transport });
  const registrations: RdServer['registrations'] = [];
  endpoint.setRequestHandler((request) => {
    if (request.method === 'POST' && request.path[0] === 'rd' && request.path.length === 1) {
      const ep = request.query.find((q) => q.startsWith('ep='))?.slice(3) ?? '';
      registrations.push({ ep, identity: transport.peerIdentity(request.remote) });
      return { code: CoapCode.Created, locationPath: ['rd', `r${registrations.length}`] };
    }
    if (request.method === 'DELETE') return { code: CoapCode.Deleted };
    return { code: CoapCode.Changed };
  });
  return { transport, endpoint, registrations };
}

describe('interop: the simulated device over coaps://', () => {
  let pki: Pki;
  let server: RdServer | undefined;
  let device: SimulatedDevice | undefined;
  beforeAll(() => {
    pki = makePki();
  });
  afterAll(() => pki.cleanup());
  afterEach(async () => {
    await device?.stop();
    device = undefined;
    await server?.endpoint.close();
    server = undefined;
  });

  async function register(endpointName: string, security: DeviceSecurity): Promise<void> {
    device = new SimulatedDevice({ endpointName, serverUri: `coaps://127.0.0.1:${server!.transport.address().port}`, security, retryDelayMs: 0, requestTimeoutMs: 5000 });
    await device.register();
    expect(device.state).toBe('registered');
    expect(device.registrationLocation).toBe('/rd/r1');
  }

  it('PSK through node-dtls-client', async () => {
    server = await rdServer({ psk: { pskFor: (id) => (id === 'dev-psk' ? PSK : undefined) } });
    await register('dev-psk', { mode: 'psk', identity: 'dev-psk', key: PSK });
    expect(server.registrations).toEqual([{ ep: 'dev-psk', identity: { kind: 'psk', identity: 'dev-psk' } }]);
    expect(server.transport.stats()).toMatchObject({ handshakesCompleted: 1, sessions: 1 });
  });

  it('PSK with a Connection ID through our client', async () => {
    server = await rdServer({ psk: { pskFor: (id) => (id === 'dev-cid' ? PSK : undefined) } });
    await register('dev-cid', { mode: 'psk', identity: 'dev-cid', key: PSK, cid: true });
    expect(server.registrations).toEqual([{ ep: 'dev-cid', identity: { kind: 'psk', identity: 'dev-cid' } }]);
  });

  it('raw public keys through our client', async () => {
    const deviceKey = pki.spki('client.key');
    server = await rdServer({ ecdsa: { privateKeyPem: pki.pem('server.key'), rawPublicKey: true, rpkAllowed: (k) => k.equals(deviceKey) } });
    await register('dev-rpk', { mode: 'rpk', privateKeyPem: pki.pem('client.key'), serverPublicKeyDer: pki.spki('server.key') });
    expect(server.registrations.map((r) => [r.ep, r.identity?.kind])).toEqual([['dev-rpk', 'rpk']]);
  });

  it('X.509 through our client', async () => {
    server = await rdServer({ ecdsa: { privateKeyPem: pki.pem('server.key'), certificateChainPem: [pki.pem('server.pem')], trustAnchorsPem: [pki.pem('ca.pem')] } });
    await register('device-42', { mode: 'x509', privateKeyPem: pki.pem('client.key'), certificateChainPem: [pki.pem('client.pem')], trustAnchorsPem: [pki.pem('ca.pem')] });
    expect(server.registrations).toMatchObject([{ ep: 'device-42', identity: { kind: 'x509', subjectCN: 'device-42' } }]);
  });

  it('a coaps:// URI without credentials is refused before anything is sent', async () => {
    server = await rdServer({ psk: { pskFor: () => PSK } });
    device = new SimulatedDevice({ endpointName: 'nocreds', serverUri: `coaps://127.0.0.1:${server.transport.address().port}`, retryDelayMs: 0 });
    await expect(device.register()).rejects.toThrow('nocreds: a coaps:// server needs the security option');
    expect(server.transport.stats().helloVerifyRequestsSent).toBe(0);
  });
});
