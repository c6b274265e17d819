import { randomFillSync } from 'node:crypto';

// One syscall and one base64url encoding per 512 suffixes instead of one each per registration.
const POOL_IDS = 512;
// 48 random bits behind the slot number: a device that kept an id from before a restart (or
// a guesser) hits a live registration's id with a chance of 2^-48 per try.
const SUFFIX_BYTES = 6;
// 6 bytes are exactly 8 base64url characters, so the pool's text splits into whole suffixes.
const SUFFIX_CHARS = 8;
const pool = Buffer.alloc(POOL_IDS * SUFFIX_BYTES);
let poolText = '';
let next = POOL_IDS;

/** 48 random bits as 8 URL-safe characters (base64url). */
export function randomIdSuffix(): string {
  if (next === POOL_IDS) {
    randomFillSync(pool);
    poolText = pool.toString('base64url');
    next = 0;
  }
  const start = next++ * SUFFIX_CHARS;
  return poolText.substring(start, start + SUFFIX_CHARS);
}
