/**
 * Our DTLS client against our DTLS server over real sockets, with real CoAP on top: raw
 * public keys both ways (the RPK interop the server suite lacks), a Connection ID session
 * moving to a new source port, and session resumption.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { CoapCode, type RemoteAddress } from '../../src/coap/types.js';
import { connectDtls, type DtlsClientTransport } from '../../src/dtls/client/index.js';
import { bindDtlsTransport, type DtlsEvent, type DtlsTransport, type DtlsTransportOptions } from '../../src/dtls/index.js';
import { makePki, PSK, type Pki } from '../unit/dtls/client-harness.js';

interface CoapsServer {
  transport: DtlsTransport;
  endpoint: CoapEndpoint;
  events: DtlsEvent[];
  /** Who asked, as the server saw them: identity kind and source port per request. */
  seen: Array<{ identity: string; port: number }>;
}

async function coapsServer(options: Omit<DtlsTransportOptions, 'host' | 'port'>): Promise<CoapsServer> {
  const transport = await bindDtlsTransport({ host: '127.0.0.1', port: 0, ...options });
  const events: DtlsEvent[] = [];
  transport.onEvent((e) => events.push(e));
  const endpoint = new CoapEndpoint({ transport });
  const seen: CoapsServer['seen'] = [];
  endpoint.setRequestHandler((request) => {
    const identity = transport.peerIdentity(request.remote);
    seen.push({ identity: identity?.kind === 'psk' ? `psk:${identity.identity}` : (identity?.kind ?? 'none'), port: request.remote.port });
    return { code: CoapCode.Content, payload: Buffer.from(`hello ${request.path.join('/')}`) };
  });
  return { transport, endpoint, events, seen };
}

describe('interop: our DTLS client and server over sockets, CoAP on top', () => {
  let pki: Pki;
  let server: CoapsServer | undefined;
  const clients: Array<{ endpoint: CoapEndpoint }> = [];
  beforeAll(() => {
    pki = makePki();
  });
  afterAll(() => pki.cleanup());
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.endpoint.close();
    await server?.endpoint.close();
    server = undefined;
  });

  async function coapClient(transport: DtlsClientTransport): Promise<{ endpoint: CoapEndpoint; get(path: string): Promise<string> }> {
    const endpoint = new CoapEndpoint({ transport, ackTimeoutMs: 500 });
    clients.push({ endpoint });
    return {
      endpoint,
      get: async (path) => {
        const response = await endpoint.request(transport.server, { method: 'GET', path: path.split('/'), timeoutMs: 4000 });
        expect(response.code).toBe(CoapCode.Content);
        return response.payload.toString();
      },
    };
  }

  it('raw public keys both ways: each side checks the other’s key, CoAP GET answered', async () => {
    const clientSpki = pki.spki('client.key');
    server = await coapsServer({ ecdsa: { privateKeyPem: pki.pem('server.key'), rawPublicKey: true, rpkAllowed: (k) => k.equals(clientSpki) } });
    const transport = await connectDtls({
      host: '127.0.0.1',
      port: server.transport.address().port,
      ecdsa: { privateKeyPem: pki.pem('client.key'), rawPublicKey: true, serverPublicKeyDer: pki.spki('server.key') },
    });
    const client = await coapClient(transport);
    expect(await client.get('rpk/test')).toBe('hello rpk/test');
    expect(transport.cipherSuite).toBe('TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8');
    expect(server.seen).toEqual([{ identity: 'rpk', port: transport.address().port }]);
    const completed = server.events.find((e) => e.kind === 'handshakeCompleted');
    expect(completed?.kind === 'handshakeCompleted' && completed.identity?.kind === 'rpk' && completed.identity.publicKeyDer.equals(clientSpki)).toBe(true);
  });

  it('a client whose raw public key the server does not allow is refused', async () => {
    server = await coapsServer({ ecdsa: { privateKeyPem: pki.pem('server.key'), rawPublicKey: true, rpkAllowed: () => false } });
    await expect(
      connectDtls({
        host: '127.0.0.1',
        port: server.transport.address().port,
        ecdsa: { privateKeyPem: pki.pem('client.key'), rawPublicKey: true, serverPublicKeyDer: pki.spki('server.key') },
      }),
    ).rejects.toMatchObject({ name: 'DtlsHandshakeError', alert: 42, alertFromPeer: true });
    expect(server.transport.stats()).toMatchObject({ sessions: 0, handshakesFailed: 1 });
  });

  it('Connection ID: the session survives a move to a new source port without a new handshake', async () => {
    server = await coapsServer({ psk: { pskFor: (id) => (id === 'mover' ? PSK : undefined) } });
    const moves: Array<[RemoteAddress, RemoteAddress]> = [];
    server.transport.onAddressChange((from, to) => moves.push([from, to]));
    const transport = await connectDtls({ host: '127.0.0.1', port: server.transport.address().port, psk: { identity: 'mover', key: PSK }, cid: true });
    expect(transport.connectionId).toHaveLength(6);
    const client = await coapClient(transport);
    const before = transport.address().port;
    expect(await client.get('a')).toBe('hello a');
    const after = (await transport.rebind()).port;
    expect(after).not.toBe(before);
    expect(await client.get('b')).toBe('hello b');
    expect(server.seen).toEqual([{ identity: 'psk:mover', port: before }, { identity: 'psk:mover', port: after }]);
    expect(moves).toEqual([[{ address: '127.0.0.1', port: before }, { address: '127.0.0.1', port: after }]]);
    expect(server.transport.stats()).toMatchObject({ handshakesCompleted: 1, addressChanges: 1, sessions: 1 });
  });

  it('resumes a session with an abbreviated handshake from a new socket', async () => {
    server = await coapsServer({ psk: { pskFor: (id) => (id === 'dev' ? PSK : undefined) } });
    const port = server.transport.address().port;
    const first = await connectDtls({ host: '127.0.0.1', port, psk: { identity: 'dev', key: PSK } });
    const session = first.session();
    await first.close();
    const second = await connectDtls({ host: '127.0.0.1', port, psk: { identity: 'dev', key: PSK }, resumeSession: session });
    const client = await coapClient(second);
    expect(second.resumed).toBe(true);
    expect(await client.get('resumed')).toBe('hello resumed');
    expect(server.transport.stats()).toMatchObject({ handshakesCompleted: 2, resumptions: 1 });
  });

  it('tells the application when the server closes the session', async () => {
    server = await coapsServer({ psk: { pskFor: () => PSK } });
    const transport = await connectDtls({ host: '127.0.0.1', port: server.transport.address().port, psk: { identity: 'x', key: PSK } });
    const closed = new Promise<string>((resolve) => transport.onClose(resolve));
    await server.endpoint.close();
    server = undefined;
    expect(await closed).toBe('server sent close_notify');
    expect(transport.isOpen()).toBe(false);
    await transport.close();
  });
});
