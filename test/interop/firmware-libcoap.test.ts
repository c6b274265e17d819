/**
 * libcoap's clients download a hosted pull URI block-wise (64-byte blocks), byte-identical:
 * coap-client-notls over coap://, and coap-client-openssl over coaps:// with the PSK of the
 * device the image is for (another identity is refused).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasTool } from '../helpers/required-tool.js';
import { coapClientOpenssl } from '../helpers/coap-client-openssl.js';
import { api, startTestServer, type TestServer } from '../helpers/in-process-server.js';
import { startFirmwareHarness, type FirmwareHarness } from '../unit/firmware-delivery/harness.js';

const run = promisify(execFile);
const available = hasTool('coap-client-notls', 'apt-get install libcoap3-bin');

describe.runIf(available)('pull URI with libcoap coap-client-notls', () => {
  let h: FirmwareHarness;
  let dir: string;

  beforeAll(async () => {
    h = await startFirmwareHarness();
    dir = mkdtempSync(join(tmpdir(), 'fw-libcoap-'));
  });
  afterAll(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('GET -b 64 of a 100 KiB image gives the same bytes; an unknown token is 4.04', async () => {
    const image = h.image('7.7.7', 100 * 1024);
    const sha = createHash('sha256').update(image).digest('hex');
    const path = h.firmware.host.host('interop-token', image, sha);
    const out = join(dir, 'image.bin');
    await run('coap-client-notls', ['-m', 'get', '-b', '64', '-o', out, `${h.coapUri}/${path.join('/')}`], { timeout: 30_000 });
    const downloaded = readFileSync(out);
    expect(downloaded.length).toBe(image.length);
    expect(createHash('sha256').update(downloaded).digest('hex')).toBe(sha);

    const missing = await run('coap-client-notls', ['-m', 'get', '-v', '0', `${h.coapUri}/fw/unknown`], { timeout: 10_000 }).catch((err: { stdout?: string; stderr?: string }) => err);
    expect(`${missing.stdout ?? ''}${missing.stderr ?? ''}`).toContain('4.04');
  }, 40_000);
});

const opensslAvailable = hasTool('coap-client-openssl', 'apt-get install libcoap3-bin');
// coap-client -k takes the key as text: its bytes are the PSK.
const KEY_TEXT = 'fw-libcoap-psk-1';
const OTHER_KEY_TEXT = 'fw-libcoap-psk-2';

describe.runIf(opensslAvailable)('coaps:// pull URI with libcoap coap-client-openssl (DTLS-PSK)', () => {
  let server: TestServer;
  let dir: string;

  beforeAll(async () => {
    server = await startTestServer({ store: 'memory' });
    dir = mkdtempSync(join(tmpdir(), 'fw-libcoap-s-'));
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('GET -b 64 with the device\'s PSK gives the same bytes; another identity is refused with 4.03', async () => {
    await api(server, 'PUT', '/api/security/clients/libcoap-fw', { tls: { mode: 'psk', details: { identity: 'libcoap-fw-id', key: Buffer.from(KEY_TEXT).toString('hex') } } });
    await api(server, 'PUT', '/api/security/clients/someone-else', { tls: { mode: 'psk', details: { identity: 'else-id', key: Buffer.from(OTHER_KEY_TEXT).toString('hex') } } });
    const image = Buffer.alloc(100 * 1024);
    for (let i = 0; i < image.length; i++) image[i] = (i * 7 + (i >> 9)) & 0xff;
    const sha = createHash('sha256').update(image).digest('hex');
    const path = server.firmware.host.host('libcoap-secure', image, sha, undefined, { endpoint: 'libcoap-fw', secure: true });
    const uri = `coaps://127.0.0.1:${server.coapsPort}/${path.join('/')}`;
    const out = join(dir, 'image.bin');

    const fetched = await coapClientOpenssl(['-m', 'get', '-b', '64', '-u', 'libcoap-fw-id', '-k', KEY_TEXT, '-o', out, uri]);
    expect(fetched.code).toBe(0);
    const downloaded = readFileSync(out);
    expect(downloaded.length).toBe(image.length);
    expect(createHash('sha256').update(downloaded).digest('hex')).toBe(sha);

    const other = await coapClientOpenssl(['-m', 'get', '-b', '64', '-u', 'else-id', '-k', OTHER_KEY_TEXT, uri]);
    expect(`${other.stdout}${other.stderr}`).toContain('4.03');
    server.firmware.host.withdraw('libcoap-secure');
  }, 30_000);
});
