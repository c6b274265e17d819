/**
 * A DeliveryDriver that moves bytes on the injected clock instead of a network: each
 * step, every unpaused transfer advances by min(its link rate, the rate the scheduler
 * allowed) × elapsed time. Used by the unit tests and the million-device benchmark
 * ("transfers simulated at the driver boundary"). It keeps each device's own record
 * (bytes received, completed downloads, bytes that arrived while the device was busy), so
 * tests check the scheduler against what the devices saw.
 */
import type { Clock, TimerHandle } from '../util/clock.js';
import type { DeliveryDriver, DriverEvent, DriverTransferStatus, TransferRequest } from './driver.js';
import { IndexSet } from './index-set.js';

export type SimulatedOutcome = { kind: 'success' } | { kind: 'fail'; reason: string } | { kind: 'revert' };

export interface SimulatedDriverOptions {
  clock: Clock;
  /** Bytes per second the device's link carries. */
  linkBytesPerSec: (endpoint: string) => number;
  /** How the install ends (default success). */
  outcome?: (endpoint: string) => SimulatedOutcome;
  /** Time from Update to the verdict (default 5 s). */
  installMs?: number;
  /** Advance transfers on a clock timer of this period (default 1000 ms); 0 = only through step(). */
  stepMs?: number;
  /** Asked for every byte delivered: was the device busy then? (counted in busyBytes). */
  isBusy?: (endpoint: string) => boolean;
  /** Emit progress events (default true; the benchmark turns them off). */
  progressEvents?: boolean;
  /** Keep each device's record and final status (default true; a million-device benchmark turns it off to spare memory). */
  keepRecords?: boolean;
  /**
   * Devices numbered by the caller (a generated fleet): slotOf gives each endpoint's number,
   * below count. No map from names to slots then: a map that grows to a million entries
   * rebuilds itself at every power of two, each time a long pause inside whatever tick started
   * the transfer that crossed the line.
   */
  numbered?: { count: number; slotOf: (endpoint: string) => number };
}

export interface DeviceRecord {
  bytesReceived: number;
  /** Whole images received (a second one would mean the image was delivered twice). */
  completedDownloads: number;
  installs: number;
  /** Bytes that arrived while the device said it was busy (must stay 0). */
  busyBytes: number;
  cancelled: number;
  /** Severity (/5/0/11) of the last transfer started. */
  severity?: number;
}

const NONE = 0;
const TRANSFERRING = 1;
const DOWNLOADED = 2;
const UPDATING = 3;
const STATE_NAMES = ['none', 'transferring', 'downloaded', 'updating'] as const;

export class SimulatedDriver implements DeliveryDriver {
  readonly capabilities = { pause: true, holdUpdate: true, rateLimit: true };
  readonly records = new Map<string, DeviceRecord>();
  /** Bytes moved per step (for bandwidth measurements). */
  totalBytes = 0;
  // Each device keeps one slot for good and its transfer lives in typed columns: a million
  // transfers leave no object behind for the garbage collector (the benchmark measures the
  // scheduler, not this stand-in for the network).
  private readonly slotOf = new Map<string, number>();
  private readonly endpointOf: string[] = [];
  private readonly imageOf: string[] = [];
  private state = new Uint8Array(1024);
  private paused = new Uint8Array(1024);
  private hold = new Uint8Array(1024);
  private bytes = new Float64Array(1024);
  private size = new Float64Array(1024);
  private rate = new Float64Array(1024);
  private installAt = new Float64Array(1024);
  private readonly active: IndexSet;
  private readonly installing: IndexSet;
  private readonly finished = new Map<string, DriverTransferStatus>();
  private readonly listeners = new Set<(event: DriverEvent) => void>();
  private lastStep: number;
  private timer: TimerHandle | undefined;

  constructor(private readonly options: SimulatedDriverOptions) {
    this.lastStep = options.clock.now();
    this.active = new IndexSet(options.numbered?.count);
    this.installing = new IndexSet(options.numbered?.count);
    if (options.numbered) {
      while (this.state.length < options.numbered.count) this.grow();
      this.endpointOf.length = 0;
      for (let n = 0; n < options.numbered.count; n++) this.endpointOf.push('');
      for (let n = 0; n < options.numbered.count; n++) this.imageOf.push('');
    }
    const stepMs = options.stepMs ?? 1000;
    if (stepMs > 0) this.arm(stepMs);
  }

  private arm(stepMs: number): void {
    this.timer = this.options.clock.setTimeout(() => {
      this.step();
      this.arm(stepMs);
    }, stepMs);
  }

  stop(): void {
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  get activeTransfers(): number {
    return this.active.size;
  }

  private readonly scratch: DeviceRecord = { bytesReceived: 0, completedDownloads: 0, installs: 0, busyBytes: 0, cancelled: 0 };

  record(endpoint: string): DeviceRecord {
    if (this.options.keepRecords === false) return this.scratch;
    let r = this.records.get(endpoint);
    if (!r) {
      r = { bytesReceived: 0, completedDownloads: 0, installs: 0, busyBytes: 0, cancelled: 0 };
      this.records.set(endpoint, r);
    }
    return r;
  }

  async start(request: TransferRequest): Promise<void> {
    const slot = this.slot(request.endpoint);
    if (this.state[slot] !== NONE) throw new Error(`${request.endpoint} already has a transfer`);
    this.finished.delete(request.endpoint);
    this.record(request.endpoint).severity = request.severity;
    this.imageOf[slot] = request.imageId;
    this.state[slot] = TRANSFERRING;
    this.paused[slot] = 0;
    this.hold[slot] = request.holdUpdate ? 1 : 0;
    this.bytes[slot] = 0;
    this.size[slot] = request.imageSize;
    this.rate[slot] = Infinity;
    this.active.add(slot);
  }

  async pause(endpoint: string): Promise<void> {
    const slot = this.find(endpoint);
    if (slot !== undefined && this.state[slot] !== NONE) this.paused[slot] = 1;
  }

  async resume(endpoint: string): Promise<void> {
    const slot = this.find(endpoint);
    if (slot !== undefined) this.paused[slot] = 0;
  }

  setRate(endpoint: string, bytesPerSec: number | undefined): void {
    const slot = this.find(endpoint);
    if (slot !== undefined && this.state[slot] !== NONE) this.rate[slot] = bytesPerSec ?? Infinity;
  }

  async releaseUpdate(endpoint: string): Promise<void> {
    const slot = this.find(endpoint);
    if (slot === undefined || this.state[slot] !== DOWNLOADED) return;
    this.beginInstall(slot);
  }

  async cancel(endpoint: string, reason: string): Promise<void> {
    const slot = this.find(endpoint);
    if (slot === undefined || this.state[slot] === NONE) return;
    this.end(slot);
    this.record(endpoint).cancelled++;
    this.finished.set(endpoint, { state: 'failed', bytes: this.bytes[slot], total: this.size[slot], reason });
  }

  async status(endpoint: string, imageId: string): Promise<DriverTransferStatus> {
    const slot = this.find(endpoint);
    if (slot !== undefined && this.state[slot] !== NONE && this.imageOf[slot] === imageId) {
      const state = this.state[slot] === TRANSFERRING && this.paused[slot] ? 'paused' : STATE_NAMES[this.state[slot]];
      return { state, bytes: this.bytes[slot], total: this.size[slot] };
    }
    return this.finished.get(endpoint) ?? { state: 'none', bytes: 0, total: 0 };
  }

  onEvent(listener: (event: DriverEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Moves every transfer forward to now. */
  step(): void {
    const now = this.options.clock.now();
    const dt = (now - this.lastStep) / 1000;
    this.lastStep = now;
    if (dt <= 0) return;
    const progress = this.options.progressEvents ?? true;
    const { active, installing } = this;
    for (let k = active.size - 1; k >= 0; k--) {
      if (k >= active.size) continue;
      const slot = active.at(k);
      if (this.state[slot] !== TRANSFERRING || this.paused[slot]) continue;
      const endpoint = this.endpointOf[slot];
      const imageSize = this.size[slot];
      const rate = Math.min(this.options.linkBytesPerSec(endpoint), this.rate[slot]);
      const moved = Math.min(imageSize - this.bytes[slot], Math.floor(rate * dt));
      if (moved <= 0) continue;
      this.bytes[slot] += moved;
      this.totalBytes += moved;
      const record = this.record(endpoint);
      record.bytesReceived += moved;
      if (this.options.isBusy?.(endpoint)) record.busyBytes += moved;
      if (progress) this.emit({ kind: 'progress', endpoint, bytes: this.bytes[slot], total: imageSize });
      if (this.bytes[slot] >= imageSize) {
        record.completedDownloads++;
        this.state[slot] = DOWNLOADED;
        this.emit({ kind: 'downloaded', endpoint });
        if (!this.hold[slot]) this.beginInstall(slot);
      }
    }
    for (let k = installing.size - 1; k >= 0; k--) {
      if (k >= installing.size) continue;
      const slot = installing.at(k);
      if (this.installAt[slot] > now) continue;
      this.finish(slot);
    }
  }

  private slot(endpoint: string): number {
    const { numbered } = this.options;
    if (numbered) {
      const n = numbered.slotOf(endpoint);
      if (!(n >= 0 && n < numbered.count)) throw new Error(`${endpoint} has no number below ${numbered.count}`);
      this.endpointOf[n] = endpoint;
      return n;
    }
    let slot = this.slotOf.get(endpoint);
    if (slot === undefined) {
      slot = this.endpointOf.length;
      this.endpointOf.push(endpoint);
      this.imageOf.push('');
      this.slotOf.set(endpoint, slot);
      if (slot === this.state.length) this.grow();
    }
    return slot;
  }

  /** The endpoint's slot if it has one. */
  private find(endpoint: string): number | undefined {
    const { numbered } = this.options;
    if (!numbered) return this.slotOf.get(endpoint);
    const n = numbered.slotOf(endpoint);
    return n >= 0 && n < numbered.count ? n : undefined;
  }

  private beginInstall(slot: number): void {
    this.state[slot] = UPDATING;
    this.installAt[slot] = this.options.clock.now() + (this.options.installMs ?? 5000);
    this.record(this.endpointOf[slot]).installs++;
    this.installing.add(slot);
  }

  private end(slot: number): void {
    // A numbered fleet keeps a name only while its transfer runs (no string per device for good).
    if (this.options.numbered) this.endpointOf[slot] = '';
    this.state[slot] = NONE;
    this.active.delete(slot);
    this.installing.delete(slot);
  }

  private finish(slot: number): void {
    const endpoint = this.endpointOf[slot];
    const imageSize = this.size[slot];
    this.end(slot);
    const outcome = this.options.outcome?.(endpoint) ?? SUCCESS;
    if (outcome.kind === 'success') {
      if (this.options.keepRecords !== false) this.finished.set(endpoint, { state: 'succeeded', bytes: imageSize, total: imageSize });
      this.emit({ kind: 'succeeded', endpoint });
    } else {
      const reverted = outcome.kind === 'revert';
      const reason = outcome.kind === 'fail' ? outcome.reason : 'the new image did not boot; the device reverted';
      this.finished.set(endpoint, { state: 'failed', bytes: imageSize, total: imageSize, reason, reverted });
      this.emit({ kind: 'failed', endpoint, reason, reverted });
    }
  }

  private grow(): void {
    const n = this.state.length * 2;
    const widen = <T extends Uint8Array | Float64Array>(old: T, next: T): T => {
      next.set(old);
      return next;
    };
    this.state = widen(this.state, new Uint8Array(n));
    this.paused = widen(this.paused, new Uint8Array(n));
    this.hold = widen(this.hold, new Uint8Array(n));
    this.bytes = widen(this.bytes, new Float64Array(n));
    this.size = widen(this.size, new Float64Array(n));
    this.rate = widen(this.rate, new Float64Array(n));
    this.installAt = widen(this.installAt, new Float64Array(n));
  }

  private emit(event: DriverEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}

const SUCCESS: SimulatedOutcome = { kind: 'success' };
