/**
 * What the server keeps across restarts, as interfaces only. Callers never see SQL: every
 * operation that must be atomic is one call, so SQLite (one transaction) and a later Redis
 * implementation (one MULTI or script) can both satisfy it. Everything except registration
 * persistence is asynchronous because a networked store cannot answer synchronously; the
 * registration hot path stays synchronous through WriteBehindRegistrationStore.
 */
import type { Registration } from '../lwm2m/server/registration.js';
import type { QueuedRequestDescription } from '../lwm2m/server/request-queue.js';
import type { ObservationInfo } from '../lwm2m/server/observation-table.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/**
 * A write of the registration write-behind. Puts and deletes are keyed by endpoint (a
 * device has at most one registration): a put (the registration itself) stores the
 * endpoint's current registration, replacing whatever it had; a delete says the endpoint
 * has none any more, whichever id it had. A put is not wrapped: the write-behind holds
 * every write until its flush, and a wrapper per registration would be one more object for
 * the garbage collector to copy, on the thread that answers devices.
 *
 * The rewrite marks are for a persistence that keeps every write in a log (see
 * RegistrationPersistence.wantsRewrite): between a begin and its end, every registration
 * that was live at the begin is put again (or deleted), so at the end the log may drop
 * everything older than the begin. A persistence that keeps one row per endpoint ignores them.
 */
export type RegistrationWrite = Registration | RegistrationDelete | RewriteMark;

export interface RegistrationDelete {
  op: 'delete';
  endpoint: string;
}

export interface RewriteMark {
  op: 'rewrite-begin' | 'rewrite-end';
}

export const REWRITE_BEGIN: RewriteMark = Object.freeze({ op: 'rewrite-begin' });
export const REWRITE_END: RewriteMark = Object.freeze({ op: 'rewrite-end' });

export function isRegistrationPut(write: RegistrationWrite): write is Registration {
  return !('op' in write);
}

export function isRegistrationDelete(write: RegistrationWrite): write is RegistrationDelete {
  return 'op' in write && write.op === 'delete';
}

/** The durable side of registrations; the in-memory index in front of it answers lookups. */
export interface RegistrationPersistence {
  /** Every stored registration, at startup. */
  loadAll(): Promise<Registration[]>;
  /**
   * Applies the writes atomically, in order. Batches are applied in the order of the
   * calls (each call takes its place when it is made, even though it resolves later), so
   * a caller may hand over the next batch before the previous one is durable.
   */
  apply(writes: readonly RegistrationWrite[]): Promise<void>;
  /**
   * Optional: makes a de-registration durable before returning. It prevails over every
   * put of that endpoint handed to apply() before this call, even one still in flight;
   * puts handed over after it apply normally. Without it, the write-behind flushes at once
   * and the window is one flush.
   */
  deleteNow?(endpoint: string): void;
  /**
   * Optional, for a persistence that appends every write to a log: true when the log has
   * grown so far beyond the `live` registrations that it should be rewritten. The caller
   * then writes a rewrite-begin, puts every registration live at that moment again (in as
   * many batches as it likes), and writes a rewrite-end (see RegistrationWrite).
   */
  wantsRewrite?(live: number): boolean;
}

export type SecurityMode = 'psk' | 'rpk' | 'x509';

/** How a device proves who it is. Secret fields are encrypted at rest by persistent stores. */
export interface SecurityInfo {
  endpoint: string;
  mode: SecurityMode;
  pskIdentity?: string;
  /** Secret. */
  pskKey?: Buffer;
  /** The device's raw public key (SubjectPublicKeyInfo, DER); not secret. */
  rpkPublicKey?: Buffer;
  /** x509: the certificate subject expected from the device (usually CN = endpoint). */
  x509Subject?: string;
  /** Secret: a private key bound to this identity (e.g. the server's own key for it). */
  privateKey?: Buffer;
}

/** What may be shown to operators: never key material, only whether it exists. */
export interface SecurityInfoSummary {
  endpoint: string;
  mode: SecurityMode;
  pskIdentity?: string;
  hasPskKey: boolean;
  hasRpkPublicKey: boolean;
  x509Subject?: string;
  hasPrivateKey: boolean;
}

export interface SecurityStore {
  /** Adds or replaces an endpoint's security info; throws StoreConflictError when the PSK identity belongs to another endpoint. */
  put(info: SecurityInfo): Promise<void>;
  get(endpoint: string): Promise<SecurityInfo | undefined>;
  getByPskIdentity(identity: string): Promise<SecurityInfo | undefined>;
  remove(endpoint: string): Promise<boolean>;
  list(): Promise<SecurityInfoSummary[]>;
}

/** A bootstrap configuration as the bootstrap server defines it; may hold keys, so it is encrypted at rest. */
export interface BootstrapConfigStore {
  get(endpoint: string): Promise<JsonObject | undefined>;
  put(endpoint: string, config: JsonObject): Promise<void>;
  remove(endpoint: string): Promise<boolean>;
  /** Every configuration, by endpoint, sorted by endpoint. */
  list(): Promise<Array<{ endpoint: string; config: JsonObject }>>;
}

export interface StoredQueuedRequest extends QueuedRequestDescription {
  /** Assigned by the store, increasing: the FIFO order. */
  seq: number;
}

/** Requests waiting for sleeping devices. */
export interface QueuedRequestStore {
  /** Appends to the endpoint's FIFO; returns the sequence number. */
  append(request: QueuedRequestDescription): Promise<number>;
  /** The endpoint's requests, oldest first. */
  list(endpoint: string): Promise<StoredQueuedRequest[]>;
  /** Every endpoint that has requests waiting. */
  endpoints(): Promise<string[]>;
  remove(seq: number): Promise<boolean>;
  /** Removes and returns how many were removed. */
  removeEndpoint(endpoint: string): Promise<number>;
}

/** An observation, so notifications after a restart are still recognised (by token = observationId hex). */
export interface StoredObservation extends ObservationInfo {
  /** Where the device was when the observation started. */
  address: { address: string; port: number };
}

export interface ObservationStore {
  put(observation: StoredObservation): Promise<void>;
  get(observationId: string): Promise<StoredObservation | undefined>;
  ofEndpoint(endpoint: string): Promise<StoredObservation[]>;
  list(): Promise<StoredObservation[]>;
  remove(observationId: string): Promise<boolean>;
  removeEndpoint(endpoint: string): Promise<number>;
}

export interface FirmwareImageMeta {
  id: string;
  name: string;
  version: string;
  sizeBytes: number;
  /** Hex SHA-256 of the image bytes. */
  sha256: string;
  /** Where the bytes are (a path in the data directory, a URI). */
  location: string;
  createdAt: number;
  /** Anything else (manifest digest, target device class...). */
  attributes: JsonObject;
}

export interface FirmwareImageStore {
  put(image: FirmwareImageMeta): Promise<void>;
  get(id: string): Promise<FirmwareImageMeta | undefined>;
  /** Sorted by createdAt, then id. */
  list(): Promise<FirmwareImageMeta[]>;
  remove(id: string): Promise<boolean>;
}

export interface Campaign {
  id: string;
  /** The scheduler's own state ("draft", "running", "paused"...). */
  status: string;
  createdAt: number;
  updatedAt: number;
  spec: JsonObject;
}

export interface DeviceRolloutState {
  campaignId: string;
  endpoint: string;
  phase: string;
  updatedAt: number;
  data: JsonObject;
  /** Incremented by every write; what setDeviceState compares against. */
  revision: number;
}

export type DeviceRolloutWrite = Omit<DeviceRolloutState, 'revision' | 'campaignId' | 'endpoint'>;

export interface CampaignStore {
  put(campaign: Campaign): Promise<void>;
  get(id: string): Promise<Campaign | undefined>;
  /** Sorted by createdAt, then id. */
  list(): Promise<Campaign[]>;
  /** Removes the campaign and every device state of it. */
  remove(id: string): Promise<boolean>;
  getDeviceState(campaignId: string, endpoint: string): Promise<DeviceRolloutState | undefined>;
  /** Sorted by endpoint. */
  listDeviceStates(campaignId: string): Promise<DeviceRolloutState[]>;
  /**
   * Compare-and-set, so two scheduler nodes cannot both advance one device: writes only
   * when the stored revision equals `expectedRevision` (0 = must not exist yet). Returns
   * the new state, or undefined when the revision did not match (nothing written).
   */
  setDeviceState(
    campaignId: string,
    endpoint: string,
    state: DeviceRolloutWrite,
    expectedRevision: number,
  ): Promise<DeviceRolloutState | undefined>;
}

export interface AuditEntryInput {
  at: number;
  /** Who did it: "api", "rollout", "system", an operator name. */
  actor: string;
  action: string;
  /** What it was done to (an endpoint, a campaign id). */
  subject?: string;
  detail?: JsonObject;
}

export interface AuditEntry extends AuditEntryInput {
  seq: number;
}

export interface AuditQuery {
  /** Entries with seq > afterSeq. */
  afterSeq?: number;
  subject?: string;
  /** Default 100. */
  limit?: number;
}

/** Append-only: there is no update or delete. */
export interface AuditLog {
  append(entry: AuditEntryInput): Promise<number>;
  /** Oldest first. */
  list(query?: AuditQuery): Promise<AuditEntry[]>;
}

/**
 * Operator tags of devices (rollout targeting: campaign `target.tags`). Keyed by endpoint,
 * whether or not the device is registered; an empty list is no row at all.
 */
export interface DeviceTagStore {
  /** Every endpoint that has tags, at startup. */
  list(): Promise<Array<{ endpoint: string; tags: string[] }>>;
  /** Replaces the endpoint's tags (an empty list removes them). */
  set(endpoint: string, tags: readonly string[]): Promise<void>;
}

export type StoreKind = 'sqlite' | 'memory';

export interface Store {
  readonly kind: StoreKind;
  readonly registrations: RegistrationPersistence;
  readonly security: SecurityStore;
  readonly bootstrapConfigs: BootstrapConfigStore;
  readonly queuedRequests: QueuedRequestStore;
  readonly observations: ObservationStore;
  readonly firmwareImages: FirmwareImageStore;
  readonly campaigns: CampaignStore;
  readonly audit: AuditLog;
  /** Operator tags of devices (campaign targeting). */
  readonly deviceTags: DeviceTagStore;
  close(): Promise<void>;
}

export class StoreConflictError extends Error {
  override readonly name = 'StoreConflictError';
}

export class StoreCorruptError extends Error {
  override readonly name = 'StoreCorruptError';
}
