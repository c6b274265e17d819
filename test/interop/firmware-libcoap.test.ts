/** libcoap's client downloads a hosted pull URI block-wise (64-byte blocks), byte-identical. */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasTool } from '../helpers/required-tool.js';
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
