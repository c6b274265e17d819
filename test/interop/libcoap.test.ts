/**
 * libcoap's coap-client (Debian libcoap3-bin) as a device we did not write: it registers,
 * updates and de-registers, and sends a registration payload larger than one block.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, getJson, type TestServer } from '../helpers/in-process-server.js';
import { hasTool } from '../helpers/required-tool.js';

const run = promisify(execFile);
const available = hasTool('coap-client-notls', 'apt-get install libcoap3-bin');

/** Runs coap-client with -v 6 so it prints the response PDU, options included. */
async function coapClient(args: string[]): Promise<{ code: string; locationPath: string[]; payload: string; raw: string }> {
  const { stdout, stderr } = await run('coap-client-notls', ['-v', '6', '-B', '5', ...args], { timeout: 15_000 });
  const raw = stdout + stderr;
  const pdu = raw.split('\n').find((line) => /t:(ACK|CON|NON) c:\d\.\d\d/.test(line));
  if (!pdu) throw new Error(`no response PDU in coap-client output:\n${raw}`);
  const code = /c:(\d\.\d\d)/.exec(pdu)![1];
  const locationPath = [...pdu.matchAll(/Location-Path:([^,\s\]]+)/g)].map((m) => m[1]);
  const payload = /:: '(.*)'$/.exec(pdu)?.[1] ?? '';
  return { code, locationPath, payload, raw };
}

describe.skipIf(!available)('interop: libcoap coap-client-notls as a device', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('registers with a link-format payload, updates, and de-registers', async () => {
    const register = await coapClient([
      '-m', 'post', '-t', '40', '-e', '</1/0>,</3/0>,</5/0>',
      `${server.coapUri}/rd?ep=libcoap-dev&lt=120&lwm2m=1.1&b=U`,
    ]);
    expect(register.code).toBe('2.01');
    expect(register.locationPath[0]).toBe('rd');
    const registrationId = register.locationPath[1];
    expect(registrationId).toMatch(/^[A-Za-z0-9_-]+$/);

    const registered = await getJson(`${server.baseUrl}/api/clients/libcoap-dev`);
    expect(registered.status).toBe(200);
    expect(registered.body.registrationId).toBe(registrationId);
    expect(registered.body.lifetime).toBe(120);
    expect(registered.body.lwM2mVersion).toBe('1.1');
    expect(registered.body.objectLinks.map((l: { url: string }) => l.url)).toEqual(['/1/0', '/3/0', '/5/0']);

    const update = await coapClient(['-m', 'post', `${server.coapUri}/rd/${registrationId}?lt=600`]);
    expect(update.code).toBe('2.04');
    expect((await getJson(`${server.baseUrl}/api/clients/libcoap-dev`)).body.lifetime).toBe(600);

    const deregister = await coapClient(['-m', 'delete', `${server.coapUri}/rd/${registrationId}`]);
    expect(deregister.code).toBe('2.02');
    expect((await getJson(`${server.baseUrl}/api/clients/libcoap-dev`)).status).toBe(404);

    const again = await coapClient(['-m', 'delete', `${server.coapUri}/rd/${registrationId}`]);
    expect(again.code).toBe('4.04');
  });

  it('sends a large registration payload in 64-byte blocks (-b 64)', async () => {
    const links = Array.from({ length: 40 }, (_, i) => `</${3300 + i}/0>`);
    const dir = mkdtempSync(join(tmpdir(), 'libcoap-'));
    const file = join(dir, 'links.txt');
    writeFileSync(file, links.join(','));
    expect(links.join(',').length).toBeGreaterThan(64 * 4);

    const register = await coapClient([
      '-m', 'post', '-t', '40', '-b', '64', '-f', file,
      `${server.coapUri}/rd?ep=libcoap-big&lt=300&lwm2m=1.1`,
    ]);
    expect(register.code).toBe('2.01');
    const registered = await getJson(`${server.baseUrl}/api/clients/libcoap-big`);
    expect(registered.body.objectLinks.map((l: { url: string }) => l.url)).toEqual(links.map((l) => l.slice(1, -1)));
  });

  it('is told what is wrong with a registration that lacks an endpoint name', async () => {
    const register = await coapClient(['-m', 'post', '-t', '40', '-e', '</3/0>', `${server.coapUri}/rd?lt=300`]);
    expect(register.code).toBe('4.00');
    expect(register.payload).toContain('ep');
  });
});
