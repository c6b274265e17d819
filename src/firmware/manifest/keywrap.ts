import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';
import { ManifestError } from './errors.js';

/** RFC 3394 default initial value. */
const KW_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');

function kwCipher(kek: Uint8Array): string {
  if (kek.length === 16) return 'id-aes128-wrap';
  if (kek.length === 24) return 'id-aes192-wrap';
  if (kek.length === 32) return 'id-aes256-wrap';
  throw new ManifestError('bad-structure', `AES-KW key must be 16, 24 or 32 bytes, not ${kek.length}`);
}

/** AES Key Wrap (RFC 3394). */
export function aesKeyWrap(kek: Uint8Array, keyData: Uint8Array): Uint8Array {
  const c = createCipheriv(kwCipher(kek), kek, KW_IV);
  return new Uint8Array(Buffer.concat([c.update(keyData), c.final()]));
}

/** AES Key Unwrap (RFC 3394); a wrong key or altered input fails the integrity check. */
export function aesKeyUnwrap(kek: Uint8Array, wrapped: Uint8Array): Uint8Array {
  try {
    const d = createDecipheriv(kwCipher(kek), kek, KW_IV);
    return new Uint8Array(Buffer.concat([d.update(wrapped), d.final()]));
  } catch (err) {
    if (err instanceof ManifestError) throw err;
    throw new ManifestError('decrypt-failed', 'key unwrap failed: wrong key or corrupted wrapped key');
  }
}

/** HKDF with SHA-256 (RFC 5869). */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', ikm, salt, info, length));
}
