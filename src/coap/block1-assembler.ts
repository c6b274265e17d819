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
  parts: Buffer[];
  bytes: number;
}

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
      upload = { parts: [], bytes: 0 };
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
    // Copy: the datagram buffer may be a view the transport reuses.
    upload.parts.push(Buffer.from(payload));
    upload.bytes += payload.length;
    const szx = Math.min(block.szx, this.preferredSzx);
    if (block.more) {
      this.uploads.set(key, upload);
      return { kind: 'continue', szx };
    }
    this.uploads.delete(key);
    return { kind: 'complete', body: Buffer.concat(upload.parts, upload.bytes), szx };
  }

  get size(): number {
    return this.uploads.size;
  }
}
