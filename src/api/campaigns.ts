/**
 * Rollout campaigns:
 *   POST /api/campaigns[?dryRun=true]       create (draft) from {"firmwareId":…, target, plan, gates, limits, policy};
 *                                           dry run answers {"stages":[{"name","size"}…]} and creates nothing
 *   GET  /api/campaigns                     every campaign, summarised
 *   GET  /api/campaigns/{id}                per stage: planned, pending, waiting, transferring, updating,
 *                                           succeeded, failed, skipped (with reasons), bytes sent, ETA
 *   GET  /api/campaigns/{id}/devices?state=&offset=&limit=
 *   POST /api/campaigns/{id}/start|pause|resume|abort
 *   POST /api/campaigns/{id}/rollback       {"firmwareId": the previous image re-issued with a higher sequence number}
 * Campaign, stage and halt events go out on /api/events (see campaignEventSource).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SseEventSource } from './events-sse.js';
import type { FirmwareRepository } from '../firmware/repository/firmware-repository.js';
import type { FirmwareImageMeta } from '../store/types.js';
import type { Clock } from '../util/clock.js';
import { campaignJson, campaignSummaryJson, deviceRowsJson } from '../rollout/campaign-view.js';
import { DEVICE_PHASES, type DevicePhase } from '../rollout/device-machine.js';
import { CampaignConflictError, CampaignNotFoundError, CampaignStateError, type RolloutScheduler } from '../rollout/scheduler.js';
import { CampaignValidationError, parseCampaignInput, type ImageFacts } from '../rollout/spec.js';
import { ApiError } from './errors.js';

export interface CampaignApiDeps {
  scheduler: RolloutScheduler;
  repository: Pick<FirmwareRepository, 'get'>;
  /** The scheduler's clock (for ETAs). */
  clock: Clock;
}

type IdRequest = FastifyRequest<{ Params: { id: string } }>;

export function registerCampaignRoutes(app: FastifyInstance, deps: CampaignApiDeps): void {
  const { scheduler } = deps;

  app.post('/api/campaigns', async (request: FastifyRequest<{ Querystring: { dryRun?: string }; Body: unknown }>, reply) => {
    const spec = await specFrom(request.body, deps);
    if (request.query.dryRun === 'true' || request.query.dryRun === '1') {
      const { stages, population } = await scheduler.dryRun(spec);
      return { stages, population };
    }
    const campaign = await guard(() => scheduler.create(spec));
    return reply.code(201).send(campaignJson(campaign, deps.clock.now()));
  });

  app.get('/api/campaigns', async () => scheduler.list().map(campaignSummaryJson));

  app.get('/api/campaigns/:id', async (request: IdRequest) => campaignJson(find(scheduler, request.params.id), deps.clock.now()));

  app.get('/api/campaigns/:id/devices', async (request: FastifyRequest<{ Params: { id: string }; Querystring: { state?: string; offset?: string; limit?: string } }>) => {
    const campaign = find(scheduler, request.params.id);
    const state = request.query.state;
    if (state !== undefined && !(DEVICE_PHASES as readonly string[]).includes(state)) {
      throw new ApiError(400, 'invalid request', `state must be one of ${DEVICE_PHASES.join(', ')}`);
    }
    const offset = count(request.query.offset, 'offset', 0);
    const limit = Math.min(count(request.query.limit, 'limit', 1000), 10_000);
    return deviceRowsJson(campaign, state as DevicePhase | undefined, offset, limit);
  });

  for (const action of ['start', 'pause', 'resume', 'abort'] as const) {
    app.post(`/api/campaigns/:id/${action}`, async (request: IdRequest) => {
      find(scheduler, request.params.id);
      const run = {
        start: () => scheduler.startCampaign(request.params.id),
        pause: () => scheduler.pause(request.params.id),
        resume: () => scheduler.resume(request.params.id),
        abort: () => scheduler.abort(request.params.id),
      }[action];
      return campaignJson(await guard(run), deps.clock.now());
    });
  }

  app.post('/api/campaigns/:id/rollback', async (request: FastifyRequest<{ Params: { id: string }; Body: unknown }>, reply) => {
    const original = find(scheduler, request.params.id);
    const body = (request.body ?? {}) as Record<string, unknown>;
    const previous = await specFrom({ plan: { stages: [{ remaining: true, soakSec: 0 }] }, policy: { severity: 'critical' }, name: `rollback of ${original.spec.name}`, ...body }, deps);
    const campaign = await guard(() => scheduler.createRollback(original.id, previous));
    return reply.code(201).send(campaignJson(campaign, deps.clock.now()));
  });
}

async function specFrom(body: unknown, deps: CampaignApiDeps) {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, 'invalid campaign', 'the body must be a JSON object with at least {"firmwareId": …}');
  const firmwareId = (body as Record<string, unknown>).firmwareId;
  if (typeof firmwareId !== 'string' || firmwareId === '') throw new ApiError(400, 'invalid campaign', 'firmwareId must be the id of an uploaded image');
  const image = await deps.repository.get(firmwareId);
  if (!image) throw new ApiError(404, 'unknown image', `no firmware image with id "${firmwareId}"`);
  try {
    return parseCampaignInput(body, imageFacts(image), Math.floor(Math.random() * 2 ** 31));
  } catch (err) {
    if (err instanceof CampaignValidationError) throw new ApiError(400, 'invalid campaign', err.message);
    throw err;
  }
}

function imageFacts(image: FirmwareImageMeta): ImageFacts {
  const type = image.attributes.deviceType;
  return { id: image.id, version: image.version, sizeBytes: image.sizeBytes, ...(typeof type === 'string' && type !== '' ? { deviceType: type } : {}) };
}

function find(scheduler: RolloutScheduler, id: string) {
  const campaign = scheduler.get(id);
  if (!campaign) throw new ApiError(404, 'unknown campaign', `no campaign "${id}"`);
  return campaign;
}

async function guard<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof CampaignConflictError) throw new ApiError(409, 'device in another campaign', err.message, { devices: err.devices.slice(0, 100) });
    if (err instanceof CampaignStateError) throw new ApiError(409, 'campaign state', err.message);
    if (err instanceof CampaignNotFoundError) throw new ApiError(404, 'unknown campaign', err.message);
    if (err instanceof CampaignValidationError) throw new ApiError(400, 'invalid campaign', err.message);
    throw err;
  }
}

function count(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) throw new ApiError(400, 'invalid request', `${name} must be a non-negative integer`);
  return Number(text);
}

/** CAMPAIGN, STAGE and HALTED events on the shared /api/events stream (not tied to one device). */
export function campaignEventSource(scheduler: RolloutScheduler): SseEventSource {
  return (publish) =>
    scheduler.events.on((event) => {
      const name = event.type === 'campaign' ? 'CAMPAIGN' : event.type === 'stage' ? 'STAGE' : 'HALTED';
      publish(name, '', { ...event, at: new Date(event.at).toISOString() });
    });
}
