/**
 * What an operator asks for when creating a campaign, validated into a CampaignSpec that
 * is stored as the campaign's spec (so a restarted scheduler reads exactly what was asked).
 * Every refusal says which field and why, so the API can answer 400 with the reason.
 */
import { parseCron } from './cron.js';
import { parseVersionRange } from './versions.js';

export type Severity = 'critical' | 'major' | 'minor';
/** LwM2M /5/0/11 Severity: 0 Critical, 1 Major, 2 Minor. */
export const SEVERITY_CODE: Record<Severity, number> = { critical: 0, major: 1, minor: 2 };

export interface TargetFilter {
  deviceTypes?: string[];
  profiles?: string[];
  /** e.g. ">=1.0.0 <2.0.0"; devices whose current version is outside are not targeted. */
  versionRange?: string;
  /** A device must carry every tag listed. */
  tags?: string[];
  /** Explicit list: only these endpoints (still filtered by the other fields). */
  endpoints?: string[];
}

export interface GateSpec {
  /** Fraction 0..1 of finished devices that may fail before the campaign halts. */
  maxFailureRate: number;
  /** The rate only counts once this many devices of the stage have finished. */
  minFinished: number;
  /** Devices that installed the image and reverted to the old one. */
  maxReverted: number;
}

export interface StageSpec {
  name: string;
  /** Exactly one of percent, count, remaining. */
  percent?: number;
  count?: number;
  remaining?: boolean;
  /** Minimum time after the stage has finished before the next stage may start. */
  soakMs: number;
  gates?: Partial<GateSpec>;
}

export interface CanarySpec {
  endpoints?: string[];
  count?: number;
  soakMs: number;
}

export interface PlanSpec {
  canary?: CanarySpec;
  stages: StageSpec[];
  /** Seed of the random stage draw (reproducible). */
  seed: number;
}

export interface LimitsSpec {
  /** Transfers of this campaign at once. */
  maxConcurrent?: number;
  /** Transfers at once behind one gateway/subnet. */
  maxConcurrentPerGateway?: number;
  /** Bytes per second over all this campaign's transfers. */
  bandwidthBytesPerSec?: number;
  /** Cron expressions (minute hour day month weekday) in the device's timezone: starts only inside one. */
  maintenanceWindows?: string[];
}

export interface PolicySpec {
  severity: Severity;
  /** How long a user may defer before the update becomes mandatory. */
  maxDeferralMs: number;
  /** Installed versions that may take this image; others are skipped with the reason. */
  fromVersions?: string;
  /** Below this battery level (without external power) nothing starts. */
  minBatteryPercent: number;
  /** A device whose transfer+install took longer (active time) fails (or is skipped) by policy. */
  deviceTimeoutMs: number;
  timeoutCountsAsFailure: boolean;
  /** The idle window must be this many times longer than the estimated transfer. */
  windowMargin: number;
}

export interface CampaignSpec {
  name: string;
  firmwareId: string;
  /** Copied from the image at creation, so the scheduler needs no repository look-up per device. */
  imageVersion: string;
  imageSize: number;
  deviceType?: string;
  target: TargetFilter;
  plan: PlanSpec;
  gates: GateSpec;
  limits: LimitsSpec;
  policy: PolicySpec;
  /** Set on a rollback campaign: the campaign it undoes. */
  rollbackOf?: string;
}

export class CampaignValidationError extends Error {
  override readonly name = 'CampaignValidationError';
}

const DAY_MS = 24 * 60 * 60_000;

/** The seeds' table: 0.1 %, 1 %, 10 %, 20 % ×4, the rest; one day apart. */
export function defaultStages(): StageSpec[] {
  const percents = [0.1, 1, 10, 20, 20, 20, 20];
  return [
    ...percents.map((percent, i) => ({ name: `day ${i + 1}`, percent, soakMs: DAY_MS })),
    { name: 'day 8', remaining: true, soakMs: DAY_MS },
  ];
}

export const DEFAULT_GATES: GateSpec = { maxFailureRate: 0.05, minFinished: 10, maxReverted: 5 };

export const DEFAULT_POLICY: PolicySpec = {
  severity: 'major',
  maxDeferralMs: 3 * DAY_MS,
  minBatteryPercent: 20,
  deviceTimeoutMs: 6 * 60 * 60_000,
  timeoutCountsAsFailure: true,
  windowMargin: 1.5,
};

type Json = Record<string, unknown>;

export interface ImageFacts {
  id: string;
  version: string;
  sizeBytes: number;
  deviceType?: string;
}

/** Validates the body of POST /api/campaigns (the image already looked up). */
export function parseCampaignInput(input: unknown, image: ImageFacts, defaultSeed: number): CampaignSpec {
  const body = object(input, 'the body');
  const name = optionalString(body.name, 'name') ?? `rollout of ${image.version}`;
  return {
    name,
    firmwareId: image.id,
    imageVersion: image.version,
    imageSize: image.sizeBytes,
    ...(image.deviceType !== undefined ? { deviceType: image.deviceType } : {}),
    target: parseTarget(body.target),
    plan: parsePlan(body.plan, defaultSeed),
    gates: parseGates(body.gates, 'gates', DEFAULT_GATES) as GateSpec,
    limits: parseLimits(body.limits),
    policy: parsePolicy(body.policy),
    ...(typeof body.rollbackOf === 'string' ? { rollbackOf: body.rollbackOf } : {}),
  };
}

function parseTarget(value: unknown): TargetFilter {
  if (value === undefined) return {};
  const t = object(value, 'target');
  const target: TargetFilter = {};
  const lists = ['deviceTypes', 'profiles', 'tags', 'endpoints'] as const;
  for (const key of lists) {
    const list = optionalStringList(t[key], `target.${key}`);
    if (list) target[key] = list;
  }
  if (t.versionRange !== undefined) {
    const range = optionalString(t.versionRange, 'target.versionRange')!;
    tryParse(() => parseVersionRange(range), 'target.versionRange');
    target.versionRange = range;
  }
  return target;
}

function parsePlan(value: unknown, defaultSeed: number): PlanSpec {
  if (value === undefined) return { stages: defaultStages(), seed: defaultSeed };
  const p = object(value, 'plan');
  const seed = p.seed === undefined ? defaultSeed : integer(p.seed, 'plan.seed', 0);
  const stages = p.stages === undefined ? defaultStages() : parseStages(p.stages);
  const plan: PlanSpec = { stages, seed };
  if (p.canary !== undefined) {
    const c = object(p.canary, 'plan.canary');
    const endpoints = optionalStringList(c.endpoints, 'plan.canary.endpoints');
    const count = c.count === undefined ? undefined : integer(c.count, 'plan.canary.count', 1);
    if (!endpoints && count === undefined) throw new CampaignValidationError('plan.canary needs "endpoints" (named test devices) or "count"');
    plan.canary = { ...(endpoints ? { endpoints } : {}), ...(count !== undefined ? { count } : {}), soakMs: duration(c.soakSec, 'plan.canary.soakSec', 0) };
  }
  return plan;
}

function parseStages(value: unknown): StageSpec[] {
  if (!Array.isArray(value) || value.length === 0) throw new CampaignValidationError('plan.stages must be a non-empty array');
  if (value.length > 64) throw new CampaignValidationError('plan.stages: at most 64 stages');
  let percentTotal = 0;
  const stages = value.map((raw, i): StageSpec => {
    const field = `plan.stages[${i}]`;
    const s = object(raw, field);
    const kinds = ['percent', 'count', 'remaining'].filter((k) => s[k] !== undefined && s[k] !== false);
    if (kinds.length !== 1) throw new CampaignValidationError(`${field} needs exactly one of "percent", "count" or "remaining": true`);
    const stage: StageSpec = { name: optionalString(s.name, `${field}.name`) ?? `stage ${i + 1}`, soakMs: duration(s.soakSec, `${field}.soakSec`, DAY_MS) };
    if (s.percent !== undefined) {
      const percent = s.percent;
      if (typeof percent !== 'number' || !Number.isFinite(percent) || percent <= 0 || percent > 100) {
        throw new CampaignValidationError(`${field}.percent must be a number in (0, 100], got ${JSON.stringify(percent)}`);
      }
      stage.percent = percent;
      percentTotal += percent;
    } else if (s.count !== undefined) {
      stage.count = integer(s.count, `${field}.count`, 1);
    } else {
      if (s.remaining !== true) throw new CampaignValidationError(`${field}.remaining must be true`);
      if (i !== value.length - 1) throw new CampaignValidationError(`${field}: only the last stage may take the remaining devices`);
      stage.remaining = true;
    }
    if (s.gates !== undefined) stage.gates = parseGates(s.gates, `${field}.gates`, {});
    return stage;
  });
  // Tolerance for decimal fractions such as 0.1 + 0.2.
  if (percentTotal > 100 + 1e-9) throw new CampaignValidationError(`plan.stages add up to ${round(percentTotal)}% of the population, more than 100%`);
  return stages;
}

function parseGates(value: unknown, field: string, defaults: Partial<GateSpec>): Partial<GateSpec> {
  if (value === undefined) return { ...defaults };
  const g = object(value, field);
  const gates: Partial<GateSpec> = { ...defaults };
  if (g.maxFailureRate !== undefined) {
    const rate = g.maxFailureRate;
    if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) throw new CampaignValidationError(`${field}.maxFailureRate must be a fraction between 0 and 1`);
    gates.maxFailureRate = rate;
  }
  if (g.minFinished !== undefined) gates.minFinished = integer(g.minFinished, `${field}.minFinished`, 0);
  if (g.maxReverted !== undefined) gates.maxReverted = integer(g.maxReverted, `${field}.maxReverted`, 0);
  return gates;
}

function parseLimits(value: unknown): LimitsSpec {
  if (value === undefined) return {};
  const l = object(value, 'limits');
  const limits: LimitsSpec = {};
  if (l.maxConcurrent !== undefined) limits.maxConcurrent = integer(l.maxConcurrent, 'limits.maxConcurrent', 1);
  if (l.maxConcurrentPerGateway !== undefined) limits.maxConcurrentPerGateway = integer(l.maxConcurrentPerGateway, 'limits.maxConcurrentPerGateway', 1);
  if (l.bandwidthBytesPerSec !== undefined) limits.bandwidthBytesPerSec = integer(l.bandwidthBytesPerSec, 'limits.bandwidthBytesPerSec', 1);
  const windows = optionalStringList(l.maintenanceWindows, 'limits.maintenanceWindows');
  if (windows) {
    windows.forEach((cron, i) => tryParse(() => parseCron(cron), `limits.maintenanceWindows[${i}]`));
    limits.maintenanceWindows = windows;
  }
  return limits;
}

function parsePolicy(value: unknown): PolicySpec {
  if (value === undefined) return { ...DEFAULT_POLICY };
  const p = object(value, 'policy');
  const policy: PolicySpec = { ...DEFAULT_POLICY };
  if (p.severity !== undefined) {
    if (p.severity !== 'critical' && p.severity !== 'major' && p.severity !== 'minor') {
      throw new CampaignValidationError(`policy.severity must be "critical", "major" or "minor", got ${JSON.stringify(p.severity)}`);
    }
    policy.severity = p.severity;
  }
  if (p.maxDeferralSec !== undefined) policy.maxDeferralMs = duration(p.maxDeferralSec, 'policy.maxDeferralSec', 0);
  if (p.fromVersions !== undefined) {
    const range = optionalString(p.fromVersions, 'policy.fromVersions')!;
    tryParse(() => parseVersionRange(range), 'policy.fromVersions');
    policy.fromVersions = range;
  }
  if (p.minBatteryPercent !== undefined) policy.minBatteryPercent = integer(p.minBatteryPercent, 'policy.minBatteryPercent', 0, 100);
  if (p.deviceTimeoutSec !== undefined) policy.deviceTimeoutMs = duration(p.deviceTimeoutSec, 'policy.deviceTimeoutSec', 0);
  if (p.timeoutCountsAsFailure !== undefined) {
    if (typeof p.timeoutCountsAsFailure !== 'boolean') throw new CampaignValidationError('policy.timeoutCountsAsFailure must be true or false');
    policy.timeoutCountsAsFailure = p.timeoutCountsAsFailure;
  }
  if (p.windowMargin !== undefined) {
    if (typeof p.windowMargin !== 'number' || !(p.windowMargin >= 1 && p.windowMargin <= 100)) throw new CampaignValidationError('policy.windowMargin must be a number from 1 to 100');
    policy.windowMargin = p.windowMargin;
  }
  return policy;
}

function object(value: unknown, field: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CampaignValidationError(`${field} must be a JSON object`);
  return value as Json;
}

function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') throw new CampaignValidationError(`${field} must be a non-empty string`);
  return value;
}

function optionalStringList(value: unknown, field: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) throw new CampaignValidationError(`${field} must be an array of non-empty strings`);
  return [...new Set(value as string[])];
}

function integer(value: unknown, field: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new CampaignValidationError(`${field} must be an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? '' : ` to ${max}`}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function duration(value: unknown, field: string, fallbackMs: number): number {
  if (value === undefined) return fallbackMs;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new CampaignValidationError(`${field} must be a number of seconds (0 or more)`);
  return Math.round(value * 1000);
}

function tryParse(parse: () => unknown, field: string): void {
  try {
    parse();
  } catch (err) {
    throw new CampaignValidationError(`${field}: ${(err as Error).message}`);
  }
}

const round = (n: number): number => Math.round(n * 1000) / 1000;
