/**
 * DTLS handshakes through a bad link: a UDP proxy on real sockets loses, duplicates and
 * reorders datagrams both ways, and flights are fragmented to a small PMTU. Every handshake
 * still completes (by retransmission, reassembly and replay protection) and carries real CoAP,
 * with PSK and with ECDHE-ECDSA certificates.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { CoapCode, formatCode } from '../../src/coap/types.js';
import { connectDtls } from '../../src/dtls/client/index.js';
import { bindDtlsTransport, type DtlsTransport, type DtlsTransportOptions } from '../../src/dtls/index.js';
import { startLossyProxy, type LossyProxy } from '../helpers/lossy-proxy.js';
import { makePki, PSK } from '../unit/dtls/client-harness.js';

const BAD_LINK = { loss: 0.15, duplicate: 0.15, reorder: 0.3 };
// Short retransmission timers so a lost flight costs milliseconds, not the RFC's seconds.
const FAST = { initialMs: 100, maxMs: 800, maxRetransmissions: 10 };

describe('interop: DTLS handshakes and CoAP through a lossy, duplicating, reordering link', () => {
  const toClose: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const close of toClose.splice(0).reverse()) await close();
  });

  async function coapsServer(options: Omit<DtlsTransportOptions, 'host' | 'port'>): Promise<{ transport: DtlsTransport; proxy: LossyProxy }> {
    const transport = await bindDtlsTransport({
      host: '127.0.0.1',
      port: 0,
      limits: { initialRetransmitMs: FAST.initialMs, maxRetransmitMs: FAST.maxMs, maxRetransmissions: FAST.maxRetransmissions, pmtu: 300 },
      ...options,
    });
    const endpoint = new CoapEndpoint({ transport, ackTimeoutMs: 200 });
    endpoint.setRequestHandler((request) => ({ code: CoapCode.Content, payload: Buffer.from(`hello ${request.path.join('/')}`) }));
    toClose.push(() => transport.close());
    const proxy = await startLossyProxy({ address: '127.0.0.1', port: transport.address().port }, { ...BAD_LINK, seed: 4242 });
    toClose.push(() => proxy.close());
    return { transport, proxy };
  }

  // node-dtls-client is our lossless PSK interop peer (dtls-node-dtls-client.test.ts): through
  // this link its handshakes stalled (only a client can resend a lost ClientHello, and it did not
  // within 20 s), so the bad-link cases use our own client against the server.
  it('PSK-CCM8 handshakes complete and carry CoAP, five times over', async () => {
    const { proxy } = await coapsServer({ psk: { pskFor: (identity) => (identity === 'dev' ? PSK : undefined) } });
    for (let i = 0; i < 5; i++) {
      const client = await connectDtls({ host: '127.0.0.1', port: proxy.port, psk: { identity: 'dev', key: PSK }, pmtu: 300, retransmission: FAST });
      const endpoint = new CoapEndpoint({ transport: client, ackTimeoutMs: 200 });
      toClose.push(() => endpoint.close());
      const response = await endpoint.request(client.server, { method: 'GET', path: [`round-${i}`] });
      expect(formatCode(response.code)).toBe('2.05');
      expect(response.payload.toString()).toBe(`hello round-${i}`);
    }
    expect(proxy.stats.dropped).toBeGreaterThan(0);
    expect(proxy.stats.duplicated).toBeGreaterThan(0);
    expect(proxy.stats.delayed).toBeGreaterThan(0);
  });

  it('our client completes an ECDHE-ECDSA handshake with certificates fragmented to a 300-byte PMTU', async () => {
    const pki = makePki();
    toClose.push(() => pki.cleanup());
    const { proxy, transport } = await coapsServer({
      ecdsa: {
        privateKeyPem: pki.pem('server.key'),
        certificateChainPem: [pki.pem('server.pem')],
        trustAnchorsPem: [pki.pem('ca.pem')],
      },
    });
    for (let i = 0; i < 3; i++) {
      const client = await connectDtls({
        host: '127.0.0.1',
        port: proxy.port,
        ecdsa: { privateKeyPem: pki.pem('client.key'), certificateChainPem: [pki.pem('client.pem')], trustAnchorsPem: [pki.pem('ca.pem')] },
        pmtu: 300,
        retransmission: FAST,
      });
      const endpoint = new CoapEndpoint({ transport: client, ackTimeoutMs: 200 });
      toClose.push(() => endpoint.close());
      const response = await endpoint.request(client.server, { method: 'GET', path: ['cert', String(i)] });
      expect(formatCode(response.code)).toBe('2.05');
      expect(response.payload.toString()).toBe(`hello cert/${i}`);
    }
    expect(transport.stats().handshakesCompleted).toBeGreaterThanOrEqual(3);
    expect(proxy.stats.dropped).toBeGreaterThan(0);
  });
});
