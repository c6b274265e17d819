/**
 * libcoap's coap-client-openssl (a DTLS and CoAP stack we did not write) asking for
 * bootstrap over DTLS-PSK with its bootstrap credentials: the bootstrap CoAPS listener
 * answers 2.04 and starts a session for that endpoint; claiming another endpoint gets 4.03.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { BootstrapStartedEvent } from '../../src/lwm2m/bootstrap/events.js';
import { startTestServer, type TestServer } from '../helpers/in-process-server.js';
import { hasTool } from '../helpers/required-tool.js';
import { coapClientOpenssl } from '../helpers/coap-client-openssl.js';

const available = hasTool('coap-client-openssl', 'apt-get install libcoap3-bin');
// coap-client -k takes the key as text: its bytes are the PSK.
const KEY_TEXT = 'libcoap-bs-key-0';

const coapClient = coapClientOpenssl;

async function putConfig(server: TestServer, endpoint: string, identity: string): Promise<number> {
  const config = {
    bootstrap: { security: { mode: 'psk', identity, key: Buffer.from(KEY_TEXT).toString('hex') } },
    servers: [{ shortId: 1, uri: `coaps://127.0.0.1:${server.coapsPort}`, securityMode: 'psk', lifetime: 60, binding: 'U', pskIdentity: `${endpoint}-id`, pskKey: 'c3'.repeat(16) }],
    retries: 0,
    requestTimeoutSec: 1,
  };
  const response = await fetch(`${server.baseUrl}/api/bootstrap/${endpoint}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(config) });
  return response.status;
}

describe.skipIf(!available)('interop: libcoap coap-client-openssl bootstrapping over CoAPS (DTLS-PSK)', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('POST /bs with -u/-k gets 2.04 and a session; as another endpoint gets 4.03', async () => {
    server = await startTestServer();
    const s = server;
    expect(await putConfig(s, 'libcoap-bs', 'libcoap-bs-id')).toBe(201);
    expect(await putConfig(s, 'other-bs', 'other-bs-id')).toBe(201);
    const started: BootstrapStartedEvent[] = [];
    s.lwm2m.events.on('bootstrapStarted', (e) => void started.push(e));
    const base = `coaps://127.0.0.1:${s.bootstrapCoapsPort}`;

    const run = await coapClient(['-u', 'libcoap-bs-id', '-k', KEY_TEXT, '-m', 'post', `${base}/bs?ep=libcoap-bs`]);
    // coap-client prints error responses ("4.03 ...") on stderr; a 2.04 without payload prints nothing.
    expect(run.stderr).not.toMatch(/\d\.\d\d/);
    expect(started).toHaveLength(1);
    expect(started[0].endpoint).toBe('libcoap-bs');
    expect(s.bootstrapCoaps?.server.status('libcoap-bs')?.endpoint).toBe('libcoap-bs');

    const refused = await coapClient(['-u', 'libcoap-bs-id', '-k', KEY_TEXT, '-m', 'post', `${base}/bs?ep=other-bs`]);
    expect(`${refused.stdout}${refused.stderr}`).toMatch(/4\.03/);
    expect(s.bootstrapCoaps?.server.status('other-bs')).toBeUndefined();
  }, 30_000);
});
