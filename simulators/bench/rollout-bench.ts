/**
 * The seeds' 8-stage plan over 1,000,000 devices in accelerated time: the real scheduler,
 * devices registered in-process (an inventory and a computed busy/idle status per
 * device), transfers simulated at the driver boundary (SimulatedDriver), and a lean
 * in-memory campaign store (no copies; the SQLite store is measured by the store
 * benchmarks). Reports wall time for the whole plan, scheduler cost per tick and memory.
 * Goals: the plan completes in under 10 minutes of wall time, each tick under 50 ms.
 */
import { pathToFileURL } from 'node:url';
import type { Campaign, CampaignStore, DeviceRolloutState, DeviceRolloutWrite } from '../../src/store/types.js';
import { ManualClock } from '../../src/util/clock.js';
import { RolloutScheduler } from '../../src/rollout/scheduler.js';
import { SimulatedDriver } from '../../src/rollout/simulated-driver.js';
import { MemoryInventory } from '../../src/rollout/population.js';
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
  succeeded: number;
  goalsMet: boolean;
}

const DAY = 24 * 60 * 60_000;
const STAGE_DATA: Array<{ stage: number }> = [];

/** Keeps rows by reference: the benchmark measures the scheduler, not structuredClone. */
class LeanCampaignStore implements CampaignStore {
  private readonly campaigns = new Map<string, Campaign>();
  private readonly states = new Map<string, Map<string, DeviceRolloutState>>();

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
    this.states.delete(id);
    return this.campaigns.delete(id);
  }
  async getDeviceState(campaignId: string, endpoint: string): Promise<DeviceRolloutState | undefined> {
    return this.states.get(campaignId)?.get(endpoint);
  }
  async listDeviceStates(campaignId: string): Promise<DeviceRolloutState[]> {
    return [...(this.states.get(campaignId)?.values() ?? [])];
  }
  async setDeviceState(campaignId: string, endpoint: string, state: DeviceRolloutWrite, expectedRevision: number): Promise<DeviceRolloutState | undefined> {
    let rows = this.states.get(campaignId);
    if (!rows) this.states.set(campaignId, (rows = new Map()));
    const current = rows.get(endpoint);
    if ((current?.revision ?? 0) !== expectedRevision) return undefined;
    // Only what a restart needs (phase, revision, stage), one shared data object per stage, rows
    // updated in place: few allocations, so the young-generation GC stays short with a million rows.
    const stage = typeof state.data.stage === 'number' ? state.data.stage : 0;
    const data = (STAGE_DATA[stage] ??= { stage });
    if (current) {
      current.phase = state.phase;
      current.updatedAt = state.updatedAt;
      current.data = data;
      current.revision = expectedRevision + 1;
      return current;
    }
    const next = { campaignId, endpoint, phase: state.phase, updatedAt: state.updatedAt, data, revision: 1 };
    rows.set(endpoint, next);
    return next;
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
  const log = (line: string): void => {
    if (options.verbose) process.stderr.write(`[rollout-bench] ${line}\n`);
  };
  const clock = new ManualClock(Date.UTC(2026, 0, 5));
  const inventory = new MemoryInventory();
  for (let i = 0; i < devices; i++) inventory.put({ endpoint: `d${i}`, deviceType: 'tracker', version: '1.0.0' });
  const driver = new SimulatedDriver({ clock, linkBytesPerSec: (ep) => 20_000 + (hash(ep) % 60_000), stepMs: 0, installMs: 60_000, progressEvents: false, keepRecords: false });
  const scheduler = new RolloutScheduler({
    store: new LeanCampaignStore(),
    driver,
    inventory,
    discretion: computedDiscretion(clock),
    clock,
    tickMs,
    limits: { maxConcurrent: options.maxConcurrent ?? 20_000 },
    maxExaminedPerTick: 2000,
    maxStartsPerTick: options.maxStartsPerTick ?? 500,
    defaultThroughputBytesPerSec: 40_000,
    writeChunk: 10_000,
    compactFinished: true,
  });
  const spec = parseCampaignInput({ firmwareId: 'bench' }, { id: 'bench', version: '2.0.0', sizeBytes: options.imageBytes ?? 512 * 1024, deviceType: 'tracker' }, 2026);

  const began = performance.now();
  const campaign = await scheduler.create(spec);
  const createSeconds = (performance.now() - began) / 1000;
  log(`created: ${campaign.doc.stages.map((s) => s.size).join(' / ')} in ${createSeconds.toFixed(1)} s`);
  await scheduler.startCampaign(campaign.id);

  const durations: number[] = [];
  const startedAt = clock.now();
  let lastLog = 0;
  while (campaign.state === 'running' && clock.now() - startedAt < 20 * DAY) {
    clock.advance(tickMs);
    // The simulated network moves first; only the scheduler's tick is timed.
    driver.step();
    const t0 = performance.now();
    await scheduler.tick();
    durations.push(performance.now() - t0);
    if (process.env.SLOW_TICKS && durations[durations.length - 1] > 20) process.stderr.write(`slow tick ${durations.length}: ${durations[durations.length - 1].toFixed(1)} ms, inflight ${campaign.inflight.size}, stages ${campaign.doc.stages.map((s) => s.state[0]).join("")}\n`);
    if (options.verbose && performance.now() - lastLog > 5000) {
      lastLog = performance.now();
      const active = campaign.doc.stages.findIndex((s) => s.state === 'active' || s.state === 'soaking');
      log(`day ${((clock.now() - startedAt) / DAY).toFixed(2)}: stage ${active} ${campaign.doc.stages[active]?.state ?? '-'}, in flight ${campaign.inflight.size}`);
    }
  }
  const wallSeconds = (performance.now() - began) / 1000;
  await scheduler.close();
  durations.sort((a, b) => a - b);
  const at = (q: number): number => durations[Math.min(durations.length - 1, Math.floor(q * durations.length))] ?? 0;
  const memory = process.memoryUsage();
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
    succeeded,
    goalsMet: campaign.state === 'completed' && wallSeconds < 600 && (durations.at(-1) ?? 0) < 50,
  };
  log(JSON.stringify(result));
  return result;
}

const round = (n: number): number => Math.round(n * 100) / 100;

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const devices = Number(process.argv[2] ?? 1_000_000);
  runRolloutBench({ devices, verbose: true }).then(
    (result) => process.stdout.write(`${JSON.stringify(result, null, 2)}\n`),
    (err: unknown) => {
      process.stderr.write(`${String(err)}\n`);
      process.exit(1);
    },
  );
}
