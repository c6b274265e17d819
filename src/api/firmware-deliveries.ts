/**
 * Firmware delivery to one device:
 *   POST   /api/clients/{ep}/firmware   {"firmwareId":…, "method":"push"|"pull"|"auto"}  starts it (202)
 *   GET    /api/clients/{ep}/firmware   the newest delivery: {state, result, bytes, total, reason, history, …}
 *   DELETE /api/clients/{ep}/firmware   cancels the unfinished one
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DeliveryConflictError, type DeliveryService } from '../firmware/delivery/delivery-service.js';
import type { DeliveryRecord, RequestedMethod } from '../firmware/delivery/delivery-record.js';
import { ImageNotFoundError } from '../firmware/repository/firmware-repository.js';
import { ApiError } from './errors.js';
import type { SseEventSource } from './events-sse.js';
import { ImageRefusedError } from '../firmware/profiles/pairing-verifier.js';

const METHODS = new Set(['push', 'pull', 'auto']);

export function deliveryJson(record: DeliveryRecord): Record<string, unknown> {
  return {
    id: record.id,
    endpoint: record.endpoint,
    firmwareId: record.imageId,
    version: record.imageVersion,
    method: record.method ?? null,
    requestedMethod: record.requestedMethod,
    state: record.state,
    result: record.result ?? null,
    outcome: record.outcome ?? null,
    bytes: record.bytes,
    total: record.total,
    reason: record.reason ?? null,
    attempts: record.attempts,
    deferrals: record.deferrals,
    previousVersion: record.previousVersion ?? null,
    createdAt: new Date(record.createdAt).toISOString(),
    updatedAt: new Date(record.updatedAt).toISOString(),
    history: record.history.map((entry) => ({ ...entry, at: new Date(entry.at).toISOString() })),
  };
}

export function registerFirmwareDeliveryRoutes(app: FastifyInstance, deliveries: DeliveryService): void {
  app.post('/api/clients/:ep/firmware', async (request: FastifyRequest<{ Params: { ep: string }; Body: unknown }>, reply) => {
    const body = request.body as { firmwareId?: unknown; method?: unknown } | undefined;
    if (!body || typeof body !== 'object' || typeof body.firmwareId !== 'string' || body.firmwareId === '') {
      throw new ApiError(400, 'invalid request', 'the body must be JSON {"firmwareId": "<image id>", "method": "push"|"pull"|"auto"}');
    }
    const method = body.method ?? 'auto';
    if (typeof method !== 'string' || !METHODS.has(method)) throw new ApiError(400, 'invalid request', `method must be "push", "pull" or "auto", got ${JSON.stringify(method)}`);
    try {
      const record = await deliveries.start(request.params.ep, body.firmwareId, method as RequestedMethod);
      return reply.code(202).send(deliveryJson(record));
    } catch (err) {
      if (err instanceof ImageNotFoundError) throw new ApiError(404, 'unknown image', err.message);
      if (err instanceof DeliveryConflictError) throw new ApiError(409, 'delivery in progress', err.message);
      // The device's security profile would reject the image: nothing is sent, the reason is the answer.
      if (err instanceof ImageRefusedError) throw new ApiError(422, 'image refused', err.message, { code: err.code });
      throw err;
    }
  });

  app.get('/api/clients/:ep/firmware', async (request: FastifyRequest<{ Params: { ep: string } }>) => {
    const record = await deliveries.latest(request.params.ep);
    if (!record) throw new ApiError(404, 'no delivery', `no firmware delivery for "${request.params.ep}"`);
    return deliveryJson(record);
  });

  app.delete('/api/clients/:ep/firmware', async (request: FastifyRequest<{ Params: { ep: string } }>) => {
    const cancelled = await deliveries.cancel(request.params.ep, 'cancelled by the operator');
    if (!cancelled) throw new ApiError(404, 'no delivery', `no unfinished firmware delivery for "${request.params.ep}"`);
    const record = await deliveries.latest(request.params.ep);
    return record ? deliveryJson(record) : { cancelled: true };
  });
}

/** FIRMWARE (every transition) and FIRMWARE_PROGRESS events on the shared /api/events stream. */
export function firmwareEventSource(deliveries: DeliveryService): SseEventSource {
  return (publish) => {
    const offs = [
      deliveries.events.on('transition', ({ delivery, from, to, event }) =>
        publish('FIRMWARE', delivery.endpoint, { ...deliveryJson(delivery), from, to, event }),
      ),
      deliveries.events.on('progress', (progress) => publish('FIRMWARE_PROGRESS', progress.endpoint, progress)),
    ];
    return () => {
      for (const off of offs) off();
    };
  };
}
