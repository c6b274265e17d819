import { describe, expect, it } from 'vitest';
import { CoapCode, type IncomingRequest } from '../../../src/coap/types.js';
import { BootstrapConfigError, parseBootstrapConfig, redactBootstrapConfig } from '../../../src/lwm2m/bootstrap/config.js';
import { BootstrapCredentialIndex } from '../../../src/security/bootstrap-credentials.js';
import { guardBootstrapRequests } from '../../../src/security/bootstrap-guard.js';
import { StoreConflictError, type JsonObject } from '../../../src/store/types.js';
import { silentLogger } from '../../../src/util/logger.js';

const server = { shortId: 1, uri: 'coaps://s:5684', securityMode: 'psk', lifetime: 60, binding: 'U', pskIdentity: 'srv-id', pskKey: 'BB' };
const config = (identity: string): JsonObject => ({ bootstrap: { security: { mode: 'psk', identity, key: 'AA' } }, servers: [{ ...server, registerCredentials: true }] });

function memoryConfigs() {
  const rows = new Map<string, JsonObject>();
  return {
    get: async (ep: string) => rows.get(ep),
    put: async (ep: string, c: JsonObject) => void rows.set(ep, c),
    remove: async (ep: string) => rows.delete(ep),
    list: async () => [...rows].map(([endpoint, c]) => ({ endpoint, config: c })),
  };
}

describe('bootstrap credentials in the configuration', () => {
  it('parses, normalises and redacts the bootstrap section', () => {
    const parsed = parseBootstrapConfig(config('bs-id'));
    expect(parsed.bootstrap).toEqual({ security: { mode: 'psk', identity: 'bs-id', key: 'aa' } });
    expect(parsed.servers[0].registerCredentials).toBe(true);
    expect(redactBootstrapConfig(parsed).bootstrap).toEqual({ security: { mode: 'psk', identity: 'bs-id', hasKey: true } });
  });

  it('refuses bad sections with the field named', () => {
    expect(() => parseBootstrapConfig({ ...config('x'), bootstrap: { security: { mode: 'psk', identity: 'x' } } })).toThrow(new BootstrapConfigError('bootstrap.security.key must be a non-empty hex string with an even number of digits'));
    expect(() => parseBootstrapConfig({ ...config('x'), bootstrap: { security: { mode: 'nosec' } } })).toThrow('bootstrap.security.mode must be psk, rpk or x509, got "nosec"');
    expect(() => parseBootstrapConfig({ servers: [{ ...server, securityMode: 'nosec', uri: 'coap://s', pskIdentity: undefined, pskKey: undefined, registerCredentials: true }] })).toThrow('servers[0].registerCredentials needs a psk, rpk or x509 account');
    expect(() => parseBootstrapConfig({ servers: [{ ...server, registerCredentials: true }, { ...server, shortId: 2, registerCredentials: true }] })).toThrow('registerCredentials may be true on one server account only');
  });

  it('indexes through the tracking store, refuses a shared identity, forgets removed ones', async () => {
    const store = memoryConfigs();
    await store.put('old', config('old-id'));
    const index = await BootstrapCredentialIndex.load(store);
    expect(index.pskFor('old-id')).toEqual(Buffer.from([0xaa]));
    const tracked = index.tracking(store);
    await tracked.put('a', config('a-id'));
    expect(index.get('a')).toMatchObject({ endpoint: 'a', mode: 'psk', pskIdentity: 'a-id' });
    expect(index.serverCredentialOf('a')).toMatchObject({ endpoint: 'a', mode: 'psk', pskIdentity: 'srv-id', pskKey: Buffer.from([0xbb]) });
    await expect(tracked.put('b', config('a-id'))).rejects.toBeInstanceOf(StoreConflictError);
    expect(await store.get('b')).toBeUndefined();
    await tracked.put('a', config('a-id2'));
    expect(index.pskFor('a-id')).toBeUndefined();
    expect(await tracked.remove('a')).toBe(true);
    expect(index.pskFor('a-id2')).toBeUndefined();
    expect(index.get('a')).toBeUndefined();
  });
});

describe('guardBootstrapRequests', () => {
  const request = (query: string[], security?: IncomingRequest['security']): IncomingRequest =>
    ({ method: 'POST', path: ['bs'], query, remote: { address: '127.0.0.1', port: 9 }, security }) as unknown as IncomingRequest;

  it('refuses two ep parameters, and registers the server credential before accepting', async () => {
    const store = memoryConfigs();
    const index = await BootstrapCredentialIndex.load(store);
    await index.tracking(store).put('a', config('a-id'));
    const registered: string[] = [];
    let reached = 0;
    const guarded = guardBootstrapRequests(() => ((reached++), { code: CoapCode.Changed }), true, {
      credentials: index,
      serverSecurity: { get: () => undefined, put: async (info) => void registered.push(`${info.endpoint}/${info.pskIdentity}`) },
      allowNoSec: true,
      onViolation: () => {},
      logger: silentLogger,
    });
    expect((await guarded(request(['ep=a', 'ep=b'], { mode: 'psk', identity: 'a-id' }))).code).toBe(CoapCode.BadRequest);
    expect((await guarded(request(['ep=a'], { mode: 'psk', identity: 'other' }))).code).toBe(CoapCode.Forbidden);
    expect(registered).toEqual([]);
    expect((await guarded(request(['ep=a'], { mode: 'psk', identity: 'a-id' }))).code).toBe(CoapCode.Changed);
    expect(registered).toEqual(['a/srv-id']);
    expect(reached).toBe(1);
  });
});
