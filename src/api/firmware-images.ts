/**
 * The firmware repository over HTTP:
 *   POST   /api/firmware?name=&version=&deviceType=   upload (raw bytes, application/octet-stream, streamed)
 *   GET    /api/firmware                              every image
 *   GET    /api/firmware/{id}                         one image
 *   DELETE /api/firmware/{id}                         refused (409) while a delivery uses it
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import type { FirmwareImageMeta } from '../store/types.js';
import { BlobTooLargeError } from '../firmware/repository/blob-store.js';
import { ImageInUseError, type FirmwareRepository } from '../firmware/repository/firmware-repository.js';
import { ApiError } from './errors.js';

type Query = Record<string, string | undefined>;

export function firmwareImageJson(image: FirmwareImageMeta): Record<string, unknown> {
  return {
    id: image.id,
    name: image.name,
    version: image.version,
    sizeBytes: image.sizeBytes,
    sha256: image.sha256,
    createdAt: new Date(image.createdAt).toISOString(),
    ...(typeof image.attributes.deviceType === 'string' ? { deviceType: image.attributes.deviceType } : {}),
  };
}

export function registerFirmwareImageRoutes(app: FastifyInstance, repository: FirmwareRepository): void {
  // Its own context: only here does a body arrive as a stream, whatever its size.
  void app.register(async (scope) => {
    scope.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));
    scope.post('/api/firmware', async (request: FastifyRequest<{ Querystring: Query }>, reply) => {
      const { name, version, deviceType } = request.query;
      if (!name || !version) throw new ApiError(400, 'invalid request', 'name and version are required query parameters (?name=…&version=…)');
      const type = String(request.headers['content-type'] ?? '').split(';')[0].trim();
      if (type !== 'application/octet-stream') {
        throw new ApiError(415, 'unsupported media type', 'send the image as the raw body with Content-Type: application/octet-stream');
      }
      const declared = Number(request.headers['content-length']);
      if (Number.isFinite(declared) && declared > repository.maxImageBytes) {
        throw tooLarge(repository.maxImageBytes);
      }
      let image: FirmwareImageMeta;
      try {
        image = await repository.upload(request.body as Readable, { name, version, ...(deviceType ? { deviceType } : {}) });
      } catch (err) {
        if (err instanceof BlobTooLargeError) throw tooLarge(err.limitBytes);
        throw err;
      }
      return reply.code(201).send(firmwareImageJson(image));
    });
  });

  app.get('/api/firmware', async () => (await repository.list()).map(firmwareImageJson));

  app.get('/api/firmware/:id', async (request: FastifyRequest<{ Params: { id: string } }>) => {
    const image = await repository.get(request.params.id);
    if (!image) throw new ApiError(404, 'unknown image', `no firmware image with id "${request.params.id}"`);
    return firmwareImageJson(image);
  });

  app.delete('/api/firmware/:id', async (request: FastifyRequest<{ Params: { id: string } }>, reply) => {
    try {
      const removed = await repository.remove(request.params.id);
      if (!removed) throw new ApiError(404, 'unknown image', `no firmware image with id "${request.params.id}"`);
    } catch (err) {
      if (err instanceof ImageInUseError) throw new ApiError(409, 'image in use', err.message);
      throw err;
    }
    return reply.code(204).send();
  });
}

function tooLarge(limit: number): ApiError {
  return new ApiError(413, 'image too large', `the image is larger than the limit of ${limit} bytes (--max-image-bytes)`, { limitBytes: limit });
}
