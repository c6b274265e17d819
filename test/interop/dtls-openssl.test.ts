/**
 * OpenSSL's s_client (a DTLS client we did not write) against our DTLS server transport:
 * PSK suites, ECDHE-ECDSA with X.509 both ways, wrong keys failing cleanly.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bindDtlsTransport, type DtlsEvent, type DtlsTransport } from '../../src/dtls/index.js';
import { hasTool } from '../helpers/required-tool.js';

const available = hasTool('openssl', 'apt-get install openssl');
const PSK_HEX = '0102030405060708090a0b0c0d0e0f10';

interface ClientRun {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** Runs s_client, sends `line`, waits for `expect` on stdout (or exit), then stops it. */
function sClient(args: string[], line: string, expectText: string | undefined, timeoutMs = 8000): Promise<ClientRun> {
  return new Promise((resolve) => {
    const child = spawn('openssl', ['s_client', '-dtls1_2', '-quiet', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let done = false;
    const finish = (code: number | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill();
      resolve({ stdout, stderr, code });
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (expectText && stdout.includes(expectText)) finish(0);
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => finish(code));
    child.stdin.on('error', () => {});
    child.stdin.write(`${line}\n`);
  });
}

async function echoServer(options: Parameters<typeof bindDtlsTransport>[0]): Promise<{ transport: DtlsTransport; events: DtlsEvent[] }> {
  const transport = await bindDtlsTransport(options);
  const events: DtlsEvent[] = [];
  transport.onEvent((e) => events.push(e));
  transport.onDatagram((data, remote) => transport.send(Buffer.from(`echo:${data.toString()}`), remote));
  return { transport, events };
}

describe.skipIf(!available)('interop: openssl s_client -dtls1_2 against our DTLS server', () => {
  let server: { transport: DtlsTransport; events: DtlsEvent[] } | undefined;
  afterEach(async () => {
    await server?.transport.close();
    server = undefined;
  });

  const pskServer = () =>
    echoServer({ host: '127.0.0.1', port: 0, psk: { pskFor: (id) => (id === 'dev1' ? Buffer.from(PSK_HEX, 'hex') : undefined), hint: 'lwm2m-server' } });

  for (const [cipher, suite] of [
    ['PSK-AES128-CCM8', 'TLS_PSK_WITH_AES_128_CCM_8'],
    ['PSK-AES128-CBC-SHA256', 'TLS_PSK_WITH_AES_128_CBC_SHA256'],
  ] as const) {
    it(`handshakes ${cipher} and echoes application data`, async () => {
      server = await pskServer();
      const port = server.transport.address().port;
      const run = await sClient(['-psk', PSK_HEX, '-psk_identity', 'dev1', '-cipher', cipher, '-connect', `127.0.0.1:${port}`], 'hello-openssl', 'echo:hello-openssl');
      expect(run.stdout).toContain('echo:hello-openssl\n');
      const completed = server.events.find((e) => e.kind === 'handshakeCompleted');
      expect(completed).toMatchObject({ kind: 'handshakeCompleted', identity: { kind: 'psk', identity: 'dev1' }, cipherSuite: suite, resumed: false });
      const stats = server.transport.stats();
      expect(stats.handshakesCompleted).toBe(1);
      expect(stats.helloVerifyRequestsSent).toBe(1);
      expect(stats.recordsDroppedBadMac).toBe(0);
    });
  }

  it('a wrong PSK fails on both sides with bad_record_mac, and the next client still gets in', async () => {
    server = await pskServer();
    const port = server.transport.address().port;
    const wrong = await sClient(['-psk', 'ff' + PSK_HEX.slice(2), '-psk_identity', 'dev1', '-cipher', 'PSK-AES128-CCM8', '-connect', `127.0.0.1:${port}`], 'x', undefined);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('alert bad record mac');
    expect(server.events.find((e) => e.kind === 'handshakeFailed')).toMatchObject({ alert: 20 });
    expect(server.transport.stats().sessions).toBe(0);

    const unknown = await sClient(['-psk', PSK_HEX, '-psk_identity', 'stranger', '-cipher', 'PSK-AES128-CCM8', '-connect', `127.0.0.1:${port}`], 'x', undefined);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('unknown psk identity');
    expect(server.events).toContainEqual(expect.objectContaining({ kind: 'unknownPskIdentity', identity: 'stranger' }));

    const good = await sClient(['-psk', PSK_HEX, '-psk_identity', 'dev1', '-cipher', 'PSK-AES128-CCM8', '-connect', `127.0.0.1:${port}`], 'after', 'echo:after');
    expect(good.stdout).toContain('echo:after');
    expect(server.transport.stats()).toMatchObject({ handshakesCompleted: 1, handshakesFailed: 2, unknownPskIdentity: 1 });
  });

  describe('ECDHE-ECDSA with X.509', () => {
    let dir: string;
    const file = (name: string): string => join(dir, name);
    const pem = (name: string): string => readFileSync(file(name), 'utf8');
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'dtls-x509-'));
      const ossl = (...args: string[]): void => {
        execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
      };
      for (const name of ['ca', 'server', 'client']) ossl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`);
      ossl('req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=test-ca', '-days', '2', '-out', 'ca.pem');
      for (const [name, cn] of [['server', 'server'], ['client', 'device-42']]) {
        ossl('req', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`);
        ossl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', `${name}.pem`);
      }
      // A device key signed by nobody we trust.
      ossl('req', '-x509', '-new', '-key', 'client.key', '-subj', '/CN=rogue', '-days', '2', '-out', 'rogue.pem');
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    const certServer = () =>
      echoServer({ host: '127.0.0.1', port: 0, ecdsa: { privateKeyPem: pem('server.key'), certificateChainPem: [pem('server.pem'), pem('ca.pem')], trustAnchorsPem: [pem('ca.pem')] } });

    for (const [cipher, suite] of [
      ['ECDHE-ECDSA-AES128-GCM-SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'],
      ['ECDHE-ECDSA-AES128-CCM8', 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8'],
    ] as const) {
      it(`handshakes ${cipher} with mutual certificates and echoes`, async () => {
        server = await certServer();
        const port = server.transport.address().port;
        const run = await sClient(
          ['-cipher', cipher, '-CAfile', file('ca.pem'), '-verify_return_error', '-cert', file('client.pem'), '-key', file('client.key'), '-connect', `127.0.0.1:${port}`],
          `hi-${cipher}`,
          `echo:hi-${cipher}`,
        );
        expect(run.stdout).toContain(`echo:hi-${cipher}`);
        const completed = server.events.find((e) => e.kind === 'handshakeCompleted');
        expect(completed).toMatchObject({ cipherSuite: suite, identity: { kind: 'x509', subjectCN: 'device-42' } });
        if (completed?.kind === 'handshakeCompleted' && completed.identity?.kind === 'x509') {
          expect(completed.identity.chainDer[0].equals(new (await import('node:crypto')).X509Certificate(pem('client.pem')).raw)).toBe(true);
        }
      });
    }

    it('refuses a client certificate that does not chain to the trust anchor', async () => {
      server = await certServer();
      const port = server.transport.address().port;
      const run = await sClient(['-cipher', 'ECDHE-ECDSA-AES128-CCM8', '-CAfile', file('ca.pem'), '-cert', file('rogue.pem'), '-key', file('client.key'), '-connect', `127.0.0.1:${port}`], 'x', undefined);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain('alert unknown ca');
      expect(server.transport.stats()).toMatchObject({ handshakesCompleted: 0, handshakesFailed: 1, sessions: 0 });
    });
  });
});
