/**
 * /api/clients: the registered devices and the device-management operations on them, in
 * the shape of Leshan's demo server API:
 *   GET    /api/clients                        registrations
 *   GET    /api/clients/{ep}                   one registration
 *   GET    /api/clients/{ep}/composite?paths=  composite read
 *   GET    /api/clients/{ep}/{path}            read            (?format= ?timeout=)
 *   GET    /api/clients/{ep}/{path}/discover   discover
 *   PUT    /api/clients/{ep}/{path}            write           (?replace=false → partial update)
 *   PUT    /api/clients/{ep}/{path}/attributes write-attributes (?pmin=10&pmax=60 or JSON body)
 *   POST   /api/clients/{ep}/{object}          create          (instance JSON body)
 *   POST   /api/clients/{ep}/{object}/{inst}   partial update  (instance JSON body)
 *   POST   /api/clients/{ep}/{resource}        execute         (text body = arguments)
 *   POST   /api/clients/{ep}/{path}/observe    observe         (answers the first value)
 *   DELETE /api/clients/{ep}/{path}/observe    cancel the observations of that path
 *   DELETE /api/clients/{ep}/{path}            delete
 * Success answers Leshan's envelope {status:"CONTENT(205)", valid, success, failure, …}.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CoapCode } from '../coap/types.js';
import { formatPath, parsePath, pathLevel, type LwM2mPath } from '../lwm2m/path.js';
import type { ObjectModel } from '../lwm2m/model/types.js';
import { availableInstances, type Registration } from '../lwm2m/server/registration.js';
import type { DeviceApi } from './device-api.js';
import { ApiError } from './errors.js';
import { newInstanceFromJson, nodeFromJson, nodeToJson, nodesToJson } from './node-json.js';
import { linkToJson } from './registration-json.js';
import { parseFormat, parseTimeoutMs, parseWriteMode } from './request-params.js';
import { parseAttributes } from './attributes.js';
import { successEnvelope } from './status.js';

export interface ClientRoutesDeps {
  devices: DeviceApi;
  model: ObjectModel;
  registration(endpoint: string): Registration | undefined;
  registrations(): Registration[];
  registrationJson(registration: Registration): Record<string, unknown>;
  /** Used when the request has no ?timeout=. */
  defaultTimeoutMs: number;
}

type Query = Record<string, string | undefined>;
type DeviceRequest = FastifyRequest<{ Params: { ep: string; '*': string }; Querystring: Query; Body: unknown }>;

/** The target of a device route: endpoint, LwM2M path, and the trailing action word if any. */
interface Target {
  endpoint: string;
  path: LwM2mPath;
  action: 'discover' | 'attributes' | 'observe' | undefined;
}

const ACTIONS = new Set(['discover', 'attributes', 'observe']);

export function registerClientRoutes(app: FastifyInstance, deps: ClientRoutesDeps): void {
  const { devices, model } = deps;

  const requireDevice = (endpoint: string): Registration => {
    const registration = deps.registration(endpoint);
    if (registration === undefined) {
      throw new ApiError(404, 'unknown device', `no registered device with endpoint "${endpoint}"`);
    }
    return registration;
  };

  const target = (request: DeviceRequest): Target => {
    const endpoint = request.params.ep;
    requireDevice(endpoint);
    const segments = request.params['*'].split('/').filter((s) => s !== '');
    const last = segments[segments.length - 1];
    const action = last !== undefined && ACTIONS.has(last) ? (last as Target['action']) : undefined;
    if (action !== undefined) segments.pop();
    return { endpoint, path: parsePath(segments.join('/')), action };
  };

  const options = (request: DeviceRequest) => ({
    format: parseFormat(request.query.format),
    timeoutMs: parseTimeoutMs(request.query.timeout, deps.defaultTimeoutMs),
  });

  const requireLevel = (path: LwM2mPath, operation: string, allowed: ReturnType<typeof pathLevel>[]): void => {
    const level = pathLevel(path);
    if (!allowed.includes(level)) {
      const where = level === 'root' ? 'the root path' : `${level} path ${formatPath(path)}`;
      throw new ApiError(400, 'bad path', `${operation} is not possible on ${where}`);
    }
  };

  app.get('/api/clients', async () => deps.registrations().map((r) => deps.registrationJson(r)));

  app.get<{ Params: { ep: string } }>('/api/clients/:ep', async (request) =>
    deps.registrationJson(requireDevice(request.params.ep)),
  );

  app.get<{ Params: { ep: string }; Querystring: Query }>('/api/clients/:ep/composite', async (request) => {
    const endpoint = request.params.ep;
    requireDevice(endpoint);
    const list = request.query.paths;
    if (list === undefined || list.trim() === '') {
      throw new ApiError(400, 'bad path', 'composite read needs ?paths=/3/0/1,/1/0/1');
    }
    const paths = list.split(',').map((p) => parsePath(p.trim()));
    const nodes = await devices.compositeRead(endpoint, paths, {
      format: parseFormat(request.query.format ?? request.query.nodeformat),
      timeoutMs: parseTimeoutMs(request.query.timeout, deps.defaultTimeoutMs),
    });
    return successEnvelope(CoapCode.Content, { content: nodesToJson(nodes) });
  });

  app.get('/api/clients/:ep/*', async (request: DeviceRequest) => {
    const { endpoint, path, action } = target(request);
    if (action === 'discover') {
      requireLevel(path, 'discover', ['object', 'instance', 'resource']);
      const links = await devices.discover(endpoint, path, { timeoutMs: options(request).timeoutMs });
      return successEnvelope(CoapCode.Content, { objectLinks: links.map(linkToJson) });
    }
    if (action !== undefined) {
      throw new ApiError(405, 'method not allowed', `use ${action === 'attributes' ? 'PUT' : 'POST'} for /${action}`);
    }
    requireLevel(path, 'read', ['object', 'instance', 'resource', 'resourceInstance']);
    const node = await devices.read(endpoint, path, options(request));
    return successEnvelope(CoapCode.Content, { content: nodeToJson(node) });
  });

  app.put('/api/clients/:ep/*', async (request: DeviceRequest) => {
    const { endpoint, path, action } = target(request);
    if (action === 'attributes') {
      requireLevel(path, 'write-attributes', ['object', 'instance', 'resource', 'resourceInstance']);
      const attributes = parseAttributes(request.query, request.body);
      await devices.writeAttributes(endpoint, path, attributes, { timeoutMs: options(request).timeoutMs });
      return successEnvelope(CoapCode.Changed);
    }
    if (action !== undefined) throw new ApiError(405, 'method not allowed', `PUT is not defined for /${action}`);
    requireLevel(path, 'write', ['instance', 'resource', 'resourceInstance']);
    const node = nodeFromJson(request.body, path, model);
    await devices.write(endpoint, path, node, { mode: parseWriteMode(request.query.replace), ...options(request) });
    return successEnvelope(CoapCode.Changed);
  });

  app.post('/api/clients/:ep/*', async (request: DeviceRequest) => {
    const { endpoint, path, action } = target(request);
    if (action === 'observe') {
      requireLevel(path, 'observe', ['object', 'instance', 'resource', 'resourceInstance']);
      const { observationId, node } = await devices.observe(endpoint, path, options(request));
      return successEnvelope(CoapCode.Content, { content: nodeToJson(node), observationId: observationId ?? null });
    }
    if (action !== undefined) throw new ApiError(405, 'method not allowed', `POST is not defined for /${action}`);
    const level = pathLevel(path);
    if (level === 'object') {
      const objectId = path.objectId as number;
      const parsed = newInstanceFromJson(request.body, objectId, model);
      // Without an id in the body, take the lowest id the device has not announced.
      const id = parsed.id ?? freeInstanceId(requireDevice(endpoint), objectId);
      const instanceId = await devices.create(endpoint, path, { kind: 'instance', id, resources: parsed.resources }, options(request));
      return successEnvelope(CoapCode.Created, { location: `/${objectId}/${instanceId}` });
    }
    if (level === 'instance') {
      const node = nodeFromJson(request.body, path, model);
      await devices.write(endpoint, path, node, { mode: 'update', ...options(request) });
      return successEnvelope(CoapCode.Changed);
    }
    requireLevel(path, 'execute', ['resource']);
    await devices.execute(endpoint, path, executeArguments(request.body), { timeoutMs: options(request).timeoutMs });
    return successEnvelope(CoapCode.Changed);
  });

  app.delete('/api/clients/:ep/*', async (request: DeviceRequest) => {
    const { endpoint, path, action } = target(request);
    if (action === 'observe') {
      const wanted = formatPath(path);
      const matching = devices.observations(endpoint).filter((o) => o.path === wanted);
      if (matching.length === 0) {
        throw new ApiError(404, 'unknown observation', `device "${endpoint}" has no observation of ${wanted}`);
      }
      for (const observation of matching) await devices.cancelObservation(endpoint, observation.observationId);
      return successEnvelope(CoapCode.Content, { cancelled: matching.map((o) => o.observationId) });
    }
    if (action !== undefined) throw new ApiError(405, 'method not allowed', `DELETE is not defined for /${action}`);
    requireLevel(path, 'delete', ['instance']);
    await devices.delete(endpoint, path, { timeoutMs: options(request).timeoutMs });
    return successEnvelope(CoapCode.Deleted);
  });
}

/** Execute arguments travel as the text body (e.g. `0='a',1`); none is fine. */
function executeArguments(body: unknown): string | undefined {
  if (body === undefined || body === null || body === '') return undefined;
  if (typeof body === 'string') return body;
  throw new ApiError(400, 'bad request', 'execute arguments must be sent as text/plain, e.g. 0=\'a\',1');
}

function freeInstanceId(registration: Registration, objectId: number): number {
  const taken = new Set(availableInstances(registration).get(objectId) ?? []);
  let id = 0;
  while (taken.has(id)) id++;
  return id;
}
