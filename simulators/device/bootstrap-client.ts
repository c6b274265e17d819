/**
 * The device's side of a client-initiated bootstrap (LwM2M 1.1 §6.1.7): it asks the
 * bootstrap server (`POST /bs?ep=…&pct=…`), then answers Bootstrap-Discover, -Delete,
 * -Write on objects 0, 1 and 2 and Bootstrap-Finish, and hands the LwM2M server account
 * it was given to the device, which then registers there.
 *
 * Bootstrap writes ignore access rights (the Short Server ID of a Server instance is
 * read-only to LwM2M servers), so the instances of objects 0 and 1 are built here
 * directly, with the same resource tables as the device's own objects.
 */
import { CoapCode, formatCode, type IncomingRequest, type IncomingResponse, type OutgoingRequest, type OutgoingResponse, type RemoteAddress } from '../../src/coap/types.js';
import { ContentFormat } from '../../src/lwm2m/formats/types.js';
import { serializeLinkFormat, type WebLink } from '../../src/lwm2m/link-format.js';
import type { ObjectModel } from '../../src/lwm2m/model/types.js';
import type { LwM2mNode, ObjectInstance, ResourceValue } from '../../src/lwm2m/node.js';
import { InvalidPathError, parsePath, pathLevel, type LwM2mPath } from '../../src/lwm2m/path.js';
import type { Clock, TimerHandle } from '../../src/util/clock.js';
import { decodeFor, type Lwm2mVersion } from './content.js';
import { OperationError, type ObjectTree } from './object-tree.js';
import type { SimInstance, SimObject } from './objects/base.js';
import type { ObjectContext } from './objects/context.js';
import { securityInstance } from './objects/security.js';
import { serverInstance } from './objects/server.js';
import { deviceSecurityFrom } from './bootstrap-security.js';
import type { DeviceSecurity } from './dtls-transport.js';

/** idle → requesting → bootstrapping → finished; any failure → failed (a new run starts over). */
export type DeviceBootstrapState = 'idle' | 'requesting' | 'bootstrapping' | 'finished' | 'failed';
export type DeviceBootstrapEvent = 'request' | 'accepted' | 'finish' | 'fail';

const TRANSITIONS: Record<DeviceBootstrapState, Partial<Record<DeviceBootstrapEvent, DeviceBootstrapState>>> = {
  idle: { request: 'requesting' },
  // The server may start before its 2.04 reaches us (a lost ACK): finishing is allowed here too.
  requesting: { accepted: 'bootstrapping', finish: 'finished', fail: 'failed' },
  bootstrapping: { finish: 'finished', fail: 'failed' },
  finished: { request: 'requesting' },
  failed: { request: 'requesting' },
};

export function nextBootstrapState(state: DeviceBootstrapState, event: DeviceBootstrapEvent): DeviceBootstrapState {
  const next = TRANSITIONS[state][event];
  if (next === undefined) throw new Error(`device bootstrap cannot handle "${event}" while ${state}`);
  return next;
}

/** The LwM2M server account the device registers with after a finished bootstrap. */
export interface BootstrapAccount {
  uri: string;
  shortServerId: number;
  lifetimeSec: number;
  binding: string;
  /** The DTLS credentials written for a coaps:// account (absent for NoSec). */
  security?: DeviceSecurity;
}

export interface DeviceBootstrapOptions {
  bootstrapUri: string;
  bootstrapServer: RemoteAddress;
  endpointName: string;
  version: Lwm2mVersion;
  /** Sent as `pct` (1.1+). */
  preferredFormat: number;
  model: ObjectModel;
  clock: Clock;
  /** The device's Security and Server objects: their instance maps are rewritten here. */
  security: SimObject;
  server: SimObject;
  /** The device's registration parameters; the chosen Server instance is bound to them. */
  context: ObjectContext;
  tree: ObjectTree;
  /** How long to wait for Bootstrap-Finish after the request was accepted (default 60 s). */
  finishTimeoutMs?: number;
}

const SECURITY = { uri: 0, bootstrap: 1, mode: 2, identity: 3, serverKey: 4, secret: 5, shortServerId: 10 } as const;
const SERVER = { shortServerId: 0, lifetime: 1, binding: 7 } as const;
const NOSEC = 3;

const failure = (code: number, reason: string): OutgoingResponse => ({ code, payload: Buffer.from(reason), contentFormat: ContentFormat.TEXT });

function value(instance: SimInstance | undefined, id: number): ResourceValue | undefined {
  const content = instance?.resource(id)?.read();
  return content instanceof Map ? undefined : content;
}

export class DeviceBootstrap {
  private current: DeviceBootstrapState = 'idle';
  /** ACL instances (object 2) written by the bootstrap server; the simulated device keeps them only. */
  readonly acl = new Map<number, ObjectInstance>();
  private finished: ((account: BootstrapAccount) => void) | undefined;
  private abandoned: ((error: Error) => void) | undefined;
  private finishTimer: TimerHandle | undefined;
  private account: BootstrapAccount | undefined;

  constructor(private readonly options: DeviceBootstrapOptions) {
    // A device "with no configuration": only its bootstrap account.
    options.security.instances.clear();
    const account = securityInstance(0, options.bootstrapUri, 0);
    account.resource(SECURITY.bootstrap)?.write(true);
    options.security.instances.set(0, account);
    options.server.instances.clear();
  }

  get state(): DeviceBootstrapState {
    return this.current;
  }

  /** What the last finished bootstrap gave. */
  get lastAccount(): BootstrapAccount | undefined {
    return this.account;
  }

  /** Requests from the bootstrap server are ours; everything else is the LwM2M server's. */
  handles(request: IncomingRequest): boolean {
    const bs = this.options.bootstrapServer;
    return request.remote.port === bs.port && request.remote.address === bs.address;
  }

  /** Asks for bootstrap and resolves with the server account once the server finished. */
  async run(send: (remote: RemoteAddress, request: OutgoingRequest) => Promise<IncomingResponse>): Promise<BootstrapAccount> {
    this.transition('request');
    const finished = new Promise<BootstrapAccount>((resolve, reject) => {
      this.finished = resolve;
      this.abandoned = reject;
      this.finishTimer = this.options.clock.setTimeout(() => {
        this.finishTimer = undefined;
        this.fail(new Error(`bootstrap server did not finish within ${this.options.finishTimeoutMs ?? 60_000} ms`));
      }, this.options.finishTimeoutMs ?? 60_000);
    });
    finished.catch(() => {});
    const query = [`ep=${this.options.endpointName}`];
    if (this.options.version !== '1.0') query.push(`pct=${this.options.preferredFormat}`);
    let response: IncomingResponse;
    try {
      response = await send(this.options.bootstrapServer, { method: 'POST', path: ['bs'], query });
    } catch (error) {
      this.fail(error as Error);
      throw error;
    }
    if (response.code !== CoapCode.Changed) {
      const reason = response.payload.length > 0 ? `: ${response.payload.toString('utf8')}` : '';
      const error = new Error(`bootstrap request answered ${formatCode(response.code)}${reason}`);
      this.fail(error);
      throw error;
    }
    if (this.current === 'requesting') this.transition('accepted');
    return finished;
  }

  /** Stops waiting (the device stops). */
  cancel(): void {
    if (this.current === 'requesting' || this.current === 'bootstrapping') this.fail(new Error('bootstrap cancelled: the device stopped'));
  }

  handle(request: IncomingRequest): OutgoingResponse {
    try {
      return this.dispatch(request);
    } catch (error) {
      if (error instanceof OperationError) return failure(error.code, error.message);
      throw error;
    }
  }

  private dispatch(request: IncomingRequest): OutgoingResponse {
    if (request.method === 'POST' && request.path.length === 1 && request.path[0] === 'bs') return this.finish();
    if (this.current !== 'requesting' && this.current !== 'bootstrapping') {
      return failure(CoapCode.Unauthorized, 'no bootstrap in progress');
    }
    const path = toPath(request.path);
    switch (request.method) {
      case 'GET':
        if (request.accept !== ContentFormat.LINK) throw new OperationError(CoapCode.MethodNotAllowed, 'only Bootstrap-Discover (Accept: link-format) may read during bootstrap');
        return this.discover(path);
      case 'DELETE':
        this.delete(path);
        return { code: CoapCode.Deleted };
      case 'PUT':
        this.write(path, decodeFor(request.contentFormat, request.payload, path, this.options.model));
        return { code: CoapCode.Changed };
      default:
        throw new OperationError(CoapCode.MethodNotAllowed, `${request.method} is not a bootstrap operation`);
    }
  }

  private discover(path: LwM2mPath): OutgoingResponse {
    if (pathLevel(path) !== 'root' && pathLevel(path) !== 'object') throw new OperationError(CoapCode.BadRequest, 'Bootstrap-Discover targets / or an object');
    const links: WebLink[] = [];
    for (const [id, instance] of sorted(this.options.security.instances)) {
      const params: Record<string, string> = {};
      if (value(instance, SECURITY.bootstrap) !== true) {
        params.ssid = String(value(instance, SECURITY.shortServerId));
        params.uri = String(value(instance, SECURITY.uri));
      }
      links.push({ uri: `/0/${id}`, params });
    }
    for (const [id, instance] of sorted(this.options.server.instances)) {
      links.push({ uri: `/1/${id}`, params: { ssid: String(value(instance, SERVER.shortServerId)) } });
    }
    for (const id of [...this.acl.keys()].sort((a, b) => a - b)) links.push({ uri: `/2/${id}`, params: {} });
    for (const link of this.options.tree.registrationLinks()) if (!/^\/[012](\/|$)/.test(link.uri)) links.push(link);
    const wanted = path.objectId === undefined ? links : links.filter((l) => l.uri === `/${path.objectId}` || l.uri.startsWith(`/${path.objectId}/`));
    const payload = `lwm2m="${this.options.version}",${serializeLinkFormat(wanted)}`;
    return { code: CoapCode.Content, payload: Buffer.from(payload), contentFormat: ContentFormat.LINK };
  }

  private delete(path: LwM2mPath): void {
    const level = pathLevel(path);
    if (level !== 'root' && level !== 'object' && level !== 'instance') throw new OperationError(CoapCode.BadRequest, 'Bootstrap-Delete targets /, an object or an instance');
    const objects = path.objectId === undefined ? [0, 1, 2] : [path.objectId];
    for (const objectId of objects) {
      const instances = this.instancesOf(objectId);
      for (const id of [...instances.keys()]) {
        if (path.instanceId !== undefined && id !== path.instanceId) continue;
        // The bootstrap account survives every Bootstrap-Delete (LwM2M 1.1 §5.2.7.5).
        if (objectId === 0 && value(this.options.security.instances.get(id), SECURITY.bootstrap) === true) continue;
        instances.delete(id);
      }
    }
  }

  private write(path: LwM2mPath, node: LwM2mNode): void {
    const objectId = path.objectId;
    if (objectId === undefined || path.resourceId !== undefined) throw new OperationError(CoapCode.BadRequest, 'this device takes Bootstrap-Write of whole instances or objects');
    const instances = node.kind === 'obj' ? node.instances : node.kind === 'instance' ? [node] : [];
    if (instances.length === 0) throw new OperationError(CoapCode.BadRequest, `payload holds a ${node.kind}, not instances`);
    for (const written of instances) {
      if (objectId === 2) {
        this.acl.set(written.id, written);
        continue;
      }
      if (objectId !== 0 && objectId !== 1) {
        this.options.tree.write({ objectId, instanceId: written.id }, written, 'replace');
        continue;
      }
      const fresh = objectId === 0 ? securityInstance(written.id, '', 0) : serverInstance(written.id, shortServerIdOf(written), { ...this.options.context, onRegistrationChange: () => {} });
      for (const resource of written.resources) {
        const target = fresh.resource(resource.id);
        if (!target) continue; // resources this simulated device does not model
        target.write(resource.kind === 'multiResource' ? resource.values : resource.value);
      }
      this.instancesOf(objectId).set(written.id, fresh);
    }
  }

  /** Bootstrap-Finish: accepted only when a usable LwM2M server account was written (else 4.06, as the specification says). */
  private finish(): OutgoingResponse {
    if (this.current !== 'requesting' && this.current !== 'bootstrapping') return failure(CoapCode.BadRequest, 'no bootstrap in progress');
    const found = this.serverAccount();
    if (typeof found === 'string') {
      // The server learns why from the 4.06; the device gives up this attempt and retries later.
      queueMicrotask(() => this.fail(new Error(`bootstrap finish refused: ${found}`)));
      return failure(CoapCode.NotAcceptable, found);
    }
    const { account, serverId } = found;
    // The chosen Server instance now drives the device's registration (lifetime/binding writes → update).
    const { context } = this.options;
    context.serverUri = account.uri;
    context.lifetimeSec = account.lifetimeSec;
    context.binding = account.binding;
    const written = this.options.server.instances.get(serverId) as SimInstance;
    const bound = serverInstance(serverId, account.shortServerId, context);
    for (const resource of written.resources()) {
      if (resource.id === SERVER.shortServerId || resource.operations === 'E') continue;
      bound.resource(resource.id)?.write(resource.read());
    }
    this.options.server.instances.set(serverId, bound);
    this.account = account;
    this.transition('finish');
    if (this.finishTimer) this.options.clock.clearTimeout(this.finishTimer);
    this.finishTimer = undefined;
    this.finished?.(account);
    this.finished = undefined;
    this.abandoned = undefined;
    return { code: CoapCode.Changed };
  }

  private serverAccount(): { account: BootstrapAccount; serverId: number } | string {
    for (const [, security] of sorted(this.options.security.instances)) {
      if (value(security, SECURITY.bootstrap) === true) continue;
      const ssid = value(security, SECURITY.shortServerId);
      const uri = value(security, SECURITY.uri);
      if (typeof uri !== 'string' || uri === '') continue;
      const server = sorted(this.options.server.instances).find(([, s]) => value(s, SERVER.shortServerId) === ssid);
      if (!server) continue;
      const mode = Number(value(security, SECURITY.mode));
      let dtls: DeviceSecurity | undefined;
      if (mode !== NOSEC) {
        const found = deviceSecurityFrom({ mode, identity: opaque(security, SECURITY.identity), serverKey: opaque(security, SECURITY.serverKey), secret: opaque(security, SECURITY.secret) });
        if (typeof found === 'string') return `account ${String(ssid)}: ${found}`;
        if (!uri.startsWith('coaps://')) return `account ${String(ssid)} has DTLS credentials but the URI ${uri} is not coaps://`;
        dtls = found;
      }
      const lifetime = value(server[1], SERVER.lifetime);
      const binding = value(server[1], SERVER.binding);
      return {
        account: { uri, shortServerId: Number(ssid), lifetimeSec: Number(lifetime), binding: typeof binding === 'string' ? binding : 'U', ...(dtls ? { security: dtls } : {}) },
        serverId: server[0],
      };
    }
    return 'no LwM2M server account: a Security instance (not bootstrap) and a Server instance with the same Short Server ID are needed';
  }

  private instancesOf(objectId: number): Map<number, SimInstance | ObjectInstance> {
    if (objectId === 0) return this.options.security.instances;
    if (objectId === 1) return this.options.server.instances;
    if (objectId === 2) return this.acl;
    throw new OperationError(CoapCode.BadRequest, `Bootstrap-Delete of object ${objectId} is not supported by this device`);
  }

  private fail(error: Error): void {
    if (this.finishTimer) this.options.clock.clearTimeout(this.finishTimer);
    this.finishTimer = undefined;
    if (this.current === 'requesting' || this.current === 'bootstrapping') this.transition('fail');
    this.abandoned?.(error);
    this.abandoned = undefined;
    this.finished = undefined;
  }

  private transition(event: DeviceBootstrapEvent): void {
    this.current = nextBootstrapState(this.current, event);
  }
}

function opaque(instance: SimInstance | undefined, id: number): Buffer {
  const content = value(instance, id);
  return Buffer.isBuffer(content) ? content : Buffer.alloc(0);
}

function shortServerIdOf(instance: ObjectInstance): number {
  const resource = instance.resources.find((r) => r.id === SERVER.shortServerId);
  return resource?.kind === 'singleResource' && typeof resource.value === 'number' ? resource.value : 0;
}

function sorted<T>(map: Map<number, T>): [number, T][] {
  return [...map].sort(([a], [b]) => a - b);
}

function toPath(segments: readonly string[]): LwM2mPath {
  try {
    return parsePath(segments.join('/'));
  } catch (error) {
    if (error instanceof InvalidPathError) throw new OperationError(CoapCode.NotFound, error.message);
    throw error;
  }
}

