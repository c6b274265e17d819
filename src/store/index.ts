export * from './types.js';
export { openStore, SECRET_KEY_FILE_NAME, type OpenStoreOptions } from './open-store.js';
export { MemoryStore } from './memory/memory-store.js';
export { SqliteStore, SQLITE_FILE_NAME } from './sqlite/sqlite-store.js';
export { openDatabase, applyMigrations, schemaVersion, MigrationError, type SqliteDatabase } from './sqlite/database.js';
export { MIGRATIONS, type Migration } from './sqlite/migrations.js';
export { SecretBox, loadOrCreateSecretKey, SecretKeyFileError } from './secret-box.js';
export { WriteBehindRegistrationStore, DEFAULT_FLUSH_INTERVAL_MS, type WriteBehindOptions } from './write-behind-registrations.js';
export { summarize as summarizeSecurityInfo } from './security-summary.js';
