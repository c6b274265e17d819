/**
 * Many simulated devices in one process, started at a steady rate so the server sees a
 * ramp rather than a single burst, and stopped together (each deregisters).
 */
import { systemClock, type Clock } from '../src/util/clock.js';
import { silentLogger, type Logger } from '../src/util/logger.js';
import type { Lwm2mVersion } from './device/content.js';
import { SimulatedDevice, type QueueCycle } from './device/simulated-device.js';

export interface FleetOptions {
  serverUri: string;
  count: number;
  prefix: string;
  lifetimeSec?: number;
  lwm2mVersion?: Lwm2mVersion;
  queueMode?: boolean;
  queueCycle?: QueueCycle | false;
  /** Devices started per second (default 200). */
  startRatePerSec?: number;
  clock?: Clock;
  logger?: Logger;
}

export type FleetMilestone =
  | { msg: 'started'; devices: number; elapsedMs: number }
  | { msg: 'all registered'; count: number; elapsedMs: number }
  | { msg: 'stopped'; deregistered: number; elapsedMs: number };

const START_TICK_MS = 10;
const STOP_CONCURRENCY = 64;

export class Fleet {
  readonly devices: SimulatedDevice[] = [];
  private readonly registered = new Set<string>();
  private readonly clock: Clock;
  private readonly startedAt: number;
  private allRegisteredReported = false;
  private stopping = false;

  constructor(
    private readonly options: FleetOptions,
    private readonly onMilestone: (milestone: FleetMilestone) => void = () => {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.startedAt = this.clock.now();
  }

  get registeredCount(): number {
    return this.registered.size;
  }

  /** Creates and registers every device at the start rate; resolves once all are started. */
  async start(): Promise<void> {
    const rate = Math.max(1, this.options.startRatePerSec ?? 200);
    const width = String(this.options.count - 1).length;
    let launched = 0;
    let credit = 0;
    while (launched < this.options.count && !this.stopping) {
      credit += (rate * START_TICK_MS) / 1000;
      const batch = Math.min(this.options.count - launched, Math.floor(credit));
      credit -= batch;
      const starting: Promise<void>[] = [];
      for (let i = 0; i < batch; i++) starting.push(this.launch(this.options.prefix + String(launched++).padStart(width, '0')));
      await Promise.all(starting);
      if (launched < this.options.count) await this.sleep(START_TICK_MS);
    }
    this.onMilestone({ msg: 'started', devices: this.devices.length, elapsedMs: this.elapsed() });
  }

  /** Stops every device (deregistering the registered ones), a bounded number at a time. */
  async stop(): Promise<void> {
    this.stopping = true;
    const wasRegistered = this.devices.filter((d) => d.state === 'registered' || d.state === 'sleeping').length;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < this.devices.length) await this.devices[next++].stop().catch(() => {});
    };
    await Promise.all(Array.from({ length: STOP_CONCURRENCY }, worker));
    this.onMilestone({ msg: 'stopped', deregistered: wasRegistered, elapsedMs: this.elapsed() });
  }

  private async launch(endpointName: string): Promise<void> {
    const device = new SimulatedDevice({
      endpointName,
      serverUri: this.options.serverUri,
      lifetimeSec: this.options.lifetimeSec,
      lwm2mVersion: this.options.lwm2mVersion,
      queueMode: this.options.queueMode,
      queueCycle: this.options.queueCycle,
      clock: this.clock,
      logger: this.options.logger ?? silentLogger,
    });
    this.devices.push(device);
    device.on('registered', () => {
      this.registered.add(endpointName);
      if (!this.allRegisteredReported && this.registered.size === this.options.count) {
        this.allRegisteredReported = true;
        this.onMilestone({ msg: 'all registered', count: this.registered.size, elapsedMs: this.elapsed() });
      }
    });
    await device.start();
    // A failed registration is retried by the device itself; nothing to wait for here.
    void device.register().catch(() => {});
  }

  private elapsed(): number {
    return this.clock.now() - this.startedAt;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.setTimeout(resolve, ms));
  }
}
