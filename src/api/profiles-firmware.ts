/**
 * Signed images into the repository:
 *   POST /api/firmware/suit?name=&version=&deviceType=
 *        header  Suit-Envelope: <base64 SUIT envelope>  (as `lwm2m-server firmware sign` writes it)
 *        body    the payload (application/octet-stream): the image, or its ciphertext (`….suit.payload`)
 * The repository keeps the package devices receive (the envelope with its payload
 * integrated, see pairing-package.ts) and, beside the image, the envelope and what it says.
 * Checked here: the envelope's structure and manifest digest, and for an unencrypted
 * payload its size and digest. Signatures are checked per device before each delivery,
 * against that device's profile.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { toHex } from '../firmware/manifest/cbor.js';
import { decodeEnvelope } from '../firmware/manifest/envelope.js';
import { ManifestError } from '../firmware/manifest/errors.js';
import { openImage } from '../firmware/manifest/image.js';
import { integratePayload } from '../firmware/profiles/pairing-package.js';
import type { SuitImageAttributes } from '../firmware/profiles/pairing-verifier.js';
import type { FirmwareRepository } from '../firmware/repository/firmware-repository.js';
import type { FirmwareImageMeta, FirmwareImageStore, JsonObject } from '../store/types.js';
import { ApiError } from './errors.js';
import { firmwareImageJson } from './firmware-images.js';

export interface SignedFirmwareApiDeps {
  repository: FirmwareRepository;
  images: FirmwareImageStore;
}

/** Envelopes are small (a few hundred bytes, a few KB with certificate chains). */
const MAX_ENVELOPE_BYTES = 12 * 1024;

export function registerSignedFirmwareRoutes(app: FastifyInstance, deps: SignedFirmwareApiDeps): void {
  void app.register(async (scope) => {
    scope.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));
    scope.post('/api/firmware/suit', async (request: FastifyRequest<{ Querystring: Record<string, string | undefined> }>, reply) => {
      const header = request.headers['suit-envelope'];
      if (typeof header !== 'string' || header.trim() === '') {
        throw new ApiError(400, 'invalid request', 'send the SUIT envelope base64-encoded in the Suit-Envelope header and the payload as the body');
      }
      const envelope = new Uint8Array(Buffer.from(header.trim(), 'base64'));
      if (envelope.length === 0 || envelope.length > MAX_ENVELOPE_BYTES) throw new ApiError(400, 'invalid envelope', `the envelope must be 1-${MAX_ENVELOPE_BYTES} bytes`);
      const type = String(request.headers['content-type'] ?? '').split(';')[0].trim();
      if (type !== 'application/octet-stream') throw new ApiError(415, 'unsupported media type', 'send the payload as the raw body with Content-Type: application/octet-stream');

      const decoded = await manifestOr400(() => decodeEnvelope(envelope));
      const manifest = decoded.manifest;
      if (!manifest.imageDigest || manifest.imageSize === undefined) throw new ApiError(400, 'invalid envelope', 'the manifest states no image digest or size');
      const payload = await readBody(request.body as Readable, deps.repository.maxImageBytes);
      if (!manifest.encryptionInfo) await manifestOr400(() => openImage(manifest, payload), 'payload does not match the manifest');

      const name = request.query.name ?? manifest.text?.name;
      const version = request.query.version ?? manifest.text?.version;
      if (!name || !version) throw new ApiError(400, 'invalid request', 'name and version are required (?name=…&version=…) when the manifest text does not give them');
      const deviceType = request.query.deviceType;
      const packaged = integratePayload(envelope, payload);
      const meta = await deps.repository.upload(Readable.from([Buffer.from(packaged)]), { name, version, ...(deviceType ? { deviceType } : {}) });
      const suit: SuitImageAttributes = {
        envelopeHex: toHex(envelope),
        sequenceNumber: manifest.sequenceNumber,
        vendorId: manifest.vendorId ? toHex(manifest.vendorId) : null,
        classId: manifest.classId ? toHex(manifest.classId) : null,
        encrypted: manifest.encryptionInfo !== undefined,
        compressed: manifest.compression !== undefined,
        payloadChecked: !manifest.encryptionInfo,
        payloadBytes: payload.length,
      };
      const stored: FirmwareImageMeta = { ...meta, attributes: { ...meta.attributes, suit: suit as unknown as JsonObject } };
      await deps.images.put(stored);
      const { envelopeHex: _hidden, ...summary } = suit;
      return reply.code(201).send({ ...firmwareImageJson(stored), suit: summary });
    });
  });
}

async function manifestOr400<T>(fn: () => T | Promise<T>, what = 'invalid envelope'): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ManifestError) throw new ApiError(400, what, err.message, { code: err.code });
    throw err;
  }
}

async function readBody(stream: Readable, limit: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      stream.destroy();
      throw new ApiError(413, 'image too large', `the payload is larger than the limit of ${limit} bytes (--max-image-bytes)`, { limitBytes: limit });
    }
    chunks.push(chunk as Buffer);
  }
  return new Uint8Array(Buffer.concat(chunks));
}
