/**
 * The firmware repository: uploaded images, their metadata in the store
 * (FirmwareImageStore) and their bytes in a content-addressed BlobStore. Images are read
 * into memory only while a delivery needs them, and shared between deliveries.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FirmwareImageMeta, FirmwareImageStore } from '../../store/types.js';
import type { Clock } from '../../util/clock.js';
import { systemClock } from '../../util/clock.js';
import { BlobStore } from './blob-store.js';

export const DEFAULT_MAX_IMAGE_BYTES = 64 * 1024 * 1024;

export interface UploadInfo {
  name: string;
  version: string;
  deviceType?: string;
}

export class ImageNotFoundError extends Error {
  override readonly name = 'ImageNotFoundError';
  constructor(readonly imageId: string) {
    super(`no firmware image with id "${imageId}"`);
  }
}

export class ImageInUseError extends Error {
  override readonly name = 'ImageInUseError';
  constructor(readonly imageId: string) {
    super(`firmware image "${imageId}" is used by a delivery that has not finished; cancel it first`);
  }
}

export interface FirmwareRepositoryOptions {
  images: FirmwareImageStore;
  /** Folder of the image files (normally <dataDir>/firmware). */
  dir: string;
  maxImageBytes?: number;
  clock?: Clock;
  /** Whether an unfinished delivery uses the image (deletion is refused then). */
  inUse?: (imageId: string) => Promise<boolean>;
}

export class FirmwareRepository {
  readonly maxImageBytes: number;
  private readonly images: FirmwareImageStore;
  private readonly blobs: BlobStore;
  private readonly clock: Clock;
  private inUse: (imageId: string) => Promise<boolean>;
  /** Image bytes shared by concurrent deliveries; dropped when the last user releases them. */
  private readonly loaded = new Map<string, { bytes: Promise<Buffer>; users: number }>();

  constructor(options: FirmwareRepositoryOptions) {
    this.images = options.images;
    this.blobs = new BlobStore(options.dir);
    this.maxImageBytes = options.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES;
    this.clock = options.clock ?? systemClock;
    this.inUse = options.inUse ?? (async () => false);
  }

  /** Set after construction: the delivery service that knows which images are in use is built later. */
  setInUseCheck(inUse: (imageId: string) => Promise<boolean>): void {
    this.inUse = inUse;
  }

  async upload(source: Readable, info: UploadInfo): Promise<FirmwareImageMeta> {
    const blob = await this.blobs.write(source, this.maxImageBytes);
    const meta: FirmwareImageMeta = {
      id: randomBytes(8).toString('hex'),
      name: info.name,
      version: info.version,
      sizeBytes: blob.sizeBytes,
      sha256: blob.sha256,
      location: blob.path,
      createdAt: this.clock.now(),
      attributes: info.deviceType !== undefined ? { deviceType: info.deviceType } : {},
    };
    await this.images.put(meta);
    return meta;
  }

  async get(id: string): Promise<FirmwareImageMeta | undefined> {
    return this.images.get(id);
  }

  async require(id: string): Promise<FirmwareImageMeta> {
    const meta = await this.images.get(id);
    if (!meta) throw new ImageNotFoundError(id);
    return meta;
  }

  async list(): Promise<FirmwareImageMeta[]> {
    return this.images.list();
  }

  /** False when unknown; throws ImageInUseError while a delivery uses it. */
  async remove(id: string): Promise<boolean> {
    const meta = await this.images.get(id);
    if (!meta) return false;
    if (await this.inUse(id)) throw new ImageInUseError(id);
    await this.images.remove(id);
    // Another image record may share the same bytes (same content uploaded twice).
    const others = (await this.images.list()).some((other) => other.sha256 === meta.sha256);
    if (!others) await this.blobs.remove(meta.sha256);
    return true;
  }

  /** The image's bytes, loaded once for all concurrent users; call release() when done. */
  async acquire(id: string): Promise<Buffer> {
    let entry = this.loaded.get(id);
    if (!entry) {
      const meta = await this.require(id);
      const bytes = this.blobs.read(meta.sha256);
      entry = { bytes, users: 0 };
      this.loaded.set(id, entry);
      bytes.catch(() => this.loaded.delete(id));
    }
    entry.users++;
    return entry.bytes;
  }

  release(id: string): void {
    const entry = this.loaded.get(id);
    if (!entry) return;
    entry.users--;
    if (entry.users <= 0) this.loaded.delete(id);
  }
}
