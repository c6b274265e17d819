/** The delivery table: the in-memory store and SQLite (migration 3) behave the same. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryDeliveryStore, type DeliveryStore } from '../../../src/firmware/delivery/delivery-store.js';
import type { DeliveryRecord } from '../../../src/firmware/delivery/delivery-record.js';
import { openDatabase } from '../../../src/store/sqlite/database.js';
import { SqliteDeliveries } from '../../../src/store/sqlite/sqlite-deliveries.js';

const dir = mkdtempSync(join(tmpdir(), 'fw-store-'));
const db = openDatabase(join(dir, 'test.sqlite'));
afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function record(id: string, endpoint: string, state: DeliveryRecord['state'], createdAt: number, imageId = 'img'): DeliveryRecord {
  return {
    id, endpoint, imageId, imageVersion: '2', imageName: 'a', requestedMethod: 'auto', method: 'pull', state, createdAt, updatedAt: createdAt,
    stateSince: createdAt, bytes: 10, total: 20, result: undefined, deviceState: 1, outcome: undefined, reason: undefined, attempts: 1, deferrals: 0,
    pullToken: 'tok', previousVersion: '1', maxDeferMs: undefined, retryOnRegistration: false,
    history: [{ at: createdAt, from: 'pending', to: 'inspecting', event: 'start' }],
  };
}

describe.each([
  ['memory', (): DeliveryStore => new MemoryDeliveryStore()],
  ['sqlite', (): DeliveryStore => new SqliteDeliveries(db)],
])('%s delivery store', (_name, make) => {
  it('keeps records exactly, lists an endpoint newest first, finds the active ones and images in use', async () => {
    const store = make();
    const a = record(`${_name}-a`, 'ep1', 'transferring', 1);
    const b = record(`${_name}-b`, 'ep1', 'failed', 2, 'img2');
    const c = record(`${_name}-c`, 'ep2', 'succeeded', 3, 'img3');
    for (const r of [a, b, c]) await store.put(r);
    expect(await store.get(a.id)).toEqual(a);
    expect((await store.ofEndpoint('ep1')).map((r) => r.id)).toEqual([b.id, a.id]);
    expect((await store.active()).map((r) => r.id).filter((id) => id.startsWith(_name))).toEqual([a.id]);
    expect(await store.imageInUse('img')).toBe(true);
    expect(await store.imageInUse('img2')).toBe(false);
    await store.put({ ...a, state: 'succeeded', outcome: 'success' });
    expect(await store.imageInUse('img')).toBe(false);
    expect((await store.get(a.id))?.outcome).toBe('success');
    expect(await store.get('nope')).toBeUndefined();
  });
});
