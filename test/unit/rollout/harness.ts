/** A scheduler over a simulated fleet: real scheduler, real store, simulated transfers on a manual clock. */
import { ManualClock } from '../../../src/util/clock.js';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import type { Store } from '../../../src/store/types.js';
import { RolloutScheduler, type RolloutSchedulerOptions } from '../../../src/rollout/scheduler.js';
import { SimulatedDriver, type SimulatedDriverOptions } from '../../../src/rollout/simulated-driver.js';
import { MemoryInventory, type DeviceFacts } from '../../../src/rollout/population.js';
import { MemoryDiscretion } from '../../../src/rollout/memory-discretion.js';
import { parseCampaignInput, type CampaignSpec } from '../../../src/rollout/spec.js';

export const IMAGE = { id: 'img-2', version: '2.0.0', sizeBytes: 20_000, deviceType: 'sensor' };

export interface Harness {
  clock: ManualClock;
  store: Store;
  inventory: MemoryInventory;
  discretion: MemoryDiscretion;
  driver: SimulatedDriver;
  scheduler: RolloutScheduler;
  /** Runs the scheduler for `ms` of clock time in steps of `stepMs`. */
  run(ms: number, stepMs?: number, until?: () => boolean): Promise<void>;
  spec(input?: Record<string, unknown>, image?: Partial<typeof IMAGE>): CampaignSpec;
}

export interface HarnessOptions {
  devices?: number;
  facts?: (i: number) => Partial<DeviceFacts>;
  driver?: Partial<SimulatedDriverOptions>;
  scheduler?: Partial<RolloutSchedulerOptions>;
  store?: Store;
  clock?: ManualClock;
  inventory?: MemoryInventory;
}

export const endpointName = (i: number): string => `dev-${String(i).padStart(5, '0')}`;

export function harness(options: HarnessOptions = {}): Harness {
  const clock = options.clock ?? new ManualClock(Date.UTC(2026, 0, 5, 0, 0, 0));
  const store = options.store ?? new MemoryStore();
  const inventory = options.inventory ?? new MemoryInventory();
  if (!options.inventory) {
    for (let i = 0; i < (options.devices ?? 100); i++) {
      inventory.put({ endpoint: endpointName(i), deviceType: 'sensor', version: '1.0.0', ...options.facts?.(i) });
    }
  }
  const discretion = new MemoryDiscretion();
  const driver = new SimulatedDriver({ clock, linkBytesPerSec: () => 10_000, stepMs: 0, installMs: 5_000, ...options.driver });
  const scheduler = new RolloutScheduler({
    store: store.campaigns,
    audit: store.audit,
    driver,
    inventory,
    discretion,
    clock,
    tickMs: 1000,
    defaultThroughputBytesPerSec: 10_000,
    ...options.scheduler,
  });
  return {
    clock,
    store,
    inventory,
    discretion,
    driver,
    scheduler,
    async run(ms, stepMs = 1000, until) {
      const end = clock.now() + ms;
      while (clock.now() < end) {
        clock.advance(Math.min(stepMs, end - clock.now()));
        driver.step();
        await scheduler.tick();
        if (until?.()) break;
      }
      await scheduler.flush();
    },
    spec(input = {}, image = {}) {
      return parseCampaignInput({ ...input }, { ...IMAGE, ...image }, 42);
    },
  };
}

export const DAY = 24 * 60 * 60_000;
