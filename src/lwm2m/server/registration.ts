import type { RemoteAddress } from '../../coap/types.js';
import type { WebLink } from '../link-format.js';

export type Lwm2mVersion = '1.0' | '1.1' | '1.2';

/**
 * One registered device. Registrations are immutable: an update produces a new object,
 * so events can carry both `previous` and the new one. Several thousand devices of one
 * type share the same frozen `objectLinks` array (see object-links.ts), which is what
 * keeps a registration under 1 KiB of heap.
 */
export interface Registration {
  readonly id: string;
  readonly endpoint: string;
  readonly lifetimeSec: number;
  readonly lwm2mVersion: Lwm2mVersion;
  /** As sent (1.0 may include Q, e.g. "UQ"); 1.1+ never contains Q. */
  readonly binding: string;
  readonly queueMode: boolean;
  readonly smsNumber: string | undefined;
  readonly address: Readonly<RemoteAddress>;
  /** "/" or the alternate path, e.g. "/lwm2m" (no trailing slash). */
  readonly rootPath: string;
  /** Every link of the payload, including the root link; shared and frozen. */
  readonly objectLinks: readonly WebLink[];
  readonly registeredAt: number;
  readonly lastUpdateAt: number;
  /** When the registration lapses: lastUpdateAt + lifetime (the sweep adds the grace). */
  readonly expiresAt: number;
}

/** "ip:port", the key the store finds a sender by (Send, notifications). */
export function addressKey(remote: RemoteAddress): string {
  return `${remote.address}:${remote.port}`;
}

interface LinkFacts {
  objects: Map<number, string>;
  instances: Map<number, number[]>;
}

// Computed once per shared objectLinks array, not once per device.
const factsCache = new WeakMap<readonly WebLink[], LinkFacts>();

function linkFacts(reg: Registration): LinkFacts {
  let facts = factsCache.get(reg.objectLinks);
  if (facts) return facts;
  const objects = new Map<number, string>();
  const instances = new Map<number, number[]>();
  for (const link of reg.objectLinks) {
    const ids = lwm2mIdsOfLink(link.uri, reg.rootPath);
    if (!ids || ids.length === 0 || ids.length > 2) continue;
    const [objectId, instanceId] = ids;
    const ver = link.params.ver;
    if (ids.length === 1 && typeof ver === 'string') objects.set(objectId, ver);
    else if (!objects.has(objectId)) objects.set(objectId, '1.0');
    if (instanceId !== undefined) {
      const list = instances.get(objectId) ?? [];
      if (!list.includes(instanceId)) list.push(instanceId);
      instances.set(objectId, list);
    }
  }
  for (const list of instances.values()) list.sort((a, b) => a - b);
  facts = { objects, instances };
  factsCache.set(reg.objectLinks, facts);
  return facts;
}

/** The ids of an object link below the root path ("/lwm2m/3/0" with root "/lwm2m" → [3, 0]); undefined when not an LwM2M path. */
export function lwm2mIdsOfLink(uri: string, rootPath: string): number[] | undefined {
  let rest = uri;
  if (rootPath !== '/') {
    if (rest !== rootPath && !rest.startsWith(rootPath + '/')) return undefined;
    rest = rest.slice(rootPath.length);
  }
  const parts = rest.split('/').filter((p) => p !== '');
  const ids: number[] = [];
  for (const part of parts) {
    if (!/^\d{1,5}$/.test(part)) return undefined;
    const id = Number(part);
    if (id > 65535) return undefined;
    ids.push(id);
  }
  return ids;
}

/** Object id → object version the device implements ("1.0" unless the link said `ver`). */
export function supportedObjects(reg: Registration): ReadonlyMap<number, string> {
  return linkFacts(reg).objects;
}

/** Object id → instance ids the device announced, ascending. Objects without instance links are absent. */
export function availableInstances(reg: Registration): ReadonlyMap<number, readonly number[]> {
  return linkFacts(reg).instances;
}
