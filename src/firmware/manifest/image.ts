import { checkDigest } from './digest.js';
import { type PayloadDecryptionKey, decryptImage, inflate } from './encryption.js';
import { ManifestError } from './errors.js';
import type { ParsedManifest } from './types.js';

/**
 * What a device does with the payload after the manifest verified: decrypt (if encrypted),
 * inflate (if compressed), then check size and digest. Returns the installable image.
 */
export async function openImage(manifest: ParsedManifest, payload: Uint8Array, key?: PayloadDecryptionKey): Promise<Uint8Array> {
  if (!manifest.imageDigest) throw new ManifestError('bad-structure', 'manifest states no image digest');
  let data = payload;
  if (manifest.encryptionInfo) {
    if (!key) throw new ManifestError('decrypt-failed', 'payload is encrypted and no device key was given');
    data = await decryptImage(data, manifest.encryptionInfo, key);
  }
  if (manifest.compression === 'zlib') data = inflate(data, manifest.imageSize ?? 64 * 1024 * 1024);
  if (manifest.imageSize !== undefined && data.length !== manifest.imageSize) {
    throw new ManifestError('digest-mismatch', `image is ${data.length} bytes, manifest says ${manifest.imageSize}`);
  }
  checkDigest(manifest.imageDigest, data, 'image');
  return data;
}
