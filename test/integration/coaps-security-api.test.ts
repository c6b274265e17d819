/**
 * /api/security over HTTP on the real server: Leshan's shape, keys write-only, bad bodies
 * refused with their reason, credentials surviving a restart, and the server's own
 * (generated) certificate shown.
 */
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/in-process-server.js';
import { connectPskDevice } from './coaps-psk-client.js';

const KEY_HEX = '000102030405060708090a0b0c0d0e0f';

async function api(server: TestServer, method: string, path: string, body?: unknown, raw?: string): Promise<{ status: number; body: any; text: string }> {
  const response = await fetch(`${server.baseUrl}${path}`, {
    method,
    headers: body === undefined && raw === undefined ? {} : { 'content-type': 'application/json' },
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text), text };
}

const p256SpkiHex = (): string => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' }).toString('hex');

describe('HTTP API /api/security', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const start = async (overrides: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> => {
    const server = await startTestServer(overrides);
    cleanups.push(() => server.close());
    return server;
  };

  it('stores psk, rpk and x509 info in Leshan shape and never answers with a PSK', async () => {
    const s = await start();
    const rpkKey = p256SpkiHex();
    const put = await api(s, 'PUT', '/api/security/clients/dev-psk', { endpoint: 'dev-psk', tls: { mode: 'psk', details: { identity: 'psk-id', key: KEY_HEX } } });
    expect(put).toMatchObject({ status: 200, body: { endpoint: 'dev-psk', tls: { mode: 'psk', details: { identity: 'psk-id' } } } });
    expect((await api(s, 'PUT', '/api/security/clients/dev-rpk', { tls: { mode: 'rpk', details: { key: rpkKey.toUpperCase() } } })).status).toBe(200);
    expect((await api(s, 'PUT', '/api/security/clients/dev-x509', { tls: { mode: 'x509' } })).status).toBe(200);
    // Leshan's own form, endpoint in the body.
    expect((await api(s, 'PUT', '/api/security/clients', { endpoint: 'dev-mapped', tls: { mode: 'x509', details: { subjectCN: 'serial-0042' } } })).status).toBe(200);

    const list = await api(s, 'GET', '/api/security/clients');
    expect(list.status).toBe(200);
    expect(list.body).toEqual([
      { endpoint: 'dev-mapped', tls: { mode: 'x509', details: { subjectCN: 'serial-0042' } } },
      { endpoint: 'dev-psk', tls: { mode: 'psk', details: { identity: 'psk-id' } } },
      // A public key is not a secret: shown, normalized to lower-case DER hex.
      { endpoint: 'dev-rpk', tls: { mode: 'rpk', details: { key: rpkKey } } },
      { endpoint: 'dev-x509', tls: { mode: 'x509' } },
    ]);
    expect(list.text).not.toContain(KEY_HEX);
    const one = await api(s, 'GET', '/api/security/clients/dev-psk');
    expect(one.body).toEqual({ endpoint: 'dev-psk', tls: { mode: 'psk', details: { identity: 'psk-id' } } });
    expect(one.text).not.toContain(KEY_HEX);
    expect(s.security.pskFor('psk-id')?.toString('hex')).toBe(KEY_HEX);
    expect(s.security.rpkAllowed(Buffer.from(rpkKey, 'hex'))).toBe(true);

    expect((await api(s, 'DELETE', '/api/security/clients/dev-psk')).status).toBe(204);
    expect(s.security.pskFor('psk-id')).toBeUndefined();
    expect(await api(s, 'GET', '/api/security/clients/dev-psk')).toMatchObject({ status: 404, body: { error: 'unknown endpoint' } });
    expect((await api(s, 'DELETE', '/api/security/clients/dev-psk')).status).toBe(404);

    const audit = await s.store.audit.list();
    expect(audit.map((e) => [e.action, e.subject])).toEqual([
      ['security.put', 'dev-psk'],
      ['security.put', 'dev-rpk'],
      ['security.put', 'dev-x509'],
      ['security.put', 'dev-mapped'],
      ['security.delete', 'dev-psk'],
    ]);
    expect(JSON.stringify(audit)).not.toContain(KEY_HEX);
  });

  it('refuses bad bodies with 400 and the reason, and credentials claimed twice with 409', async () => {
    const s = await start();
    const cases: Array<[unknown, string]> = [
      [[1, 2], 'the body must be a JSON object'],
      [{}, '"tls" must be an object'],
      [{ tls: { mode: 'oscore' } }, '"tls.mode" must be "psk", "rpk" or "x509", got "oscore"'],
      [{ endpoint: 'other', tls: { mode: 'x509' } }, 'the body names endpoint "other" but the URL names "ep1"'],
      [{ tls: { mode: 'psk', details: { key: KEY_HEX } } }, 'psk needs "tls.details.identity"'],
      [{ tls: { mode: 'psk', details: { identity: 'i', key: 'xyz' } } }, '"tls.details.key" must be an even number of hex digits'],
      [{ tls: { mode: 'psk', details: { identity: 'i', key: '0011' } } }, 'the PSK must be 16 to 64 bytes (32-128 hex digits), got 2'],
      [{ tls: { mode: 'psk', details: { identity: 'x'.repeat(129), key: KEY_HEX } } }, 'the PSK identity is longer than 128 bytes'],
      [{ tls: { mode: 'rpk', details: { key: 'abcd' } } }, '"tls.details.key" is not a DER SubjectPublicKeyInfo public key'],
      [{ tls: { mode: 'rpk', details: { key: generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }).toString('hex') } } }, 'must be an EC P-256'],
      [{ tls: { mode: 'x509', details: { subjectCN: '' } } }, '"tls.details.subjectCN" must be a non-empty string'],
    ];
    for (const [body, reason] of cases) {
      const answer = await api(s, 'PUT', '/api/security/clients/ep1', body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.error).toBe('bad security info');
      expect(answer.body.detail).toContain(reason);
    }
    const notJson = await api(s, 'PUT', '/api/security/clients/ep1', undefined, '{"tls":');
    expect(notJson.status).toBe(400);
    expect((await api(s, 'PUT', '/api/security/clients', { tls: { mode: 'x509' } })).body.detail).toContain('needs "endpoint" in the body');
    expect(await api(s, 'GET', '/api/security/clients')).toMatchObject({ status: 200, body: [] });

    const rpkKey = p256SpkiHex();
    await api(s, 'PUT', '/api/security/clients/ep1', { tls: { mode: 'psk', details: { identity: 'shared', key: KEY_HEX } } });
    await api(s, 'PUT', '/api/security/clients/ep1-rpk', { tls: { mode: 'rpk', details: { key: rpkKey } } });
    await api(s, 'PUT', '/api/security/clients/ep1-cert', { tls: { mode: 'x509' } });
    const conflicts: Array<[string, unknown, string]> = [
      ['ep2', { tls: { mode: 'psk', details: { identity: 'shared', key: KEY_HEX } } }, 'PSK identity "shared" already belongs to endpoint "ep1"'],
      ['ep2', { tls: { mode: 'rpk', details: { key: rpkKey } } }, 'this public key already belongs to endpoint "ep1-rpk"'],
      ['ep2', { tls: { mode: 'x509', details: { subjectCN: 'ep1-cert' } } }, 'certificate CN "ep1-cert" is already expected for endpoint "ep1-cert"'],
    ];
    for (const [endpoint, body, reason] of conflicts) {
      expect(await api(s, 'PUT', `/api/security/clients/${endpoint}`, body)).toMatchObject({ status: 409, body: { error: 'conflict', detail: reason } });
    }
    // The same endpoint may replace its own credential.
    expect((await api(s, 'PUT', '/api/security/clients/ep1', { tls: { mode: 'psk', details: { identity: 'shared', key: KEY_HEX.replace('00', 'ff') } } })).status).toBe(200);
    expect((await api(s, 'GET', '/api/security/clients')).body.map((e: { endpoint: string }) => e.endpoint)).toEqual(['ep1', 'ep1-cert', 'ep1-rpk']);
  });

  it('shows the self-signed certificate it made in the data directory, the key kept private', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'coaps-api-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const s = await start({ dataDir });
    const view = await api(s, 'GET', '/api/security/server');
    expect(view.status).toBe(200);
    const certificate = new X509Certificate(readFileSync(join(dataDir, 'dtls-server.cert.pem')));
    expect(view.body).toMatchObject({
      certificate: certificate.raw.toString('hex'),
      pubkey: certificate.publicKey.export({ type: 'spki', format: 'der' }).toString('hex'),
      subject: 'CN=lwm2m-server',
      issuer: 'CN=lwm2m-server',
      selfSigned: true,
      chainLength: 1,
      trustAnchors: [],
      fingerprint256: certificate.fingerprint256,
    });
    expect(certificate.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(statSync(join(dataDir, 'dtls-server.key.pem')).mode & 0o777).toBe(0o600);
    expect(view.text).not.toContain('PRIVATE');
  });

  it('keeps credentials across a restart (encrypted store) and reuses its server key', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'coaps-restart-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const first = await startTestServer({ dataDir });
    await api(first, 'PUT', '/api/security/clients/keeper', { tls: { mode: 'psk', details: { identity: 'keeper-id', key: KEY_HEX } } });
    const firstCertificate = (await api(first, 'GET', '/api/security/server')).body.certificate;
    await first.close();
    // The key is sealed at rest.
    expect(readFileSync(join(dataDir, 'lwm2m.sqlite')).includes(Buffer.from(KEY_HEX, 'hex'))).toBe(false);

    const second = await start({ dataDir });
    expect((await api(second, 'GET', '/api/security/clients/keeper')).body).toEqual({ endpoint: 'keeper', tls: { mode: 'psk', details: { identity: 'keeper-id' } } });
    expect((await api(second, 'GET', '/api/security/server')).body.certificate).toBe(firstCertificate);
    const device = await connectPskDevice(second.coapsPort, 'keeper-id', Buffer.from(KEY_HEX, 'hex'));
    cleanups.push(() => device.close());
    expect(second.dtls.stats().handshakesCompleted).toBe(1);
  });
});
