/** One behaviour, every implementation: the same suite runs against the memory and the SQLite store. */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreConflictError, type Store } from '../../../src/store/types.js';
import { parseObjectLinks } from '../../../src/lwm2m/server/object-links.js';
import { registration, storeFactories } from './helpers.js';

describe.each(storeFactories())('store contract: $name', (factory) => {
  let store: Store;
  beforeEach(() => {
    store = factory.create();
  });
  afterEach(async () => {
    await store.close();
  });
  afterAll(() => factory.cleanup());

  describe('registrations', () => {
    it('returns what was put, field for field, sharing object links of one payload', async () => {
      const a = registration({ id: 'r1', endpoint: 'dev-a', smsNumber: '+4912345', queueMode: true, binding: 'UQ' });
      const b = registration({ id: 'r2', endpoint: 'dev-b', address: { address: '10.0.0.2', port: 5684 } });
      await store.registrations.apply([a, b]);
      const loaded = (await store.registrations.loadAll()).sort((x, y) => x.id.localeCompare(y.id));
      expect(loaded).toEqual([a, b]);
      expect(loaded[0].objectLinks).toBe(loaded[1].objectLinks);
      expect(loaded[0].rootPath).toBe('/');
    });

    it('a put replaces the same id and removes an older registration of the same endpoint', async () => {
      await store.registrations.apply([registration({ id: 'old', endpoint: 'dev' })]);
      const updated = registration({ id: 'old', endpoint: 'dev', lastUpdateAt: 5, expiresAt: 300_005 });
      await store.registrations.apply([updated]);
      expect(await store.registrations.loadAll()).toEqual([updated]);
      const newer = registration({ id: 'new', endpoint: 'dev', address: { address: '127.0.0.1', port: 1 } });
      await store.registrations.apply([newer]);
      expect(await store.registrations.loadAll()).toEqual([newer]);
    });

    it('a delete removes the endpoint\'s registration, whatever its id; writes apply in order', async () => {
      const newer = registration({ id: 'new', endpoint: 'dev' });
      const other = registration({ id: 'o1', endpoint: 'other' });
      await store.registrations.apply([
        registration({ id: 'old', endpoint: 'dev' }),
        { op: 'delete', endpoint: 'dev' },
        newer,
        other,
        { op: 'delete', endpoint: 'other' },
        { op: 'delete', endpoint: 'never-existed' },
      ]);
      expect(await store.registrations.loadAll()).toEqual([newer]);
      await store.registrations.apply([{ op: 'delete', endpoint: 'dev' }]);
      expect(await store.registrations.loadAll()).toEqual([]);
    });

    it('the last of several puts of one endpoint in a batch wins, and a later batch wins over an earlier', async () => {
      const second = registration({ id: 'r2', endpoint: 'dev', address: { address: '10.0.0.9', port: 7 } });
      await store.registrations.apply([
        registration({ id: 'r1', endpoint: 'dev' }),
        second,
      ]);
      expect(await store.registrations.loadAll()).toEqual([second]);
      const third = registration({ id: 'r2', endpoint: 'dev', lastUpdateAt: 1_700_000_100_000, expiresAt: 1_700_000_400_000 });
      const first = store.registrations.apply([registration({ id: 'r1', endpoint: 'dev' })]);
      const last = store.registrations.apply([third]);
      await Promise.all([first, last]);
      expect(await store.registrations.loadAll()).toEqual([third]);
    });

    it('two device types keep their own links (alternate root path included), shared within a type', async () => {
      const typeB = parseObjectLinks('</lwm2m>;rt="oma.lwm2m",</lwm2m/1/0>,</lwm2m/3/0>,</lwm2m/3303/0>;ver=1.1');
      const b = (i: number) => registration({ id: `b${i}`, endpoint: `b-${i}`, rootPath: typeB.rootPath, objectLinks: typeB.objectLinks });
      const written = [registration({ id: 'a1', endpoint: 'a-1' }), b(1), b(2), registration({ id: 'a2', endpoint: 'a-2' })];
      await store.registrations.apply(written);
      await store.registrations.apply([b(3)]);
      const loaded = new Map((await store.registrations.loadAll()).map((r) => [r.endpoint, r]));
      expect([...loaded.values()].sort((x, y) => x.id.localeCompare(y.id))).toEqual([...written, b(3)].sort((x, y) => x.id.localeCompare(y.id)));
      expect(loaded.get('b-1')!.rootPath).toBe('/lwm2m');
      expect(loaded.get('b-1')!.objectLinks).toBe(loaded.get('b-3')!.objectLinks);
      expect(loaded.get('a-1')!.objectLinks).toBe(loaded.get('a-2')!.objectLinks);
      expect(loaded.get('a-1')!.objectLinks).not.toBe(loaded.get('b-1')!.objectLinks);
    });

    it('endpoint names that mean something to JavaScript objects are plain names', async () => {
      const names = ['__proto__', 'constructor', '123', '0', 'toString'];
      const written = names.map((endpoint, i) => registration({ id: `r${i}`, endpoint }));
      await store.registrations.apply(written);
      await store.registrations.apply([{ op: 'delete', endpoint: '0' }]);
      const loaded = (await store.registrations.loadAll()).sort((x, y) => x.id.localeCompare(y.id));
      expect(loaded).toEqual(written.filter((r) => r.endpoint !== '0'));
    });

    it('keeps odd but legal values exactly: quotes and separators in names, no SMS number, fractional times', async () => {
      const odd = registration({
        id: 'i"d,1',
        endpoint: 'ep "quoted", [bracketed] \\ ünïcode',
        binding: 'UQ',
        lwm2mVersion: '1.0',
        rootPath: '/',
        registeredAt: 1_700_000_000_000.5,
        lastUpdateAt: 1_700_000_000_100.5,
        expiresAt: 1_700_000_300_100.5,
      });
      await store.registrations.apply([odd]);
      expect(await store.registrations.loadAll()).toEqual([odd]);
    });
  });

  describe('security', () => {
    const psk = { endpoint: 'dev-1', mode: 'psk' as const, pskIdentity: 'id-1', pskKey: Buffer.from('0102030405', 'hex') };

    it('stores and finds by endpoint and by PSK identity, keys intact', async () => {
      await store.security.put(psk);
      expect(await store.security.get('dev-1')).toEqual(psk);
      expect(await store.security.getByPskIdentity('id-1')).toEqual(psk);
      expect((await store.security.get('dev-1'))!.pskKey).toBeInstanceOf(Buffer);
      expect(await store.security.get('other')).toBeUndefined();
      expect(await store.security.getByPskIdentity('other')).toBeUndefined();
    });

    it('lists summaries without key material', async () => {
      await store.security.put(psk);
      await store.security.put({ endpoint: 'dev-0', mode: 'rpk', rpkPublicKey: Buffer.from([1, 2]), privateKey: Buffer.from([3]) });
      const list = await store.security.list();
      expect(list).toEqual([
        { endpoint: 'dev-0', mode: 'rpk', hasPskKey: false, hasRpkPublicKey: true, hasPrivateKey: true },
        { endpoint: 'dev-1', mode: 'psk', pskIdentity: 'id-1', hasPskKey: true, hasRpkPublicKey: false, hasPrivateKey: false },
      ]);
      expect(JSON.stringify(list)).not.toContain('0102030405');
    });

    it('refuses a PSK identity owned by another endpoint, and keeps the owner', async () => {
      await store.security.put(psk);
      await expect(store.security.put({ ...psk, endpoint: 'dev-2', pskKey: Buffer.from([9]) })).rejects.toBeInstanceOf(StoreConflictError);
      expect(await store.security.getByPskIdentity('id-1')).toEqual(psk);
      expect(await store.security.get('dev-2')).toBeUndefined();
    });

    it('replacing an endpoint frees its old identity; remove reports whether it existed', async () => {
      await store.security.put(psk);
      await store.security.put({ ...psk, pskIdentity: 'id-1b' });
      expect(await store.security.getByPskIdentity('id-1')).toBeUndefined();
      await store.security.put({ ...psk, endpoint: 'dev-2' });
      expect((await store.security.getByPskIdentity('id-1'))!.endpoint).toBe('dev-2');
      expect(await store.security.remove('dev-1')).toBe(true);
      expect(await store.security.remove('dev-1')).toBe(false);
      expect((await store.security.list()).map((s) => s.endpoint)).toEqual(['dev-2']);
    });
  });

  describe('bootstrap configurations', () => {
    it('put, get, list sorted, remove', async () => {
      const config = { servers: [{ shortId: 101, uri: 'coap://127.0.0.1:5683', securityMode: 'psk', pskKey: 'aabb' }] };
      await store.bootstrapConfigs.put('ep-b', config);
      await store.bootstrapConfigs.put('ep-a', { servers: [] });
      expect(await store.bootstrapConfigs.get('ep-b')).toEqual(config);
      expect(await store.bootstrapConfigs.list()).toEqual([
        { endpoint: 'ep-a', config: { servers: [] } },
        { endpoint: 'ep-b', config },
      ]);
      await store.bootstrapConfigs.put('ep-a', { servers: [], deletePaths: ['/0'] });
      expect(await store.bootstrapConfigs.get('ep-a')).toEqual({ servers: [], deletePaths: ['/0'] });
      expect(await store.bootstrapConfigs.remove('ep-a')).toBe(true);
      expect(await store.bootstrapConfigs.remove('ep-a')).toBe(false);
      expect(await store.bootstrapConfigs.get('ep-a')).toBeUndefined();
    });
  });

  describe('queued requests', () => {
    const request = (endpoint: string, target: string) => ({
      kind: 'request' as const,
      endpoint,
      target,
      request: { method: 'PUT' as const, path: ['5', '0', '1'], payload: Buffer.from([0, 255, 7]), contentFormat: 0 },
      queuedAt: 1000,
      deadline: undefined,
    });

    it('keeps each endpoint FIFO with payload bytes intact', async () => {
      const s1 = await store.queuedRequests.append(request('a', '/5/0/1'));
      const s2 = await store.queuedRequests.append(request('b', '/3/0'));
      const s3 = await store.queuedRequests.append(request('a', '/3/0/4'));
      expect(s1).toBeLessThan(s2);
      expect(s2).toBeLessThan(s3);
      const ofA = await store.queuedRequests.list('a');
      expect(ofA.map((r) => [r.seq, r.target])).toEqual([[s1, '/5/0/1'], [s3, '/3/0/4']]);
      expect(ofA[0].request.payload).toEqual(Buffer.from([0, 255, 7]));
      expect(Buffer.isBuffer(ofA[0].request.payload)).toBe(true);
      expect(ofA[0].deadline).toBeUndefined();
      expect(await store.queuedRequests.endpoints()).toEqual(['a', 'b']);
    });

    it('removes one or a whole endpoint', async () => {
      const s1 = await store.queuedRequests.append(request('a', '/1'));
      await store.queuedRequests.append(request('a', '/2'));
      await store.queuedRequests.append(request('b', '/3'));
      expect(await store.queuedRequests.remove(s1)).toBe(true);
      expect(await store.queuedRequests.remove(s1)).toBe(false);
      expect((await store.queuedRequests.list('a')).map((r) => r.target)).toEqual(['/2']);
      expect(await store.queuedRequests.removeEndpoint('a')).toBe(1);
      expect(await store.queuedRequests.list('a')).toEqual([]);
      expect(await store.queuedRequests.endpoints()).toEqual(['b']);
    });
  });

  describe('observations', () => {
    const observation = (id: string, endpoint: string) => ({
      observationId: id,
      endpoint,
      registrationId: 'r-' + endpoint,
      path: '/3/0/13',
      contentFormat: 112,
      createdAt: 42,
      address: { address: '127.0.0.1', port: 5000 },
    });

    it('put, get, per endpoint, remove', async () => {
      await store.observations.put(observation('aa01', 'a'));
      await store.observations.put({ ...observation('bb02', 'b'), paths: ['/3/0/13', '/1/0/1'], path: '/3/0/13,/1/0/1' });
      await store.observations.put(observation('cc03', 'a'));
      expect(await store.observations.get('aa01')).toEqual(observation('aa01', 'a'));
      expect((await store.observations.get('bb02'))!.paths).toEqual(['/3/0/13', '/1/0/1']);
      expect((await store.observations.ofEndpoint('a')).map((o) => o.observationId)).toEqual(['aa01', 'cc03']);
      expect((await store.observations.list()).map((o) => o.observationId)).toEqual(['aa01', 'bb02', 'cc03']);
      expect(await store.observations.remove('aa01')).toBe(true);
      expect(await store.observations.remove('aa01')).toBe(false);
      expect(await store.observations.removeEndpoint('a')).toBe(1);
      expect((await store.observations.list()).map((o) => o.observationId)).toEqual(['bb02']);
    });
  });

  describe('firmware images', () => {
    it('put, get, list by creation, remove', async () => {
      const image = (id: string, createdAt: number) => ({
        id,
        name: 'fw',
        version: '1.2.' + id,
        sizeBytes: 1024,
        sha256: 'ab'.repeat(32),
        location: `images/${id}.bin`,
        createdAt,
        attributes: { deviceClass: 'sensor', signed: true },
      });
      await store.firmwareImages.put(image('b', 2));
      await store.firmwareImages.put(image('a', 3));
      await store.firmwareImages.put(image('c', 2));
      expect(await store.firmwareImages.get('a')).toEqual(image('a', 3));
      expect((await store.firmwareImages.list()).map((i) => i.id)).toEqual(['b', 'c', 'a']);
      expect(await store.firmwareImages.remove('b')).toBe(true);
      expect(await store.firmwareImages.get('b')).toBeUndefined();
    });
  });

  describe('campaigns and rollout state', () => {
    const campaign = { id: 'c1', status: 'running', createdAt: 10, updatedAt: 11, spec: { image: 'a', waves: [1, 10, 100] } };

    it('stores campaigns', async () => {
      await store.campaigns.put(campaign);
      await store.campaigns.put({ ...campaign, id: 'c0', createdAt: 20 });
      expect(await store.campaigns.get('c1')).toEqual(campaign);
      expect((await store.campaigns.list()).map((c) => c.id)).toEqual(['c1', 'c0']);
    });

    it('device state is compare-and-set on the revision', async () => {
      await store.campaigns.put(campaign);
      const first = await store.campaigns.setDeviceState('c1', 'dev', { phase: 'pending', updatedAt: 1, data: {} }, 0);
      expect(first).toEqual({ campaignId: 'c1', endpoint: 'dev', phase: 'pending', updatedAt: 1, data: {}, revision: 1 });
      // A second creator loses.
      expect(await store.campaigns.setDeviceState('c1', 'dev', { phase: 'other', updatedAt: 2, data: {} }, 0)).toBeUndefined();
      // A stale writer loses.
      const second = await store.campaigns.setDeviceState('c1', 'dev', { phase: 'downloading', updatedAt: 3, data: { pct: 10 } }, 1);
      expect(second?.revision).toBe(2);
      expect(await store.campaigns.setDeviceState('c1', 'dev', { phase: 'failed', updatedAt: 4, data: {} }, 1)).toBeUndefined();
      expect(await store.campaigns.getDeviceState('c1', 'dev')).toEqual(second);
      await store.campaigns.setDeviceState('c1', 'another', { phase: 'pending', updatedAt: 5, data: {} }, 0);
      expect((await store.campaigns.listDeviceStates('c1')).map((s) => s.endpoint)).toEqual(['another', 'dev']);
    });

    it('removing a campaign removes its device states', async () => {
      await store.campaigns.put(campaign);
      await store.campaigns.setDeviceState('c1', 'dev', { phase: 'pending', updatedAt: 1, data: {} }, 0);
      expect(await store.campaigns.remove('c1')).toBe(true);
      expect(await store.campaigns.get('c1')).toBeUndefined();
      expect(await store.campaigns.listDeviceStates('c1')).toEqual([]);
      expect(await store.campaigns.remove('c1')).toBe(false);
    });
  });

  describe('audit log', () => {
    it('appends in order and filters by subject, seq and limit', async () => {
      const s1 = await store.audit.append({ at: 1, actor: 'api', action: 'write', subject: 'dev-1', detail: { path: '/3/0/14' } });
      const s2 = await store.audit.append({ at: 2, actor: 'rollout', action: 'start', subject: 'c1' });
      const s3 = await store.audit.append({ at: 3, actor: 'api', action: 'execute', subject: 'dev-1' });
      expect([s2 - s1, s3 - s2]).toEqual([1, 1]);
      expect(await store.audit.list()).toEqual([
        { seq: s1, at: 1, actor: 'api', action: 'write', subject: 'dev-1', detail: { path: '/3/0/14' } },
        { seq: s2, at: 2, actor: 'rollout', action: 'start', subject: 'c1' },
        { seq: s3, at: 3, actor: 'api', action: 'execute', subject: 'dev-1' },
      ]);
      expect((await store.audit.list({ subject: 'dev-1' })).map((e) => e.seq)).toEqual([s1, s3]);
      expect((await store.audit.list({ afterSeq: s1, limit: 1 })).map((e) => e.seq)).toEqual([s2]);
    });
  });
});
