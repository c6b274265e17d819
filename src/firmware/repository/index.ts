export { BlobStore, BlobTooLargeError, type StoredBlob } from './blob-store.js';
export {
  FirmwareRepository,
  ImageInUseError,
  ImageNotFoundError,
  DEFAULT_MAX_IMAGE_BYTES,
  type FirmwareRepositoryOptions,
  type UploadInfo,
} from './firmware-repository.js';
