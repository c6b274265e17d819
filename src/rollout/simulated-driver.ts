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

interface Transfer {
  request: TransferRequest;
  bytes: number;
  phase: 'transferring' | 'downloaded' | 'updating';
  paused: boolean;
  rate: number | undefined;
  installAt: number;
}

export class SimulatedDriver implements DeliveryDriver {
  readonly capabilities = { pause: true, holdUpdate: true, rateLimit: true };
  readonly records = new Map<string, DeviceRecord>();
  /** Bytes moved per step (for bandwidth measurements). */
  totalBytes = 0;
  private readonly transfers = new Map<string, Transfer>();
  private readonly finished = new Map<string, DriverTransferStatus>();
  private readonly listeners = new Set<(event: DriverEvent) => void>();
  private lastStep: number;
  private timer: TimerHandle | undefined;
  private readonly installing = new Set<Transfer>();

  constructor(private readonly options: SimulatedDriverOptions) {
    this.lastStep = options.clock.now();
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
    return this.transfers.size;
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
    if (this.transfers.has(request.endpoint)) throw new Error(`${request.endpoint} already has a transfer`);
    this.finished.delete(request.endpoint);
    this.record(request.endpoint).severity = request.severity;
    this.transfers.set(request.endpoint, { request, bytes: 0, phase: 'transferring', paused: false, rate: undefined, installAt: 0 });
  }

  async pause(endpoint: string): Promise<void> {
    const t = this.transfers.get(endpoint);
    if (t) t.paused = true;
  }

  async resume(endpoint: string): Promise<void> {
    const t = this.transfers.get(endpoint);
    if (t) t.paused = false;
  }

  setRate(endpoint: string, bytesPerSec: number | undefined): void {
    const t = this.transfers.get(endpoint);
    if (t) t.rate = bytesPerSec;
  }

  async releaseUpdate(endpoint: string): Promise<void> {
    const t = this.transfers.get(endpoint);
    if (!t || t.phase !== 'downloaded') return;
    this.beginInstall(t);
  }

  async cancel(endpoint: string, reason: string): Promise<void> {
    const t = this.transfers.get(endpoint);
    if (!t) return;
    this.transfers.delete(endpoint);
    this.installing.delete(t);
    this.record(endpoint).cancelled++;
    this.finished.set(endpoint, { state: 'failed', bytes: t.bytes, total: t.request.imageSize, reason });
  }

  async status(endpoint: string, imageId: string): Promise<DriverTransferStatus> {
    const t = this.transfers.get(endpoint);
    if (t && t.request.imageId === imageId) {
      return { state: t.phase === 'transferring' && t.paused ? 'paused' : t.phase, bytes: t.bytes, total: t.request.imageSize };
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
    for (const t of this.transfers.values()) {
      if (t.phase !== 'transferring' || t.paused) continue;
      const { endpoint, imageSize } = t.request;
      const rate = Math.min(this.options.linkBytesPerSec(endpoint), t.rate ?? Infinity);
      const moved = Math.min(imageSize - t.bytes, Math.floor(rate * dt));
      if (moved <= 0) continue;
      t.bytes += moved;
      this.totalBytes += moved;
      const record = this.record(endpoint);
      record.bytesReceived += moved;
      if (this.options.isBusy?.(endpoint)) record.busyBytes += moved;
      if (progress) this.emit({ kind: 'progress', endpoint, bytes: t.bytes, total: imageSize });
      if (t.bytes >= imageSize) {
        record.completedDownloads++;
        t.phase = 'downloaded';
        this.emit({ kind: 'downloaded', endpoint });
        if (!t.request.holdUpdate) this.beginInstall(t);
      }
    }
    // Deleting the current entry while iterating a Set is safe.
    for (const t of this.installing) {
      if (t.installAt > now) continue;
      this.installing.delete(t);
      this.finish(t);
    }
  }

  private beginInstall(t: Transfer): void {
    t.phase = 'updating';
    t.installAt = this.options.clock.now() + (this.options.installMs ?? 5000);
    this.record(t.request.endpoint).installs++;
    this.installing.add(t);
  }

  private finish(t: Transfer): void {
    const { endpoint, imageSize } = t.request;
    this.transfers.delete(endpoint);
    const outcome = this.options.outcome?.(endpoint) ?? { kind: 'success' };
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

  private emit(event: DriverEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}
