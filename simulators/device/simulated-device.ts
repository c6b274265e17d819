/**
 * One simulated LwM2M client: its own UDP socket and CoapEndpoint, the standard objects
 * 0/1/3/4/5, registration with periodic updates, queue-mode sleep, observations and Send.
 * Everything timed reads the injected clock.
 */
import { EventEmitter } from 'node:events';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { encodeUint, locationPath } from '../../src/coap/options.js';
import { bindUdpTransport } from '../../src/coap/udp-transport.js';
import {
  CoapCode,
  CoapOptionNumber,
  CoapResetError,
  CoapTimeoutError,
  formatCode,
  type IncomingResponse,
  type OutgoingRequest,
  type RemoteAddress,
} from '../../src/coap/types.js';
import { ContentFormat } from '../../src/lwm2m/formats/types.js';
import { loadObjectModel } from '../../src/lwm2m/model/registry.js';
import type { ObjectModel } from '../../src/lwm2m/model/types.js';
import type { LwM2mNode } from '../../src/lwm2m/node.js';
import { formatPath, parsePath, pathIds } from '../../src/lwm2m/path.js';
import { systemClock, type Clock, type TimerHandle } from '../../src/util/clock.js';
import { silentLogger, type Logger } from '../../src/util/logger.js';
import { defaultFormat, encodeComposite, type Lwm2mVersion } from './content.js';
import { SleepableTransport } from './device-transport.js';
import { connectDeviceDtls, type DeviceSecurity } from './dtls-transport.js';
import { nextState, type DeviceEvent, type DeviceState } from './lifecycle.js';
import { ObjectTree } from './object-tree.js';
import { connectivityObject } from './objects/connectivity.js';
import { seedFrom, type ObjectContext } from './objects/context.js';
import { deviceObject } from './objects/device.js';
import { firmwareObject } from './objects/firmware.js';
import { createDeviceFirmware, type SimulatedFirmwareOptions } from './firmware/device-firmware.js';
import type { FirmwareUpdater } from './firmware/firmware-updater.js';
import { ShapedTransport } from './firmware/link-shaper.js';
import { securityObject } from './objects/security.js';
import { SERVER_RESOURCE, serverObject } from './objects/server.js';
import { AttributeStore, type NotificationAttributes } from './observe/attributes.js';
import { ObservationSet, type ObservationEntry, type ObservationTarget, type Rendered } from './observe/observations.js';
import { registrationPayload, registrationQuery } from './registration.js';
import { handleDeviceRequest, render, type RequestContext } from './request-handler.js';
import { DeviceBootstrap, type BootstrapAccount } from './bootstrap-client.js';
import { deviceLinkFor, type DeviceLink } from './bootstrap-link.js';

const FIRMWARE_OBJECT_ID = 5;
import { DeviceDiscretion, discretionObject, type DiscretionSchedule } from './objects/discretion.js';

export interface QueueCycle {
  /** How long the device stays awake after registering or waking. */
  awakeMs: number;
  /** How long it sleeps before waking with a registration update. */
  sleepMs: number;
}

export interface SimulatedDeviceOptions {
  endpointName: string;
  /** coap://host:port (port 5683 when absent); may be left empty when bootstrapUri is given. */
  serverUri: string;
  /** coap://host:port of a bootstrap server: the device bootstraps first, then registers with the server it was given. */
  bootstrapUri?: string;
  /** How long to wait for Bootstrap-Finish (default 60 s). */
  bootstrapTimeoutMs?: number;
  /** DTLS credentials of the bootstrap account; required with a coaps:// bootstrap URI. */
  bootstrapSecurity?: DeviceSecurity;
  lifetimeSec?: number;
  lwm2mVersion?: Lwm2mVersion;
  /** Transport binding letters (default "U"). */
  binding?: string;
  queueMode?: boolean;
  /** Automatic sleep/wake in queue mode; false = only on sleep()/wake(). Default 30 s / 60 s. */
  queueCycle?: QueueCycle | false;
  /** Format of reads without Accept, of Send, and announced at registration. */
  preferredContentFormat?: number;
  clock?: Clock;
  logger?: Logger;
  model?: ObjectModel;
  /** Local address to bind (default: loopback for a loopback server, else all interfaces). */
  bindHost?: string;
  firmwareVersion?: string;
  shortServerId?: number;
  /** How often observations are checked against pmin/pmax/changes (default 1000 ms). */
  observeCheckIntervalMs?: number;
  confirmableNotifications?: boolean;
  /** Time between executing Reboot and registering again (default 200 ms). */
  rebootDelayMs?: number;
  /** Give up on one register/update/deregister after this long (default the CoAP budget). */
  requestTimeoutMs?: number;
  /** Retry a failed registration after this long, doubling to 5 min (default 5 s; 0 = never). */
  retryDelayMs?: number;
  /** CoAP ACK_TIMEOUT of the device's endpoint (default 2000 ms). */
  ackTimeoutMs?: number;
  /** DTLS credentials; required with a coaps:// server URI (the handshake runs in start()). */
  security?: DeviceSecurity;
  /** Object 5: slots (persisted when stateDir is given), failure behaviours, link shape. */
  firmware?: SimulatedFirmwareOptions;
  /** Object 26250 Update Discretion (busy/idle cycle, battery, deferral); absent = the device has no such object. */
  discretion?: DiscretionSchedule;
  /** Largest request body the device accepts (a pushed package; default 16 MiB). */
  maxBodyBytes?: number;
  /** Block size exponent the device prefers (szx 0..6): a larger Block1 push is renegotiated down. */
  blockSzx?: number;
}

export interface RequestSummary {
  method: string;
  path: string;
  query: string[];
  observe?: number;
  accept?: number;
}

/** What the device reports, for tests and the fleet runner. */
export interface DeviceEvents {
  stateChanged: { from: DeviceState; to: DeviceState };
  registered: { location: string; elapsedMs: number };
  registrationFailed: { reason: string };
  updateSent: { lifetimeSec: number; withLinks: boolean };
  deregistered: Record<string, never>;
  requestReceived: RequestSummary;
  notificationSent: { sequence: number; paths: string[]; confirmable: boolean };
  sleeping: Record<string, never>;
  awake: Record<string, never>;
  rebooting: Record<string, never>;
  dataSent: { paths: string[] };
}

type Listener<K extends keyof DeviceEvents> = (payload: DeviceEvents[K]) => void;

let sharedModel: ObjectModel | undefined;
/** Loading the DDF files once per process keeps a fleet of devices cheap. */
function defaultModel(): ObjectModel {
  sharedModel ??= loadObjectModel();
  return sharedModel;
}

export function parseServerUri(uri: string): RemoteAddress {
  const match = /^coaps?:\/\/(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(uri);
  if (!match) throw new Error(`server URI "${uri}" is not coap://host:port`);
  const host = match[1].replace(/^\[|\]$/g, '');
  const defaultPort = uri.startsWith('coaps:') ? 5684 : 5683;
  return { address: host === 'localhost' ? '127.0.0.1' : host, port: match[2] ? Number(match[2]) : defaultPort };
}

const MAX_RETRY_DELAY_MS = 300_000;

export class SimulatedDevice {
  readonly endpointName: string;
  private readonly emitter = new EventEmitter();
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly model: ObjectModel;
  private server: RemoteAddress;
  private readonly bootstrapClient: DeviceBootstrap | undefined;
  private readonly version: Lwm2mVersion;
  private readonly queueMode: boolean;
  private readonly queueCycle: QueueCycle | false;
  private readonly preferredFormat: number;
  private readonly objectContext: ObjectContext;
  private readonly tree: ObjectTree;
  private readonly attributes = new AttributeStore();
  private readonly observations: ObservationSet;
  private readonly requestContext: RequestContext;
  /** The device's Object 5 behind its slots; exposed for tests and the fleet runner. */
  readonly firmware: FirmwareUpdater;
  /** Object 26250 (when options.discretion is given): tests turn the device busy or idle through it. */
  readonly discretion: DeviceDiscretion | undefined;

  private current: DeviceState = 'unregistered';
  private endpoint: CoapEndpoint | undefined;
  private transport: SleepableTransport | undefined;
  /** The DTLS link the endpoint uses (undefined: plain UDP). */
  private link: DeviceLink | undefined;
  /** Bootstrap links still open for a moment after Bootstrap-Finish, with their close timers. */
  private readonly retiring: (CoapEndpoint | TimerHandle)[] = [];
  private location: string[] | undefined;
  /** What the server last heard, so an update only carries what changed. */
  private announced = { lifetimeSec: 0, binding: '' };
  private linksChanged = false;
  private bootedAt: number;
  private updateTimer: TimerHandle | undefined;
  private queueTimer: TimerHandle | undefined;
  private retryTimer: TimerHandle | undefined;
  private retryDelayMs: number;

  constructor(private readonly options: SimulatedDeviceOptions) {
    this.endpointName = options.endpointName;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.model = options.model ?? defaultModel();
    // Until bootstrap says otherwise, a bootstrapping device has no LwM2M server.
    this.server = options.bootstrapUri && !options.serverUri ? parseServerUri(options.bootstrapUri) : parseServerUri(options.serverUri);
    this.version = options.lwm2mVersion ?? '1.1';
    this.queueMode = options.queueMode ?? false;
    this.queueCycle = options.queueCycle ?? (this.queueMode ? { awakeMs: 30_000, sleepMs: 60_000 } : false);
    this.preferredFormat = defaultFormat(this.version, options.preferredContentFormat);
    this.bootedAt = this.clock.now();
    this.retryDelayMs = options.retryDelayMs ?? 5000;
    this.objectContext = {
      clock: this.clock,
      endpointName: options.endpointName,
      seed: seedFrom(options.endpointName),
      bootedAt: () => this.bootedAt,
      serverUri: options.serverUri,
      lifetimeSec: options.lifetimeSec ?? 300,
      binding: options.binding ?? 'U',
      onReboot: () => this.scheduleReboot(),
      onFactoryReset: () => this.scheduleReboot(),
      onRegistrationChange: () => this.soon(() => this.updateOrRecover()),
    };
    const shortServerId = options.shortServerId ?? 123;
    this.firmware = createDeviceFirmware({
      options: options.firmware,
      factoryVersion: options.firmwareVersion ?? '1.0.0',
      bindHost: () => this.bindHost(),
      // coaps:// pulls use the credentials of the device's DTLS link to its LwM2M server.
      security: () => this.link?.security,
      onChange: () => this.observations?.checkNow(),
      reboot: () => this.scheduleReboot(),
      log: (message) => this.logger.info({ ep: options.endpointName }, message),
    });
    const security = securityObject(this.objectContext, shortServerId);
    const server = serverObject(this.objectContext, shortServerId);
    this.discretion = options.discretion ? new DeviceDiscretion(this.clock, options.discretion) : undefined;
    const sleepCycle = this.queueCycle;
    if (this.discretion && sleepCycle) this.discretion.sleep = () => ({ awakeMs: sleepCycle.awakeMs });
    this.tree = new ObjectTree([
      security,
      server,
      deviceObject(this.objectContext, this.firmware.running.version),
      connectivityObject(this.objectContext),
      firmwareObject(this.firmware, () => this.clock.now()),
      ...(this.discretion ? [discretionObject(this.discretion)] : []),
    ]);
    this.discretion?.onChange(() => this.observations?.checkNow());
    // A busy device stops pulling firmware and resumes from its last block when idle again.
    if (this.discretion) {
      const discretion = this.discretion;
      this.firmware.setIdleGate(() => discretion.whenIdle());
    }
    this.observations = new ObservationSet({
      clock: this.clock,
      checkIntervalMs: options.observeCheckIntervalMs ?? 1000,
      render: (target) => render(this.requestContext, target),
      attributes: (target) => this.notificationAttributes(target),
      send: (entry, rendered, sequence) => this.sendNotification(entry, rendered, sequence),
      // Object 5 changes only through writes and the updater, both of which call checkNow().
      announcesChanges: (target) => target.paths.every((path) => pathIds(path)[0] === FIRMWARE_OBJECT_ID),
    });
    this.requestContext = {
      tree: this.tree,
      model: this.model,
      attributes: this.attributes,
      observations: this.observations,
      version: this.version,
      preferredFormat: this.preferredFormat,
      onObjectsChanged: () => {
        this.linksChanged = true;
        this.soon(() => this.updateOrRecover());
      },
    };
    this.bootstrapClient = options.bootstrapUri
      ? new DeviceBootstrap({
          bootstrapUri: options.bootstrapUri,
          bootstrapServer: parseServerUri(options.bootstrapUri),
          endpointName: options.endpointName,
          version: this.version,
          preferredFormat: this.preferredFormat,
          model: this.model,
          clock: this.clock,
          security,
          server,
          context: this.objectContext,
          tree: this.tree,
          finishTimeoutMs: options.bootstrapTimeoutMs,
        })
      : undefined;
  }

  /** The LwM2M server account the last bootstrap gave (undefined without bootstrap). */
  get bootstrapAccount(): BootstrapAccount | undefined {
    return this.bootstrapClient?.lastAccount;
  }

  get state(): DeviceState {
    return this.current;
  }

  /** The registration's location on the server, e.g. "/rd/5a3f", once registered. */
  get registrationLocation(): string | undefined {
    return this.location ? '/' + this.location.join('/') : undefined;
  }

  get observationCount(): number {
    return this.observations.size;
  }

  on<K extends keyof DeviceEvents>(event: K, listener: Listener<K>): this {
    this.emitter.on(event, listener);
    return this;
  }

  once<K extends keyof DeviceEvents>(event: K, listener: Listener<K>): this {
    this.emitter.once(event, listener);
    return this;
  }

  off<K extends keyof DeviceEvents>(event: K, listener: Listener<K>): this {
    this.emitter.off(event, listener);
    return this;
  }

  /** Binds the socket (idempotent); register() calls it. */
  async start(): Promise<void> {
    if (this.endpoint) return;
    if (this.current === 'stopped') throw new Error(`${this.endpointName} is stopped`);
    const host = this.bindHost();
    // Small socket buffers: a device sees a few datagrams at a time, and a fleet has many.
    const secureLink = this.currentLink();
    const udp = secureLink
      ? await connectDeviceDtls({ server: secureLink.remote, security: secureLink.security, bindHost: host, clock: this.clock, logger: this.logger })
      : await bindUdpTransport({ host, port: 0, recvBufferSize: 64 * 1024, sendBufferSize: 64 * 1024 });
    this.link = secureLink;
    const link = this.options.firmware?.link;
    this.transport = new SleepableTransport(link ? new ShapedTransport(udp, link) : udp);
    this.endpoint = new CoapEndpoint({
      transport: this.transport,
      clock: this.clock,
      logger: this.logger,
      ackTimeoutMs: this.options.ackTimeoutMs,
      maxBodyBytes: this.options.maxBodyBytes ?? 16 * 1024 * 1024,
      preferredBlockSzx: this.options.blockSzx,
    });
    this.endpoint.setRequestHandler((request) => {
      this.emit('requestReceived', {
        method: request.method,
        path: '/' + request.path.join('/'),
        query: request.query,
        observe: request.observe,
        accept: request.accept,
      });
      if (this.bootstrapClient?.handles(request)) return this.bootstrapClient.handle(request);
      return handleDeviceRequest(this.requestContext, request);
    });
  }

  private bindHost(): string {
    const loopback = this.server.address === '127.0.0.1' || this.server.address === '::1';
    return this.options.bindHost ?? (loopback ? this.server.address : this.server.address.includes(':') ? '::' : '0.0.0.0');
  }

  private currentLink(): DeviceLink | undefined {
    const bootstrapping = this.bootstrapClient !== undefined && this.bootstrapClient.state !== 'finished';
    return deviceLinkFor({
      endpointName: this.endpointName,
      bootstrapping,
      bootstrapUri: this.options.bootstrapUri,
      bootstrapServer: this.options.bootstrapUri ? parseServerUri(this.options.bootstrapUri) : undefined,
      bootstrapSecurity: this.options.bootstrapSecurity,
      serverUri: this.objectContext.serverUri,
      server: this.server,
      accountSecurity: this.bootstrapClient?.lastAccount?.security,
      security: this.options.security,
    });
  }

  /** After a bootstrap: a DTLS link is tied to one server, so the device opens the one its new account needs. */
  private async relinkAfterBootstrap(): Promise<void> {
    const next = this.currentLink();
    if (!this.link && !next) return;
    const old = this.endpoint;
    this.endpoint = undefined;
    await this.start();
    // Closed a little later: our 2.04 to Bootstrap-Finish (and any retransmission of it) must still leave.
    if (old) this.retiring.push(this.clock.setTimeout(() => void old.close(), 2000), old);
  }

  /** The device's own address (after start/register). */
  address(): RemoteAddress {
    if (!this.endpoint) throw new Error(`${this.endpointName} has no socket yet`);
    return this.endpoint.address();
  }

  async register(): Promise<void> {
    await this.start();
    this.clearTimer('retryTimer');
    if (this.bootstrapClient && this.bootstrapClient.state !== 'finished') await this.bootstrapFirst();
    this.transition('register');
    const startedAt = this.clock.now();
    const lifetimeSec = this.objectContext.lifetimeSec;
    const binding = this.objectContext.binding;
    try {
      const response = await this.send({
        method: 'POST',
        path: ['rd'],
        query: registrationQuery({ endpointName: this.endpointName, lifetimeSec, version: this.version, binding, queueMode: this.queueMode }),
        payload: Buffer.from(this.links()),
        contentFormat: ContentFormat.LINK,
      });
      if (response.code !== CoapCode.Created) throw new Error(`registration answered ${formatCode(response.code)}`);
      const location = locationPath(response.message);
      if (location.length === 0) throw new Error('registration answered without Location-Path');
      if ((this.current as DeviceState) === 'stopped') return;
      this.location = location;
      this.announced = { lifetimeSec, binding };
      this.linksChanged = false;
      this.retryDelayMs = this.options.retryDelayMs ?? 5000;
      this.transition('registerSucceeded');
      // A download cut by a power loss goes on from its last block once we are back.
      this.firmware.resume();
      this.scheduleUpdate();
      this.scheduleSleep();
      this.emit('registered', { location: this.registrationLocation as string, elapsedMs: this.clock.now() - startedAt });
    } catch (error) {
      if ((this.current as DeviceState) === 'stopped') return;
      this.transition('registerFailed');
      const reason = describe(error);
      this.logger.warn({ ep: this.endpointName, reason }, 'registration failed');
      this.emit('registrationFailed', { reason });
      this.scheduleRetry();
      throw error;
    }
  }

  /**
   * Registration update (LwM2M 1.1 §6.2.2): carries lt/b only when they changed and the
   * links only when instances were created or deleted. A 4.04 means the server forgot us:
   * the device registers again.
   */
  async update(): Promise<void> {
    if (this.current !== 'registered') throw new Error(`${this.endpointName} cannot update while ${this.current}`);
    const { lifetimeSec, binding } = this.objectContext;
    const query: string[] = [];
    if (lifetimeSec !== this.announced.lifetimeSec) query.push(`lt=${lifetimeSec}`);
    if (binding !== this.announced.binding) query.push(`b=${binding}`);
    const withLinks = this.linksChanged;
    const response = await this.send({
      method: 'POST',
      path: this.location as string[],
      query,
      ...(withLinks ? { payload: Buffer.from(this.links()), contentFormat: ContentFormat.LINK } : {}),
    });
    if (response.code === CoapCode.NotFound) {
      this.location = undefined;
      this.transition('registrationLost');
      throw new RegistrationLostError(`${this.endpointName}: the server no longer knows this registration`);
    }
    if (response.code !== CoapCode.Changed) throw new Error(`update answered ${formatCode(response.code)}`);
    this.announced = { lifetimeSec, binding };
    if (withLinks) this.linksChanged = false;
    this.scheduleUpdate();
    this.emit('updateSent', { lifetimeSec, withLinks });
  }

  async deregister(): Promise<void> {
    if (this.current === 'sleeping') this.transport?.setAsleep(false);
    this.transition('deregister');
    this.clearTimers();
    this.observations.clear();
    try {
      const response = await this.send({ method: 'DELETE', path: this.location as string[] });
      if (response.code !== CoapCode.Deleted && response.code !== CoapCode.NotFound) {
        throw new Error(`deregistration answered ${formatCode(response.code)}`);
      }
    } finally {
      this.location = undefined;
      if ((this.current as DeviceState) !== 'stopped') this.transition('deregistered');
    }
    this.emit('deregistered', {});
  }

  /** Queue mode: stop answering (the socket stays bound). */
  sleep(): void {
    if (!this.queueMode) throw new Error(`${this.endpointName} is not in queue mode`);
    this.transition('sleep');
    this.clearTimer('queueTimer');
    this.transport?.setAsleep(true);
    this.observations.setPaused(true);
    this.emit('sleeping', {});
    if (this.queueCycle) {
      this.queueTimer = this.clock.setTimeout(() => {
        this.queueTimer = undefined;
        void this.wake().catch((error: unknown) => this.recover(error));
      }, this.queueCycle.sleepMs);
    }
  }

  /** Queue mode: answer again, tell the server with a registration update, flush changes. */
  async wake(): Promise<void> {
    this.clearTimer('queueTimer');
    this.transport?.setAsleep(false);
    this.transition('wake');
    this.emit('awake', {});
    await this.update();
    this.observations.setPaused(false);
    this.scheduleSleep();
  }

  /** Deregisters when registered (best effort), then closes the socket. */
  async stop(): Promise<void> {
    await this.shutDown(true);
  }

  /** Loses power: the socket closes with no de-registration, as a device in the field would. */
  async powerCut(): Promise<void> {
    await this.shutDown(false);
  }

  private async shutDown(deregisterFirst: boolean): Promise<void> {
    if (this.current === 'stopped') return;
    if (deregisterFirst && (this.current === 'registered' || this.current === 'sleeping')) {
      await this.deregister().catch((error: unknown) =>
        this.logger.debug({ ep: this.endpointName, reason: describe(error) }, 'deregistration on stop failed'),
      );
    }
    this.clearTimers();
    this.observations.clear();
    this.firmware.stop();
    this.bootstrapClient?.cancel();
    this.transition('stop');
    for (const item of this.retiring.splice(0)) {
      if (item instanceof CoapEndpoint) await item.close();
      else this.clock.clearTimeout(item);
    }
    await this.endpoint?.close();
    this.endpoint = undefined;
  }

  /** LwM2M 1.1 Send: POST /dp with the current values of `paths` in SenML CBOR. */
  async sendData(paths: readonly string[]): Promise<void> {
    if (this.version === '1.0') throw new Error('Send needs LwM2M 1.1 or later');
    if (this.current !== 'registered') throw new Error(`${this.endpointName} cannot send while ${this.current}`);
    const nodes = new Map<string, LwM2mNode>();
    for (const text of paths) {
      const path = parsePath(text);
      nodes.set(formatPath(path), this.tree.read(path));
    }
    const response = await this.send({
      method: 'POST',
      path: ['dp'],
      payload: encodeComposite(ContentFormat.SENML_CBOR, nodes, this.model),
      contentFormat: ContentFormat.SENML_CBOR,
    });
    if (response.code !== CoapCode.Changed) throw new Error(`send answered ${formatCode(response.code)}`);
    this.emit('dataSent', { paths: [...nodes.keys()] });
  }

  /** Datagrams ignored while asleep (for tests). */
  get datagramsDroppedAsleep(): number {
    return this.transport?.droppedWhileAsleep ?? 0;
  }

  /** Bootstrap before the first registration; a failure counts as a failed registration (retried the same way). */
  private async bootstrapFirst(): Promise<void> {
    const client = this.bootstrapClient as DeviceBootstrap;
    try {
      const account = await client.run((remote, request) => {
        if (!this.endpoint) throw new Error(`${this.endpointName} has no socket`);
        return this.endpoint.request(remote, { ...request, timeoutMs: this.options.requestTimeoutMs });
      });
      this.server = parseServerUri(account.uri);
      await this.relinkAfterBootstrap();
    } catch (error) {
      if ((this.current as DeviceState) === 'stopped') throw error;
      const reason = `bootstrap failed: ${describe(error)}`;
      this.logger.warn({ ep: this.endpointName, reason }, 'bootstrap failed');
      this.emit('registrationFailed', { reason });
      this.scheduleRetry();
      throw error;
    }
  }

  private links(): string {
    return registrationPayload(this.version, this.tree.registrationLinks(), this.preferredFormat);
  }

  private send(request: OutgoingRequest): Promise<IncomingResponse> {
    if (!this.endpoint) throw new Error(`${this.endpointName} has no socket`);
    return this.endpoint.request(this.server, { ...request, timeoutMs: this.options.requestTimeoutMs });
  }

  private transition(event: DeviceEvent): void {
    const from = this.current;
    this.current = nextState(from, event);
    if (from !== this.current) this.emit('stateChanged', { from, to: this.current });
  }

  private emit<K extends keyof DeviceEvents>(event: K, payload: DeviceEvents[K]): void {
    this.emitter.emit(event, payload);
  }

  private notificationAttributes(target: ObservationTarget): NotificationAttributes {
    // The two resources only: every observation check asks, and reading the whole /1/0 instance cost four times as much.
    const defaults: NotificationAttributes = {};
    const pmin = this.defaultPeriod(SERVER_RESOURCE.defaultMinPeriod);
    const pmax = this.defaultPeriod(SERVER_RESOURCE.defaultMaxPeriod);
    if (pmin !== undefined) defaults.pmin = pmin;
    if (pmax !== undefined) defaults.pmax = pmax;
    return { ...defaults, ...this.attributes.effective(target.paths[0] ?? {}) };
  }

  /** Default Minimum/Maximum Period of /1/0 when set (a positive number), else undefined. */
  private defaultPeriod(resourceId: number): number | undefined {
    const path = { objectId: 1, instanceId: 0, resourceId };
    if (!this.tree.has(path)) return undefined;
    const node = this.tree.read(path);
    return node.kind === 'singleResource' && typeof node.value === 'number' && node.value > 0 ? node.value : undefined;
  }

  private sendNotification(entry: ObservationEntry, rendered: Rendered, sequence: number): void {
    if (!this.endpoint) return;
    const confirmable = this.options.confirmableNotifications ?? false;
    this.endpoint
      .notify(
        entry.remote,
        entry.token,
        {
          code: CoapCode.Content,
          payload: rendered.payload,
          contentFormat: entry.format,
          options: [{ number: CoapOptionNumber.Observe, value: encodeUint(sequence & 0xffffff) }],
        },
        { confirmable },
      )
      .catch((error: unknown) => {
        // RFC 7641 §4.5: an observer that resets or never acknowledges is gone.
        if (error instanceof CoapResetError || error instanceof CoapTimeoutError) {
          this.observations.cancel(entry.remote, entry.token);
        }
      });
    this.emit('notificationSent', { sequence, paths: entry.paths.map(formatPath), confirmable });
  }

  private scheduleUpdate(): void {
    this.clearTimer('updateTimer');
    // Update at 90% of the lifetime, leaving room for retransmissions before it expires.
    const delayMs = Math.max(1000, this.objectContext.lifetimeSec * 900);
    this.updateTimer = this.clock.setTimeout(() => {
      this.updateTimer = undefined;
      if (this.current === 'sleeping') void this.wake().catch((error: unknown) => this.recover(error));
      else void this.updateOrRecover();
    }, delayMs);
  }

  private scheduleSleep(): void {
    if (!this.queueMode || !this.queueCycle) return;
    this.clearTimer('queueTimer');
    this.queueTimer = this.clock.setTimeout(() => {
      this.queueTimer = undefined;
      if (this.current === 'registered') this.sleep();
    }, this.queueCycle.awakeMs);
  }

  private scheduleRetry(): void {
    if (this.retryDelayMs <= 0 || this.current !== 'unregistered') return;
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(MAX_RETRY_DELAY_MS, delay * 2);
    this.clearTimer('retryTimer');
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      if (this.current === 'unregistered') void this.register().catch(() => {});
    }, delay);
  }

  private scheduleReboot(): void {
    // After the 2.04 has gone out: the handler must answer before the device goes away.
    this.clock.setTimeout(() => void this.reboot(), this.options.rebootDelayMs ?? 200);
  }

  private async reboot(): Promise<void> {
    if (this.current === 'stopped') return;
    this.emit('rebooting', {});
    this.clearTimers();
    this.observations.clear();
    this.attributes.clear();
    this.bootedAt = this.clock.now();
    this.transport?.setAsleep(false);
    if (this.current === 'registered' || this.current === 'sleeping') this.transition('registrationLost');
    if (this.current === 'unregistered') await this.register().catch(() => {});
  }

  private async updateOrRecover(): Promise<void> {
    if (this.current !== 'registered') return;
    try {
      await this.update();
    } catch (error) {
      this.recover(error);
    }
  }

  /** A failed update or wake: register again if the server forgot us, else retry later. */
  private recover(error: unknown): void {
    if (this.current === 'stopped') return;
    this.logger.warn({ ep: this.endpointName, reason: describe(error) }, 'registration update failed');
    if (this.current === 'unregistered') {
      void this.register().catch(() => {});
      return;
    }
    if (this.current === 'registered') {
      this.clearTimer('updateTimer');
      this.updateTimer = this.clock.setTimeout(() => {
        this.updateTimer = undefined;
        void this.updateOrRecover();
      }, this.options.retryDelayMs ?? 5000);
    }
  }

  private soon(action: () => void | Promise<void>): void {
    this.clock.setTimeout(() => void action(), 0);
  }

  private clearTimer(name: 'updateTimer' | 'queueTimer' | 'retryTimer'): void {
    const timer = this[name];
    if (timer) this.clock.clearTimeout(timer);
    this[name] = undefined;
  }

  private clearTimers(): void {
    this.clearTimer('updateTimer');
    this.clearTimer('queueTimer');
    this.clearTimer('retryTimer');
  }
}

export class RegistrationLostError extends Error {
  override readonly name = 'RegistrationLostError';
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
