/**
 * The seeds' 8-stage plan over 1,000,000 devices in accelerated time: the real scheduler,
 * devices from a lightweight generator (facts and a busy/idle status computed per device),
 * transfers simulated at the driver boundary (SimulatedDriver), and a lean in-memory
 * campaign store (no copies; the SQLite store is measured by the store benchmarks). The
 * stand-ins keep per-device data in typed columns, so the heap the GC marks is the
 * scheduler's own. Reports wall time for the whole plan, scheduler cost per tick (every
 * tick timed; the slowest listed with what they did and the GC pauses inside them) and
 * memory. Goals: the plan completes in under 10 minutes of wall time, each tick under 50 ms.
 */
import { PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import type { Campaign, CampaignStore, DeviceRolloutState, DeviceRolloutWrite } from '../../src/store/types.js';
import { ManualClock } from '../../src/util/clock.js';
import { RolloutScheduler } from '../../src/rollout/scheduler.js';
import { SimulatedDriver } from '../../src/rollout/simulated-driver.js';
import type { DeviceFacts, DeviceInventory } from '../../src/rollout/population.js';
import type { DiscretionSource, DiscretionStatus } from '../../src/rollout/discretion.js';
import { parseCampaignInput } from '../../src/rollout/spec.js';

export interface RolloutBenchOptions {
  devices?: number;
  /** Simulated time per tick (default 5 s). */
  tickMs?: number;
  /** Starts per tick: small batches keep every tick short (default 500). */
  maxStartsPerTick?: number;
  maxConcurrent?: number;
  imageBytes?: number;
  /** Progress lines on stderr. */
  verbose?: boolean;
  /**
   * Let the event loop turn once between ticks, as it does in the server, where ticks come
   * from a timer: the GC's own tasks may then run between ticks. Default false: ticks run
   * back to back, so every bit of the GC's main-thread work lands inside some tick (stricter).
   */
  yieldBetweenTicks?: boolean;
}

export interface RolloutBenchResult {
  devices: number;
  stageSizes: number[];
  wallSeconds: number;
  simulatedDays: number;
  ticks: number;
  tickP50Ms: number;
  tickP99Ms: number;
  tickMaxMs: number;
  createSeconds: number;
  heapUsedMB: number;
  rssMB: number;
  /** Largest heap seen (sampled between ticks, every 256 ticks and at the end). */
  peakHeapUsedMB: number;
  succeeded: number;
  /** The slowest ticks, slowest first, with what they did and the GC pauses inside them. */
  slowestTicks: SlowTick[];
  goalsMet: boolean;
}

export interface SlowTick {
  tick: number;
  ms: number;
  /** Wall time since the plan started (ms). */
  atMs: number;
  started: number;
  examined: number;
  inflight: number;
  /** First letter of each stage's state (planned, active, soaking, passed, halted). */
  stages: string;
  /**
   * CPU time the process used during the tick (all its threads, GC helpers included): far
   * below `ms`, the tick waited for a CPU (the machine is shared), it did not work that long.
   */
  cpuMs: number;
  /** GC pauses that overlapped the tick: total ms and kinds (minor, major, incremental, weak). */
  gcMs: number;
  gc: string;
}

const SLOW_KEPT = 12;
const GC_KINDS: Record<number, string> = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weak' };

const DAY = 24 * 60 * 60_000;
const PHASE_NAMES: string[] = [];
const PHASE_IDS = new Map<string, number>();

/** Device n of the generated fleet is "d<n>"; its number is read back from the name (no map). */
function deviceNumber(endpoint: string): number | undefined {
  if (endpoint.length < 2 || endpoint.charCodeAt(0) !== 100 /* d */) return undefined;
  let n = 0;
  for (let k = 1; k < endpoint.length; k++) {
    const digit = endpoint.charCodeAt(k) - 48;
    if (digit < 0 || digit > 9) return undefined;
    n = n * 10 + digit;
  }
  return n;
}

/**
 * The fleet as a lightweight generator: device n is "d<n>", a tracker running 1.0.0. Facts
 * are made when asked, not kept: a million fact objects in the heap would be marked by every
 * major GC and blamed on the scheduler's ticks (the live server's registrations are the
 * registration store's business, measured by its own benchmark).
 */
class GeneratedFleet implements DeviceInventory {
  constructor(readonly size: number) {}
  *list(): Iterable<DeviceFacts> {
    for (let n = 0; n < this.size; n++) yield { endpoint: `d${n}`, deviceType: 'tracker', version: '1.0.0' };
  }
  get(endpoint: string): DeviceFacts | undefined {
    const n = deviceNumber(endpoint);
    return n !== undefined && n < this.size ? { endpoint, deviceType: 'tracker', version: '1.0.0' } : undefined;
  }
  onAdded(): () => void {
    return () => undefined;
  }
}

/**
 * Rows kept as compact records (typed columns by device number), no copies: the benchmark
 * measures the scheduler, not structuredClone, and a stand-in store must not fill the heap
 * with a million row objects either. Rows are built when read (listing happens only after a
 * restart). The SQLite store is measured by the store benchmarks.
 */
class LeanCampaignStore implements CampaignStore {
  private readonly campaigns = new Map<string, Campaign>();
  private readonly rows = new Map<string, RowColumns>();

  constructor(private readonly devices: number) {}

  async put(campaign: Campaign): Promise<void> {
    this.campaigns.set(campaign.id, campaign);
  }
  async get(id: string): Promise<Campaign | undefined> {
    return this.campaigns.get(id);
  }
  async list(): Promise<Campaign[]> {
    return [...this.campaigns.values()];
  }
  async remove(id: string): Promise<boolean> {
    this.rows.delete(id);
    return this.campaigns.delete(id);
  }
  async getDeviceState(campaignId: string, endpoint: string): Promise<DeviceRolloutState | undefined> {
    const rows = this.rows.get(campaignId);
    const n = deviceNumber(endpoint);
    return rows && n !== undefined && n < this.devices && rows.revision[n] > 0 ? rows.read(campaignId, n) : undefined;
  }
  async listDeviceStates(campaignId: string): Promise<DeviceRolloutState[]> {
    const rows = this.rows.get(campaignId);
    const states: DeviceRolloutState[] = [];
    for (let n = 0; rows && n < this.devices; n++) if (rows.revision[n] > 0) states.push(rows.read(campaignId, n));
    return states;
  }
  async setDeviceState(campaignId: string, endpoint: string, state: DeviceRolloutWrite, expectedRevision: number): Promise<DeviceRolloutState | undefined> {
    const n = deviceNumber(endpoint);
    if (n === undefined || n >= this.devices) throw new Error(`${endpoint} is not a device of the generated fleet`);
    let rows = this.rows.get(campaignId);
    if (!rows) this.rows.set(campaignId, (rows = new RowColumns(this.devices)));
    if (rows.revision[n] !== expectedRevision) return undefined;
    let phase = PHASE_IDS.get(state.phase);
    if (phase === undefined) PHASE_IDS.set(state.phase, (phase = PHASE_NAMES.push(state.phase) - 1));
    // Only what a restart of the benchmark needs (phase, revision, stage).
    rows.phase[n] = phase;
    rows.stage[n] = typeof state.data.stage === 'number' ? state.data.stage : 0;
    rows.revision[n] = expectedRevision + 1;
    rows.updatedAt[n] = state.updatedAt;
    return rows.read(campaignId, n);
  }
}

class RowColumns {
  readonly phase: Uint8Array;
  readonly stage: Uint16Array;
  /** 0 = no row. */
  readonly revision: Uint32Array;
  readonly updatedAt: Float64Array;
  constructor(size: number) {
    this.phase = new Uint8Array(size);
    this.stage = new Uint16Array(size);
    this.revision = new Uint32Array(size);
    this.updatedAt = new Float64Array(size);
  }
  read(campaignId: string, n: number): DeviceRolloutState {
    return { campaignId, endpoint: `d${n}`, phase: PHASE_NAMES[this.phase[n]], updatedAt: this.updatedAt[n], data: { stage: this.stage[n] }, revision: this.revision[n] };
  }
}

/** One device in ten is in a busy spell (driving) 20 minutes of every two hours; computed, not stored. */
function computedDiscretion(clock: ManualClock): DiscretionSource {
  const idle: DiscretionStatus = { idle: true };
  return {
    get(endpoint) {
      const n = hash(endpoint);
      if (n % 10 !== 0) return idle;
      const phase = (clock.now() + n * 7919) % (2 * 3600_000);
      return phase < 20 * 60_000 ? { idle: false, busyReason: 'driving' } : { idle: true, idleUntil: clock.now() + (2 * 3600_000 - phase) };
    },
  };
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

export async function runRolloutBench(options: RolloutBenchOptions = {}): Promise<RolloutBenchResult> {
  const devices = options.devices ?? 1_000_000;
  const tickMs = options.tickMs ?? 5_000;
  const yieldBetweenTicks = options.yieldBetweenTicks ?? false;
  const log = (line: string): void => {
    if (options.verbose) process.stderr.write(`[rollout-bench] ${line}\n`);
  };
  const clock = new ManualClock(Date.UTC(2026, 0, 5));
  const inventory = new GeneratedFleet(devices);
  const driver = new SimulatedDriver({
    clock,
    linkBytesPerSec: (ep) => 20_000 + (hash(ep) % 60_000),
    stepMs: 0,
    installMs: 60_000,
    progressEvents: false,
    keepRecords: false,
    numbered: { count: devices, slotOf: (endpoint) => deviceNumber(endpoint) ?? -1 },
  });
  const scheduler = new RolloutScheduler({
    store: new LeanCampaignStore(devices),
    driver,
    inventory,
    discretion: computedDiscretion(clock),
    clock,
    tickMs,
    limits: { maxConcurrent: options.maxConcurrent ?? 20_000 },
    maxExaminedPerTick: 2000,
    maxStartsPerTick: options.maxStartsPerTick ?? 500,
    defaultThroughputBytesPerSec: 40_000,
  });
  const spec = parseCampaignInput({ firmwareId: 'bench' }, { id: 'bench', version: '2.0.0', sizeBytes: options.imageBytes ?? 512 * 1024, deviceType: 'tracker' }, 2026);

  const began = performance.now();
  const campaign = await scheduler.create(spec);
  const createSeconds = (performance.now() - began) / 1000;
  log(`created: ${campaign.doc.stages.map((s) => s.size).join(' / ')} in ${createSeconds.toFixed(1)} s`);
  await scheduler.startCampaign(campaign.id);

  // GC pauses are delivered after the fact with their start times, and matched to the slow
  // ticks once the run is over.
  const gcPauses: PerformanceEntry[] = [];
  const gcObserver = new PerformanceObserver((list) => gcPauses.push(...list.getEntries()));
  gcObserver.observe({ entryTypes: ['gc'] });
  // Every tick is timed and counted; the maximum is over the whole run.
  const durations: number[] = [];
  const slowest: SlowTick[] = [];
  let peakHeap = 0;
  const planBegan = performance.now();
  const startedAt = clock.now();
  let lastLog = 0;
  while (campaign.state === 'running' && clock.now() - startedAt < 20 * DAY) {
    if (yieldBetweenTicks) await new Promise<void>((resolve) => setImmediate(resolve));
    clock.advance(tickMs);
    // The simulated network moves first; only the scheduler's tick is timed.
    driver.step();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const stats = await scheduler.tick();
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    durations.push(ms);
    if (slowest.length < SLOW_KEPT || ms > slowest[slowest.length - 1].ms) {
      const entry: SlowTick = {
        tick: durations.length,
        ms,
        atMs: t0 - planBegan,
        started: stats.startedTransfers,
        examined: stats.examined,
        inflight: campaign.inflight.size,
        stages: campaign.doc.stages.map((s) => s.state[0]).join(''),
        cpuMs: (cpu.user + cpu.system) / 1000,
        gcMs: 0,
        gc: '',
      };
      slowest.push(entry);
      slowest.sort((a, b) => b.ms - a.ms);
      if (slowest.length > SLOW_KEPT) slowest.pop();
    }
    if (durations.length % 256 === 0) peakHeap = Math.max(peakHeap, getHeapStatistics().used_heap_size);
    if (options.verbose && performance.now() - lastLog > 5000) {
      lastLog = performance.now();
      const active = campaign.doc.stages.findIndex((s) => s.state === 'active' || s.state === 'soaking');
      log(`day ${((clock.now() - startedAt) / DAY).toFixed(2)}: stage ${active} ${campaign.doc.stages[active]?.state ?? '-'}, in flight ${campaign.inflight.size}`);
    }
  }
  const wallSeconds = (performance.now() - began) / 1000;
  await scheduler.close();
  await new Promise((resolve) => setTimeout(resolve, 20));
  gcObserver.disconnect();
  for (const tick of slowest) {
    const from = planBegan + tick.atMs;
    const to = from + tick.ms;
    const inside = gcPauses.filter((gc) => gc.startTime < to && gc.startTime + gc.duration > from);
    tick.gcMs = round(inside.reduce((sum, gc) => sum + gc.duration, 0));
    tick.gc = inside.map((gc) => `${GC_KINDS[(gc as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0] ?? '?'} ${gc.duration.toFixed(1)}`).join(', ');
    tick.ms = round(tick.ms);
    tick.cpuMs = round(tick.cpuMs);
    tick.atMs = Math.round(tick.atMs);
  }
  durations.sort((a, b) => a - b);
  const at = (q: number): number => durations[Math.min(durations.length - 1, Math.floor(q * durations.length))] ?? 0;
  const memory = process.memoryUsage();
  peakHeap = Math.max(peakHeap, memory.heapUsed);
  const succeeded = campaign.doc.stages.reduce((sum, _stage, s) => sum + campaign.count(s, 'succeeded'), 0);
  const result: RolloutBenchResult = {
    devices,
    stageSizes: campaign.doc.stages.map((s) => s.size),
    wallSeconds: round(wallSeconds),
    simulatedDays: round((clock.now() - startedAt) / DAY),
    ticks: durations.length,
    tickP50Ms: round(at(0.5)),
    tickP99Ms: round(at(0.99)),
    tickMaxMs: round(durations.at(-1) ?? 0),
    createSeconds: round(createSeconds),
    heapUsedMB: Math.round(memory.heapUsed / 1048576),
    rssMB: Math.round(memory.rss / 1048576),
    peakHeapUsedMB: Math.round(peakHeap / 1048576),
    succeeded,
    slowestTicks: slowest,
    goalsMet: campaign.state === 'completed' && wallSeconds < 600 && (durations.at(-1) ?? 0) < 50,
  };
  log(JSON.stringify(result));
  return result;
}

const round = (n: number): number => Math.round(n * 100) / 100;

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const devices = Number(process.argv[2] ?? 1_000_000);
  runRolloutBench({ devices, verbose: true, yieldBetweenTicks: process.argv.includes('--yield') }).then(
    (result) => process.stdout.write(`${JSON.stringify(result, null, 2)}\n`),
    (err: unknown) => {
      process.stderr.write(`${String(err)}\n`);
      process.exit(1);
    },
  );
}
