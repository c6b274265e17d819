/**
 * The HTTP API (fastify), not listening: the composition root calls listen(). Route groups
 * live in their own files; this one wires them to the LwM2M services and makes every
 * failure a JSON {error, detail} answer, logged once.
 */
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from '../util/logger.js';
import type { ObjectModel } from '../lwm2m/model/types.js';
import type { Lwm2mServer } from '../lwm2m/server/lwm2m-server.js';
import type { Registration } from '../lwm2m/server/registration.js';
import { registerClientRoutes } from './clients.js';
import { ApiError, toApiError } from './errors.js';
import { registerEventRoutes, SseHub } from './events-sse.js';
import { registerObjectSpecRoutes } from './objectspecs.js';
import { registrationToJson } from './registration-json.js';
import { registerServerInfoRoutes } from './server-info.js';
import { registerBootstrapRoutes, type BootstrapApiDeps } from './bootstrap.js';
import { registerSecurityRoutes, type SecurityApiDeps } from './security.js';
import { registerFirmwareImageRoutes } from './firmware-images.js';
import { firmwareEventSource, registerFirmwareDeliveryRoutes } from './firmware-deliveries.js';
import type { FirmwareRepository } from '../firmware/repository/firmware-repository.js';
import type { DeliveryService } from '../firmware/delivery/delivery-service.js';
import { registerProfileRoutes, type ProfileApiDeps } from './profiles.js';
import { campaignEventSource, registerCampaignRoutes, type CampaignApiDeps } from './campaigns.js';
import { registerDeviceTagRoutes, type DeviceTagApiDeps } from './device-tags.js';

export interface HttpApiDeps {
  lwm2m: Lwm2mServer;
  model: ObjectModel;
  logger: Logger;
  version?: string;
  /** Device request timeout when the caller gives no ?timeout= (Leshan's default: 5 s). */
  defaultTimeoutMs?: number;
  /** Comment line interval on idle event streams. */
  sseHeartbeatMs?: number;
  /** Largest request body; a firmware image does not travel through this API. */
  bodyLimitBytes?: number;
  /** /api/bootstrap routes (bootstrap configurations and the last session of each endpoint). */
  bootstrap?: BootstrapApiDeps;
  /** /api/security routes (device credentials, the server's public credentials). */
  security?: SecurityApiDeps;
  /** Firmware repository and delivery routes (/api/firmware, /api/clients/{ep}/firmware). */
  firmware?: { repository: FirmwareRepository; deliveries: DeliveryService };
  /** /api/profiles, /api/device-types and /api/clients/{ep}/profile (security profiles and pairing). */
  profiles?: ProfileApiDeps;
  /** Rollout campaign routes (/api/campaigns). */
  campaigns?: CampaignApiDeps;
  /** Device tags for campaign targeting (/api/clients/{ep}/tags). */
  deviceTags?: DeviceTagApiDeps;
}

export function buildHttpApi(deps: HttpApiDeps): FastifyInstance {
  const { lwm2m, model, logger } = deps;
  const app = Fastify({
    // pino's Logger is fastify's logger; the cast only bridges the two packages' typings.
    loggerInstance: logger as FastifyBaseLogger,
    logController: new DebugRequestLogs(),
    bodyLimit: deps.bodyLimitBytes ?? 1024 * 1024,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 500 },
  });

  // Execute arguments and other non-JSON bodies arrive as text.
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  // Our own JSON parser so a bad body is answered with the parser's reason.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(new ApiError(400, 'bad JSON', `the body is not valid JSON: ${(err as Error).message}`), undefined);
    }
  });

  app.setErrorHandler((err, request, reply) => {
    const apiError = toApiError(err);
    const context = { method: request.method, url: request.url, status: apiError.statusCode, detail: apiError.detail };
    // Our own bugs get the stack in the log; expected failures (caller, device) one line.
    if (apiError.statusCode === 500) request.log.error({ ...context, err }, 'http request failed');
    else request.log.warn(context, `http request failed: ${apiError.error}`);
    void reply.code(apiError.statusCode).type('application/json; charset=utf-8').send(apiError.body());
  });

  app.setNotFoundHandler((request, reply) => {
    request.log.warn({ method: request.method, url: request.url, status: 404 }, 'http request failed: no such route');
    void reply.code(404).send({ error: 'not found', detail: `no route ${request.method} ${request.url.split('?')[0]}` });
  });

  const registrationJson = (registration: Registration, justHeard = false): Record<string, unknown> =>
    registrationToJson(
      registration,
      // The queue keeps no state for a queue-mode device that is asleep with nothing waiting.
      registration.queueMode ? !justHeard && lwm2m.presence(registration.endpoint) !== 'awake' : undefined,
    );

  registerClientRoutes(app, {
    devices: lwm2m.devices,
    model,
    registration: (endpoint) => lwm2m.registrations.get(endpoint),
    registrations: () => lwm2m.registrations.list(),
    registrationJson: (registration) => registrationJson(registration),
    defaultTimeoutMs: deps.defaultTimeoutMs ?? 5000,
  });
  registerObjectSpecRoutes(app, model);
  if (deps.bootstrap) registerBootstrapRoutes(app, deps.bootstrap);
  if (deps.security) registerSecurityRoutes(app, deps.security);
  if (deps.firmware) {
    registerFirmwareImageRoutes(app, deps.firmware.repository);
    registerFirmwareDeliveryRoutes(app, deps.firmware.deliveries);
  }
  if (deps.profiles) registerProfileRoutes(app, deps.profiles);
  if (deps.campaigns) registerCampaignRoutes(app, deps.campaigns);
  if (deps.deviceTags) registerDeviceTagRoutes(app, deps.deviceTags);
  registerEventRoutes(
    app,
    new SseHub({
      events: lwm2m.events,
      registrationJson,
      logger,
      heartbeatMs: deps.sseHeartbeatMs,
      sources: [
        ...(deps.firmware ? [firmwareEventSource(deps.firmware.deliveries)] : []),
        ...(deps.campaigns ? [campaignEventSource(deps.campaigns.scheduler)] : []),
      ],
    }),
  );
  registerServerInfoRoutes(app, {
    version: deps.version ?? '0.0.0',
    startedAt: Date.now(),
    registrationCount: () => lwm2m.registrations.count(),
  });
  return app;
}

/** Per-request lines at debug: at info a busy dashboard would drown the protocol logs. */
class DebugRequestLogs extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ method: request.method, url: request.url }, 'http request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    request.log.debug({ status: reply.statusCode, ms: reply.elapsedTime, err: error ?? undefined }, 'http response');
  }

  // Our error handler logs every failure once, with its status.
  override defaultErrorLog(): void {}

  override routeNotFound(): void {}
}
