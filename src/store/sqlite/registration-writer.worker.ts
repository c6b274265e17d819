/**
 * The thread that writes registration batches into SQLite, so the event loop that answers
 * devices never spends its time in b-trees. It has its own connection to the same file
 * (WAL lets it write while the main connection reads and writes other tables).
 * Protocol: in RegistrationBatch → out { pos } after commit, or { pos, error }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { RegistrationBatch } from './registration-batch.js';
import { registrationBatchWriter } from './registration-sql.js';

const db = new Database((workerData as { file: string }).file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('busy_timeout = 5000');
const writeBatch = registrationBatchWriter(db);

parentPort!.on('message', (message: RegistrationBatch | 'close') => {
  if (message === 'close') {
    db.close();
    parentPort!.close();
    return;
  }
  try {
    writeBatch(message);
    parentPort!.postMessage({ pos: message.pos });
  } catch (error) {
    parentPort!.postMessage({ pos: message.pos, error: error instanceof Error ? error.message : String(error) });
  }
});
