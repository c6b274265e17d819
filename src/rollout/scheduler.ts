/**
 * The rollout scheduler: decides, on every tick of the injected clock, which stage is
 * open, which devices may start (idle window long enough, battery, deferral, maintenance
 * window, prerequisites, limits), which transfers must pause, when Update may run, and
 * when a health gate halts the campaign. A DeliveryDriver carries the decisions out.
 *
 * Crash safety: every campaign and device change is written to the CampaignStore before
 * the action it describes (intent first). After a restart load() rebuilds the campaigns
 * from the store and reconciles devices in flight with what the driver and the devices
 * report, so no device gets the image twice, no stage grows past its size and no device
 * is forgotten.
 */
import { randomBytes } from 'node:crypto';
import type { AuditLog, CampaignStore, DeviceRolloutState } from '../store/types.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { shareBandwidth } from './bandwidth.js';
import { campaignTransition, FINAL_CAMPAIGN_STATES, stageTransition, type CampaignEvent, type CampaignState, type StageEvent } from './campaign-machine.js';
import { CampaignRuntime, type CampaignDocument, type StageRuntime } from './campaign-runtime.js';
import { insideMaintenanceWindow, LocalTimeCache, parseCron, type CronExpression } from './cron.js';
import { deviceTransition, FINAL_PHASES, IN_FLIGHT_PHASES, PHASE_INDEX, type DeviceEvent, type DevicePhase } from './device-machine.js';
import { isDeferring, mayDisturb, mayStartTransfer, type DiscretionSource } from './discretion.js';
import type { DeliveryDriver, DriverEvent } from './driver.js';
import { RolloutEvents } from './events.js';
import { canarySize, drawStages, resolveStages } from './plan.js';
import { targetMatcher, type DeviceFacts, type DeviceInventory } from './population.js';
import { SEVERITY_CODE, type CampaignSpec } from './spec.js';
import { ThroughputEstimator } from './throughput.js';
import { parseVersionRange, versionInRange, type VersionRange } from './versions.js';

export class CampaignNotFoundError extends Error {
  override readonly name = 'CampaignNotFoundError';
}

/** An operation that the campaign's state does not allow (answered 409). */
export class CampaignStateError extends Error {
  override readonly name = 'CampaignStateError';
}

/** Devices already in another active campaign (one active campaign per device). */
export class CampaignConflictError extends Error {
  override readonly name = 'CampaignConflictError';
  constructor(
    message: string,
    readonly devices: string[],
  ) {
    super(message);
  }
}

export interface GlobalLimits {
  maxConcurrent?: number;
  bandwidthBytesPerSec?: number;
  maxConcurrentPerGateway?: number;
}

export interface RolloutSchedulerOptions {
  store: CampaignStore;
  audit?: AuditLog;
  driver: DeliveryDriver;
  inventory: DeviceInventory;
  discretion: DiscretionSource;
  clock: Clock;
  logger?: Logger;
  /** Tick period on the clock (default 1000 ms). */
  tickMs?: number;
  limits?: GlobalLimits;
  /** Candidates looked at per campaign per tick (bounds the tick's cost; default 5000). */
  maxExaminedPerTick?: number;
  /** Transfers started per campaign per tick (bounds the tick's cost; default 2000). */
  maxStartsPerTick?: number;
  /** Why a device must not get this image (the manifest/profile verifier), or undefined. */
  verifyImage?: (spec: CampaignSpec, endpoint: string) => Promise<string | undefined>;
  /** Throughput assumed before any transfer of a device or its class was measured (default 1000 B/s). */
  defaultThroughputBytesPerSec?: number;
  /**
   * Store writes in flight at once while drawing or aborting (default 256). Small on purpose:
   * thousands of row objects kept alive across a young-generation GC teach V8 to allocate
   * every later row object (those of every tick too) straight in the old generation
   * ("pretenuring"), which then fills with garbage and needs major GCs mid-tick.
   */
  writeChunk?: number;
  /**
   * Members of an open stage admitted to its queue per campaign per tick (default 50,000): a
   * stage of 200,000 opens over a few ticks instead of in one long one.
   */
  admitPerTick?: number;
  /** Added to the transfer estimate when the driver cannot hold Update for a later window (default 60 s). */
  installEstimateMs?: number;
}

export interface TickStats {
  startedTransfers: number;
  examined: number;
  durationMs: number;
}

interface CampaignCompiled {
  windows: CronExpression[];
  fromVersions: VersionRange | undefined;
  matcher: (facts: DeviceFacts) => boolean;
}

const HALT_DEVICE_LIST = 100;
const PLANNED = PHASE_INDEX.planned;
const PENDING = PHASE_INDEX.pending;
const WAITING = PHASE_INDEX.waiting;

export class RolloutScheduler {
  readonly events = new RolloutEvents();
  private readonly options: RolloutSchedulerOptions;
  private readonly store: CampaignStore;
  private readonly driver: DeliveryDriver;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly tickMs: number;
  private readonly maxExamined: number;
  private readonly campaigns = new Map<string, CampaignRuntime>();
  private readonly compiled = new Map<string, CampaignCompiled>();
  /** Campaigns not completed or aborted, in creation order (a device is active in at most one). */
  private live: CampaignRuntime[] = [];
  private readonly gatewayTransfers = new Map<string, number>();
  private readonly throughput: ThroughputEstimator;
  private readonly localTimes = new LocalTimeCache();
  /** Store writes issued and not landed yet (flush() waits for them). */
  private pendingWrites = 0;
  private flushWaiters: Array<() => void> = [];
  private readonly unsubscribe: Array<() => void> = [];
  private timer: TimerHandle | undefined;
  private ticking: Promise<TickStats> | undefined;
  private closed = false;
  /** Serialises operator commands with ticks so they never interleave. */
  private commandChain: Promise<unknown> = Promise.resolve();

  constructor(options: RolloutSchedulerOptions) {
    this.options = options;
    this.store = options.store;
    this.driver = options.driver;
    this.clock = options.clock;
    this.logger = options.logger ?? silentLogger;
    this.tickMs = options.tickMs ?? 1000;
    this.maxExamined = options.maxExaminedPerTick ?? 5000;
    this.throughput = new ThroughputEstimator(options.defaultThroughputBytesPerSec ?? 1000);
    this.unsubscribe.push(
      this.driver.onEvent((event) => this.onDriverEvent(event)),
      options.inventory.onAdded((facts) => this.onDeviceAdded(facts)),
    );
    if (options.discretion.onChange) this.unsubscribe.push(options.discretion.onChange((endpoint) => this.onStatusChange(endpoint)));
  }

  // ───────────────────────────── lifecycle ─────────────────────────────

  /** Rebuilds every campaign from the store and reconciles devices in flight (after a restart). */
  async load(): Promise<void> {
    for (const stored of await this.store.list()) {
      if (stored.status === 'creating') {
        // The draw never finished: nothing was started, so the half-made campaign goes.
        await this.store.remove(stored.id);
        this.logger.warn({ campaign: stored.id }, 'removed a campaign whose creation was interrupted');
        continue;
      }
      const doc = stored.spec as unknown as CampaignDocument;
      const rows = await this.store.listDeviceStates(stored.id);
      const runtime = new CampaignRuntime(stored.id, stored.createdAt, stored.status as CampaignState, doc, rows.length);
      this.compile(runtime);
      for (const row of rows) this.restoreMember(runtime, row);
      for (let s = 0; s < doc.stages.length; s++) if (doc.stages[s].state === 'active') this.openStage(runtime, s);
      this.campaigns.set(runtime.id, runtime);
    }
    this.refreshLive();
    for (const runtime of this.campaigns.values()) await this.reconcile(runtime);
  }

  /** Starts ticking on the clock. */
  start(): void {
    if (this.timer || this.closed) return;
    const arm = (): void => {
      this.timer = this.clock.setTimeout(() => {
        this.timer = undefined;
        void this.tick()
          .catch((err: unknown) => this.logger.error({ err }, 'rollout tick failed'))
          .finally(() => {
            if (!this.closed) arm();
          });
      }, this.tickMs);
    };
    arm();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    for (const off of this.unsubscribe) off();
    await this.ticking?.catch(() => undefined);
    await this.flush();
  }

  /** Resolves when every store write issued so far has landed. */
  async flush(): Promise<void> {
    if (this.pendingWrites === 0) return;
    await new Promise<void>((resolve) => this.flushWaiters.push(resolve));
  }

  /** Tracks a write without a promise chain per write (a tick may issue thousands). */
  private track<T>(write: Promise<T>, onError: (err: unknown) => void, onDone?: (value: T) => void): Promise<void> {
    this.pendingWrites++;
    const landed = (): void => {
      if (--this.pendingWrites === 0) for (const resolve of this.flushWaiters.splice(0)) resolve();
    };
    return write.then(
      (value) => {
        landed();
        onDone?.(value);
      },
      (err: unknown) => {
        landed();
        onError(err);
      },
    );
  }

  // ───────────────────────────── operator commands ─────────────────────────────

  /** Stage sizes for the current population, without creating anything. */
  async dryRun(spec: CampaignSpec): Promise<{ stages: Array<{ name: string; size: number }>; population: number }> {
    await this.options.inventory.refresh?.();
    const population = this.population(spec);
    const stages = resolveStages(spec.plan, spec.gates, population.length, canarySize(spec.plan, population));
    return { stages: stages.map((s) => ({ name: s.name, size: s.size })), population: population.length };
  }

  /** Creates a campaign (draft): population resolved, membership drawn and stored. */
  async create(spec: CampaignSpec): Promise<CampaignRuntime> {
    return this.command(() => this.createNow(spec));
  }

  async startCampaign(id: string): Promise<CampaignRuntime> {
    return this.command(() => this.changeState(this.require(id), 'start'));
  }

  async pause(id: string): Promise<CampaignRuntime> {
    return this.command(() => this.changeState(this.require(id), 'pause'));
  }

  /** Resumes a paused campaign, or a halted one: the failures that halted it are acknowledged. */
  async resume(id: string): Promise<CampaignRuntime> {
    return this.command(async () => {
      const runtime = this.require(id);
      if (runtime.state === 'halted') {
        runtime.doc.stages.forEach((stage, s) => {
          stage.ack = { failed: runtime.gateFailed[s], reverted: runtime.reverted[s], finished: this.finished(runtime, s) };
        });
        runtime.doc.haltReason = undefined;
        runtime.doc.haltDevices = undefined;
      }
      return this.changeState(runtime, 'resume');
    });
  }

  /** Aborts: nothing starts any more, transfers in flight are cancelled (/5/0/10 where possible). */
  async abort(id: string, reason = 'aborted by the operator'): Promise<CampaignRuntime> {
    return this.command(async () => {
      const runtime = this.require(id);
      await this.changeState(runtime, 'abort', reason);
      await this.cancelMembers(runtime, reason);
      return runtime;
    });
  }

  /**
   * A rollback campaign: `previous` (the old image re-issued with a higher sequence number)
   * to every device of `id` that installed or may hold the new image.
   */
  async createRollback(id: string, previous: CampaignSpec): Promise<CampaignRuntime> {
    const original = this.require(id);
    const endpoints = original.endpointList().filter((_, i) => {
      const phase = original.phaseOf(i);
      return phase === 'succeeded' || IN_FLIGHT_PHASES.has(phase);
    });
    if (endpoints.length === 0) throw new CampaignStateError(`campaign ${id} has no device that received the image`);
    return this.create({ ...previous, target: { endpoints }, rollbackOf: id });
  }

  list(): CampaignRuntime[] {
    return [...this.campaigns.values()].sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  get(id: string): CampaignRuntime | undefined {
    return this.campaigns.get(id);
  }

  /** Whether any campaign is not finished (devices are then asked what they run as they register). */
  hasActiveCampaigns(): boolean {
    for (const c of this.campaigns.values()) if (!FINAL_CAMPAIGN_STATES.has(c.state)) return true;
    return false;
  }

  /** The campaign an endpoint is active in, if any. */
  campaignOf(endpoint: string): CampaignRuntime | undefined {
    return this.activeOwner(endpoint);
  }

  /**
   * The campaign in which the device has not finished. Looked up in the few live campaigns'
   * own indexes rather than kept in a fleet-sized map of its own.
   */
  private activeOwner(endpoint: string): CampaignRuntime | undefined {
    for (const runtime of this.live) {
      const i = runtime.indexOf(endpoint);
      if (i !== undefined && !FINAL_PHASES.has(runtime.phaseOf(i))) return runtime;
    }
    return undefined;
  }

  private refreshLive(): void {
    this.live = this.list().filter((c) => !FINAL_CAMPAIGN_STATES.has(c.state));
  }

  estimateMs(runtime: CampaignRuntime, i: number): number {
    return this.throughput.estimateMs(runtime.spec.imageSize, optionalTime(runtime.measuredRate[i]), runtime.deviceType(i));
  }

  // ───────────────────────────── the tick ─────────────────────────────

  /** One scheduling round over every campaign (critical campaigns first). */
  async tick(): Promise<TickStats> {
    if (this.ticking) return this.ticking;
    const run = this.command(() => this.tickNow());
    this.ticking = run;
    try {
      return await run;
    } finally {
      this.ticking = undefined;
    }
  }

  private async tickNow(): Promise<TickStats> {
    const began = performance.now();
    const now = this.clock.now();
    const stats: TickStats = { startedTransfers: 0, examined: 0, durationMs: 0 };
    const order = [...this.campaigns.values()]
      .filter((c) => !FINAL_CAMPAIGN_STATES.has(c.state) && c.state !== 'draft')
      .sort((a, b) => Number(b.critical) - Number(a.critical) || a.createdAt - b.createdAt);
    for (const runtime of order) {
      await this.serveInflight(runtime, now);
      if (runtime.state !== 'running') continue;
      await this.advanceStages(runtime, now);
    }
    for (const runtime of order) {
      if (runtime.state !== 'running') continue;
      const started = await this.startTransfers(runtime, now);
      stats.startedTransfers += started.started;
      stats.examined += started.examined;
    }
    this.allocateBandwidth(order);
    stats.durationMs = performance.now() - began;
    return stats;
  }

  /** Transfers that must pause, may resume, updates that may run, timeouts. */
  private async serveInflight(runtime: CampaignRuntime, now: number): Promise<void> {
    const { policy } = runtime.spec;
    const source = this.options.discretion;
    const releases: number[] = [];
    const { inflight } = runtime;
    for (let k = inflight.size - 1; k >= 0; k--) {
      if (k >= inflight.size) continue;
      const i = inflight.at(k);
      const phase = runtime.phaseOf(i);
      const endpoint = runtime.endpoint(i);
      if (phase === 'updating') {
        const executedAt = runtime.executedAt[i];
        if (!Number.isNaN(executedAt) && now - executedAt > policy.deviceTimeoutMs) {
          this.timeout(runtime, i, now, `no verdict within ${Math.round(policy.deviceTimeoutMs / 1000)} s of Update`);
        }
        continue;
      }
      const firstDeferredAt = optionalTime(runtime.firstDeferredAt[i]);
      if (phase === 'transferring') {
        if (runtime.activeTransferMs(i, now) > policy.deviceTimeoutMs) {
          this.timeout(runtime, i, now, `no complete transfer within ${Math.round(policy.deviceTimeoutMs / 1000)} s of transfer time`);
          continue;
        }
        this.pauseIfBusy(runtime, i, now);
      } else if (phase === 'paused') {
        if (runtime.state !== 'running' && runtime.state !== 'halted') continue;
        if (!mayDisturb(source.get(endpoint), now, policy, firstDeferredAt).ok) continue;
        if (!this.hasSlot(runtime, i)) continue;
        runtime.resumedAt[i] = now;
        runtime.setReason(i, undefined);
        this.move(runtime, i, 'resume', now);
        this.claim(runtime, i);
        void this.driver.resume(endpoint).catch((err: unknown) => this.fail(runtime, i, this.clock.now(), `resume: ${String(err)}`, false));
      } else if (phase === 'downloaded') {
        if (!this.driver.capabilities.holdUpdate) continue;
        if (runtime.state !== 'running' && runtime.state !== 'halted') continue;
        const verdict = mayDisturb(source.get(endpoint), now, policy, firstDeferredAt);
        if (!verdict.ok) {
          runtime.setReason(i, `update waits: ${verdict.reason}`);
          continue;
        }
        runtime.setReason(i, undefined);
        runtime.executedAt[i] = now;
        releases.push(i);
      }
    }
    if (releases.length === 0) return;
    // Intent first: "updating" is stored before Update is executed.
    await Promise.all(releases.map((i) => this.move(runtime, i, 'execute', now)));
    for (const i of releases) {
      void this.driver.releaseUpdate(runtime.endpoint(i)).catch((err: unknown) => this.fail(runtime, i, this.clock.now(), `execute Update: ${String(err)}`, false));
    }
  }

  /** A device that turned busy (or fell asleep) mid-transfer: stop sending, keep counting time right. */
  private pauseIfBusy(runtime: CampaignRuntime, i: number, now: number): void {
    if (runtime.phaseOf(i) !== 'transferring') return;
    const endpoint = runtime.endpoint(i);
    const verdict = mayDisturb(this.options.discretion.get(endpoint), now, runtime.spec.policy, optionalTime(runtime.firstDeferredAt[i]));
    if (verdict.ok) return;
    runtime.stopTransferClock(i, now);
    runtime.setReason(i, verdict.reason);
    void this.move(runtime, i, 'busy', now);
    this.release(runtime, i);
    void this.driver.pause(endpoint).catch((err: unknown) => this.logger.warn({ ep: endpoint, err: String(err) }, 'pause failed'));
  }

  private onStatusChange(endpoint: string): void {
    const runtime = this.activeOwner(endpoint);
    const i = runtime?.indexOf(endpoint);
    if (runtime === undefined || i === undefined) return;
    this.pauseIfBusy(runtime, i, this.clock.now());
  }

  private async advanceStages(runtime: CampaignRuntime, now: number): Promise<void> {
    const stages = runtime.doc.stages;
    for (let s = 0; s < stages.length; s++) {
      const stage = stages[s];
      if (stage.state === 'passed') continue;
      if (stage.state === 'planned') {
        await this.stageEvent(runtime, s, 'open', now);
        this.openStage(runtime, s);
        return;
      }
      if (stage.state === 'active') {
        const breach = this.gateBreach(runtime, s);
        if (breach) {
          await this.halt(runtime, s, breach, now);
          return;
        }
        if (runtime.unfinished(s) > 0) return;
        await this.stageEvent(runtime, s, 'drained', now);
      }
      // Soak time keeps the next stage waiting: the last stage, critical updates and empty stages do not wait.
      const last = s === stages.length - 1;
      const soakOver = last || runtime.critical || stage.size === 0 || now >= (stage.drainedAt ?? now) + stage.soakMs;
      if (!soakOver) return;
      await this.stageEvent(runtime, s, 'soaked', now);
    }
    runtime.doc.finishedAt = now;
    await this.changeState(runtime, 'complete');
  }

  private async startTransfers(runtime: CampaignRuntime, now: number): Promise<{ started: number; examined: number }> {
    const s = runtime.doc.stages.findIndex((stage) => stage.state === 'active');
    if (s < 0) return { started: 0, examined: 0 };
    this.admit(runtime, s);
    let free = Math.min(this.freeSlots(runtime), this.options.maxStartsPerTick ?? 2000);
    const queue = runtime.queues[s];
    const compiled = this.compiled.get(runtime.id)!;
    const { policy } = runtime.spec;
    const source = this.options.discretion;
    const chosen: number[] = [];
    const skipped: Array<[number, string]> = [];
    let examined = 0;
    const limit = Math.min(this.maxExamined, queue.length - runtime.heads[s]);
    while (free > 0 && examined < limit) {
      const i = queue[runtime.heads[s]++];
      examined++;
      const phase = runtime.phaseOf(i);
      if (phase !== 'pending' && phase !== 'waiting') continue;
      const endpoint = runtime.endpoint(i);
      if (phase === 'pending' && compiled.fromVersions) {
        const version = this.options.inventory.get(endpoint)?.version;
        if (version === undefined || !versionInRange(version, compiled.fromVersions)) {
          skipped.push([i, `installed version ${version ?? '(unknown)'} may not take this image (${policy.fromVersions})`]);
          continue;
        }
      }
      const status = source.get(endpoint);
      if (isDeferring(status, now) && Number.isNaN(runtime.firstDeferredAt[i])) runtime.firstDeferredAt[i] = now;
      const gateway = status?.gateway ?? runtime.gateway(i);
      let reason: string | undefined;
      if (!insideMaintenanceWindow(compiled.windows, now, status?.timezone ?? 'UTC', this.localTimes)) {
        reason = 'outside the maintenance windows';
      } else {
        const install = this.driver.capabilities.holdUpdate ? 0 : (this.options.installEstimateMs ?? 60_000);
        const verdict = mayStartTransfer(status, now, this.estimateMs(runtime, i) + install, policy, optionalTime(runtime.firstDeferredAt[i]));
        if (!verdict.ok) reason = verdict.reason;
        else if (!this.gatewayHasRoom(gateway)) reason = 'gateway transfer limit reached';
      }
      if (reason !== undefined) {
        runtime.setReason(i, reason);
        if (phase === 'pending') void this.move(runtime, i, 'not-eligible', now);
        queue.push(i);
        continue;
      }
      chosen.push(i);
      this.claim(runtime, i, gateway);
      free--;
    }
    if (runtime.heads[s] > 4096 && runtime.heads[s] > queue.length / 2) {
      runtime.queues[s] = queue.slice(runtime.heads[s]);
      runtime.heads[s] = 0;
    }
    await Promise.all(skipped.map(([i, reason]) => this.skip(runtime, i, reason, now)));
    if (this.options.verifyImage) {
      const verdicts = await Promise.all(chosen.map((i) => this.options.verifyImage!(runtime.spec, runtime.endpoint(i)).catch((err: unknown) => String(err))));
      for (let k = chosen.length - 1; k >= 0; k--) {
        const reason = verdicts[k];
        if (reason === undefined) continue;
        const i = chosen[k];
        this.unclaim(runtime, i);
        chosen.splice(k, 1);
        await this.skip(runtime, i, `refused by the verifier: ${reason}`, now);
      }
    }
    // Intent first: every start is stored before the driver is asked to do it.
    await Promise.all(
      chosen.map((i) => {
        runtime.beginTransfer(i, now);
        return this.move(runtime, i, 'start', now);
      }),
    );
    await Promise.all(chosen.map((i) => this.startDriver(runtime, i)));
    return { started: chosen.length, examined };
  }

  private async startDriver(runtime: CampaignRuntime, i: number): Promise<void> {
    const { spec } = runtime;
    try {
      await this.driver.start({
        campaignId: runtime.id,
        endpoint: runtime.endpoint(i),
        imageId: spec.firmwareId,
        imageVersion: spec.imageVersion,
        imageSize: spec.imageSize,
        severity: SEVERITY_CODE[spec.policy.severity],
        holdUpdate: this.driver.capabilities.holdUpdate,
      });
    } catch (err) {
      this.fail(runtime, i, this.clock.now(), `could not start the transfer: ${err instanceof Error ? err.message : String(err)}`, false);
    }
  }

  private allocateBandwidth(order: CampaignRuntime[]): void {
    if (!this.driver.capabilities.rateLimit) return;
    const global = this.options.limits?.bandwidthBytesPerSec;
    const plans: Array<{ endpoints: string[]; rates: number[] }> = [];
    let total = 0;
    for (const runtime of order) {
      const budget = runtime.spec.limits.bandwidthBytesPerSec;
      if (budget === undefined && global === undefined) continue;
      const endpoints: string[] = [];
      const caps: number[] = [];
      for (let k = 0; k < runtime.inflight.size; k++) {
        const i = runtime.inflight.at(k);
        if (runtime.phaseOf(i) !== 'transferring') continue;
        endpoints.push(runtime.endpoint(i));
        caps.push(this.throughput.bytesPerSec(optionalTime(runtime.measuredRate[i]), runtime.deviceType(i)) * 4);
      }
      const rates = budget === undefined ? caps.slice() : shareBandwidth(budget, caps);
      total += rates.reduce((a, b) => a + b, 0);
      plans.push({ endpoints, rates });
    }
    const scale = global !== undefined && total > global ? global / total : 1;
    for (const plan of plans) plan.endpoints.forEach((ep, k) => this.driver.setRate(ep, plan.rates[k] * scale));
  }

  // ───────────────────────────── limits ─────────────────────────────

  private totalTransferring(): number {
    let n = 0;
    for (const c of this.campaigns.values()) n += c.transferring;
    return n;
  }

  private freeSlots(runtime: CampaignRuntime): number {
    let free = Infinity;
    const global = this.options.limits?.maxConcurrent;
    if (global !== undefined) free = Math.min(free, global - this.totalTransferring());
    const own = runtime.spec.limits.maxConcurrent;
    if (own !== undefined) free = Math.min(free, own - runtime.transferring);
    // Without per-transfer rate limits, bandwidth is kept by how many transfers run at once.
    if (!this.driver.capabilities.rateLimit) {
      const budget = Math.min(runtime.spec.limits.bandwidthBytesPerSec ?? Infinity, this.options.limits?.bandwidthBytesPerSec ?? Infinity);
      if (budget !== Infinity) {
        const perTransfer = this.throughput.bytesPerSec(undefined, runtime.spec.deviceType);
        free = Math.min(free, Math.max(1, Math.floor(budget / perTransfer)) - runtime.transferring);
      }
    }
    return Math.max(0, free === Infinity ? Number.MAX_SAFE_INTEGER : free);
  }

  private hasSlot(runtime: CampaignRuntime, i: number): boolean {
    if (this.freeSlots(runtime) <= 0) return false;
    const gateway = this.options.discretion.get(runtime.endpoint(i))?.gateway ?? runtime.gateway(i);
    return this.gatewayHasRoom(gateway);
  }

  private gatewayHasRoom(gateway: string | undefined): boolean {
    const limit = this.options.limits?.maxConcurrentPerGateway;
    if (gateway === undefined || limit === undefined) return true;
    return (this.gatewayTransfers.get(gateway) ?? 0) < limit;
  }

  private readonly claimedGateway = new Map<string, string>();

  private claim(runtime: CampaignRuntime, i: number, gateway?: string): void {
    const g = gateway ?? this.options.discretion.get(runtime.endpoint(i))?.gateway ?? runtime.gateway(i);
    if (g === undefined) return;
    this.gatewayTransfers.set(g, (this.gatewayTransfers.get(g) ?? 0) + 1);
    this.claimedGateway.set(runtime.endpoint(i), g);
  }

  private unclaim(runtime: CampaignRuntime, i: number): void {
    this.release(runtime, i);
  }

  private release(runtime: CampaignRuntime, i: number): void {
    if (this.claimedGateway.size === 0) return;
    const endpoint = runtime.endpoint(i);
    const g = this.claimedGateway.get(endpoint);
    if (g === undefined) return;
    this.claimedGateway.delete(endpoint);
    const n = (this.gatewayTransfers.get(g) ?? 1) - 1;
    if (n <= 0) this.gatewayTransfers.delete(g);
    else this.gatewayTransfers.set(g, n);
  }

  // ───────────────────────────── gates and stages ─────────────────────────────

  private finished(runtime: CampaignRuntime, s: number): number {
    return runtime.count(s, 'succeeded') + runtime.gateFailed[s];
  }

  /** Why the stage's health gates are broken, or undefined. */
  private gateBreach(runtime: CampaignRuntime, s: number): string | undefined {
    const stage = runtime.doc.stages[s];
    const { gates, ack } = stage;
    const reverted = runtime.reverted[s] - ack.reverted;
    if (reverted > gates.maxReverted) return `${reverted} device(s) reverted in stage "${stage.name}" (at most ${gates.maxReverted} allowed)`;
    const finished = this.finished(runtime, s) - ack.finished;
    const failed = runtime.gateFailed[s] - ack.failed;
    if (finished <= 0 || finished < gates.minFinished || failed === 0) return undefined;
    const rate = failed / finished;
    if (rate > gates.maxFailureRate) {
      return `failure rate ${(rate * 100).toFixed(1)}% (${failed} of ${finished} finished) in stage "${stage.name}" is above ${(gates.maxFailureRate * 100).toFixed(1)}%`;
    }
    return undefined;
  }

  private async halt(runtime: CampaignRuntime, s: number, reason: string, now: number): Promise<void> {
    const devices: string[] = [];
    for (let i = runtime.stageLo[s]; i < runtime.stageHi[s] && devices.length < HALT_DEVICE_LIST; i++) {
      if (runtime.stageOf[i] === s && runtime.phaseOf(i) === 'failed' && !runtime.isNoGate(i)) devices.push(runtime.endpoint(i));
    }
    runtime.doc.haltReason = reason;
    runtime.doc.haltDevices = devices;
    await this.changeState(runtime, 'halt', reason);
    this.events.emit({ type: 'halted', campaignId: runtime.id, at: now, stage: s, reason, devices });
    this.logger.warn({ campaign: runtime.id, stage: runtime.doc.stages[s].name, reason, devices: devices.slice(0, 10) }, 'rollout halted by a health gate');
  }

  private async stageEvent(runtime: CampaignRuntime, s: number, event: StageEvent, now: number): Promise<void> {
    const stage = runtime.doc.stages[s];
    const next = stageTransition(stage.state, event);
    if (!next) throw new Error(`stage ${stage.name}: "${event}" does not apply in state ${stage.state}`);
    const from = stage.state;
    stage.state = next;
    if (event === 'open') stage.openedAt = now;
    if (event === 'drained') stage.drainedAt = now;
    if (event === 'soaked') stage.passedAt = now;
    if (s === 0 && event === 'open') runtime.doc.startedAt ??= now;
    await this.store.put(runtime.toCampaign(now));
    this.events.emit({ type: 'stage', campaignId: runtime.id, at: now, stage: s, name: stage.name, from, to: next });
    this.logger.info({ campaign: runtime.id, stage: stage.name, from, to: next }, 'rollout stage');
  }

  /**
   * An open stage's members are admitted to its queue a slice per tick (admit()); planned
   * members become pending in memory only ("planned in an open stage" is what the store keeps),
   * so opening a stage of 200,000 costs no writes and no long tick.
   */
  private openStage(runtime: CampaignRuntime, s: number): void {
    runtime.queues[s] = [];
    runtime.heads[s] = 0;
    runtime.admitFrom[s] = runtime.stageLo[s] < runtime.stageHi[s] ? runtime.stageLo[s] : -1;
  }

  private admit(runtime: CampaignRuntime, s: number): void {
    let i = runtime.admitFrom[s];
    if (i < 0) return;
    const hi = runtime.stageHi[s];
    const end = Math.min(hi, i + (this.options.admitPerTick ?? 50_000));
    const queue = runtime.queues[s];
    const { stageOf, phase } = runtime;
    for (; i < end; i++) {
      if (stageOf[i] !== s) continue;
      const p = phase[i];
      if (p === PLANNED) runtime.setPhase(i, 'pending');
      if (p === PLANNED || p === PENDING || p === WAITING) queue.push(i);
    }
    runtime.admitFrom[s] = i >= hi ? -1 : i;
  }

  private async changeState(runtime: CampaignRuntime, event: CampaignEvent, reason?: string): Promise<CampaignRuntime> {
    const next = campaignTransition(runtime.state, event);
    if (!next) throw new CampaignStateError(`campaign ${runtime.id} is ${runtime.state}: cannot ${event} it`);
    const from = runtime.state;
    const now = this.clock.now();
    if (next === 'aborted') runtime.doc.finishedAt = now;
    // Intent first: the new state is stored before anything acts on it.
    await this.store.put(runtime.toCampaign(now, next));
    runtime.state = next;
    this.refreshLive();
    await this.options.audit?.append({ at: now, actor: 'rollout', action: `campaign.${event}`, subject: runtime.id, detail: reason ? { reason } : {} }).catch(() => 0);
    this.events.emit({ type: 'campaign', campaignId: runtime.id, at: now, from, to: next, ...(reason ? { reason } : {}) });
    this.logger.info({ campaign: runtime.id, from, to: next, reason }, 'rollout campaign');
    return runtime;
  }

  // ───────────────────────────── devices ─────────────────────────────

  /**
   * Applies a device event and stores the result; callers that act on the new phase await
   * the write first (intent first). Writes are compare-and-set on the row's revision.
   */
  private move(runtime: CampaignRuntime, i: number, event: DeviceEvent, now: number): Promise<void> {
    const phase = runtime.phaseOf(i);
    const next = deviceTransition(phase, event);
    if (!next) return Promise.resolve();
    runtime.setPhase(i, next);
    return this.persist(runtime, i, now);
  }

  private persist(runtime: CampaignRuntime, i: number, now: number): Promise<void> {
    const expected = runtime.revision[i];
    // The revision moves now, so a second write issued before this one lands expects the right value.
    runtime.revision[i] = expected + 1;
    const endpoint = runtime.endpoint(i);
    return this.track(
      this.store.setDeviceState(runtime.id, endpoint, { phase: runtime.phaseOf(i), updatedAt: now, data: runtime.deviceData(i) }, expected),
      (err) => this.logger.error({ err, campaign: runtime.id, ep: endpoint }, 'could not store the rollout state'),
      (stored) => {
        if (!stored) this.logger.error({ campaign: runtime.id, ep: endpoint, expected }, 'rollout state changed under us (another scheduler?)');
      },
    );
  }

  private skip(runtime: CampaignRuntime, i: number, reason: string, now: number): Promise<void> {
    runtime.setReason(i, reason);
    return this.move(runtime, i, 'skip', now);
  }

  private fail(runtime: CampaignRuntime, i: number, now: number, reason: string, reverted: boolean, noGate = false): void {
    const phase = runtime.phaseOf(i);
    if (!deviceTransition(phase, 'failed')) return;
    runtime.setReason(i, reason);
    if (reverted) runtime.markReverted(i);
    if (noGate) runtime.markNoGate(i);
    const s = runtime.stageOf[i];
    if (!noGate) runtime.gateFailed[s]++;
    if (reverted) runtime.reverted[s]++;
    this.release(runtime, i);
    void this.move(runtime, i, 'failed', now);
  }

  private timeout(runtime: CampaignRuntime, i: number, now: number, reason: string): void {
    const countsAsFailure = runtime.spec.policy.timeoutCountsAsFailure;
    this.fail(runtime, i, now, `timeout: ${reason}`, false, !countsAsFailure);
    void this.driver.cancel(runtime.endpoint(i), 'timed out').catch(() => undefined);
  }

  private onDriverEvent(event: DriverEvent): void {
    const runtime = this.activeOwner(event.endpoint);
    if (!runtime) return;
    const i = runtime.indexOf(event.endpoint)!;
    const now = this.clock.now();
    const phase = runtime.phaseOf(i);
    const s = runtime.stageOf[i];
    switch (event.kind) {
      case 'progress': {
        const delta = event.bytes - runtime.bytes[i];
        if (delta > 0) runtime.stageBytes[s] += delta;
        runtime.bytes[i] = event.bytes;
        return;
      }
      case 'downloaded': {
        if (phase !== 'transferring' && phase !== 'paused') return;
        const size = runtime.spec.imageSize;
        if (runtime.bytes[i] < size) runtime.stageBytes[s] += size - runtime.bytes[i];
        runtime.bytes[i] = size;
        runtime.stopTransferClock(i, now);
        runtime.measuredRate[i] = this.throughput.record(optionalTime(runtime.measuredRate[i]), runtime.deviceType(i), size, runtime.activeMs[i]) ?? NaN;
        this.release(runtime, i);
        void this.move(runtime, i, 'downloaded', now);
        return;
      }
      case 'succeeded':
        runtime.setReason(i, undefined);
        this.release(runtime, i);
        void this.move(runtime, i, 'succeeded', now);
        return;
      case 'failed':
        this.fail(runtime, i, now, event.reason, event.reverted);
        return;
    }
  }

  /** A device seen for the first time joins the last stage of running campaigns that target it. */
  private onDeviceAdded(facts: DeviceFacts): void {
    if (this.activeOwner(facts.endpoint)) return;
    for (const runtime of this.list()) {
      if (FINAL_CAMPAIGN_STATES.has(runtime.state) || runtime.has(facts.endpoint)) continue;
      const last = runtime.doc.stages.length - 1;
      if (last < 0 || runtime.doc.stages[last].state === 'soaking' || runtime.doc.stages[last].state === 'passed') continue;
      if (!this.compiled.get(runtime.id)!.matcher(facts)) continue;
      const stage = runtime.doc.stages[last];
      // While an open stage is still being admitted, the newcomer is admitted with the rest.
      const open = stage.state === 'active' && runtime.admitFrom[last] < 0;
      const i = runtime.addMember(facts.endpoint, last, open ? 'pending' : 'planned', 0, facts);
      stage.size++;
      stage.joined++;
      runtime.doc.population++;
      if (open) runtime.queues[last].push(i);
      // The stored row is written as "planned" (pending is "planned in an open stage").
      runtime.revision[i] = 1;
      void this.track(
        this.store
          .setDeviceState(runtime.id, facts.endpoint, { phase: 'planned', updatedAt: this.clock.now(), data: runtime.deviceData(i) }, 0)
          .then(() => this.store.put(runtime.toCampaign(this.clock.now()))),
        (err) => this.logger.error({ err, campaign: runtime.id, ep: facts.endpoint }, 'could not store a joining device'),
      );
      return;
    }
  }

  private async cancelMembers(runtime: CampaignRuntime, reason: string): Promise<void> {
    const now = this.clock.now();
    const inflight: string[] = [];
    const writes: Array<Promise<void>> = [];
    const chunk = this.options.writeChunk ?? 256;
    for (let i = 0; i < runtime.size; i++) {
      const phase = runtime.phaseOf(i);
      if (FINAL_PHASES.has(phase)) continue;
      if (IN_FLIGHT_PHASES.has(phase)) inflight.push(runtime.endpoint(i));
      runtime.setReason(i, reason);
      this.release(runtime, i);
      writes.push(this.move(runtime, i, 'cancel', now));
      if (writes.length >= chunk) await Promise.all(writes.splice(0));
    }
    await Promise.all(writes);
    await Promise.all(inflight.map((ep) => this.driver.cancel(ep, reason).catch((err: unknown) => this.logger.warn({ ep, err: String(err) }, 'cancel failed'))));
  }

  // ───────────────────────────── creation ─────────────────────────────

  private population(spec: CampaignSpec): string[] {
    const match = targetMatcher(spec.target, spec.deviceType);
    const endpoints: string[] = [];
    for (const facts of this.options.inventory.list()) if (match(facts)) endpoints.push(facts.endpoint);
    return endpoints;
  }

  private async createNow(spec: CampaignSpec): Promise<CampaignRuntime> {
    await this.options.inventory.refresh?.();
    const population = this.population(spec);
    if (population.length === 0) throw new CampaignStateError('no registered device matches the target');
    const critical = spec.policy.severity === 'critical';
    const busy = population.filter((ep) => this.activeOwner(ep) !== undefined);
    if (busy.length > 0 && !critical) {
      throw new CampaignConflictError(
        `${busy.length} device(s) already belong to an active campaign (one active campaign per device): ${busy.slice(0, 20).join(', ')}${busy.length > 20 ? ', …' : ''}`,
        busy,
      );
    }
    if (critical) await this.preempt(busy);
    const stages = resolveStages(spec.plan, spec.gates, population.length, canarySize(spec.plan, population));
    const draw = drawStages(population, stages, spec.plan);
    const now = this.clock.now();
    const doc: CampaignDocument = {
      spec,
      population: draw.endpoints.length,
      stages: stages.map((s): StageRuntime => ({ ...s, state: 'planned', ack: { failed: 0, reverted: 0, finished: 0 }, joined: 0 })),
    };
    const runtime = new CampaignRuntime(`c-${randomBytes(6).toString('hex')}`, now, 'draft', doc, draw.endpoints.length);
    this.compile(runtime);
    // Stored as "creating" until every member row exists: a crash in between drops it at load.
    await this.store.put(runtime.toCampaign(now, 'creating'));
    const chunk = this.options.writeChunk ?? 256;
    for (let start = 0; start < draw.endpoints.length; start += chunk) {
      const writes: Array<Promise<unknown>> = [];
      for (let k = start; k < Math.min(draw.endpoints.length, start + chunk); k++) {
        const endpoint = draw.endpoints[k];
        runtime.addMember(endpoint, draw.stageOf[k], 'planned', 1, this.options.inventory.get(endpoint));
        // A new member has no details: its row is built here, not by deviceData(), so the row
        // objects of ticks come from allocation sites of their own (see writeChunk).
        writes.push(this.store.setDeviceState(runtime.id, endpoint, { phase: 'planned', updatedAt: now, data: { stage: draw.stageOf[k] } }, 0));
      }
      await Promise.all(writes);
    }
    await this.store.put(runtime.toCampaign(now, 'draft'));
    this.campaigns.set(runtime.id, runtime);
    this.refreshLive();
    await this.options.audit?.append({ at: now, actor: 'rollout', action: 'campaign.create', subject: runtime.id, detail: { firmwareId: spec.firmwareId, population: doc.population } }).catch(() => 0);
    this.events.emit({ type: 'campaign', campaignId: runtime.id, at: now, from: 'none', to: 'draft' });
    return runtime;
  }

  /** A critical campaign takes devices from normal ones: not started → skipped there; in flight → cancelled there. */
  private async preempt(endpoints: string[]): Promise<void> {
    const now = this.clock.now();
    for (const endpoint of endpoints) {
      const other = this.activeOwner(endpoint);
      if (!other) continue;
      const i = other.indexOf(endpoint)!;
      const phase = other.phaseOf(i);
      const reason = 'preempted by a critical campaign';
      other.setReason(i, reason);
      if (IN_FLIGHT_PHASES.has(phase)) {
        this.release(other, i);
        await this.move(other, i, 'cancel', now);
        await this.driver.cancel(endpoint, reason).catch(() => undefined);
      } else {
        await this.move(other, i, 'skip', now);
      }
    }
  }

  private compile(runtime: CampaignRuntime): void {
    const { spec } = runtime;
    this.compiled.set(runtime.id, {
      windows: (spec.limits.maintenanceWindows ?? []).map((cron) => parseCron(cron)),
      fromVersions: spec.policy.fromVersions ? parseVersionRange(spec.policy.fromVersions) : undefined,
      matcher: targetMatcher(spec.target, spec.deviceType),
    });
  }

  // ───────────────────────────── restart ─────────────────────────────

  private restoreMember(runtime: CampaignRuntime, row: DeviceRolloutState): void {
    const stage = typeof row.data.stage === 'number' ? row.data.stage : runtime.doc.stages.length - 1;
    const phase = row.phase as DevicePhase;
    const i = runtime.addMember(row.endpoint, stage, phase, row.revision, this.options.inventory.get(row.endpoint), row.data);
    if (phase === 'failed' && !runtime.isNoGate(i)) runtime.gateFailed[stage]++;
    if (runtime.isReverted(i)) runtime.reverted[stage]++;
    if (phase === 'transferring') runtime.resumedAt[i] = this.clock.now();
  }

  /** Devices in flight at the crash: align with what the driver and the device say. */
  private async reconcile(runtime: CampaignRuntime): Promise<void> {
    const now = this.clock.now();
    const { spec } = runtime;
    for (const i of [...runtime.inflight]) {
      const endpoint = runtime.endpoint(i);
      const phase = runtime.phaseOf(i);
      const known = await this.driver.status(endpoint, spec.firmwareId).catch(() => undefined);
      const reported = this.options.inventory.get(endpoint)?.version;
      if (FINAL_CAMPAIGN_STATES.has(runtime.state)) {
        // Aborted with the cancel still owed to the device.
        if (known && known.state !== 'none' && known.state !== 'succeeded' && known.state !== 'failed') await this.driver.cancel(endpoint, 'campaign aborted').catch(() => undefined);
        continue;
      }
      switch (known?.state ?? 'none') {
        case 'succeeded':
          this.onDriverEvent({ kind: 'succeeded', endpoint });
          break;
        case 'failed':
          this.fail(runtime, i, now, `after a restart: ${known?.reason ?? 'the delivery failed'}`, known?.reverted ?? false);
          break;
        case 'none':
          if (reported === spec.imageVersion) {
            this.onDriverEvent({ kind: 'succeeded', endpoint });
          } else if (phase === 'transferring' || phase === 'paused') {
            // The start was stored but never reached the device: it has nothing yet, start it now.
            if (phase === 'paused') await this.move(runtime, i, 'resume', now);
            runtime.resumedAt[i] = now;
            this.claim(runtime, i);
            await this.startDriver(runtime, i);
          } else {
            this.fail(runtime, i, now, 'after a restart the delivery could not be found and the device does not run the new version', false);
          }
          break;
        case 'downloaded':
          if (phase === 'transferring' || phase === 'paused') this.onDriverEvent({ kind: 'downloaded', endpoint });
          else if (phase === 'updating') await this.driver.releaseUpdate(endpoint).catch(() => undefined);
          break;
        case 'transferring':
          if (phase === 'paused') await this.driver.pause(endpoint).catch(() => undefined);
          else this.claim(runtime, i);
          break;
        case 'paused':
          if (phase === 'transferring') {
            this.claim(runtime, i);
            await this.driver.resume(endpoint).catch(() => undefined);
          }
          break;
        case 'updating':
          if (phase === 'transferring' || phase === 'paused') this.onDriverEvent({ kind: 'downloaded', endpoint });
          if (runtime.phaseOf(i) === 'downloaded') await this.move(runtime, i, 'execute', now);
          break;
      }
    }
  }

  // ───────────────────────────── helpers ─────────────────────────────

  private require(id: string): CampaignRuntime {
    const runtime = this.campaigns.get(id);
    if (!runtime) throw new CampaignNotFoundError(`no campaign "${id}"`);
    return runtime;
  }

  private command<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.commandChain.then(fn, fn);
    this.commandChain = run.catch(() => undefined);
    return run;
  }
}

/** Optional times and rates are NaN in the runtime's columns. */
function optionalTime(value: number): number | undefined {
  return Number.isNaN(value) ? undefined : value;
}
