/**
 * One campaign in memory: its stored record, and per member device its stage, phase and
 * store revision in flat arrays (a million devices cost a few arrays, not a million
 * objects); details (reason, bytes, timings) only for devices that have some. Counts per
 * (stage, phase) are kept up to date by setPhase, so status answers and stage checks never
 * scan the population.
 */
import type { Campaign, JsonObject } from '../store/types.js';
import type { CampaignState, StageState } from './campaign-machine.js';
import { DEVICE_PHASES, FINAL_PHASES, IN_FLIGHT_PHASES, PHASE_INDEX, type DevicePhase } from './device-machine.js';
import type { ResolvedStage } from './plan.js';
import type { DeviceFacts } from './population.js';
import type { CampaignSpec } from './spec.js';

export interface StageRuntime extends ResolvedStage {
  state: StageState;
  openedAt?: number;
  drainedAt?: number;
  passedAt?: number;
  /** Failures/reverts/finished an operator acknowledged by resuming after a halt. */
  ack: { failed: number; reverted: number; finished: number };
  /** Devices that joined mid-campaign (last stage only). */
  joined: number;
}

/** What is stored as Campaign.spec. */
export interface CampaignDocument {
  spec: CampaignSpec;
  stages: StageRuntime[];
  population: number;
  haltReason?: string;
  haltDevices?: string[];
  startedAt?: number;
  finishedAt?: number;
}

export type StoredCampaignStatus = CampaignState | 'creating';

export interface DeviceDetail {
  reason?: string;
  bytes: number;
  startedAt?: number;
  /** Unpaused transfer time so far (the clock runs only while bytes may move). */
  activeMs: number;
  resumedAt?: number;
  executedAt?: number;
  firstDeferredAt?: number;
  reverted?: boolean;
  /** A failure that does not count against the health gates (timeouts, by policy). */
  noGate?: boolean;
}

const PHASES = DEVICE_PHASES.length;

/**
 * Details by member index in a plain array: a Map of a million entries rehashes as it grows
 * or shrinks (long pauses in the middle of a tick); an array only copies pointers.
 */
export class DetailTable {
  private readonly items: Array<DeviceDetail | undefined> = [];

  get(i: number): DeviceDetail | undefined {
    return this.items[i];
  }

  set(i: number, detail: DeviceDetail | undefined): void {
    while (this.items.length < i) this.items.push(undefined);
    if (this.items.length === i) this.items.push(detail);
    else this.items[i] = detail;
  }

  *[Symbol.iterator](): IterableIterator<[number, DeviceDetail]> {
    for (let i = 0; i < this.items.length; i++) {
      const detail = this.items[i];
      if (detail) yield [i, detail];
    }
  }
}
/** Stands for details that were forgotten (never handed out to be changed). */
const FORGOTTEN: DeviceDetail = Object.freeze({ bytes: 0, activeMs: 0 }) as DeviceDetail;
const TRANSFERRING = PHASE_INDEX.transferring;

export class CampaignRuntime {
  readonly id: string;
  readonly createdAt: number;
  state: CampaignState;
  doc: CampaignDocument;
  readonly endpoints: string[] = [];
  readonly index = new Map<string, number>();
  readonly stageOf: number[] = [];
  readonly phase: number[] = [];
  readonly revision: number[] = [];
  readonly details = new DetailTable();
  readonly counts: number[][];
  readonly gateFailed: number[];
  readonly reverted: number[];
  readonly stageBytes: number[];
  readonly queues: number[][];
  readonly heads: number[];
  readonly inflight = new Set<number>();
  transferring = 0;
  /** Facts of members (type, gateway, version), kept so the scheduler needs no inventory look-up per tick. */
  readonly facts: Array<DeviceFacts | undefined> = [];

  constructor(id: string, createdAt: number, state: CampaignState, doc: CampaignDocument) {
    this.id = id;
    this.createdAt = createdAt;
    this.state = state;
    this.doc = doc;
    const n = doc.stages.length;
    this.counts = Array.from({ length: n }, () => new Array<number>(PHASES).fill(0));
    this.gateFailed = new Array<number>(n).fill(0);
    this.reverted = new Array<number>(n).fill(0);
    this.stageBytes = new Array<number>(n).fill(0);
    this.queues = Array.from({ length: n }, () => []);
    this.heads = new Array<number>(n).fill(0);
  }

  get spec(): CampaignSpec {
    return this.doc.spec;
  }

  get critical(): boolean {
    return this.doc.spec.policy.severity === 'critical';
  }

  addMember(endpoint: string, stage: number, phase: DevicePhase, revision: number, facts: DeviceFacts | undefined, detail?: DeviceDetail): number {
    const i = this.endpoints.length;
    this.endpoints.push(endpoint);
    this.index.set(endpoint, i);
    this.stageOf.push(stage);
    this.phase.push(PHASE_INDEX[phase]);
    this.revision.push(revision);
    this.facts.push(facts);
    this.details.set(i, detail);
    this.counts[stage][PHASE_INDEX[phase]]++;
    if (IN_FLIGHT_PHASES.has(phase)) this.inflight.add(i);
    if (phase === 'transferring') this.transferring++;
    return i;
  }

  phaseOf(i: number): DevicePhase {
    return DEVICE_PHASES[this.phase[i]];
  }

  /** Moves a device to a phase, keeping counts, the in-flight set and the transfer count right. */
  setPhase(i: number, next: DevicePhase): void {
    const before = this.phase[i];
    const after = PHASE_INDEX[next];
    if (before === after) return;
    const stage = this.stageOf[i];
    this.counts[stage][before]--;
    this.counts[stage][after]++;
    this.phase[i] = after;
    if (before === TRANSFERRING) this.transferring--;
    if (after === TRANSFERRING) this.transferring++;
    if (IN_FLIGHT_PHASES.has(next)) this.inflight.add(i);
    else this.inflight.delete(i);
  }

  detail(i: number): DeviceDetail {
    let d = this.details.get(i);
    if (!d || d === FORGOTTEN) {
      d = { bytes: 0, activeMs: 0 };
      this.details.set(i, d);
    }
    return d;
  }

  /** Drops a device's details (the frozen placeholder is never handed out to be changed). */
  forgetDetail(i: number): void {
    if (this.details.get(i)) this.details.set(i, FORGOTTEN);
  }

  /** Members of the stage that have not reached a final phase. */
  unfinished(stage: number): number {
    const c = this.counts[stage];
    let n = 0;
    DEVICE_PHASES.forEach((phase, p) => {
      if (!FINAL_PHASES.has(phase)) n += c[p];
    });
    return n;
  }

  count(stage: number, phase: DevicePhase): number {
    return this.counts[stage][PHASE_INDEX[phase]];
  }

  /** The row stored for a device: enough to rebuild this runtime after a restart. */
  deviceData(i: number): JsonObject {
    const data: JsonObject = { stage: this.stageOf[i] };
    const d = this.details.get(i);
    if (d) {
      if (d.reason !== undefined) data.reason = d.reason;
      if (d.bytes) data.bytes = d.bytes;
      if (d.startedAt !== undefined) data.startedAt = d.startedAt;
      if (d.activeMs) data.activeMs = d.activeMs;
      if (d.executedAt !== undefined) data.executedAt = d.executedAt;
      if (d.firstDeferredAt !== undefined) data.firstDeferredAt = d.firstDeferredAt;
      if (d.reverted) data.reverted = true;
      if (d.noGate) data.noGate = true;
    }
    return data;
  }

  toCampaign(now: number, status: StoredCampaignStatus = this.state): Campaign {
    return { id: this.id, status, createdAt: this.createdAt, updatedAt: now, spec: this.doc as unknown as JsonObject };
  }
}

export function detailFromData(data: JsonObject): DeviceDetail | undefined {
  const keys = Object.keys(data);
  if (keys.length === 1) return undefined;
  const num = (k: string): number | undefined => (typeof data[k] === 'number' ? (data[k] as number) : undefined);
  return {
    bytes: num('bytes') ?? 0,
    activeMs: num('activeMs') ?? 0,
    ...(typeof data.reason === 'string' ? { reason: data.reason } : {}),
    ...(num('startedAt') !== undefined ? { startedAt: num('startedAt') } : {}),
    ...(num('executedAt') !== undefined ? { executedAt: num('executedAt') } : {}),
    ...(num('firstDeferredAt') !== undefined ? { firstDeferredAt: num('firstDeferredAt') } : {}),
    ...(data.reverted === true ? { reverted: true } : {}),
    ...(data.noGate === true ? { noGate: true } : {}),
  };
}
