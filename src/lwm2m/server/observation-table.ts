import type { Observation } from '../../coap/types.js';
import type { LwM2mPath } from '../path.js';

export interface ObservationInfo {
  observationId: string;
  endpoint: string;
  registrationId: string;
  /** "/3/0/13"; for a composite observation the paths joined by ",". */
  path: string;
  /** Present for composite observations. */
  paths?: string[];
  contentFormat: number;
  createdAt: number;
}

export interface ObservationRecord extends ObservationInfo {
  lwm2mPath: LwM2mPath | undefined;
  coap: Observation;
}

/** Active observations by id and by endpoint. */
export class ObservationTable {
  private readonly byId = new Map<string, ObservationRecord>();
  private readonly byEndpoint = new Map<string, Set<string>>();

  add(record: ObservationRecord): void {
    this.byId.set(record.observationId, record);
    let ids = this.byEndpoint.get(record.endpoint);
    if (!ids) {
      ids = new Set();
      this.byEndpoint.set(record.endpoint, ids);
    }
    ids.add(record.observationId);
  }

  get(observationId: string): ObservationRecord | undefined {
    return this.byId.get(observationId);
  }

  remove(observationId: string): ObservationRecord | undefined {
    const record = this.byId.get(observationId);
    if (!record) return undefined;
    this.byId.delete(observationId);
    const ids = this.byEndpoint.get(record.endpoint);
    ids?.delete(observationId);
    if (ids?.size === 0) this.byEndpoint.delete(record.endpoint);
    return record;
  }

  ofEndpoint(endpoint: string): ObservationRecord[] {
    const ids = this.byEndpoint.get(endpoint);
    return ids ? [...ids].map((id) => this.byId.get(id)!) : [];
  }

  removeEndpoint(endpoint: string): ObservationRecord[] {
    const records = this.ofEndpoint(endpoint);
    for (const record of records) this.remove(record.observationId);
    return records;
  }

  count(): number {
    return this.byId.size;
  }
}

export function publicInfo(record: ObservationRecord): ObservationInfo {
  const info: ObservationInfo = {
    observationId: record.observationId,
    endpoint: record.endpoint,
    registrationId: record.registrationId,
    path: record.path,
    contentFormat: record.contentFormat,
    createdAt: record.createdAt,
  };
  if (record.paths) info.paths = record.paths;
  return info;
}
