/**
 * Encryption of key material at rest: AES-256-GCM with a key from the secret key file.
 * Each sealed value is bound (as GCM additional data) to where it belongs, e.g.
 * "security:dev-1", so a row copied onto another endpoint fails to open instead of
 * silently lending its keys.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { StoreCorruptError } from './types.js';

const FORMAT_V1 = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

export class SecretBox {
  private readonly key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== KEY_BYTES) throw new Error(`secret key must be ${KEY_BYTES} bytes, got ${key.length}`);
    this.key = Buffer.from(key);
  }

  /** version(1) | iv(12) | tag(16) | ciphertext */
  seal(plaintext: Buffer, context: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([Buffer.of(FORMAT_V1), iv, cipher.getAuthTag(), body]);
  }

  /** Throws StoreCorruptError when the value was not sealed with this key for this context. */
  open(sealed: Buffer, context: string): Buffer {
    if (sealed.length < 1 + IV_BYTES + TAG_BYTES || sealed[0] !== FORMAT_V1) {
      throw new StoreCorruptError(`sealed value for ${context} has an unknown format`);
    }
    const iv = sealed.subarray(1, 1 + IV_BYTES);
    const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(sealed.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]);
    } catch {
      throw new StoreCorruptError(`sealed value for ${context} does not open with this secret key (wrong --secret-key-file?)`);
    }
  }
}

export class SecretKeyFileError extends Error {
  override readonly name = 'SecretKeyFileError';
}

/**
 * Reads the key (64 hex characters) or, when the file does not exist, creates it with
 * mode 0600. A key file others can read is refused: it would expose every stored key.
 */
export function loadOrCreateSecretKey(path: string): { key: Buffer; created: boolean } {
  if (!existsSync(path)) {
    const key = randomBytes(KEY_BYTES);
    // 'wx': never overwrite a key another process just created.
    writeFileSync(path, key.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600); // the umask may have narrowed 'mode'; make it exact
    return { key, created: true };
  }
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new SecretKeyFileError(`secret key file ${path} is readable by others (mode ${mode.toString(8)}); run chmod 600 ${path}`);
  }
  const text = readFileSync(path, 'utf8').trim();
  if (!/^[0-9a-fA-F]{64}$/.test(text)) {
    throw new SecretKeyFileError(`secret key file ${path} must hold 64 hex characters (a 256-bit key)`);
  }
  return { key: Buffer.from(text, 'hex'), created: false };
}
