/**
 * node-coap's client as a peer we did not write: register, update, de-register, and a
 * registration payload sent with Block1 in 64-byte blocks.
 */
import coap from 'coap';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, getJson, type TestServer } from '../helpers/in-process-server.js';

interface Answer {
  code: string;
  locationPath: string[];
  payload: string;
}

function send(
  port: number,
  method: 'POST' | 'DELETE',
  pathname: string,
  query: string,
  payload?: string,
  block1Szx?: number,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = coap.request({ hostname: '127.0.0.1', port, method, pathname, query, agent: new coap.Agent({ type: 'udp4' }) });
    if (payload !== undefined) request.setOption('Content-Format', 'application/link-format');
    // node-coap splits the body into blocks when the request carries a Block1 option: its
    // first byte sets the block size (szx).
    if (block1Szx !== undefined) request.setOption('Block1', Buffer.of(block1Szx));
    request.on('response', (response: any) => {
      const locationPath = (response.options as { name: string | number; value: Buffer }[])
        .filter((option) => option.name === 'Location-Path')
        .map((option) => option.value.toString());
      resolve({ code: response.code, locationPath, payload: response.payload.toString() });
    });
    request.on('error', reject);
    request.end(payload === undefined ? undefined : Buffer.from(payload));
  });
}

describe('interop: node-coap client as a device', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('registers, updates and de-registers', async () => {
    const register = await send(server.coapPort, 'POST', '/rd', 'ep=node-coap-dev&lt=90&lwm2m=1.2&b=U', '</3/0>,</4/0>');
    expect(register.code).toBe('2.01');
    expect(register.locationPath[0]).toBe('rd');
    const id = register.locationPath[1];

    const registered = await getJson(`${server.baseUrl}/api/clients/node-coap-dev`);
    expect(registered.body.registrationId).toBe(id);
    expect(registered.body.lwM2mVersion).toBe('1.2');
    expect(registered.body.lifetime).toBe(90);

    expect((await send(server.coapPort, 'POST', `/rd/${id}`, 'lt=45')).code).toBe('2.04');
    expect((await getJson(`${server.baseUrl}/api/clients/node-coap-dev`)).body.lifetime).toBe(45);

    expect((await send(server.coapPort, 'DELETE', `/rd/${id}`, '')).code).toBe('2.02');
    expect((await getJson(`${server.baseUrl}/api/clients/node-coap-dev`)).status).toBe(404);
  });

  it('sends a large registration payload with Block1', async () => {
    const links = Array.from({ length: 30 }, (_, i) => `</${10240 + i}/0>`);
    const register = await send(server.coapPort, 'POST', '/rd', 'ep=node-coap-big&lt=300&lwm2m=1.1', links.join(','), 2);
    expect(register.code).toBe('2.01');
    const registered = await getJson(`${server.baseUrl}/api/clients/node-coap-big`);
    expect(registered.body.objectLinks.map((l: { url: string }) => l.url)).toEqual(links.map((l) => l.slice(1, -1)));
  });

  it('answers 4.12 to an unsupported LwM2M version', async () => {
    const register = await send(server.coapPort, 'POST', '/rd', 'ep=node-coap-old&lwm2m=0.9', '</3/0>');
    expect(register.code).toBe('4.12');
    expect(register.payload).toContain('0.9');
  });
});
