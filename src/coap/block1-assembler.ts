/**
 * Server-side Block1 reassembly (RFC 7959 §2.5). One partial body per
 * (remote, method, path, query); abandoned uploads expire with their generation.
 */
import type { Clock } from '../util/clock.js';
import { GenerationalMap } from './generational-map.js';
import { blockSize } from './options.js';
import type { BlockOption } from './types.js';

export type Block1Outcome =
  /** Answer 2.31 Continue echoing the block, with `szx` (possibly smaller than the peer's). */
  | { kind: 'continue'; szx: number }
  | { kind: 'complete'; body: Buffer; szx: number }
  /** Out of order or unknown upload: 4.08 Request Entity Incomplete. */
  | { kind: 'incomplete' }
  /** Over the body limit: 4.13 with Size1. */
  | { kind: 'too-large' }
  | { kind: 'bad-size' };

interface Upload {
  /** The body so far in its first `bytes` bytes; grows by doubling. */
  body: Buffer;
  bytes: number;
}

/**
 * First size of an upload's buffer: what Size1 announced, but no more than this before the
 * bytes actually arrive (a one-datagram claim must not make us reserve megabytes).
 */
const MAX_INITIAL_BYTES = 256 * 1024;

export class Block1Assembler {
  private readonly uploads: GenerationalMap<string, Upload>;

  constructor(
    clock: Clock,
    lifetimeMs: number,
    private readonly maxBodyBytes: number,
    private readonly preferredSzx: number,
  ) {
    this.uploads = new GenerationalMap(clock, lifetimeMs);
  }

  accept(key: string, block: BlockOption, payload: Buffer, announcedSize?: number): Block1Outcome {
    const offset = block.num * blockSize(block.szx);
    if (announcedSize !== undefined && announcedSize > this.maxBodyBytes) {
      this.uploads.delete(key);
      return { kind: 'too-large' };
    }
    if (block.more && payload.length !== blockSize(block.szx)) {
      this.uploads.delete(key);
      return { kind: 'bad-size' };
    }
    let upload: Upload | undefined;
    if (block.num === 0) {
      const expected = !block.more ? payload.length : announcedSize !== undefined && announcedSize >= payload.length ? announcedSize : payload.length * 16;
      upload = { body: Buffer.allocUnsafe(Math.min(expected, MAX_INITIAL_BYTES, this.maxBodyBytes)), bytes: 0 };
    } else {
      upload = this.uploads.get(key);
      if (upload !== undefined && block.more && upload.bytes === offset + payload.length) {
        // The block just taken, sent again as a new exchange because our answer was lost:
        // acknowledge it again rather than throwing the upload away.
        return { kind: 'continue', szx: Math.min(block.szx, this.preferredSzx) };
      }
      if (upload === undefined || upload.bytes !== offset) {
        this.uploads.delete(key);
        return { kind: 'incomplete' };
      }
    }
    if (offset + payload.length > this.maxBodyBytes) {
      this.uploads.delete(key);
      return { kind: 'too-large' };
    }
    // Copied into one buffer (the datagram buffer may be a view the transport reuses): one
    // copy per block and a doubling now and then, not an allocation per block plus a final concat.
    const end = upload.bytes + payload.length;
    if (end > upload.body.length) {
      const grown = Buffer.allocUnsafe(Math.min(Math.max(end, upload.body.length * 2), this.maxBodyBytes));
      upload.body.copy(grown, 0, 0, upload.bytes);
      upload.body = grown;
    }
    payload.copy(upload.body, upload.bytes);
    upload.bytes = end;
    const szx = Math.min(block.szx, this.preferredSzx);
    if (block.more) {
      this.uploads.set(key, upload);
      return { kind: 'continue', szx };
    }
    this.uploads.delete(key);
    return { kind: 'complete', body: upload.body.subarray(0, upload.bytes), szx };
  }

  get size(): number {
    return this.uploads.size;
  }
}
