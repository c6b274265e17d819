/** Operator tags of devices: what is accepted, and that they are kept (memory and SQLite). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceTags, parseTagsBody, TagValidationError, validateTags } from '../../../src/rollout/device-tags.js';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import { MemoryDeviceTags } from '../../../src/store/memory/memory-device-tags.js';
import { SecretBox } from '../../../src/store/secret-box.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function reason(body: unknown): string {
  try {
    parseTagsBody(body);
  } catch (err) {
    expect(err).toBeInstanceOf(TagValidationError);
    return (err as Error).message;
  }
  throw new Error('accepted');
}

describe('tag validation', () => {
  it('accepts up to 32 distinct tags of 1-64 characters [A-Za-z0-9._:-], and none', () => {
    expect(parseTagsBody({ tags: ['eu', 'pilot', 'fw:2.x', 'site_7.b-1'] })).toEqual(['eu', 'pilot', 'fw:2.x', 'site_7.b-1']);
    expect(parseTagsBody({ tags: [] })).toEqual([]);
    const many = Array.from({ length: 32 }, (_, i) => `t${i}`);
    expect(validateTags(many)).toEqual(many);
    expect(validateTags(['x'.repeat(64)])).toEqual(['x'.repeat(64)]);
  });

  it('refuses anything else with the reason', () => {
    expect(reason(['eu'])).toBe('the body must be a JSON object {"tags":[…]}');
    expect(reason(null)).toBe('the body must be a JSON object {"tags":[…]}');
    expect(reason({})).toBe('"tags" must be an array of strings');
    expect(reason({ tags: 'eu' })).toBe('"tags" must be an array of strings');
    expect(reason({ tags: ['eu'], colour: 'red' })).toBe('unknown field(s): colour (only "tags")');
    expect(reason({ tags: ['eu', 7] })).toBe('tags[1] must be a string');
    expect(reason({ tags: [''] })).toBe('tags[0] "" must be 1 to 64 characters of A-Z a-z 0-9 . _ : -');
    expect(reason({ tags: ['x'.repeat(65)] })).toBe(`tags[0] "${'x'.repeat(65)}" must be 1 to 64 characters of A-Z a-z 0-9 . _ : -`);
    expect(reason({ tags: ['eu west'] })).toBe('tags[0] "eu west" must be 1 to 64 characters of A-Z a-z 0-9 . _ : -');
    expect(reason({ tags: ['ü'] })).toBe('tags[0] "ü" must be 1 to 64 characters of A-Z a-z 0-9 . _ : -');
    expect(reason({ tags: ['eu', 'eu'] })).toBe('tags[1] "eu" is given twice');
    expect(reason({ tags: Array.from({ length: 33 }, (_, i) => `t${i}`) })).toBe('at most 32 tags, got 33');
  });
});

describe('DeviceTags', () => {
  it('answers from memory what it stored; an empty list removes the row', async () => {
    const store = new MemoryDeviceTags();
    const tags = await DeviceTags.open(store);
    expect(tags.get('dev-1')).toEqual([]);
    expect(await tags.set('dev-1', ['eu', 'pilot'])).toEqual(['eu', 'pilot']);
    await tags.set('dev-2', ['us']);
    expect(tags.get('dev-1')).toEqual(['eu', 'pilot']);
    await tags.set('dev-2', []);
    expect(tags.get('dev-2')).toEqual([]);
    expect(await store.list()).toEqual([{ endpoint: 'dev-1', tags: ['eu', 'pilot'] }]);
    await expect(tags.set('dev-3', ['no spaces'])).rejects.toThrow(TagValidationError);
    expect(await store.list()).toHaveLength(1);
  });

  it('a memory store gets tags in memory', async () => {
    const tags = new MemoryStore().deviceTags;
    await tags.set('a', ['x']);
    expect(await tags.list()).toEqual([{ endpoint: 'a', tags: ['x'] }]);
  });

  it('survive a restart of a SQLite store (also for endpoints never registered)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lwm2m-tags-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const box = new SecretBox(randomBytes(32));
    const first = SqliteStore.open(dir, box, { registrationWriter: 'inline' });
    const tags = await DeviceTags.open(first.deviceTags);
    await tags.set('not-registered-yet', ['eu', 'pilot']);
    await tags.set('dev-9', ['us']);
    await tags.set('dev-9', ['us', 'beta']);
    await tags.set('gone', ['x']);
    await tags.set('gone', []);
    await first.close();

    const second = SqliteStore.open(dir, box, { registrationWriter: 'inline' });
    const again = await DeviceTags.open(second.deviceTags);
    expect(again.get('not-registered-yet')).toEqual(['eu', 'pilot']);
    expect(again.get('dev-9')).toEqual(['us', 'beta']);
    expect(again.get('gone')).toEqual([]);
    expect(await second.deviceTags.list()).toEqual([
      { endpoint: 'dev-9', tags: ['us', 'beta'] },
      { endpoint: 'not-registered-yet', tags: ['eu', 'pilot'] },
    ]);
    await second.close();
  });
});
