/**
 * openssl s_client (a DTLS stack we did not write) against the real server's CoAPS port
 * with a client certificate: it verifies the server's generated self-signed certificate,
 * presents a device certificate chained to --dtls-ca, and sends a real CoAP register. The
 * certificate's CN is bound to the endpoint: the same certificate claiming another
 * endpoint gets 4.03.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CoapCode, parseMessage, serializeMessage, type CoapMessage } from '../../src/coap/index.js';
import { startTestServer, type TestServer } from '../helpers/in-process-server.js';
import { hasTool } from '../helpers/required-tool.js';

const available = hasTool('openssl', 'apt-get install openssl');

function registerDatagram(endpoint: string, messageId: number): Buffer {
  return serializeMessage({
    type: 'CON',
    code: CoapCode.POST,
    messageId,
    token: Buffer.from([0x51, 0x52]),
    options: [
      { number: 11, value: Buffer.from('rd') },
      { number: 12, value: Buffer.from([40]) },
      { number: 15, value: Buffer.from(`ep=${endpoint}`) },
      { number: 15, value: Buffer.from('lt=90') },
    ],
    payload: Buffer.from('</3/0>'),
  });
}

/** Runs s_client, writes one CoAP datagram as one DTLS record, and resolves with the first CoAP answer. */
function sClientCoap(args: string[], datagram: Buffer, timeoutMs = 8000): Promise<{ answer?: CoapMessage; stderr: string; code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn('openssl', ['s_client', '-dtls1_2', '-quiet', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = Buffer.alloc(0);
    let stderr = '';
    let done = false;
    const finish = (code: number | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill();
      let answer: CoapMessage | undefined;
      try {
        answer = stdout.length > 0 ? parseMessage(stdout) : undefined;
      } catch {
        answer = undefined;
      }
      resolve({ answer, stderr, code });
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      stdout = Buffer.concat([stdout, d]);
      if (stdout.length >= 4) setTimeout(() => finish(0), 50);
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => finish(code));
    child.stdin.on('error', () => {});
    child.stdin.write(datagram);
  });
}

describe.skipIf(!available)('interop: openssl s_client with a client certificate on the CoAPS port', () => {
  let dir: string;
  const file = (name: string): string => join(dir, name);
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'coaps-x509-'));
    const ossl = (...args: string[]): void => {
      execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    };
    for (const name of ['ca', 'device']) ossl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`);
    ossl('req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=fleet-ca', '-days', '2', '-out', 'ca.pem');
    ossl('req', '-new', '-key', 'device.key', '-subj', '/CN=device-42', '-out', 'device.csr');
    ossl('x509', '-req', '-in', 'device.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', 'device.pem');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  let server: TestServer | undefined;
  let dataDir: string | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    dataDir = undefined;
  });

  it('handshakes ECDHE-ECDSA-AES128-CCM8 with mutual certificates and registers the endpoint named by the CN', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'coaps-x509-data-'));
    server = await startTestServer({ dataDir, dtlsCaFile: file('ca.pem') });
    const s = server;
    const api = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${s.baseUrl}${path}`, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    };
    expect((await api('PUT', '/api/security/clients/device-42', { tls: { mode: 'x509' } })).status).toBe(200);
    expect((await api('PUT', '/api/security/clients/device-43', { tls: { mode: 'x509' } })).status).toBe(200);
    expect((await api('GET', '/api/security/server')).body.trustAnchors).toEqual([{ subject: 'CN=fleet-ca', fingerprint256: expect.any(String) }]);
    const identities: string[] = [];
    s.dtls.onEvent((e) => {
      if (e.kind === 'handshakeCompleted') identities.push(`${e.cipherSuite} ${e.identity?.kind === 'x509' ? e.identity.subjectCN : '-'}`);
    });

    const clientArgs = [
      '-cipher', 'ECDHE-ECDSA-AES128-CCM8',
      // Verifies the self-signed certificate the server generated in its data directory.
      '-CAfile', join(dataDir, 'dtls-server.cert.pem'), '-verify_return_error',
      '-cert', file('device.pem'), '-key', file('device.key'),
      '-connect', `127.0.0.1:${s.coapsPort}`,
    ];
    const ok = await sClientCoap(clientArgs, registerDatagram('device-42', 0x1001));
    expect(ok.answer?.code, ok.stderr).toBe(CoapCode.Created);
    expect(ok.answer?.messageId).toBe(0x1001);
    expect(identities).toEqual(['TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 device-42']);
    expect((await api('GET', '/api/clients/device-42')).status).toBe(200);

    const impersonation = await sClientCoap(clientArgs, registerDatagram('device-43', 0x1002));
    expect(impersonation.answer?.code).toBe(CoapCode.Forbidden);
    expect((await api('GET', '/api/clients/device-43')).status).toBe(404);
  });

  it('a device that presents no certificate is refused in the handshake once trust anchors are configured', async () => {
    server = await startTestServer({ dtlsCaFile: file('ca.pem') });
    const failures: string[] = [];
    server.dtls.onEvent((e) => {
      if (e.kind === 'handshakeFailed') failures.push(`${e.reason} ${e.alert}`);
    });
    const refused = await sClientCoap(['-cipher', 'ECDHE-ECDSA-AES128-CCM8', '-connect', `127.0.0.1:${server.coapsPort}`], registerDatagram('anonymous', 0x2001));
    expect(refused.answer).toBeUndefined();
    expect(refused.stderr).toContain('alert bad certificate');
    expect(failures).toEqual(['empty certificate chain 42']);
    expect((await fetch(`${server.baseUrl}/api/clients/anonymous`)).status).toBe(404);
  });
});
