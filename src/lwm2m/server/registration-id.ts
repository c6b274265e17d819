import { randomFillSync } from 'node:crypto';

// One syscall per 512 suffixes instead of one per registration.
const POOL_IDS = 512;
// 48 random bits behind the slot number: a device that kept an id from before a restart (or
// a guesser) hits a live registration's id with a chance of 2^-48 per try.
const SUFFIX_BYTES = 6;
const pool = Buffer.alloc(POOL_IDS * SUFFIX_BYTES);
let next = POOL_IDS;

/** 48 random bits as 8 URL-safe characters (base64url). */
export function randomIdSuffix(): string {
  if (next === POOL_IDS) {
    randomFillSync(pool);
    next = 0;
  }
  const start = next++ * SUFFIX_BYTES;
  return pool.toString('base64url', start, start + SUFFIX_BYTES);
}
