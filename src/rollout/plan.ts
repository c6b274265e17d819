/**
 * From a plan and a population to fixed stages: how many devices each stage takes, and
 * which devices (a seeded, reproducible random draw, fixed once made).
 */
import { seededRandom, shuffle } from './random.js';
import type { GateSpec, PlanSpec } from './spec.js';

export interface ResolvedStage {
  name: string;
  size: number;
  soakMs: number;
  gates: GateSpec;
  canary: boolean;
}

const CANARY_GATES: GateSpec = { maxFailureRate: 0, minFinished: 0, maxReverted: 0 };

/**
 * Stage sizes for a population of `population` devices. Percentages are of the whole
 * population (canary included), so the seeds' plan over 1,000,000 devices is exactly
 * 1,000 / 10,000 / 100,000 / 200,000 ×4 / 89,000. A stage never takes more than what is
 * left; "remaining" takes all of it.
 */
export function resolveStages(plan: PlanSpec, gates: GateSpec, population: number, canarySize: number): ResolvedStage[] {
  const stages: ResolvedStage[] = [];
  let left = population;
  if (plan.canary) {
    const size = Math.min(canarySize, left);
    stages.push({ name: 'canary', size, soakMs: plan.canary.soakMs, gates: CANARY_GATES, canary: true });
    left -= size;
  }
  for (const stage of plan.stages) {
    let wanted: number;
    if (stage.remaining) wanted = left;
    else if (stage.percent !== undefined) wanted = Math.round((population * stage.percent) / 100);
    else wanted = stage.count ?? 0;
    const size = Math.min(wanted, left);
    left -= size;
    stages.push({ name: stage.name, size, soakMs: stage.soakMs, gates: { ...gates, ...stage.gates }, canary: false });
  }
  return stages;
}

/** How many canary devices a plan takes from a population. */
export function canarySize(plan: PlanSpec, population: readonly string[]): number {
  if (!plan.canary) return 0;
  if (plan.canary.endpoints) {
    const members = new Set(population);
    return plan.canary.endpoints.filter((ep) => members.has(ep)).length;
  }
  return Math.min(plan.canary.count ?? 0, population.length);
}

export interface Draw {
  /** Members in draw order. */
  endpoints: string[];
  /** Stage index of each member (same order). */
  stageOf: number[];
}

/**
 * The draw: named canary devices first, then the population sorted and shuffled with the
 * plan's seed, cut into the stage sizes. Same population + seed = same draw.
 */
export function drawStages(population: readonly string[], stages: readonly ResolvedStage[], plan: PlanSpec): Draw {
  const named = new Set(plan.canary?.endpoints ?? []);
  const canaryFirst = plan.canary?.endpoints ? population.filter((ep) => named.has(ep)).sort() : [];
  const rest = shuffle(population.filter((ep) => !named.has(ep)).sort(), seededRandom(plan.seed));
  const ordered = [...canaryFirst, ...rest];
  const endpoints: string[] = [];
  const stageOf: number[] = [];
  let next = 0;
  stages.forEach((stage, index) => {
    for (let i = 0; i < stage.size && next < ordered.length; i++) {
      endpoints.push(ordered[next++]);
      stageOf.push(index);
    }
  });
  return { endpoints, stageOf };
}
