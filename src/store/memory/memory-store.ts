/**
 * The in-memory store, for tests and `--store memory`: the same contract as SQLite, lost
 * at exit. Values are copied in and out through the stored-JSON codec, so callers see
 * exactly what a persistent store would give back (no shared mutable objects).
 */
import type { Registration } from '../../lwm2m/server/registration.js';
import type { QueuedRequestDescription } from '../../lwm2m/server/request-queue.js';
import { fromStoredJson, toStoredJson } from '../json-codec.js';
import { decodeRegistration, encodeRegistration } from '../registration-codec.js';
import { summarize } from '../security-summary.js';
import { MemoryDeviceTags } from './memory-device-tags.js';
import {
  StoreConflictError,
  type AuditEntry,
  type AuditEntryInput,
  type AuditLog,
  type AuditQuery,
  type BootstrapConfigStore,
  type Campaign,
  type CampaignStore,
  type DeviceRolloutState,
  type DeviceRolloutWrite,
  type FirmwareImageMeta,
  type FirmwareImageStore,
  type JsonObject,
  type ObservationStore,
  type QueuedRequestStore,
  type RegistrationPersistence,
  type RegistrationWrite,
  isRegistrationDelete,
  isRegistrationPut,
  type SecurityInfo,
  type SecurityInfoSummary,
  type SecurityStore,
  type Store,
  type StoredObservation,
  type StoredQueuedRequest,
} from '../types.js';

const copy = <T>(value: T): T => fromStoredJson<T>(toStoredJson(value));

class MemoryRegistrations implements RegistrationPersistence {
  // Endpoint → stored row, as SQLite keeps them.
  private readonly rows = new Map<string, string>();

  async loadAll(): Promise<Registration[]> {
    return [...this.rows].map(([endpoint, text]) => decodeRegistration(endpoint, text));
  }

  async apply(writes: readonly RegistrationWrite[]): Promise<void> {
    for (const write of writes) {
      // Rewrite marks are for logs: this map holds one row per endpoint already.
      if (isRegistrationPut(write)) this.rows.set(write.endpoint, encodeRegistration(write));
      else if (isRegistrationDelete(write)) this.rows.delete(write.endpoint);
    }
  }
}

class MemorySecurity implements SecurityStore {
  private readonly byEndpoint = new Map<string, SecurityInfo>();

  async put(info: SecurityInfo): Promise<void> {
    if (info.pskIdentity !== undefined) {
      for (const other of this.byEndpoint.values()) {
        if (other.endpoint !== info.endpoint && other.pskIdentity === info.pskIdentity) {
          throw new StoreConflictError(`PSK identity "${info.pskIdentity}" already belongs to endpoint "${other.endpoint}"`);
        }
      }
    }
    this.byEndpoint.set(info.endpoint, copy(info));
  }

  async get(endpoint: string): Promise<SecurityInfo | undefined> {
    const info = this.byEndpoint.get(endpoint);
    return info && copy(info);
  }

  async getByPskIdentity(identity: string): Promise<SecurityInfo | undefined> {
    for (const info of this.byEndpoint.values()) if (info.pskIdentity === identity) return copy(info);
    return undefined;
  }

  async remove(endpoint: string): Promise<boolean> {
    return this.byEndpoint.delete(endpoint);
  }

  async list(): Promise<SecurityInfoSummary[]> {
    return [...this.byEndpoint.values()].sort(byKey((i) => i.endpoint)).map(summarize);
  }
}

class MemoryBootstrapConfigs implements BootstrapConfigStore {
  private readonly configs = new Map<string, JsonObject>();

  async get(endpoint: string): Promise<JsonObject | undefined> {
    const config = this.configs.get(endpoint);
    return config && copy(config);
  }

  async put(endpoint: string, config: JsonObject): Promise<void> {
    this.configs.set(endpoint, copy(config));
  }

  async remove(endpoint: string): Promise<boolean> {
    return this.configs.delete(endpoint);
  }

  async list(): Promise<Array<{ endpoint: string; config: JsonObject }>> {
    return [...this.configs.keys()].sort().map((endpoint) => ({ endpoint, config: copy(this.configs.get(endpoint)!) }));
  }
}

class MemoryQueuedRequests implements QueuedRequestStore {
  private readonly items = new Map<number, StoredQueuedRequest>();
  private nextSeq = 1;

  async append(request: QueuedRequestDescription): Promise<number> {
    const seq = this.nextSeq++;
    this.items.set(seq, { ...copy(request), seq });
    return seq;
  }

  async list(endpoint: string): Promise<StoredQueuedRequest[]> {
    return [...this.items.values()].filter((i) => i.endpoint === endpoint).map(copy);
  }

  async endpoints(): Promise<string[]> {
    return [...new Set([...this.items.values()].map((i) => i.endpoint))].sort();
  }

  async remove(seq: number): Promise<boolean> {
    return this.items.delete(seq);
  }

  async removeEndpoint(endpoint: string): Promise<number> {
    let removed = 0;
    for (const [seq, item] of this.items) {
      if (item.endpoint === endpoint) {
        this.items.delete(seq);
        removed++;
      }
    }
    return removed;
  }
}

class MemoryObservations implements ObservationStore {
  private readonly byId = new Map<string, StoredObservation>();

  async put(observation: StoredObservation): Promise<void> {
    this.byId.set(observation.observationId, copy(observation));
  }

  async get(observationId: string): Promise<StoredObservation | undefined> {
    const o = this.byId.get(observationId);
    return o && copy(o);
  }

  async ofEndpoint(endpoint: string): Promise<StoredObservation[]> {
    return (await this.list()).filter((o) => o.endpoint === endpoint);
  }

  async list(): Promise<StoredObservation[]> {
    return [...this.byId.values()].sort(byKey((o) => o.observationId)).map(copy);
  }

  async remove(observationId: string): Promise<boolean> {
    return this.byId.delete(observationId);
  }

  async removeEndpoint(endpoint: string): Promise<number> {
    let removed = 0;
    for (const [id, o] of this.byId) {
      if (o.endpoint === endpoint) {
        this.byId.delete(id);
        removed++;
      }
    }
    return removed;
  }
}

class MemoryFirmwareImages implements FirmwareImageStore {
  private readonly byId = new Map<string, FirmwareImageMeta>();

  async put(image: FirmwareImageMeta): Promise<void> {
    this.byId.set(image.id, copy(image));
  }

  async get(id: string): Promise<FirmwareImageMeta | undefined> {
    const image = this.byId.get(id);
    return image && copy(image);
  }

  async list(): Promise<FirmwareImageMeta[]> {
    return [...this.byId.values()].sort(byCreatedThenId).map(copy);
  }

  async remove(id: string): Promise<boolean> {
    return this.byId.delete(id);
  }
}

class MemoryCampaigns implements CampaignStore {
  private readonly campaigns = new Map<string, Campaign>();
  private readonly states = new Map<string, Map<string, DeviceRolloutState>>();

  async put(campaign: Campaign): Promise<void> {
    this.campaigns.set(campaign.id, copy(campaign));
  }

  async get(id: string): Promise<Campaign | undefined> {
    const c = this.campaigns.get(id);
    return c && copy(c);
  }

  async list(): Promise<Campaign[]> {
    return [...this.campaigns.values()].sort(byCreatedThenId).map(copy);
  }

  async remove(id: string): Promise<boolean> {
    this.states.delete(id);
    return this.campaigns.delete(id);
  }

  async getDeviceState(campaignId: string, endpoint: string): Promise<DeviceRolloutState | undefined> {
    const s = this.states.get(campaignId)?.get(endpoint);
    return s && copy(s);
  }

  async listDeviceStates(campaignId: string): Promise<DeviceRolloutState[]> {
    return [...(this.states.get(campaignId)?.values() ?? [])].sort(byKey((s) => s.endpoint)).map(copy);
  }

  async setDeviceState(
    campaignId: string,
    endpoint: string,
    state: DeviceRolloutWrite,
    expectedRevision: number,
  ): Promise<DeviceRolloutState | undefined> {
    let ofCampaign = this.states.get(campaignId);
    const current = ofCampaign?.get(endpoint);
    if ((current?.revision ?? 0) !== expectedRevision) return undefined;
    const next: DeviceRolloutState = { campaignId, endpoint, phase: state.phase, updatedAt: state.updatedAt, data: copy(state.data), revision: expectedRevision + 1 };
    if (!ofCampaign) {
      ofCampaign = new Map();
      this.states.set(campaignId, ofCampaign);
    }
    ofCampaign.set(endpoint, next);
    return copy(next);
  }
}

class MemoryAuditLog implements AuditLog {
  private readonly entries: AuditEntry[] = [];

  async append(entry: AuditEntryInput): Promise<number> {
    const seq = this.entries.length + 1;
    this.entries.push({ ...copy(entry), seq });
    return seq;
  }

  async list(query: AuditQuery = {}): Promise<AuditEntry[]> {
    const after = query.afterSeq ?? 0;
    const limit = query.limit ?? 100;
    return this.entries
      .filter((e) => e.seq > after && (query.subject === undefined || e.subject === query.subject))
      .slice(0, limit)
      .map(copy);
  }
}

export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  readonly registrations = new MemoryRegistrations();
  readonly security = new MemorySecurity();
  readonly bootstrapConfigs = new MemoryBootstrapConfigs();
  readonly queuedRequests = new MemoryQueuedRequests();
  readonly observations = new MemoryObservations();
  readonly firmwareImages = new MemoryFirmwareImages();
  readonly campaigns = new MemoryCampaigns();
  readonly audit = new MemoryAuditLog();
  readonly deviceTags = new MemoryDeviceTags();

  async close(): Promise<void> {}
}

function byKey<T>(key: (item: T) => string): (a: T, b: T) => number {
  return (a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
}

function byCreatedThenId(a: { createdAt: number; id: string }, b: { createdAt: number; id: string }): number {
  return a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
