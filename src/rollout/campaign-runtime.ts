/**
 * One campaign in memory: its stored record, and per member device its stage, phase, store
 * revision and transfer details in typed columns, endpoint names in an EndpointTable and
 * reasons as numbers into a table of their texts. A million devices cost a few typed arrays
 * and no object per device: the garbage collector has nothing per device to mark, so a
 * major GC during a fleet-sized campaign stays short. Counts per (stage, phase) are kept up
 * to date by setPhase, so status answers and stage checks never scan the population.
 */
import type { Campaign, JsonObject } from '../store/types.js';
import type { CampaignState, StageState } from './campaign-machine.js';
import { DEVICE_PHASES, FINAL_PHASES, IN_FLIGHT_PHASES, PHASE_INDEX, type DevicePhase } from './device-machine.js';
import type { ResolvedStage } from './plan.js';
import { EndpointTable } from './endpoint-table.js';
import { IndexSet } from './index-set.js';
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
const TRANSFERRING = PHASE_INDEX.transferring;
const IN_FLIGHT_BY_INDEX: readonly boolean[] = DEVICE_PHASES.map((phase) => IN_FLIGHT_PHASES.has(phase));
const FINAL_BY_INDEX: readonly boolean[] = DEVICE_PHASES.map((phase) => FINAL_PHASES.has(phase));
const REVERTED = 1;
const NO_GATE = 2;
/** Distinct reason texts kept in the table; past it, reasons go to a per-device map. */
const REASON_TABLE_LIMIT = 65_536;
const REASON_ELSEWHERE = 0xffffffff;

/** Optional times are NaN in their columns. */
const optional = (value: number): number | undefined => (Number.isNaN(value) ? undefined : value);

export class CampaignRuntime {
  readonly id: string;
  readonly createdAt: number;
  state: CampaignState;
  doc: CampaignDocument;
  /** Member endpoint names by member number (no string object per member; see EndpointTable). */
  private readonly members: EndpointTable;
  // Per-member columns (index = member number), replaced by larger ones as members are added.
  stageOf: Uint16Array;
  phase: Uint8Array;
  revision: Uint32Array;
  /** Bytes the device holds of the image. */
  bytes: Float64Array;
  /** Unpaused transfer time before the running stretch (the clock runs only while bytes may move). */
  activeMs: Float64Array;
  startedAt: Float64Array;
  resumedAt: Float64Array;
  executedAt: Float64Array;
  firstDeferredAt: Float64Array;
  /** The device's measured throughput in bytes/s (NaN until a transfer was measured). */
  measuredRate: Float64Array;
  private flags: Uint8Array;
  /** Device type and gateway as numbers into `names` (0 = unknown). */
  private typeOf: Uint16Array;
  private gatewayOf: Uint16Array;
  private readonly names: string[] = [''];
  private readonly nameIds = new Map<string, number>();
  /**
   * Why a device waits, was skipped or failed, as a number into `reasonTexts` (0 = none):
   * reasons come from a few templates, and a column does not grow a hash table as a stage
   * of 200,000 fills with reasons.
   */
  private reasonOf: Uint32Array;
  private readonly reasonTexts: string[] = [''];
  private readonly reasonIds = new Map<string, number>();
  /** Reasons of devices whose text did not fit in the table. */
  private readonly reasonElsewhere = new Map<number, string>();
  readonly counts: number[][];
  readonly gateFailed: number[];
  readonly reverted: number[];
  readonly stageBytes: number[];
  /** Per stage: member indices ready to be looked at (pending or waiting), from heads[s] on. */
  readonly queues: number[][];
  readonly heads: number[];
  /**
   * Per stage: the next member index an open stage admits to its queue (-1: all admitted).
   * A stage of 200,000 is admitted over several ticks, a bounded slice per tick.
   */
  readonly admitFrom: number[];
  /** Per stage: lowest member index and one past the highest (a stage's drawn members are contiguous). */
  readonly stageLo: number[];
  readonly stageHi: number[];
  /** Members in an in-flight phase (transferring, paused, downloaded, updating). */
  readonly inflight: IndexSet;
  transferring = 0;

  constructor(id: string, createdAt: number, state: CampaignState, doc: CampaignDocument, capacity = 16) {
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
    this.admitFrom = new Array<number>(n).fill(-1);
    this.stageLo = new Array<number>(n).fill(Number.MAX_SAFE_INTEGER);
    this.stageHi = new Array<number>(n).fill(0);
    const size = Math.max(16, capacity);
    this.members = new EndpointTable(size);
    this.stageOf = new Uint16Array(size);
    this.phase = new Uint8Array(size);
    this.revision = new Uint32Array(size);
    this.bytes = new Float64Array(size);
    this.activeMs = new Float64Array(size);
    this.startedAt = new Float64Array(size).fill(NaN);
    this.resumedAt = new Float64Array(size).fill(NaN);
    this.executedAt = new Float64Array(size).fill(NaN);
    this.firstDeferredAt = new Float64Array(size).fill(NaN);
    this.measuredRate = new Float64Array(size).fill(NaN);
    this.flags = new Uint8Array(size);
    this.typeOf = new Uint16Array(size);
    this.gatewayOf = new Uint16Array(size);
    this.reasonOf = new Uint32Array(size);
    this.inflight = new IndexSet(size, Math.min(size, 4096));
  }

  get spec(): CampaignSpec {
    return this.doc.spec;
  }

  get critical(): boolean {
    return this.doc.spec.policy.severity === 'critical';
  }

  /** How many members. */
  get size(): number {
    return this.members.size;
  }

  /** Member i's endpoint name (a new string each time: keep it while you need it). */
  endpoint(i: number): string {
    return this.members.name(i);
  }

  /** The member number of an endpoint, or undefined when it is not a member. */
  indexOf(endpoint: string): number | undefined {
    return this.members.indexOf(endpoint);
  }

  has(endpoint: string): boolean {
    return this.members.has(endpoint);
  }

  /** Every member's endpoint in member order (a new array: for views and tests, not ticks). */
  endpointList(): string[] {
    return this.members.names();
  }

  /** `data`: the stored row's details (after a restart). */
  addMember(endpoint: string, stage: number, phase: DevicePhase, revision: number, facts: DeviceFacts | undefined, data?: JsonObject): number {
    const i = this.members.size;
    if (i === this.phase.length) this.grow(i * 2);
    this.members.add(endpoint);
    this.stageOf[i] = stage;
    this.phase[i] = PHASE_INDEX[phase];
    this.revision[i] = revision;
    this.typeOf[i] = this.nameId(facts?.deviceType);
    this.gatewayOf[i] = this.nameId(facts?.gateway);
    if (data) this.restoreDetail(i, data);
    this.counts[stage][PHASE_INDEX[phase]]++;
    if (i < this.stageLo[stage]) this.stageLo[stage] = i;
    if (i >= this.stageHi[stage]) this.stageHi[stage] = i + 1;
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
    if (IN_FLIGHT_BY_INDEX[after] !== IN_FLIGHT_BY_INDEX[before]) {
      if (IN_FLIGHT_BY_INDEX[after]) this.inflight.add(i);
      else this.inflight.delete(i);
    }
  }

  deviceType(i: number): string | undefined {
    return this.typeOf[i] === 0 ? undefined : this.names[this.typeOf[i]];
  }

  gateway(i: number): string | undefined {
    return this.gatewayOf[i] === 0 ? undefined : this.names[this.gatewayOf[i]];
  }

  reason(i: number): string | undefined {
    const id = this.reasonOf[i];
    if (id === 0) return undefined;
    return id === REASON_ELSEWHERE ? this.reasonElsewhere.get(i) : this.reasonTexts[id];
  }

  setReason(i: number, reason: string | undefined): void {
    if (this.reasonOf[i] === REASON_ELSEWHERE) this.reasonElsewhere.delete(i);
    if (reason === undefined) {
      this.reasonOf[i] = 0;
      return;
    }
    let id = this.reasonIds.get(reason);
    if (id === undefined && this.reasonTexts.length < REASON_TABLE_LIMIT) {
      id = this.reasonTexts.push(reason) - 1;
      this.reasonIds.set(reason, id);
    }
    if (id !== undefined) {
      this.reasonOf[i] = id;
    } else {
      this.reasonOf[i] = REASON_ELSEWHERE;
      this.reasonElsewhere.set(i, reason);
    }
  }

  /** Every member that has a reason, with it (a scan of the column: for views, not ticks). */
  *reasons(): IterableIterator<[number, string]> {
    for (let i = 0; i < this.members.size; i++) {
      if (this.reasonOf[i] !== 0) yield [i, this.reason(i)!];
    }
  }

  isReverted(i: number): boolean {
    return (this.flags[i] & REVERTED) !== 0;
  }

  /** A failure that does not count against the health gates (timeouts, by policy). */
  isNoGate(i: number): boolean {
    return (this.flags[i] & NO_GATE) !== 0;
  }

  markReverted(i: number): void {
    this.flags[i] |= REVERTED;
  }

  markNoGate(i: number): void {
    this.flags[i] |= NO_GATE;
  }

  /** A fresh transfer: timings and bytes start over. */
  beginTransfer(i: number, now: number): void {
    this.startedAt[i] = now;
    this.resumedAt[i] = now;
    this.activeMs[i] = 0;
    this.bytes[i] = 0;
    this.setReason(i, undefined);
  }

  /** Stops the transfer clock (pause, download complete), adding the stretch it ran. */
  stopTransferClock(i: number, now: number): void {
    const resumed = this.resumedAt[i];
    if (!Number.isNaN(resumed)) this.activeMs[i] += now - resumed;
    this.resumedAt[i] = NaN;
  }

  /** Transfer time so far, the running stretch included. */
  activeTransferMs(i: number, now: number): number {
    const resumed = this.resumedAt[i];
    return this.activeMs[i] + (Number.isNaN(resumed) ? 0 : now - resumed);
  }

  /** A copy of the device's details (for views and tests; the scheduler works on the columns). */
  detail(i: number): DeviceDetail {
    const detail: DeviceDetail = { bytes: this.bytes[i], activeMs: this.activeMs[i] };
    const reason = this.reason(i);
    if (reason !== undefined) detail.reason = reason;
    const startedAt = optional(this.startedAt[i]);
    if (startedAt !== undefined) detail.startedAt = startedAt;
    const resumedAt = optional(this.resumedAt[i]);
    if (resumedAt !== undefined) detail.resumedAt = resumedAt;
    const executedAt = optional(this.executedAt[i]);
    if (executedAt !== undefined) detail.executedAt = executedAt;
    const firstDeferredAt = optional(this.firstDeferredAt[i]);
    if (firstDeferredAt !== undefined) detail.firstDeferredAt = firstDeferredAt;
    if (this.isReverted(i)) detail.reverted = true;
    if (this.isNoGate(i)) detail.noGate = true;
    return detail;
  }

  /** Members of the stage that have not reached a final phase. */
  unfinished(stage: number): number {
    const c = this.counts[stage];
    let n = 0;
    for (let p = 0; p < PHASES; p++) if (!FINAL_BY_INDEX[p]) n += c[p];
    return n;
  }

  count(stage: number, phase: DevicePhase): number {
    return this.counts[stage][PHASE_INDEX[phase]];
  }

  /** The row stored for a device: enough to rebuild this runtime after a restart. */
  deviceData(i: number): JsonObject {
    const data: JsonObject = { stage: this.stageOf[i] };
    const reason = this.reason(i);
    if (reason !== undefined) data.reason = reason;
    if (this.bytes[i]) data.bytes = this.bytes[i];
    if (!Number.isNaN(this.startedAt[i])) data.startedAt = this.startedAt[i];
    if (this.activeMs[i]) data.activeMs = this.activeMs[i];
    if (!Number.isNaN(this.executedAt[i])) data.executedAt = this.executedAt[i];
    if (!Number.isNaN(this.firstDeferredAt[i])) data.firstDeferredAt = this.firstDeferredAt[i];
    if (this.isReverted(i)) data.reverted = true;
    if (this.isNoGate(i)) data.noGate = true;
    return data;
  }

  toCampaign(now: number, status: StoredCampaignStatus = this.state): Campaign {
    return { id: this.id, status, createdAt: this.createdAt, updatedAt: now, spec: this.doc as unknown as JsonObject };
  }

  private restoreDetail(i: number, data: JsonObject): void {
    const num = (k: string): number | undefined => (typeof data[k] === 'number' ? (data[k] as number) : undefined);
    this.bytes[i] = num('bytes') ?? 0;
    this.activeMs[i] = num('activeMs') ?? 0;
    this.startedAt[i] = num('startedAt') ?? NaN;
    this.executedAt[i] = num('executedAt') ?? NaN;
    this.firstDeferredAt[i] = num('firstDeferredAt') ?? NaN;
    if (typeof data.reason === 'string') this.setReason(i, data.reason);
    if (data.reverted === true) this.flags[i] |= REVERTED;
    if (data.noGate === true) this.flags[i] |= NO_GATE;
  }

  private nameId(name: string | undefined): number {
    if (name === undefined) return 0;
    let id = this.nameIds.get(name);
    if (id === undefined) {
      // Types and gateways are few; past 65,535 distinct names the rest count as unknown.
      if (this.names.length > 0xffff) return 0;
      id = this.names.length;
      this.names.push(name);
      this.nameIds.set(name, id);
    }
    return id;
  }

  private grow(capacity: number): void {
    const copy = <T extends Uint8Array | Uint16Array | Uint32Array | Float64Array>(old: T, next: T, fill?: number): T => {
      if (fill !== undefined) next.fill(fill, old.length);
      next.set(old);
      return next;
    };
    this.stageOf = copy(this.stageOf, new Uint16Array(capacity));
    this.phase = copy(this.phase, new Uint8Array(capacity));
    this.revision = copy(this.revision, new Uint32Array(capacity));
    this.bytes = copy(this.bytes, new Float64Array(capacity));
    this.activeMs = copy(this.activeMs, new Float64Array(capacity));
    this.startedAt = copy(this.startedAt, new Float64Array(capacity), NaN);
    this.resumedAt = copy(this.resumedAt, new Float64Array(capacity), NaN);
    this.executedAt = copy(this.executedAt, new Float64Array(capacity), NaN);
    this.firstDeferredAt = copy(this.firstDeferredAt, new Float64Array(capacity), NaN);
    this.measuredRate = copy(this.measuredRate, new Float64Array(capacity), NaN);
    this.flags = copy(this.flags, new Uint8Array(capacity));
    this.typeOf = copy(this.typeOf, new Uint16Array(capacity));
    this.gatewayOf = copy(this.gatewayOf, new Uint16Array(capacity));
    this.reasonOf = copy(this.reasonOf, new Uint32Array(capacity));
    this.inflight.reserve(capacity);
  }
}
