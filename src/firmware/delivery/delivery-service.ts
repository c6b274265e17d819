/**
 * The Object 5 driver: runs one delivery per (device, image) through the state machine
 * (state-machine.ts), performing its commands on the device, arming one phase timer per
 * delivery on the injected clock, watching State/Update Result by observation (polling
 * when the device cannot be observed) and checking the version a device reports when it
 * registers again. Every transition is persisted before its commands run, so a restarted
 * server resumes where it stopped (resume()).
 */
import { randomBytes } from 'node:crypto';
import type { Lwm2mEvents } from '../../lwm2m/server/events.js';
import type { Registration } from '../../lwm2m/server/registration.js';
import {
  DeviceErrorResponse,
  DeviceResetError,
  DeviceTimeoutError,
  UnknownDeviceError,
} from '../../lwm2m/server/errors.js';
import type { FirmwareImageMeta } from '../../store/types.js';
import { systemClock, type Clock, type TimerHandle } from '../../util/clock.js';
import { silentLogger, type Logger } from '../../util/logger.js';
import type { FirmwareRepository } from '../repository/firmware-repository.js';
import { TERMINAL_STATES, type DeliveryOutcome, type DeliveryRecord, type DeliveryState, type RequestedMethod } from './delivery-record.js';
import type { DeliveryStore } from './delivery-store.js';
import {
  cancelOnDevice,
  completeFirmwareStatus,
  executeUpdate,
  Object5,
  pushPackage,
  readFirmwareStatus,
  resetObject5,
  statusFromNode,
  writePackageUri,
  type Object5Client,
} from './device-object5.js';
import { FirmwareDeliveryEvents } from './events.js';
import type { FirmwareHost } from './firmware-host.js';
import { DEFAULT_POLICY, phaseTimeoutMs, type DeliveryPolicy } from './policy.js';
import { transition, type DeliveryCommand, type DeliveryEvent, type DeviceFirmwareStatus } from './state-machine.js';
import { pushInBlocks, type BlockRequester } from './block-push.js';

export class DeliveryConflictError extends Error {
  override readonly name = 'DeliveryConflictError';
}

/** Checks an image before it is offered to a device (the manifest/profile verifier plugs in here). */
export type ImageVerifier = (image: FirmwareImageMeta, endpoint: string) => Promise<void>;

export interface DeliveryServiceOptions {
  devices: Object5Client;
  events: Pick<Lwm2mEvents, 'on'>;
  /** The current registration of an endpoint. */
  registration: (endpoint: string) => Registration | undefined;
  repository: FirmwareRepository;
  store: DeliveryStore;
  host: FirmwareHost;
  /** Where devices reach the CoAP (or CoAPS) endpoint for pull, e.g. "coap://192.0.2.1:5683". */
  pullBaseUri: (scheme: 'coap' | 'coaps') => string;
  /**
   * Whether the device talks to us over CoAPS: it then pulls over coaps:// only, and only
   * its own DTLS identity may fetch its image. Absent (no CoAPS listener hosts images):
   * every device is given a coap:// URI.
   */
  securePull?: (endpoint: string) => boolean;
  policy?: Partial<DeliveryPolicy>;
  clock?: Clock;
  logger?: Logger;
  verifyImage?: ImageVerifier;
  /** Minimum interval between progress events of one delivery (default 250 ms). */
  progressIntervalMs?: number;
  /**
   * The CoAP endpoint: with it a push is sent block by block and can pause and resume at
   * the acknowledged offset; without it a push is one write that pause cannot interrupt.
   */
  blockRequester?: BlockRequester;
}

export interface StartOptions {
  /** After the download, Update (the reboot) waits for releaseUpdate(). */
  holdUpdate?: boolean;
}

interface Runtime {
  record: DeliveryRecord;
  /** Events of one delivery are processed one at a time, in order. */
  chain: Promise<void>;
  phaseTimer: TimerHandle | undefined;
  deferTimer: TimerHandle | undefined;
  pollTimer: TimerHandle | undefined;
  observationId: string | undefined;
  watching: boolean;
  hostedBytes: boolean;
  lastProgressAt: number;
  /** The last sign of life in the current phase (its start, or progress): the phase timeout counts from here. */
  activeAt: number;
  /** When a progress event was last queued (see reportProgress). */
  progressQueuedAt: number;
  /** Bumped by every transfer, so a superseded push's late answer is ignored. */
  transferGeneration: number;
  /** Bytes of the current push the device acknowledged (exact, unlike the throttled record.bytes). */
  pushOffset: number;
  /** Set by pause-transfer: the push stops before its next block. */
  pushStop: boolean;
  /** The running push, so a resumed one starts only after it stopped. */
  pushDone: Promise<void>;
  /** The image's digest as start() read it (images never change): no second metadata read per delivery. */
  imageSha256: string | undefined;
}

export class DeliveryService {
  readonly events = new FirmwareDeliveryEvents();
  readonly policy: DeliveryPolicy;
  private readonly options: DeliveryServiceOptions;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly progressIntervalMs: number;
  /** Minimum interval between progress steps of one delivery through the state machine. */
  private readonly progressStepMs: number;
  private readonly running = new Map<string, Runtime>();
  private readonly byEndpoint = new Map<string, string>();
  private readonly unsubscribe: Array<() => void> = [];
  private closed = false;

  constructor(options: DeliveryServiceOptions) {
    this.options = options;
    this.policy = { ...DEFAULT_POLICY, ...options.policy };
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.progressIntervalMs = options.progressIntervalMs ?? 250;
    // As often as progress events go out, and ten times per transfer timeout at least.
    this.progressStepMs = Math.min(this.policy.transferTimeoutMs / 10, this.progressIntervalMs);
    this.unsubscribe.push(
      options.events.on('registered', ({ registration }) => this.onRegistration(registration)),
      options.events.on('updated', ({ registration }) => this.onRegistration(registration)),
      options.events.on('notification', (event) => {
        const id = this.byEndpoint.get(event.endpoint);
        const runtime = id === undefined ? undefined : this.running.get(id);
        if (!runtime || runtime.observationId !== event.observationId || !event.node) return;
        const status = statusFromNode(event.node);
        this.dispatch(runtime, { kind: 'device-state', state: status.state, result: status.result });
      }),
    );
    options.repository.setInUseCheck((imageId) => this.imageInUse(imageId));
  }

  /** Starts delivering an image to a registered device. */
  async start(endpoint: string, imageId: string, method: RequestedMethod = 'auto', startOptions: StartOptions = {}): Promise<DeliveryRecord> {
    if (!this.options.registration(endpoint)) throw new UnknownDeviceError(endpoint);
    const image = await this.options.repository.require(imageId);
    if (this.byEndpoint.has(endpoint)) {
      throw new DeliveryConflictError(`device "${endpoint}" already has a delivery in progress; cancel it first`);
    }
    await this.options.verifyImage?.(image, endpoint);
    const now = this.clock.now();
    const record: DeliveryRecord = {
      id: randomBytes(8).toString('hex'),
      endpoint,
      imageId,
      imageVersion: image.version,
      imageName: image.name,
      requestedMethod: method,
      method: undefined,
      state: 'pending',
      createdAt: now,
      updatedAt: now,
      stateSince: now,
      bytes: 0,
      total: image.sizeBytes,
      result: undefined,
      deviceState: undefined,
      outcome: undefined,
      reason: undefined,
      attempts: 0,
      deferrals: 0,
      pullToken: randomBytes(12).toString('base64url'),
      previousVersion: undefined,
      maxDeferMs: undefined,
      retryOnRegistration: false,
      ...(startOptions.holdUpdate === true ? { holdUpdate: true, updateReleased: false } : {}),
      history: [],
    };
    await this.options.store.put(record);
    const runtime = this.track(record);
    runtime.imageSha256 = image.sha256;
    this.dispatch(runtime, { kind: 'start' });
    return record;
  }

  /** Cancels the endpoint's unfinished delivery; false when there is none. */
  async cancel(endpoint: string, reason?: string): Promise<boolean> {
    const id = this.byEndpoint.get(endpoint);
    const runtime = id === undefined ? undefined : this.running.get(id);
    if (!runtime) return false;
    this.dispatch(runtime, { kind: 'cancel', reason });
    await runtime.chain;
    return true;
  }

  /** The device turned busy: the transfer stops moving bytes (see state-machine.ts). False when nothing was paused. */
  pause(endpoint: string): Promise<boolean> {
    return this.command(endpoint, { kind: 'pause' }, (before, after) => before !== 'paused' && after === 'paused');
  }

  /**
   * resume(endpoint): the device is idle again, its paused transfer goes on from the
   * acknowledged bytes (false when nothing was paused).
   * resume(): after a restart, picks up every unfinished delivery from the store (how many).
   */
  resume(endpoint: string): Promise<boolean>;
  resume(): Promise<number>;
  resume(endpoint?: string): Promise<boolean | number> {
    if (endpoint === undefined) return this.resumeAll();
    return this.command(endpoint, { kind: 'resume' }, (before, after) => before === 'paused' && after !== 'paused');
  }

  /** Lets a delivery started with holdUpdate run Update (now, or as soon as the package is there). */
  async releaseUpdate(endpoint: string): Promise<boolean> {
    const runtime = this.runtimeOf(endpoint);
    if (!runtime) return false;
    this.dispatch(runtime, { kind: 'release-update' });
    await runtime.chain;
    return runtime.record.updateReleased === true;
  }

  private async command(endpoint: string, event: DeliveryEvent, took: (before: DeliveryState, after: DeliveryState) => boolean): Promise<boolean> {
    const runtime = this.runtimeOf(endpoint);
    if (!runtime) return false;
    // Synchronously, so a push sees the pause before it sends its next block.
    if (event.kind === 'pause' && runtime.record.state === 'transferring') runtime.pushStop = true;
    const before = runtime.record.state;
    this.dispatch(runtime, event);
    await runtime.chain;
    return took(before, runtime.record.state);
  }

  private runtimeOf(endpoint: string): Runtime | undefined {
    const id = this.byEndpoint.get(endpoint);
    return id === undefined ? undefined : this.running.get(id);
  }

  /** The endpoint's newest delivery (finished or not). */
  async latest(endpoint: string): Promise<DeliveryRecord | undefined> {
    const id = this.byEndpoint.get(endpoint);
    const runtime = id === undefined ? undefined : this.running.get(id);
    if (runtime) return runtime.record;
    return (await this.options.store.ofEndpoint(endpoint))[0];
  }

  async get(id: string): Promise<DeliveryRecord | undefined> {
    return this.running.get(id)?.record ?? this.options.store.get(id);
  }

  /** Resolves when the delivery has finished (or at once when it has). */
  whenFinished(id: string): Promise<DeliveryRecord> {
    return new Promise((resolve, reject) => {
      const check = async (): Promise<void> => {
        const record = await this.get(id);
        if (!record) return reject(new Error(`no delivery ${id}`));
        if (TERMINAL_STATES.has(record.state)) {
          off();
          resolve(record);
        }
      };
      const off = this.events.on('transition', ({ delivery }) => {
        if (delivery.id === id && TERMINAL_STATES.has(delivery.state)) {
          off();
          resolve(delivery);
        }
      });
      void check();
    });
  }

  async imageInUse(imageId: string): Promise<boolean> {
    for (const runtime of this.running.values()) if (runtime.record.imageId === imageId) return true;
    return this.options.store.imageInUse(imageId);
  }

  /** After a restart: picks up every unfinished delivery from the store. */
  private async resumeAll(): Promise<number> {
    const active = await this.options.store.active();
    const rehosting: Promise<void>[] = [];
    for (const record of active) {
      if (this.running.has(record.id) || this.byEndpoint.has(record.endpoint)) continue;
      const runtime = this.track(record);
      this.armPhaseTimer(runtime);
      if (record.state === 'pending') {
        this.dispatch(runtime, { kind: 'start' });
        continue;
      }
      if (record.state !== 'inspecting') this.watch(runtime);
      if (record.state === 'transferring' && record.method === 'pull' && record.deviceState === 1) {
        // The device may be mid-download on our URI: host it again (before resume returns,
        // so the server can stop asking pulling devices to wait) and let it go on.
        rehosting.push(this.rehost(runtime));
        continue;
      }
      const commands = resumeCommands(record, this.clock.now(), this.policy);
      runtime.chain = runtime.chain.then(() => this.run(runtime, commands));
      // What these states wait for (the device's re-registration, or the outcome of an
      // Update) may already have happened: while this process was down, or after it
      // restarted but before this resume (the listener serves registrations first). The
      // device then registers no more until its lifetime runs out, so its current
      // registration is checked now, as a fresh one would be: what it reports (State,
      // Update Result, PkgVersion) decides.
      const registration = this.options.registration(record.endpoint);
      if (WAITS_FOR_REGISTRATION.has(record.state) && registration !== undefined) this.onRegistration(registration);
    }
    await Promise.all(rehosting);
    return active.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const off of this.unsubscribe) off();
    for (const runtime of this.running.values()) this.stopTimers(runtime);
    await Promise.all([...this.running.values()].map((runtime) => runtime.chain.catch(() => {})));
  }

  // ───────────────────────────── event processing ─────────────────────────────

  private track(record: DeliveryRecord): Runtime {
    const runtime: Runtime = {
      record,
      chain: Promise.resolve(),
      phaseTimer: undefined,
      deferTimer: undefined,
      pollTimer: undefined,
      observationId: undefined,
      watching: false,
      hostedBytes: false,
      lastProgressAt: 0,
      activeAt: 0,
      progressQueuedAt: Number.NEGATIVE_INFINITY,
      transferGeneration: 0,
      pushOffset: 0,
      pushStop: false,
      pushDone: Promise.resolve(),
      imageSha256: undefined,
    };
    this.running.set(record.id, runtime);
    this.byEndpoint.set(record.endpoint, record.id);
    return runtime;
  }

  private dispatch(runtime: Runtime, event: DeliveryEvent): void {
    runtime.chain = runtime.chain
      .then(() => this.apply(runtime, event))
      .catch((err: unknown) => this.logger.error({ err, delivery: runtime.record.id }, 'firmware delivery step failed'));
  }

  private async apply(runtime: Runtime, event: DeliveryEvent): Promise<void> {
    if (this.closed) return;
    const before = runtime.record;
    const { record, commands, changed } = transition(before, event, this.policy, this.clock.now());
    if (!changed) return;
    runtime.record = record;
    const moved = record.state !== before.state;
    if (event.kind === 'progress') {
      const now = this.clock.now();
      runtime.activeAt = now;
      if (now - runtime.lastProgressAt >= this.progressIntervalMs || record.bytes >= record.total) {
        runtime.lastProgressAt = now;
        this.events.emit('progress', { deliveryId: record.id, endpoint: record.endpoint, bytes: record.bytes, total: record.total });
      }
      return;
    }
    // A report that changed nothing (the same State and Update Result again) is not written.
    if (moved || !sameFields(before, record)) await this.options.store.put(record);
    if (moved) {
      this.logger.info({ delivery: record.id, ep: record.endpoint, from: before.state, to: record.state, event: event.kind, reason: record.reason }, 'firmware delivery');
      this.armPhaseTimer(runtime);
      this.events.emit('transition', { delivery: record, from: before.state, to: record.state, event: event.kind });
    }
    await this.run(runtime, commands);
  }

  private async run(runtime: Runtime, commands: DeliveryCommand[]): Promise<void> {
    for (const command of commands) {
      try {
        await this.perform(runtime, command);
      } catch (err) {
        this.logger.error({ err, command: command.kind, delivery: runtime.record.id }, 'firmware delivery command failed');
      }
    }
  }

  /** Runs a command; what the device answers comes back later as events (never awaited inside the chain for long transfers). */
  private async perform(runtime: Runtime, command: DeliveryCommand): Promise<void> {
    const { endpoint } = runtime.record;
    const timeoutMs = this.policy.requestTimeoutMs;
    switch (command.kind) {
      case 'inspect':
        void this.inspect(runtime).then(
          (status) => this.dispatch(runtime, { kind: 'inspected', status, hosted: this.hostedSchemes(endpoint) }),
          (err: unknown) => this.dispatch(runtime, this.failure('read /5/0', err, true)),
        );
        return;
      case 'transfer':
        this.watch(runtime);
        void this.transfer(runtime, command.method, command.resetFirst, command.resumeFrom);
        return;
      case 'pause-transfer':
        runtime.pushStop = true;
        return;
      case 'execute':
        void executeUpdate(this.options.devices, endpoint, timeoutMs).then(
          () => this.dispatch(runtime, { kind: 'executed' }),
          (err: unknown) => this.afterRefusal(runtime, `execute ${Object5.update}`, err),
        );
        return;
      case 'cancel-on-device':
        void cancelOnDevice(this.options.devices, endpoint, timeoutMs).catch((err: unknown) =>
          this.logger.warn({ ep: endpoint, reason: String(err) }, 'could not cancel the update on the device'),
        );
        return;
      case 'schedule-defer':
        if (runtime.deferTimer) this.clock.clearTimeout(runtime.deferTimer);
        runtime.deferTimer = this.clock.setTimeout(() => {
          runtime.deferTimer = undefined;
          this.dispatch(runtime, { kind: 'defer-elapsed' });
        }, command.delayMs);
        return;
      case 'release':
        this.releaseRuntime(runtime);
        return;
    }
  }

  private async transfer(runtime: Runtime, method: 'push' | 'pull', resetFirst: boolean, resumeFrom?: number): Promise<void> {
    const generation = ++runtime.transferGeneration;
    const record = runtime.record;
    const { endpoint } = record;
    const timeoutMs = this.policy.requestTimeoutMs;
    const current = (): boolean => runtime.transferGeneration === generation && !TERMINAL_STATES.has(runtime.record.state);
    // A superseded push stops before its next block; wait for it so two never interleave.
    await runtime.pushDone;
    if (!current()) return;
    runtime.pushStop = false;
    const requester = this.options.blockRequester;
    let finished!: () => void;
    runtime.pushDone = new Promise<void>((resolve) => (finished = resolve));
    try {
      if (resetFirst) await resetObject5(this.options.devices, endpoint, timeoutMs);
      const bytes = await this.acquire(runtime);
      if (!current()) return;
      if (method === 'push' && requester) {
        // Resume from what the device acknowledged (known exactly here unless the server restarted).
        const startOffset = resumeFrom === undefined ? 0 : Math.max(resumeFrom, runtime.pushOffset);
        runtime.pushOffset = startOffset;
        const result = await pushInBlocks({
          requester,
          registration: () => this.options.registration(endpoint),
          endpoint,
          bytes,
          startOffset,
          szx: this.policy.pushBlockSzx,
          timeoutMs,
          shouldStop: () => runtime.pushStop || !current(),
          onAcknowledged: (acknowledged, total) => {
            runtime.pushOffset = acknowledged;
            if (current()) this.reportProgress(runtime, acknowledged, total);
          },
        });
        if (result.kind === 'stopped') {
          // Exact offset into the record, unthrottled: resume (even after a restart) starts there.
          if (current()) this.dispatch(runtime, { kind: 'progress', bytes: result.offset, total: bytes.length });
          return;
        }
      } else if (method === 'push') {
        if (resumeFrom !== undefined && runtime.pushOffset >= bytes.length) return;
        await pushPackage(this.options.devices, endpoint, bytes, {
          timeoutMs,
          blockSzx: this.policy.pushBlockSzx,
          onProgress: (acknowledged, total) => {
            runtime.pushOffset = acknowledged;
            if (current()) this.reportProgress(runtime, acknowledged, total);
          },
        });
      } else {
        const secure = this.isSecure(endpoint);
        const sha256 = runtime.imageSha256 ?? (runtime.imageSha256 = (await this.options.repository.require(record.imageId)).sha256);
        const path = this.options.host.host(record.pullToken!, bytes, sha256, this.pullProgress(runtime, bytes.length, current), { endpoint, secure });
        await writePackageUri(this.options.devices, endpoint, `${this.options.pullBaseUri(secure ? 'coaps' : 'coap')}/${path.join('/')}`, timeoutMs);
      }
      if (!current()) return;
      this.dispatch(runtime, { kind: 'handed-over' });
      // A push is complete: read the outcome at once. A pull has only begun (State 1): an
      // observed device notifies its next states, and the periodic poll remains the safety net.
      if (method === 'push' || runtime.observationId === undefined) await this.pollOnce(runtime);
    } catch (err) {
      if (!current()) return;
      await this.afterRefusal(runtime, method === 'push' ? `push ${Object5.package}` : `write ${Object5.packageUri}`, err);
    } finally {
      finished();
    }
  }

  /**
   * Blocks are acknowledged every few tens of microseconds on a fast link: queueing a state
   * machine step, a store-free record copy and a phase-timer re-arm for each one cost more
   * than the block itself. One progress step per interval still resets the phase timer long
   * before it can expire, and the last block always goes through.
   */
  private reportProgress(runtime: Runtime, bytes: number, total: number): void {
    const now = this.clock.now();
    if (bytes < total && now - runtime.progressQueuedAt < this.progressStepMs) return;
    runtime.progressQueuedAt = now;
    this.dispatch(runtime, { kind: 'progress', bytes, total });
  }

  /**
   * Pull progress from the blocks served: runs for every block, so it only counts, and
   * looks at the clock (reportProgress) every 16th block and on the last one.
   */
  private pullProgress(runtime: Runtime, total: number, current: () => boolean): (num: number, size: number) => void {
    let blocks = 0;
    return (num, size) => {
      const through = Math.min(total, (num + 1) * size);
      if ((++blocks & 15) !== 0 && through < total) return;
      if (current()) this.reportProgress(runtime, through, total);
    };
  }

  private isSecure(endpoint: string): boolean {
    return this.options.securePull?.(endpoint) ?? false;
  }

  /** The scheme this device's image can be pulled over: its own transport's only (a device on CoAPS gets nothing in clear). */
  private hostedSchemes(endpoint: string): { coap: boolean; coaps: boolean } {
    const secure = this.isSecure(endpoint);
    return { coap: !secure, coaps: secure };
  }

  /** Resolves once the image is hosted again (or that failed); the status poll goes on after. */
  private async rehost(runtime: Runtime): Promise<void> {
    try {
      const bytes = await this.acquire(runtime);
      const meta = await this.options.repository.require(runtime.record.imageId);
      const { endpoint } = runtime.record;
      const generation = runtime.transferGeneration;
      const current = (): boolean => runtime.transferGeneration === generation && !TERMINAL_STATES.has(runtime.record.state);
      this.options.host.host(runtime.record.pullToken!, bytes, meta.sha256, this.pullProgress(runtime, bytes.length, current), { endpoint, secure: this.isSecure(endpoint) });
    } catch (err) {
      this.dispatch(runtime, this.failure('host the image again', err, false));
      return;
    }
    void this.pollOnce(runtime);
  }

  /**
   * A request failed. When the device refused it (4.xx/5.xx), its Update Result usually
   * says why (e.g. 6 unsupported package): read it, and fail with the request's error only
   * when it says nothing.
   */
  private async afterRefusal(runtime: Runtime, operation: string, err: unknown): Promise<void> {
    const failure = this.failure(operation, err, false);
    if (err instanceof DeviceErrorResponse) {
      try {
        const status = await readFirmwareStatus(this.options.devices, runtime.record.endpoint, this.policy.requestTimeoutMs);
        if (status.result >= 2) {
          this.dispatch(runtime, { kind: 'device-state', state: status.state, result: status.result });
          return;
        }
      } catch {
        // Fall through to the request's own error.
      }
    }
    this.dispatch(runtime, failure);
  }

  private failure(operation: string, err: unknown, unsupportedOn404: boolean): DeliveryEvent {
    const reason = err instanceof Error ? err.message : String(err);
    const retryable = err instanceof DeviceTimeoutError || err instanceof DeviceResetError || err instanceof UnknownDeviceError;
    let outcome: DeliveryOutcome = retryable ? 'timeout' : 'device-error';
    if (unsupportedOn404 && err instanceof DeviceErrorResponse && (err.code === 0x84 || err.code === 0x85)) {
      return { kind: 'request-failed', operation, reason: `the device has no Firmware Update object (${reason})`, retryable: false, outcome: 'unsupported-device' };
    }
    if (err instanceof DeviceErrorResponse) outcome = 'device-error';
    return { kind: 'request-failed', operation, reason, retryable, outcome };
  }

  private async acquire(runtime: Runtime): Promise<Buffer> {
    const bytes = await this.options.repository.acquire(runtime.record.imageId);
    if (runtime.hostedBytes) this.options.repository.release(runtime.record.imageId);
    runtime.hostedBytes = true;
    return bytes;
  }

  // ───────────────────────────── watching the device ─────────────────────────────

  /**
   * The inspection read is the observation's first answer: the delivery watches /5/0 from
   * here on anyway, and one exchange less per delivery counts in a fleet of a thousand.
   * A device that refuses to be observed is read instead (and polled later, see watch()).
   */
  private async inspect(runtime: Runtime): Promise<DeviceFirmwareStatus> {
    const { endpoint } = runtime.record;
    const timeoutMs = this.policy.requestTimeoutMs;
    if (runtime.watching) return readFirmwareStatus(this.options.devices, endpoint, timeoutMs);
    let observed: Awaited<ReturnType<Object5Client['observe']>>;
    try {
      observed = await this.options.devices.observe(endpoint, Object5.instance, { timeoutMs });
    } catch (err) {
      if (!(err instanceof DeviceErrorResponse)) throw err;
      return readFirmwareStatus(this.options.devices, endpoint, timeoutMs);
    }
    if (this.running.get(runtime.record.id) !== runtime || runtime.watching) {
      // Released (cancelled) meanwhile, or watched by then: this observation is not needed.
      if (observed.observationId) await this.options.devices.cancelObservation(endpoint, observed.observationId).catch(() => {});
    } else {
      runtime.watching = true;
      runtime.observationId = observed.observationId;
      this.schedulePoll(runtime);
    }
    return completeFirmwareStatus(this.options.devices, endpoint, statusFromNode(observed.node), timeoutMs);
  }

  private watch(runtime: Runtime): void {
    if (runtime.watching) return;
    runtime.watching = true;
    void this.observe(runtime);
    this.schedulePoll(runtime);
  }

  private async observe(runtime: Runtime): Promise<void> {
    const { endpoint } = runtime.record;
    try {
      const result = await this.options.devices.observe(endpoint, Object5.instance, { timeoutMs: this.policy.requestTimeoutMs });
      if (!runtime.watching) {
        if (result.observationId) await this.options.devices.cancelObservation(endpoint, result.observationId).catch(() => {});
        return;
      }
      runtime.observationId = result.observationId;
      const status = statusFromNode(result.node);
      this.dispatch(runtime, { kind: 'device-state', state: status.state, result: status.result });
    } catch (err) {
      runtime.observationId = undefined;
      this.logger.debug({ ep: endpoint, reason: String(err) }, 'cannot observe /5/0; polling');
    }
  }

  private schedulePoll(runtime: Runtime): void {
    if (runtime.pollTimer) this.clock.clearTimeout(runtime.pollTimer);
    // Observed devices are still polled, slowly: a lost NON notification must not stall a delivery.
    const interval = runtime.observationId ? this.policy.pollIntervalMs * 4 : this.policy.pollIntervalMs;
    runtime.pollTimer = this.clock.setTimeout(() => {
      runtime.pollTimer = undefined;
      if (!runtime.watching) return;
      void this.pollOnce(runtime).finally(() => {
        if (runtime.watching) this.schedulePoll(runtime);
      });
    }, interval);
  }

  private async pollOnce(runtime: Runtime): Promise<void> {
    try {
      const status = await readFirmwareStatus(this.options.devices, runtime.record.endpoint, this.policy.requestTimeoutMs);
      this.dispatch(runtime, { kind: 'device-state', state: status.state, result: status.result });
    } catch (err) {
      this.logger.debug({ ep: runtime.record.endpoint, reason: String(err) }, 'poll of /5/0 failed');
    }
  }

  /** A (re-)registration or update: the device may have rebooted, into whichever image. */
  private onRegistration(registration: Registration): void {
    const id = this.byEndpoint.get(registration.endpoint);
    const runtime = id === undefined ? undefined : this.running.get(id);
    if (!runtime || this.closed) return;
    void readFirmwareStatus(this.options.devices, registration.endpoint, this.policy.requestTimeoutMs).then(
      (status) => {
        this.dispatch(runtime, { kind: 'registered', status });
        // A new registration ended our observation with the old one: observe again, unless
        // this very report ended the delivery (a device back with the new image usually does).
        void runtime.chain.then(() => {
          if (runtime.watching && (runtime.observationId === undefined || !this.observationAlive(runtime))) void this.observe(runtime);
        });
      },
      (err: unknown) => this.logger.debug({ ep: registration.endpoint, reason: String(err) }, 'status read after registration failed'),
    );
  }

  private observationAlive(runtime: Runtime): boolean {
    const devices = this.options.devices as Partial<Pick<import('../../lwm2m/server/device-client.js').DeviceClient, 'observations'>>;
    if (typeof devices.observations !== 'function') return true;
    return devices.observations(runtime.record.endpoint).some((o) => o.observationId === runtime.observationId);
  }

  // ───────────────────────────── timers and release ─────────────────────────────

  private armPhaseTimer(runtime: Runtime): void {
    if (runtime.phaseTimer) this.clock.clearTimeout(runtime.phaseTimer);
    runtime.phaseTimer = undefined;
    runtime.activeAt = this.clock.now();
    const ms = phaseTimeoutMs(this.policy, runtime.record.state);
    if (ms === undefined || TERMINAL_STATES.has(runtime.record.state)) return;
    this.schedulePhaseTimeout(runtime, ms, ms);
  }

  /**
   * Progress only moves `activeAt` (a timer re-armed for every progress step cost more than
   * the step): when the timer fires early for a phase that progressed meanwhile, it waits
   * out the rest, so the timeout still comes `ms` after the last sign of life.
   */
  private schedulePhaseTimeout(runtime: Runtime, ms: number, delayMs: number): void {
    runtime.phaseTimer = this.clock.setTimeout(() => {
      runtime.phaseTimer = undefined;
      const quietFor = this.clock.now() - runtime.activeAt;
      if (quietFor < ms) return this.schedulePhaseTimeout(runtime, ms, ms - quietFor);
      this.dispatch(runtime, { kind: 'timeout' });
    }, delayMs);
  }

  private stopTimers(runtime: Runtime): void {
    for (const name of ['phaseTimer', 'deferTimer', 'pollTimer'] as const) {
      const timer = runtime[name];
      if (timer) this.clock.clearTimeout(timer);
      runtime[name] = undefined;
    }
  }

  private releaseRuntime(runtime: Runtime): void {
    const { record } = runtime;
    this.stopTimers(runtime);
    runtime.watching = false;
    runtime.transferGeneration++;
    if (record.pullToken) this.options.host.withdraw(record.pullToken);
    if (runtime.hostedBytes) this.options.repository.release(record.imageId);
    runtime.hostedBytes = false;
    if (runtime.observationId) {
      void this.options.devices.cancelObservation(record.endpoint, runtime.observationId).catch(() => {});
      runtime.observationId = undefined;
    }
    this.running.delete(record.id);
    if (this.byEndpoint.get(record.endpoint) === record.id) this.byEndpoint.delete(record.endpoint);
  }
}

/** Whether every field of `after` is the very value it had in `before` (a no-op transition). */
function sameFields(before: DeliveryRecord, after: DeliveryRecord): boolean {
  for (const key of Object.keys(after) as Array<keyof DeliveryRecord>) if (before[key] !== after[key]) return false;
  return Object.keys(before).length === Object.keys(after).length;
}

/**
 * States in which a restarted server reads the device's status at once, as after a
 * registration: their next step depends on what the device did while we were down.
 */
const WAITS_FOR_REGISTRATION: ReadonlySet<DeliveryState> = new Set(['downloaded', 'updating', 'verifying']);

/** What to redo for a delivery found unfinished after a restart. */
function resumeCommands(record: DeliveryRecord, now: number, policy: DeliveryPolicy): DeliveryCommand[] {
  switch (record.state) {
    case 'inspecting':
      return [{ kind: 'inspect' }];
    case 'transferring':
      return [{ kind: 'transfer', method: record.method ?? 'push', resetFirst: true }];
    case 'downloaded':
      // Not Update at once: one sent before the restart may have run already (the device
      // then answers 4.05, it has no package). The status read on resume decides (it runs
      // Update only when the device still holds the package).
      return [];
    case 'deferred':
      return [{ kind: 'schedule-defer', delayMs: Math.max(0, record.stateSince + (record.maxDeferMs ?? policy.defaultDeferMs) - now) }];
    default:
      return [];
  }
}
