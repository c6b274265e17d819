import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import coap from 'coap';
import { CoapEndpoint } from '../../../src/coap/endpoint.js';
import { CoapCode } from '../../../src/coap/types.js';
import { endpoint, pattern } from './helpers.js';

/** node-coap's client (an independent implementation) against our endpoint. */
describe('interop: node-coap client → our endpoint', () => {
  let server: CoapEndpoint;
  let agent: coap.Agent;
  let uploaded: Buffer | undefined;
  const resource = pattern(3000);

  beforeAll(async () => {
    server = await endpoint();
    server.setRequestHandler((req) => {
      if (req.method === 'GET') return { code: CoapCode.Content, payload: resource, contentFormat: 42 };
      uploaded = req.payload;
      return { code: CoapCode.Changed };
    });
    agent = new coap.Agent({ type: 'udp4' });
  });
  afterAll(async () => {
    agent.close();
    await server.close();
  });

  function send(method: 'GET' | 'PUT', payload?: Buffer): Promise<{ code: string; payload: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = coap.request({ hostname: '127.0.0.1', port: server.address().port, pathname: '/5/0/0', method, agent });
      req.on('response', (res: { code: string; payload: Buffer }) => resolve({ code: res.code, payload: res.payload }));
      req.on('error', reject);
      if (payload) {
        req.setOption('Block1', Buffer.of(6)); // node-coap: segmented upload with szx 6
        req.write(payload);
      }
      req.end();
    });
  }

  it('GET of a 3000-byte resource arrives whole through Block2', async () => {
    const res = await send('GET');
    expect(res.code).toBe('2.05');
    expect(res.payload.equals(resource)).toBe(true);
  });

  it('PUT of 3000 bytes arrives whole through Block1', async () => {
    const body = pattern(3000).reverse();
    const res = await send('PUT', body);
    expect(res.code).toBe('2.04');
    expect(uploaded?.equals(body)).toBe(true);
  });
});
