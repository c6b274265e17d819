/**
 * Image bytes on disk, content-addressed: <dir>/<sha256 hex>. An upload streams into a
 * temporary file while it is hashed and counted, then is renamed into place, so a crash
 * mid-upload leaves no half image under a real name, and the same bytes uploaded twice are
 * stored once.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';

export class BlobTooLargeError extends Error {
  override readonly name = 'BlobTooLargeError';
  constructor(readonly limitBytes: number) {
    super(`the image is larger than the limit of ${limitBytes} bytes`);
  }
}

export interface StoredBlob {
  sha256: string;
  sizeBytes: number;
  /** Absolute path of the stored file. */
  path: string;
}

export class BlobStore {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** Streams `source` to disk; rejects with BlobTooLargeError past `limitBytes` (the partial file is removed). */
  async write(source: Readable, limitBytes: number): Promise<StoredBlob> {
    const temp = join(this.dir, `.upload-${randomBytes(8).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        if (size > limitBytes) {
          done(new BlobTooLargeError(limitBytes));
          return;
        }
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(source, meter, createWriteStream(temp, { flags: 'wx' }));
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    const sha256 = hash.digest('hex');
    const path = this.pathOf(sha256);
    await rename(temp, path);
    return { sha256, sizeBytes: size, path };
  }

  pathOf(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a SHA-256 hex digest: ${sha256}`);
    return join(this.dir, sha256);
  }

  async read(sha256: string): Promise<Buffer> {
    return readFile(this.pathOf(sha256));
  }

  async exists(sha256: string): Promise<boolean> {
    try {
      await stat(this.pathOf(sha256));
      return true;
    } catch {
      return false;
    }
  }

  async remove(sha256: string): Promise<void> {
    await rm(this.pathOf(sha256), { force: true });
  }
}
