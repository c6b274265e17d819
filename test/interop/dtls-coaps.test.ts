/** CoAPS: our CoapEndpoint on the DTLS transport, with node-dtls-client carrying a CoAP GET. */
import { dtls } from 'node-dtls-client';
import { afterEach, describe, expect, it } from 'vitest';
import { CoapCode, CoapEndpoint, parseMessage, serializeMessage } from '../../src/coap/index.js';
import { bindDtlsTransport, type DtlsTransport } from '../../src/dtls/index.js';

const PSK = Buffer.from('a0a1a2a3a4a5a6a7a8a9aaabacadaeaf', 'hex');

describe('interop: CoAP over our DTLS transport (CoAPS)', () => {
  let endpoint: CoapEndpoint | undefined;
  let transport: DtlsTransport | undefined;
  afterEach(async () => {
    if (endpoint) await endpoint.close();
    else await transport?.close();
    endpoint = undefined;
    transport = undefined;
  });

  it('answers a confirmable GET and sees the PSK identity of the requester', async () => {
    transport = await bindDtlsTransport({ host: '127.0.0.1', port: 0, psk: { pskFor: (id) => (id === 'urn:dev:7' ? PSK : undefined) } });
    const t = transport;
    endpoint = new CoapEndpoint({ transport: t });
    endpoint.setRequestHandler((request) => {
      const who = t.peerIdentity(request.remote);
      return { code: CoapCode.Content, payload: Buffer.from(`${request.path.join('/')} for ${who?.kind === 'psk' ? who.identity : '?'}`) };
    });
    const response = await new Promise<Buffer>((resolve, reject) => {
      const socket = dtls.createSocket({ type: 'udp4', address: '127.0.0.1', port: t.address().port, psk: { 'urn:dev:7': PSK.toString('latin1') }, ciphers: ['TLS_PSK_WITH_AES_128_CCM_8'], timeout: 5000 });
      socket.on('connected', () =>
        socket.send(serializeMessage({ type: 'CON', code: CoapCode.GET, messageId: 0x1234, token: Buffer.from([7, 7]), options: [{ number: 11, value: Buffer.from('fw') }], payload: Buffer.alloc(0) })),
      );
      socket.on('message', (m: Buffer) => {
        socket.close();
        resolve(m);
      });
      socket.on('error', reject);
    });
    const message = parseMessage(response);
    expect(message.type).toBe('ACK');
    expect(message.code).toBe(CoapCode.Content);
    expect(message.messageId).toBe(0x1234);
    expect(message.payload.toString()).toBe('fw for urn:dev:7');
  });
});
