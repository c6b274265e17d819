import {
  CoapOptionNumber,
  CoapResetError,
  CoapResponseError,
  CoapTimeoutError,
  codeClass,
  type IncomingResponse,
  type Observation,
  type OutgoingRequest,
} from '../../coap/types.js';
import type { Clock } from '../../util/clock.js';
import type { Logger } from '../../util/logger.js';
import { ContentFormat, type MultiNodeCodec } from '../formats/types.js';
import { decodeNode, encodeNode, multiCodecFor } from '../formats/index.js';
import { LinkFormatError, parseLinkFormat, type WebLink } from '../link-format.js';
import type { ObjectModel } from '../model/types.js';
import type { LwM2mNode, ObjectInstance } from '../node.js';
import { formatPath, InvalidPathError, parsePath, pathIds, pathLevel, type LwM2mPath } from '../path.js';
import { defaultCompositeFormat, defaultFormat } from './content-format.js';
import {
  BadDeviceResponseError,
  DeviceErrorResponse,
  DeviceResetError,
  DeviceTimeoutError,
  InvalidRequestError,
  UnknownDeviceError,
} from './errors.js';
import type { Lwm2mEvents } from './events.js';
import { ObservationTable, publicInfo, type ObservationInfo, type ObservationRecord } from './observation-table.js';
import type { RegistrationStore } from './registration-store.js';
import type { Registration } from './registration.js';
import type { QueuedRequestDescription, RequestQueue } from './request-queue.js';
import type { CoapRequester } from './coap-requester.js';
import { restoredCoapObservation, type ObservationPersistence, type PersistedObservation } from './observation-persistence.js';

export type PathInput = string | LwM2mPath;

export interface RequestOptions {
  /**
   * Direct devices: CoAP no-progress timeout (default MAX_TRANSMIT_WAIT). Queue-mode
   * devices: counted from when the request was queued (default: wait until it wakes).
   */
  timeoutMs?: number;
}

export interface ReadOptions extends RequestOptions {
  format?: number;
}

export interface WriteOptions extends RequestOptions {
  /** replace = PUT (the target becomes exactly the node); update = POST (partial update of an instance). */
  mode: 'replace' | 'update';
  format?: number;
  /** Block1 size exponent for a large value (szx 0..6); the device may still ask for smaller blocks. */
  blockSzx?: number;
  /** Told as a Block1 write is acknowledged (a firmware push times out on lack of progress, not length). */
  onProgress?: OutgoingRequest['onProgress'];
}

/** Notification attributes (LwM2M 1.1 §5.1.2); null removes an attribute. */
export interface NotificationAttributes {
  pmin?: number | null;
  pmax?: number | null;
  gt?: number | null;
  lt?: number | null;
  st?: number | null;
  epmin?: number | null;
  epmax?: number | null;
}

export interface ObserveResult {
  /** Undefined when the device answered without the Observe option (a plain read, no notifications). */
  observationId: string | undefined;
  node: LwM2mNode;
}

export interface CompositeObserveResult {
  observationId: string | undefined;
  nodes: Map<string, LwM2mNode>;
}

export interface DeviceClientOptions {
  coap: CoapRequester;
  model: ObjectModel;
  store: RegistrationStore;
  queue: RequestQueue;
  events: Lwm2mEvents;
  clock: Clock;
  logger?: Logger;
  /** Keeps observations across restarts (see restoreObservations). */
  observationPersistence?: ObservationPersistence;
}

const INTEGER_ATTRIBUTES = new Set(['pmin', 'pmax', 'epmin', 'epmax']);
const NUMBER_ATTRIBUTES = new Set(['gt', 'lt', 'st']);

/**
 * Device management and information reporting (LwM2M §5.4, §5.5): every operation an
 * operator or the firmware driver performs on a registered device, by endpoint name.
 * Requests go through the request queue, which sends at once unless the device is a
 * sleeping queue-mode device.
 */
export class DeviceClient {
  private readonly coap: CoapRequester;
  private readonly model: ObjectModel;
  private readonly store: RegistrationStore;
  private readonly queue: RequestQueue;
  private readonly events: Lwm2mEvents;
  private readonly clock: Clock;
  private readonly logger: Logger | undefined;
  private readonly table = new ObservationTable();

  constructor(options: DeviceClientOptions) {
    this.coap = options.coap;
    this.model = options.model;
    this.store = options.store;
    this.queue = options.queue;
    this.events = options.events;
    this.clock = options.clock;
    this.logger = options.logger;
    this.persistence = options.observationPersistence;
  }

  private readonly persistence: ObservationPersistence | undefined;
  /** Ids of observations that came back from the store: their notifications arrive as unknown tokens. */
  private readonly restored = new Set<string>();

  /** Brings back stored observations of devices still registered (same registration); drops the rest. */
  async restoreObservations(): Promise<number> {
    if (!this.persistence) return 0;
    let count = 0;
    for (const stored of await this.persistence.list()) {
      const registration = this.store.get(stored.endpoint);
      if (!registration || registration.id !== stored.registrationId) {
        await this.persistence.remove(stored.observationId);
        continue;
      }
      const { address: _address, ...info } = stored;
      this.table.add({ ...info, lwm2mPath: stored.paths ? undefined : parsePath(stored.path), coap: restoredCoapObservation(stored.observationId) });
      this.restored.add(stored.observationId);
      count++;
    }
    return count;
  }

  /** For the CoAP endpoint's onUnknownNotification: 'keep' when the token is a restored observation of that device. */
  acceptRestoredNotification(notification: IncomingResponse): 'keep' | 'reject' {
    const id = notification.message.token.toString('hex');
    const record = this.restored.has(id) ? this.table.get(id) : undefined;
    const registration = record ? this.store.get(record.endpoint) : undefined;
    if (!record || !registration) return 'reject';
    if (registration.address.address !== notification.remote.address || registration.address.port !== notification.remote.port) return 'reject';
    this.notify(record, notification, (r, n) =>
      r.paths
        ? { nodes: this.decodeComposite(r.endpoint, r.paths.map((p) => parsePath(p)), n, r.contentFormat) }
        : { node: this.decode(r.endpoint, r.lwm2mPath ?? {}, n, r.contentFormat) },
    );
    // An error notification ended it (notify removed it from the table).
    return this.table.get(id) === record ? 'keep' : 'reject';
  }

  private persistObservation(record: ObservationRecord, address: Registration['address']): void {
    if (!this.persistence) return;
    const stored: PersistedObservation = { ...publicInfo(record), address: { address: address.address, port: address.port } };
    this.persistence.put(stored).catch((err: unknown) => this.logger?.error({ err, endpoint: record.endpoint }, 'could not store an observation'));
  }

  private unpersistObservation(observationId: string): void {
    this.restored.delete(observationId);
    this.persistence?.remove(observationId).catch((err: unknown) => this.logger?.error({ err, observationId }, 'could not forget a stored observation'));
  }

  async read(endpoint: string, path: PathInput, options: ReadOptions = {}): Promise<LwM2mNode> {
    const registration = this.registration(endpoint);
    const target = toPath(path);
    if (pathLevel(target) === 'root') throw new InvalidRequestError('read needs at least an object id (e.g. /3)');
    const format = options.format ?? defaultFormat(registration);
    const response = await this.send(registration, target, { method: 'GET', accept: format }, options.timeoutMs);
    this.expectSuccess(endpoint, target, response);
    return this.decode(endpoint, target, response, format);
  }

  async write(endpoint: string, path: PathInput, node: LwM2mNode, options: WriteOptions): Promise<void> {
    const registration = this.registration(endpoint);
    const target = toPath(path);
    const level = pathLevel(target);
    if (options.mode === 'update' && level !== 'instance' && level !== 'resource') {
      throw new InvalidRequestError(`a partial update needs an instance or resource path, not ${formatPath(target)}`);
    }
    if (level === 'root' || level === 'object') {
      throw new InvalidRequestError(`write needs an instance, resource or resource instance path, not ${formatPath(target)}`);
    }
    checkNodeFitsPath(node, target);
    const format = options.format ?? defaultFormat(registration);
    const payload = this.encode(format, node, target);
    const response = await this.send(
      registration,
      target,
      {
        method: options.mode === 'replace' ? 'PUT' : 'POST',
        contentFormat: format,
        payload,
        ...(options.blockSzx !== undefined ? { blockSzx: options.blockSzx } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      },
      options.timeoutMs,
    );
    this.expectSuccess(endpoint, target, response);
  }

  async execute(endpoint: string, path: PathInput, args?: string, options: RequestOptions = {}): Promise<void> {
    const registration = this.registration(endpoint);
    const target = toPath(path);
    if (pathLevel(target) !== 'resource') throw new InvalidRequestError(`execute needs a resource path, not ${formatPath(target)}`);
    const request: Omit<OutgoingRequest, 'path'> = { method: 'POST' };
    if (args !== undefined && args !== '') {
      request.payload = Buffer.from(args, 'utf8');
      request.contentFormat = ContentFormat.TEXT;
    }
    const response = await this.send(registration, target, request, options.timeoutMs);
    this.expectSuccess(endpoint, target, response);
  }

  /** Creates an instance; returns its id (from the Location-Path when the device chose it). */
  async create(
    endpoint: string,
    objectPath: PathInput,
    instance: ObjectInstance,
    options: ReadOptions = {},
  ): Promise<number> {
    const registration = this.registration(endpoint);
    const target = toPath(objectPath);
    if (pathLevel(target) !== 'object') throw new InvalidRequestError(`create needs an object path, not ${formatPath(target)}`);
    if (instance.kind !== 'instance') throw new InvalidRequestError(`create needs an object instance, got a ${instance.kind} node`);
    const format = options.format ?? defaultFormat(registration);
    const payload = this.encode(format, { kind: 'obj', id: target.objectId!, instances: [instance] }, target);
    const response = await this.send(registration, target, { method: 'POST', contentFormat: format, payload }, options.timeoutMs);
    this.expectSuccess(endpoint, target, response);
    const location = response.message.options
      .filter((o) => o.number === CoapOptionNumber.LocationPath)
      .map((o) => o.value.toString('utf8'));
    const last = location[location.length - 1];
    return last !== undefined && /^\d+$/.test(last) ? Number(last) : instance.id;
  }

  async delete(endpoint: string, path: PathInput, options: RequestOptions = {}): Promise<void> {
    const registration = this.registration(endpoint);
    const target = toPath(path);
    if (pathLevel(target) !== 'instance') throw new InvalidRequestError(`delete needs an object instance path, not ${formatPath(target)}`);
    const response = await this.send(registration, target, { method: 'DELETE' }, options.timeoutMs);
    this.expectSuccess(endpoint, target, response);
  }

  async discover(endpoint: string, path: PathInput, options: RequestOptions = {}): Promise<WebLink[]> {
    const registration = this.registration(endpoint);
    const target = toPath(path);
    const response = await this.send(registration, target, { method: 'GET', accept: ContentFormat.LINK }, options.timeoutMs);
    this.expectSuccess(endpoint, target, response);
    try {
      return parseLinkFormat(response.payload.toString('utf8'));
    } catch (err) {
      if (err instanceof LinkFormatError) throw new BadDeviceResponseError(endpoint, formatPath(target), err.message);
      throw err;
    }
  }

  async writeAttributes(
    endpoint: string,
    path: PathInput,
    attributes: NotificationAttributes,
    options: RequestOptions = {},
  ): Promise<void> {
    const registration = this.registration(endpoint);
    const target = toPath(path);
    if (pathLevel(target) === 'root') throw new InvalidRequestError('write-attributes needs at least an object id');
    const query = attributeQuery(attributes);
    const response = await this.send(registration, target, { method: 'PUT', query }, options.timeoutMs);
    this.expectSuccess(endpoint, target, response);
  }

  async observe(endpoint: string, path: PathInput, options: ReadOptions = {}): Promise<ObserveResult> {
    const registration = this.registration(endpoint);
    const target = toPath(path);
    if (pathLevel(target) === 'root') throw new InvalidRequestError('observe needs at least an object id');
    const format = options.format ?? defaultFormat(registration);
    const formatted = formatPath(target);
    const { response, observationId } = await this.startObservation(
      registration,
      { method: 'GET', accept: format },
      target,
      formatted,
      options.timeoutMs,
      (record, notification) => {
        const node = this.decode(endpoint, target, notification, format);
        return { node };
      },
      format,
      undefined,
    );
    return { observationId, node: this.decode(endpoint, target, response, format) };
  }

  async compositeRead(endpoint: string, paths: readonly PathInput[], options: ReadOptions = {}): Promise<Map<string, LwM2mNode>> {
    const registration = this.registration(endpoint);
    const { codec, format, targets } = this.compositeSetup(registration, paths, options.format, 'composite read');
    const response = await this.send(
      registration,
      {},
      { method: 'FETCH', contentFormat: format, accept: format, payload: codec.encodePaths(targets) },
      options.timeoutMs,
      targets.map(formatPath).join(','),
    );
    this.expectSuccess(endpoint, {}, response, targets.map(formatPath).join(','));
    return this.decodeComposite(endpoint, targets, response, format);
  }

  async compositeObserve(endpoint: string, paths: readonly PathInput[], options: ReadOptions = {}): Promise<CompositeObserveResult> {
    const registration = this.registration(endpoint);
    const { codec, format, targets } = this.compositeSetup(registration, paths, options.format, 'composite observe');
    const formattedPaths = targets.map(formatPath);
    const { response, observationId } = await this.startObservation(
      registration,
      { method: 'FETCH', contentFormat: format, accept: format, payload: codec.encodePaths(targets) },
      undefined,
      formattedPaths.join(','),
      options.timeoutMs,
      (record, notification) => ({ nodes: this.decodeComposite(endpoint, targets, notification, format) }),
      format,
      formattedPaths,
    );
    return { observationId, nodes: this.decodeComposite(endpoint, targets, response, format) };
  }

  /** Sends the cancel (GET with Observe=1) and forgets the observation; false when the id is unknown. */
  async cancelObservation(endpoint: string, observationId: string): Promise<boolean> {
    const record = this.table.get(observationId);
    if (!record || record.endpoint !== endpoint) return false;
    this.table.remove(observationId);
    this.unpersistObservation(observationId);
    const registration = this.store.get(endpoint);
    if (!registration) return true;
    try {
      await this.queue.submit(
        registration,
        { kind: 'request', target: record.path, request: { method: 'GET', path: [], query: [] }, ephemeral: true },
        undefined,
        () => record.coap.cancel(),
      );
    } catch (err) {
      throw this.translate(err, endpoint, record.path, undefined);
    }
    return true;
  }

  observations(endpoint: string): ObservationInfo[] {
    return this.table.ofEndpoint(endpoint).map(publicInfo);
  }

  /**
   * The device left (deregistered, expired, replaced): its observations end with it, as in
   * Leshan. We do not send cancels to a device that is gone.
   */
  forgetDevice(endpoint: string): void {
    for (const record of this.table.removeEndpoint(endpoint)) this.restored.delete(record.observationId);
    this.persistence?.removeEndpoint(endpoint).catch((err: unknown) => this.logger?.error({ err, endpoint }, 'could not forget stored observations'));
  }

  // ---------------------------------------------------------------------------------

  private registration(endpoint: string): Registration {
    const registration = this.store.get(endpoint);
    if (!registration) throw new UnknownDeviceError(endpoint);
    return registration;
  }

  private compositeSetup(
    registration: Registration,
    paths: readonly PathInput[],
    requested: number | undefined,
    operation: string,
  ): { codec: MultiNodeCodec; format: number; targets: LwM2mPath[] } {
    if (registration.lwm2mVersion === '1.0') {
      throw new InvalidRequestError(
        `${operation} needs LwM2M 1.1 or later; device "${registration.endpoint}" registered with LwM2M 1.0`,
      );
    }
    if (paths.length === 0) throw new InvalidRequestError(`${operation} needs at least one path`);
    const format = requested ?? defaultCompositeFormat(registration);
    const codec = multiCodecFor(format);
    if (!codec) throw new InvalidRequestError(`content format ${format} cannot carry a ${operation} (use SenML JSON/CBOR or LwM2M CBOR)`);
    return { codec, format, targets: paths.map(toPath) };
  }

  private async startObservation(
    registration: Registration,
    request: Omit<OutgoingRequest, 'path'>,
    target: LwM2mPath | undefined,
    formatted: string,
    timeoutMs: number | undefined,
    decodeNotification: (
      record: ObservationRecord,
      notification: IncomingResponse,
    ) => { node?: LwM2mNode; nodes?: Map<string, LwM2mNode> },
    format: number,
    paths: string[] | undefined,
  ): Promise<{ response: IncomingResponse; observationId: string | undefined }> {
    const endpoint = registration.endpoint;
    let record: ObservationRecord | undefined;
    const onNotification = (notification: IncomingResponse): void => {
      // A notification can arrive for an observation we already forgot; ignore it.
      if (!record || this.table.get(record.observationId) !== record) return;
      this.notify(record, notification, decodeNotification);
    };
    const full = { ...request, path: this.requestPath(registration, target ?? {}) };
    const description: Omit<QueuedRequestDescription, 'queuedAt' | 'deadline' | 'endpoint'> = {
      kind: 'observe',
      target: formatted,
      request: full,
    };
    let observation: Observation;
    try {
      observation = await this.queue.submit(registration, description, timeoutMs, (current, remaining) => {
        const outgoing: OutgoingRequest = { ...full, path: this.requestPath(current, target ?? {}) };
        if (remaining !== undefined) outgoing.timeoutMs = Math.max(1, remaining);
        return this.coap.observe(current.address, outgoing, onNotification).catch((err: unknown) => {
          throw this.translate(err, endpoint, formatted, remaining);
        });
      });
    } catch (err) {
      throw this.translate(err, endpoint, formatted, timeoutMs);
    }
    const response = observation.first;
    this.expectSuccess(endpoint, target ?? {}, response, formatted);
    if (response.observe === undefined) return { response, observationId: undefined };
    const current = this.store.get(endpoint);
    record = {
      observationId: observation.token.toString('hex'),
      endpoint,
      registrationId: current?.id ?? registration.id,
      path: formatted,
      contentFormat: response.contentFormat ?? format,
      createdAt: this.clock.now(),
      lwm2mPath: target,
      coap: observation,
    };
    if (paths) record.paths = paths;
    this.table.add(record);
    this.persistObservation(record, current?.address ?? registration.address);
    return { response, observationId: record.observationId };
  }

  private notify(
    record: ObservationRecord,
    notification: IncomingResponse,
    decodeNotification: (
      record: ObservationRecord,
      notification: IncomingResponse,
    ) => { node?: LwM2mNode; nodes?: Map<string, LwM2mNode> },
  ): void {
    const base = {
      endpoint: record.endpoint,
      observationId: record.observationId,
      path: record.path,
      payload: notification.payload,
      contentFormat: notification.contentFormat,
    };
    if (codeClass(notification.code) !== 2) {
      // RFC 7641 §3.2: an error notification ends the observation.
      this.table.remove(record.observationId);
      this.unpersistObservation(record.observationId);
      const error = new DeviceErrorResponse(record.endpoint, record.path, notification.code, notification.payload.toString('utf8'));
      this.events.emit('notification', { ...base, error });
      return;
    }
    try {
      this.events.emit('notification', { ...base, ...decodeNotification(record, notification) });
    } catch (err) {
      this.logger?.warn({ endpoint: record.endpoint, path: record.path, err }, 'undecodable notification');
      this.events.emit('notification', { ...base, error: err instanceof Error ? err : new Error(String(err)) });
    }
  }

  private requestPath(registration: Registration, target: LwM2mPath): string[] {
    const root = registration.rootPath === '/' ? [] : registration.rootPath.split('/').filter((s) => s !== '');
    return [...root, ...pathIds(target).map(String)];
  }

  private async send(
    registration: Registration,
    target: LwM2mPath,
    request: Omit<OutgoingRequest, 'path'>,
    timeoutMs: number | undefined,
    label: string = formatPath(target),
  ): Promise<IncomingResponse> {
    const full: OutgoingRequest = { ...request, path: this.requestPath(registration, target) };
    try {
      return await this.queue.submit(registration, { kind: 'request', target: label, request: full }, timeoutMs, (current, remaining) => {
        // The device may have moved (new address, new root path) while the request waited.
        const outgoing: OutgoingRequest = { ...full, path: this.requestPath(current, target) };
        if (remaining !== undefined) outgoing.timeoutMs = Math.max(1, remaining);
        return this.coap.request(current.address, outgoing).catch((err: unknown) => {
          throw this.translate(err, registration.endpoint, label, remaining);
        });
      });
    } catch (err) {
      throw this.translate(err, registration.endpoint, label, timeoutMs);
    }
  }

  private translate(err: unknown, endpoint: string, path: string, timeoutMs: number | undefined): unknown {
    if (err instanceof CoapTimeoutError) return new DeviceTimeoutError(endpoint, path, timeoutMs);
    if (err instanceof CoapResetError) return new DeviceResetError(endpoint, path);
    // The endpoint's observe() rejects an error answer to the registration with this.
    if (err instanceof CoapResponseError) {
      return new DeviceErrorResponse(endpoint, path, err.response.code, err.response.payload.toString('utf8'));
    }
    return err;
  }

  private expectSuccess(endpoint: string, target: LwM2mPath, response: IncomingResponse, label = formatPath(target)): void {
    const cls = codeClass(response.code);
    if (cls === 2) return;
    if (cls === 4 || cls === 5) {
      throw new DeviceErrorResponse(endpoint, label, response.code, response.payload.toString('utf8'));
    }
    throw new BadDeviceResponseError(endpoint, label, `unexpected response code ${response.code >> 5}.${String(response.code & 0x1f).padStart(2, '0')}`);
  }

  private decode(endpoint: string, target: LwM2mPath, response: IncomingResponse, requested: number): LwM2mNode {
    const format = response.contentFormat ?? requested;
    try {
      return decodeNode(format, response.payload, target, this.model);
    } catch (err) {
      throw new BadDeviceResponseError(endpoint, formatPath(target), `cannot decode format ${format}: ${(err as Error).message}`);
    }
  }

  private decodeComposite(endpoint: string, targets: LwM2mPath[], response: IncomingResponse, requested: number): Map<string, LwM2mNode> {
    const format = response.contentFormat ?? requested;
    const label = targets.map(formatPath).join(',');
    const codec = multiCodecFor(format);
    if (!codec) throw new BadDeviceResponseError(endpoint, label, `format ${format} cannot carry a composite answer`);
    try {
      return codec.decodeNodes(response.payload, this.model, targets);
    } catch (err) {
      throw new BadDeviceResponseError(endpoint, label, `cannot decode format ${format}: ${(err as Error).message}`);
    }
  }

  private encode(format: number, node: LwM2mNode, target: LwM2mPath): Buffer {
    try {
      return encodeNode(format, node, target, this.model);
    } catch (err) {
      throw new InvalidRequestError(`cannot encode the value for ${formatPath(target)} as format ${format}: ${(err as Error).message}`);
    }
  }
}

function toPath(path: PathInput): LwM2mPath {
  if (typeof path !== 'string') return path;
  try {
    return parsePath(path);
  } catch (err) {
    if (err instanceof InvalidPathError) throw new InvalidRequestError(err.message);
    throw err;
  }
}

/** The node's kind and id must be those the path names, or the device would write elsewhere. */
function checkNodeFitsPath(node: LwM2mNode, path: LwM2mPath): void {
  const level = pathLevel(path);
  const expected =
    level === 'instance'
      ? { kinds: ['instance'], id: path.instanceId }
      : level === 'resource'
        ? { kinds: ['singleResource', 'multiResource'], id: path.resourceId }
        : { kinds: ['resourceInstance'], id: path.resourceInstanceId };
  if (!expected.kinds.includes(node.kind)) {
    throw new InvalidRequestError(`${formatPath(path)} needs a ${expected.kinds.join(' or ')} node, got ${node.kind}`);
  }
  if (node.id !== expected.id) {
    throw new InvalidRequestError(`node id ${node.id} does not match path ${formatPath(path)}`);
  }
}

function attributeQuery(attributes: NotificationAttributes): string[] {
  const query: string[] = [];
  for (const [name, value] of Object.entries(attributes) as [string, number | null | undefined][]) {
    if (value === undefined) continue;
    if (!INTEGER_ATTRIBUTES.has(name) && !NUMBER_ATTRIBUTES.has(name)) {
      throw new InvalidRequestError(`unknown attribute "${name}" (pmin, pmax, gt, lt, st, epmin, epmax)`);
    }
    if (value === null) {
      query.push(name);
      continue;
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new InvalidRequestError(`attribute ${name} must be a finite number`);
    }
    if (INTEGER_ATTRIBUTES.has(name) && (!Number.isInteger(value) || value < 0)) {
      throw new InvalidRequestError(`attribute ${name} must be a non-negative integer (seconds), got ${value}`);
    }
    if (name === 'st' && value < 0) throw new InvalidRequestError(`attribute st must not be negative, got ${value}`);
    query.push(`${name}=${value}`);
  }
  if (query.length === 0) throw new InvalidRequestError('no attribute to write');
  const pmin = attributes.pmin;
  const pmax = attributes.pmax;
  if (typeof pmin === 'number' && typeof pmax === 'number' && pmax < pmin) {
    throw new InvalidRequestError(`pmax (${pmax}) must not be below pmin (${pmin})`);
  }
  return query;
}
