import { describe, expect, it } from 'vitest';
import { canarySize, drawStages, resolveStages } from '../../../src/rollout/plan.js';
import { CampaignValidationError, DEFAULT_GATES, defaultStages, parseCampaignInput } from '../../../src/rollout/spec.js';
import { IMAGE } from './harness.js';

const seedsPlan = { stages: defaultStages(), seed: 7 };

describe('stage sizes', () => {
  it('the seeds table over 1,000,000 devices is exactly 1,000 / 10,000 / 100,000 / 200,000 x4 / 89,000', () => {
    const sizes = resolveStages(seedsPlan, DEFAULT_GATES, 1_000_000, 0).map((s) => s.size);
    expect(sizes).toEqual([1000, 10_000, 100_000, 200_000, 200_000, 200_000, 200_000, 89_000]);
  });

  it('percentages count the canary in the population; the rest goes to the last stage', () => {
    const plan = { ...seedsPlan, canary: { count: 5, soakMs: 0 } };
    const stages = resolveStages(plan, DEFAULT_GATES, 1000, 5);
    expect(stages.map((s) => [s.name, s.size])).toEqual([
      ['canary', 5], ['day 1', 1], ['day 2', 10], ['day 3', 100], ['day 4', 200], ['day 5', 200], ['day 6', 200], ['day 7', 200], ['day 8', 84],
    ]);
    expect(stages[0].gates).toEqual({ maxFailureRate: 0, minFinished: 0, maxReverted: 0 });
  });

  it('absolute counts never take more than what is left', () => {
    const plan = { stages: [{ name: 'a', count: 30, soakMs: 0 }, { name: 'b', count: 30, soakMs: 0 }], seed: 1 };
    expect(resolveStages(plan, DEFAULT_GATES, 50, 0).map((s) => s.size)).toEqual([30, 20]);
  });

  it('named canary devices count only when they are in the population', () => {
    const plan = { ...seedsPlan, canary: { endpoints: ['a', 'zz'], soakMs: 0 } };
    expect(canarySize(plan, ['a', 'b', 'c'])).toBe(1);
  });
});

describe('the draw', () => {
  const population = Array.from({ length: 500 }, (_, i) => `ep-${i}`);

  it('is reproducible from the seed, whatever order the population comes in', () => {
    const stages = resolveStages(seedsPlan, DEFAULT_GATES, 500, 0);
    const a = drawStages(population, stages, seedsPlan);
    const b = drawStages([...population].reverse(), stages, seedsPlan);
    expect(b).toEqual(a);
    const c = drawStages(population, stages, { ...seedsPlan, seed: 8 });
    expect(c.endpoints).not.toEqual(a.endpoints);
    expect(new Set(a.endpoints).size).toBe(500);
    const perStage = stages.map((_, s) => a.stageOf.filter((x) => x === s).length);
    expect(perStage).toEqual(stages.map((s) => s.size));
  });

  it('puts named canary devices first', () => {
    const plan = { ...seedsPlan, canary: { endpoints: ['ep-400', 'ep-3'], soakMs: 0 } };
    const stages = resolveStages(plan, DEFAULT_GATES, 500, 2);
    const draw = drawStages(population, stages, plan);
    expect(draw.endpoints.slice(0, 2)).toEqual(['ep-3', 'ep-400']);
    expect(draw.stageOf.slice(0, 3)).toEqual([0, 0, 1]);
  });
});

describe('campaign input', () => {
  const parse = (body: unknown) => parseCampaignInput(body, IMAGE, 1);

  it('defaults to the seeds plan, one day apart, and the image facts', () => {
    const spec = parse({ firmwareId: IMAGE.id });
    expect(spec.plan.stages.map((s) => s.percent ?? 'rest')).toEqual([0.1, 1, 10, 20, 20, 20, 20, 'rest']);
    expect(spec.plan.stages.every((s) => s.soakMs === 86_400_000)).toBe(true);
    expect(spec.imageSize).toBe(20_000);
    expect(spec.deviceType).toBe('sensor');
  });

  it('refuses stages above 100%', () => {
    expect(() => parse({ plan: { stages: [{ percent: 60 }, { percent: 50 }] } })).toThrow(new CampaignValidationError('plan.stages add up to 110% of the population, more than 100%'));
  });

  it('refuses a "remaining" stage that is not last, and a stage of two kinds', () => {
    expect(() => parse({ plan: { stages: [{ remaining: true }, { percent: 5 }] } })).toThrow(/only the last stage/);
    expect(() => parse({ plan: { stages: [{ percent: 5, count: 3 }] } })).toThrow(/exactly one of/);
  });

  it('refuses cron syntax errors with the reason', () => {
    expect(() => parse({ limits: { maintenanceWindows: ['* 1-4 * *'] } })).toThrow('limits.maintenanceWindows[0]: "* 1-4 * *" must have 5 fields (minute hour day month weekday), it has 4');
    expect(() => parse({ limits: { maintenanceWindows: ['* 25 * * *'] } })).toThrow(/hour "25" is outside 0-23/);
  });

  it('refuses bad versions, severities and gates', () => {
    expect(() => parse({ policy: { fromVersions: '>=1.0 ~2' } })).toThrow(/policy.fromVersions/);
    expect(() => parse({ policy: { severity: 'urgent' } })).toThrow(/policy.severity/);
    expect(() => parse({ gates: { maxFailureRate: 2 } })).toThrow(/gates.maxFailureRate/);
  });
});
