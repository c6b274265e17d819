/**
 * Operator tags of devices, for rollout targeting (campaign `target.tags`):
 *   GET /api/clients/{ep}/tags   {"tags":[…]} (empty when it has none)
 *   PUT /api/clients/{ep}/tags   {"tags":["eu","pilot"]}: at most 32 distinct tags of 1–64
 *                                characters [A-Za-z0-9._:-]; replaces the device's tags; the
 *                                device need not be registered yet
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseTagsBody, TagValidationError, type DeviceTags } from '../rollout/device-tags.js';
import type { AuditLog } from '../store/types.js';
import type { Clock } from '../util/clock.js';
import { ApiError } from './errors.js';

export interface DeviceTagApiDeps {
  tags: DeviceTags;
  audit?: AuditLog;
  clock?: Clock;
}

type EndpointRequest = FastifyRequest<{ Params: { ep: string } }>;

export function registerDeviceTagRoutes(app: FastifyInstance, deps: DeviceTagApiDeps): void {
  app.get('/api/clients/:ep/tags', async (request: EndpointRequest) => ({ tags: [...deps.tags.get(request.params.ep)] }));

  app.put('/api/clients/:ep/tags', async (request: EndpointRequest) => {
    const { ep } = request.params;
    let tags: string[];
    try {
      tags = parseTagsBody(request.body);
    } catch (err) {
      if (err instanceof TagValidationError) throw new ApiError(400, 'invalid tags', err.message);
      throw err;
    }
    const stored = await deps.tags.set(ep, tags);
    await deps.audit?.append({ at: deps.clock?.now() ?? Date.now(), actor: 'api', action: 'device.tags.put', subject: ep, detail: { tags: [...stored] } }).catch(() => 0);
    return { tags: [...stored] };
  });
}
