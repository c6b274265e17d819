import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../util/logger.js';
import { MemoryStore } from './memory/memory-store.js';
import { loadOrCreateSecretKey, SecretBox } from './secret-box.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store, StoreKind } from './types.js';

export const SECRET_KEY_FILE_NAME = 'secret.key';

export interface OpenStoreOptions {
  kind: StoreKind;
  dataDir: string;
  /** Default <dataDir>/secret.key, created on first start. */
  secretKeyFile?: string;
  logger?: Logger;
}

/** The store the configuration asks for; `memory` keeps nothing across restarts (tests only). */
export function openStore(options: OpenStoreOptions): Store {
  if (options.kind === 'memory') return new MemoryStore();
  mkdirSync(options.dataDir, { recursive: true });
  const keyFile = options.secretKeyFile ?? join(options.dataDir, SECRET_KEY_FILE_NAME);
  const { key, created } = loadOrCreateSecretKey(keyFile);
  if (created) options.logger?.info({ file: keyFile }, 'created a new secret key for credentials at rest; back it up with the data directory');
  return SqliteStore.open(options.dataDir, new SecretBox(key), { logger: options.logger });
}
