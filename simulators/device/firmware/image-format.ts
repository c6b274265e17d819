/**
 * The simulated devices' image format, shaped like MCUboot's: a small header (magic,
 * lengths, the payload's SHA-256, package name and version) in front of the payload. The
 * device checks the digest before it installs and reports the version from the header.
 * The server never looks inside: for it an image is opaque bytes.
 */
import { createHash, type Hash } from 'node:crypto';

const MAGIC = Buffer.from('SFW1', 'latin1');
const FIXED_HEADER = 4 + 2 + 4 + 32;

export interface SimImageHeader {
  headerLength: number;
  payloadLength: number;
  sha256: string;
  name: string;
  version: string;
}

export function buildSimImage(options: { name: string; version: string; payload: Buffer }): Buffer {
  const name = Buffer.from(options.name, 'utf8');
  const version = Buffer.from(options.version, 'utf8');
  if (name.length > 255 || version.length > 255) throw new Error('name and version must fit in 255 bytes');
  const headerLength = FIXED_HEADER + 1 + name.length + 1 + version.length;
  const header = Buffer.alloc(headerLength);
  MAGIC.copy(header, 0);
  header.writeUInt16BE(headerLength, 4);
  header.writeUInt32BE(options.payload.length, 6);
  createHash('sha256').update(options.payload).digest().copy(header, 10);
  let offset = FIXED_HEADER;
  header[offset++] = name.length;
  name.copy(header, offset);
  offset += name.length;
  header[offset++] = version.length;
  version.copy(header, offset);
  return Buffer.concat([header, options.payload]);
}

/** The header, or undefined when the bytes are not (yet) a complete header of this format. */
export function parseSimHeader(bytes: Buffer): SimImageHeader | undefined {
  if (bytes.length < FIXED_HEADER + 2 || !bytes.subarray(0, 4).equals(MAGIC)) return undefined;
  const headerLength = bytes.readUInt16BE(4);
  if (headerLength < FIXED_HEADER + 2 || bytes.length < headerLength) return undefined;
  let offset = FIXED_HEADER;
  const nameLength = bytes[offset++];
  if (offset + nameLength + 1 > headerLength) return undefined;
  const name = bytes.toString('utf8', offset, offset + nameLength);
  offset += nameLength;
  const versionLength = bytes[offset++];
  if (offset + versionLength > headerLength) return undefined;
  const version = bytes.toString('utf8', offset, offset + versionLength);
  return { headerLength, payloadLength: bytes.readUInt32BE(6), sha256: bytes.toString('hex', 10, 42), name, version };
}

export type ImageVerdict = { ok: true; header: SimImageHeader } | { ok: false; result: 5 | 6; reason: string };

/**
 * Checks an image as it streams in (the device has no RAM for the whole image): keeps the
 * header, hashes the payload, and gives the verdict at the end.
 */
export class StreamingVerifier {
  private head = Buffer.alloc(0);
  private header: SimImageHeader | undefined;
  private hash: Hash = createHash('sha256');
  private received = 0;
  /**
   * Blocks are gathered here and hashed a few at a time: a hash update per 1 KiB block cost
   * more in the call into the crypto binding than in the hashing itself, in a simulated fleet
   * where each device hashes its whole image. Small enough to come from Node's shared buffer
   * pool (under 4 KiB), rather than a separate allocation per pull with a thousand pulls
   * running in one process.
   */
  private readonly pending = Buffer.allocUnsafe(3 * 1024);
  private pendingLength = 0;

  update(chunk: Buffer): void {
    if (this.header === undefined) {
      this.head = Buffer.concat([this.head, chunk]);
      this.header = parseSimHeader(this.head);
      if (this.header === undefined) {
        if (this.head.length > 600) this.head = this.head.subarray(0, 600); // not our format: stop growing
        return;
      }
      const rest = this.head.subarray(this.header.headerLength);
      this.hash.update(rest);
      this.received = rest.length;
      return;
    }
    this.received += chunk.length;
    if (chunk.length > this.pending.length - this.pendingLength) {
      this.flush();
      if (chunk.length >= this.pending.length) {
        this.hash.update(chunk);
        return;
      }
    }
    this.pendingLength += chunk.copy(this.pending, this.pendingLength);
  }

  verdict(): ImageVerdict {
    if (this.header === undefined) return { ok: false, result: 6, reason: 'not a package this device can install (bad header)' };
    if (this.received !== this.header.payloadLength) {
      return { ok: false, result: 5, reason: `payload is ${this.received} bytes, header says ${this.header.payloadLength}` };
    }
    this.flush();
    const digest = this.hash.digest('hex');
    if (digest !== this.header.sha256) return { ok: false, result: 5, reason: 'payload digest does not match the header' };
    return { ok: true, header: this.header };
  }

  private flush(): void {
    if (this.pendingLength === 0) return;
    this.hash.update(this.pending.subarray(0, this.pendingLength));
    this.pendingLength = 0;
  }
}

export function verifyImage(bytes: Buffer): ImageVerdict {
  const verifier = new StreamingVerifier();
  verifier.update(bytes);
  return verifier.verdict();
}
