import { randomFillSync } from 'node:crypto';

// One syscall per 512 ids instead of one per registration.
const POOL_IDS = 512;
const ID_BYTES = 6;
const pool = Buffer.alloc(POOL_IDS * ID_BYTES);
let next = POOL_IDS;

/** A short random URL-safe registration id: 48 random bits, 8 base64url characters. */
export function randomRegistrationId(): string {
  if (next === POOL_IDS) {
    randomFillSync(pool);
    next = 0;
  }
  const start = next++ * ID_BYTES;
  return pool.toString('base64url', start, start + ID_BYTES);
}
