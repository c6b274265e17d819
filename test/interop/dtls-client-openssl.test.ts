/**
 * Our DTLS client (connectDtls) against a server we did not write: `openssl s_server -dtls1_2`,
 * PSK and ECDHE-ECDSA with certificates (server chain validated to our anchor, client
 * certificate when the server demands one), exchanging data both ways.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import dgram from 'node:dgram';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectDtls, type DtlsClientTransport, type DtlsConnectOptions } from '../../src/dtls/client/index.js';
import { hasTool } from '../helpers/required-tool.js';
import { makePki, type Pki } from '../unit/dtls/client-harness.js';

const available = hasTool('openssl', 'apt-get install openssl');
const PSK_HEX = '0102030405060708090a0b0c0d0e0f10';
const psk = { identity: 'dev1', key: Buffer.from(PSK_HEX, 'hex') };

/** A UDP port that was free a moment ago (s_server cannot be asked to pick one). */
async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

interface SServer {
  port: number;
  child: ChildProcessWithoutNullStreams;
  output(): string;
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

async function sServer(args: string[]): Promise<SServer> {
  const port = await freePort();
  const child = spawn('openssl', ['s_server', '-dtls1_2', '-accept', String(port), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  child.stdin.on('error', () => {});
  const server: SServer = {
    port,
    child,
    output: () => out,
    waitFor: (text, timeoutMs = 5000) =>
      new Promise((resolve, reject) => {
        const started = Date.now();
        const poll = (): void => {
          if (out.includes(text)) resolve();
          else if (Date.now() - started > timeoutMs) reject(new Error(`s_server never printed ${JSON.stringify(text)}; output:\n${out}`));
          else setTimeout(poll, 20);
        };
        poll();
      }),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill();
      }),
  };
  await server.waitFor('ACCEPT');
  return server;
}

/** Connect, send a line to s_server, get one line back typed into its stdin. */
async function exchange(server: SServer, options: Omit<DtlsConnectOptions, 'host' | 'port'>, tag: string): Promise<DtlsClientTransport> {
  const transport = await connectDtls({ host: '127.0.0.1', port: server.port, retransmission: { initialMs: 300, maxRetransmissions: 4 }, ...options });
  const received = new Promise<string>((resolve) => transport.onDatagram((d) => resolve(d.toString())));
  transport.send(Buffer.from(`from-client-${tag}\n`), transport.server);
  await server.waitFor(`from-client-${tag}`);
  server.child.stdin.write(`from-openssl-${tag}\n`);
  expect(await received).toBe(`from-openssl-${tag}\n`);
  return transport;
}

describe.skipIf(!available)('interop: our DTLS client against openssl s_server -dtls1_2', () => {
  let server: SServer | undefined;
  let client: DtlsClientTransport | undefined;
  let pki: Pki;
  beforeAll(() => {
    pki = makePki();
  });
  afterAll(() => pki.cleanup());
  afterEach(async () => {
    await client?.close();
    client = undefined;
    await server?.stop();
    server = undefined;
  });

  it('PSK-AES128-CCM8 with the cookie exchange (-listen), data both ways', async () => {
    server = await sServer(['-listen', '-nocert', '-psk', PSK_HEX, '-psk_identity', 'dev1', '-cipher', 'PSK-AES128-CCM8']);
    client = await exchange(server, { psk }, 'ccm8');
    expect(client.cipherSuite).toBe('TLS_PSK_WITH_AES_128_CCM_8');
    expect(server.output()).toContain('CIPHER is PSK-AES128-CCM8');
  });

  it('PSK-AES128-CBC-SHA256 without a cookie exchange, data both ways', async () => {
    server = await sServer(['-nocert', '-psk', PSK_HEX, '-psk_hint', 'openssl-hint', '-cipher', 'PSK-AES128-CBC-SHA256']);
    client = await exchange(server, { psk }, 'cbc');
    expect(client.cipherSuite).toBe('TLS_PSK_WITH_AES_128_CBC_SHA256');
  });

  it('a wrong PSK never completes: OpenSSL silently drops our Finished and we give up', async () => {
    server = await sServer(['-listen', '-nocert', '-psk', PSK_HEX, '-cipher', 'PSK-AES128-CCM8']);
    await expect(connectDtls({ host: '127.0.0.1', port: server.port, psk: { identity: 'dev1', key: Buffer.alloc(16, 9) }, retransmission: { initialMs: 200, maxRetransmissions: 2 } }))
      .rejects.toMatchObject({ name: 'DtlsHandshakeError', message: 'handshake timed out after 2 retransmissions', alert: undefined });
    expect(server.output()).not.toContain('CIPHER is');
  });

  it('ECDHE-ECDSA-AES128-CCM8 with the server certificate validated to our trust anchor', async () => {
    server = await sServer(['-listen', '-cert', pki.file('server.pem'), '-key', pki.file('server.key'), '-cert_chain', pki.file('ca.pem'), '-cipher', 'ECDHE-ECDSA-AES128-CCM8']);
    client = await exchange(server, { ecdsa: { privateKeyPem: pki.pem('client.key'), trustAnchorsPem: [pki.pem('ca.pem')] } }, 'ecdhe-ccm8');
    expect(client.cipherSuite).toBe('TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8');
  });

  it('ECDHE-ECDSA-AES128-GCM-SHA256 with a client certificate that OpenSSL demands and verifies', async () => {
    server = await sServer([
      '-listen', '-cert', pki.file('server.pem'), '-key', pki.file('server.key'), '-Verify', '2', '-CAfile', pki.file('ca.pem'), '-verify_return_error',
      '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256',
    ]);
    client = await exchange(server, { ecdsa: { privateKeyPem: pki.pem('client.key'), certificateChainPem: [pki.pem('client.pem')], trustAnchorsPem: [pki.pem('ca.pem')] } }, 'mutual');
    expect(client.cipherSuite).toBe('TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256');
    expect(server.output()).toContain('subject=CN = device-42');
  });

  it('refuses an OpenSSL server whose chain does not end at our anchor (unknown_ca)', async () => {
    server = await sServer(['-listen', '-cert', pki.file('rogue-server.pem'), '-key', pki.file('rogue-server.key'), '-cipher', 'ECDHE-ECDSA-AES128-CCM8']);
    await expect(connectDtls({ host: '127.0.0.1', port: server.port, ecdsa: { privateKeyPem: pki.pem('client.key'), trustAnchorsPem: [pki.pem('ca.pem')] } }))
      .rejects.toMatchObject({ name: 'DtlsHandshakeError', alert: 48, alertFromPeer: false });
    await server.waitFor('alert unknown ca');
  });
});
