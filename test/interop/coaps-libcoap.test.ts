/**
 * libcoap's coap-client-openssl (a CoAP and DTLS stack we did not write) registering over
 * DTLS-PSK with the real server, and refused when it claims another device's endpoint.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { api, startTestServer, type TestServer } from '../helpers/in-process-server.js';
import { hasTool } from '../helpers/required-tool.js';
import { coapClientOpenssl } from '../helpers/coap-client-openssl.js';

const available = hasTool('coap-client-openssl', 'apt-get install libcoap3-bin');
// coap-client -k takes the key as text: its bytes are the PSK.
const KEY_TEXT = 'libcoap-psk-0123';

const coapClient = coapClientOpenssl;

describe.skipIf(!available)('interop: libcoap coap-client-openssl over CoAPS (DTLS-PSK)', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('registers with -u/-k, and is refused (4.03) registering as another device', async () => {
    server = await startTestServer();
    const s = server;
    const key = Buffer.from(KEY_TEXT).toString('hex');
    await api(s, 'PUT', '/api/security/clients/libcoap-dev', { tls: { mode: 'psk', details: { identity: 'libcoap-id', key } } });
    await api(s, 'PUT', '/api/security/clients/victim', { tls: { mode: 'psk', details: { identity: 'victim-id', key: 'aa'.repeat(16) } } });
    const base = `coaps://127.0.0.1:${s.coapsPort}`;
    const handshakes: string[] = [];
    s.dtls.onEvent((e) => {
      if (e.kind === 'handshakeCompleted') handshakes.push(`${e.cipherSuite} ${e.remote.port} ${e.identity?.kind === 'psk' ? e.identity.identity : '?'}`);
    });

    const run = await coapClient(['-u', 'libcoap-id', '-k', KEY_TEXT, '-m', 'post', '-t', '40', '-e', '</1/0>,</3/0>', `${base}/rd?ep=libcoap-dev&lt=120&lwm2m=1.1&b=U`]);
    expect(run.stderr).not.toMatch(/error|fail/i);
    const registered = await api(s, 'GET', '/api/clients/libcoap-dev');
    expect(registered.status).toBe(200);
    expect(registered.body.lifetime).toBe(120);
    expect(registered.body.availableInstances).toEqual({ '1': [0], '3': [0] });
    // Registered from the address of its DTLS session (coap-client closed it with close_notify on exit).
    const port = String(registered.body.address).split(':')[1];
    expect(handshakes).toEqual([`TLS_PSK_WITH_AES_128_CCM_8 ${port} libcoap-id`]);
    expect(s.dtls.stats().sessions).toBe(0);

    const violations: string[] = [];
    s.lwm2m.events.on('securityViolation', (e) => void violations.push(`${e.operation} ${e.endpoint} by ${e.identity}`));
    const impersonation = await coapClient(['-u', 'libcoap-id', '-k', KEY_TEXT, '-m', 'post', '-t', '40', '-e', '</3/0>', `${base}/rd?ep=victim&lt=120`]);
    // coap-client prints the error code of a failed request on stderr ("4.03 Forbidden").
    expect(`${impersonation.stdout}${impersonation.stderr}`).toContain('4.03');
    expect((await api(s, 'GET', '/api/clients/victim')).status).toBe(404);
    expect(violations).toEqual(['register victim by libcoap-id']);

    const wrongKey = await coapClient(['-u', 'libcoap-id', '-k', 'not-the-right-k', '-m', 'post', '-e', '</3/0>', `${base}/rd?ep=libcoap-dev`]);
    expect(wrongKey.stdout).not.toContain('2.01');
    expect(s.dtls.stats().handshakesFailed).toBeGreaterThanOrEqual(1);
  });
});
