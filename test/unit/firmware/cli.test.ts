import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { registerFirmwareSignCommands } from '../../../src/cli/commands/firmware-sign.js';
import { registerKeysCommand } from '../../../src/cli/commands/keys.js';

const dir = mkdtempSync(join(tmpdir(), 'fw-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
});

/** Runs one CLI invocation in-process, capturing what it prints. */
async function run(...args: string[]): Promise<{ out: string; err: string; code: number }> {
  const program = new Command().exitOverride();
  registerKeysCommand(program);
  registerFirmwareSignCommands(program);
  let out = '';
  let err = '';
  const o = process.stdout.write.bind(process.stdout);
  const e = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
  try {
    process.exitCode = undefined;
    await program.parseAsync(['node', 'lwm2m-server', ...args]);
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { out, err, code };
}

const p = (f: string) => join(dir, f);
const VENDOR = 'fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe';
const CLASS = '1492af1425695e48bf429b2d51f2ab45';

describe('keys generate / firmware sign / firmware verify', () => {
  it('signs with two keys, encrypts for a device, and verifies with both required', async () => {
    expect((await run('keys', 'generate', '--type', 'es256', '--out', p('author.pem'))).code).toBe(0);
    expect((await run('keys', 'generate', '--type', 'ed25519', '--out', p('operator.pem'))).code).toBe(0);
    expect((await run('keys', 'generate', '--type', 'es256', '--out', p('device.pem'))).code).toBe(0);
    expect(readFileSync(p('author.pem'), 'utf8')).toContain('BEGIN PRIVATE KEY');
    expect(readFileSync(p('author.pem.pub.pem'), 'utf8')).toContain('BEGIN PUBLIC KEY');
    writeFileSync(p('image.bin'), Buffer.alloc(5000, 0x5a));

    const signed = await run('firmware', 'sign', p('image.bin'), '--key', `${p('author.pem')}#author`, '--key', `${p('operator.pem')}#operator`,
      '--sequence', '12', '--vendor', VENDOR, '--class', CLASS, '--encrypt-for', `${p('device.pem.pub.pem')}#dev-1`, '--compress',
      '--name', 'demo', '--version', '1.0.0', '--out', p('image.suit'));
    expect(signed.err).toBe('');
    expect(signed.code).toBe(0);
    expect(signed.out).toMatch(/^envelope written to .*image\.suit \(\d+ bytes\); encrypted payload written to .*image\.suit\.payload\n$/);

    const ok = await run('firmware', 'verify', p('image.suit'), '--trust', `${p('author.pem.pub.pem')}#author@author`,
      '--trust', `${p('operator.pem.pub.pem')}#operator@operator`, '--require', 'author', '--require', 'operator',
      '--image', p('image.suit.payload'), '--device-key', p('device.pem'));
    expect(ok.err).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('manifest OK, image OK');
    expect(ok.out).toContain('sequence number: 12');
    expect(ok.out).toContain("signed by:       author 'author' (ES256, 256-bit)");
    expect(ok.out).toContain("signed by:       operator 'operator' (EdDSA, 256-bit)");
    expect(ok.out).toContain('encrypted:       yes, compressed (zlib)');
  });

  it('exits non-zero with the reason when a required signer is missing or the image was altered', async () => {
    const missing = await run('firmware', 'verify', p('image.suit'), '--trust', `${p('author.pem.pub.pem')}#author@author`, '--require', 'operator');
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^firmware verify failed: (unknown-key|missing-signer): /);

    const payload = readFileSync(p('image.suit.payload'));
    payload[10] ^= 1;
    writeFileSync(p('bad.payload'), payload);
    const altered = await run('firmware', 'verify', p('image.suit'), '--trust', `${p('author.pem.pub.pem')}#author@author`,
      '--trust', `${p('operator.pem.pub.pem')}#operator@operator`, '--image', p('bad.payload'), '--device-key', p('device.pem'));
    expect(altered.code).toBe(1);
    expect(altered.err).toContain('firmware verify failed: decrypt-failed');
  });

  it('tier 1: HMAC key and AES-KW secret from keys generate', async () => {
    await run('keys', 'generate', '--type', 'hmac', '--out', p('psk.hex'));
    await run('keys', 'generate', '--type', 'aes-kw', '--out', p('kek.hex'));
    expect(readFileSync(p('psk.hex'), 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
    expect(readFileSync(p('kek.hex'), 'utf8')).toMatch(/^[0-9a-f]{32}\n$/);
    const signed = await run('firmware', 'sign', p('image.bin'), '--key', p('psk.hex'), '--sequence', '1', '--vendor', VENDOR, '--class', CLASS,
      '--encrypt-for', p('kek.hex'), '--out', p('t1.suit'));
    expect(signed.code).toBe(0);
    const ok = await run('firmware', 'verify', p('t1.suit'), '--trust', p('psk.hex'), '--image', p('t1.suit.payload'), '--device-key', p('kek.hex'));
    expect(ok.err).toBe('');
    expect(ok.out).toContain("signed by:       author 'psk' (HMAC256, 256-bit)");
  });

  it('rejects an unknown key type', async () => {
    const r = await run('keys', 'generate', '--type', 'dsa');
    expect(r.code).toBe(1);
    expect(r.err).toContain("unknown key type 'dsa'");
  });
});
