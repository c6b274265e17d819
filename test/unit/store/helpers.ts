import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseObjectLinks } from '../../../src/lwm2m/server/object-links.js';
import type { Registration } from '../../../src/lwm2m/server/registration.js';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import { SecretBox } from '../../../src/store/secret-box.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../../src/store/types.js';

export function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'lwm2m-store-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface StoreFactory {
  name: string;
  /** A fresh, empty store. */
  create(): Store;
  cleanup(): void;
}

export function storeFactories(): StoreFactory[] {
  const dirs: Array<{ remove(): void }> = [];
  return [
    { name: 'memory', create: () => new MemoryStore(), cleanup: () => {} },
    ...(['thread', 'inline'] as const).map((registrationWriter) => ({
      name: `sqlite (registration writer: ${registrationWriter})`,
      create: () => {
        const tmp = tempDir();
        dirs.push(tmp);
        return SqliteStore.open(tmp.dir, new SecretBox(randomBytes(32)), { registrationWriter });
      },
      cleanup: () => dirs.splice(0).forEach((d) => d.remove()),
    })),
  ];
}

const LINKS = '</>;rt="oma.lwm2m";ct=110,</1/0>,</3/0>,</5>;ver=1.1';

export function registration(overrides: Partial<Registration> & { id: string; endpoint: string }): Registration {
  const links = parseObjectLinks(LINKS);
  return {
    lifetimeSec: 300,
    lwm2mVersion: '1.1',
    binding: 'U',
    queueMode: false,
    smsNumber: undefined,
    address: { address: '127.0.0.1', port: 40000 },
    rootPath: links.rootPath,
    objectLinks: links.objectLinks,
    registeredAt: 1_700_000_000_000,
    lastUpdateAt: 1_700_000_000_000,
    expiresAt: 1_700_000_300_000,
    ...overrides,
  };
}
