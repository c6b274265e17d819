/**
 * Registration ⇄ stored text. Object links are stored as the link-format text the device
 * sent and parsed back through parseObjectLinks, so devices of one type share one frozen
 * links array again after a restart (the memory budget of 1M devices depends on it).
 */
import { serializeLinkFormat, type WebLink } from '../lwm2m/link-format.js';
import { parseObjectLinks } from '../lwm2m/server/object-links.js';
import type { Lwm2mVersion, Registration } from '../lwm2m/server/registration.js';
import { StoreCorruptError } from './types.js';

/** The stored shape of a registration: plain data, cheap to hand to a writer thread. */
export interface StoredRegistration {
  id: string;
  endpoint: string;
  lifetimeSec: number;
  lwm2mVersion: Lwm2mVersion;
  binding: string;
  queueMode: boolean;
  smsNumber?: string;
  address: { address: string; port: number };
  rootPath: string;
  links: string;
  registeredAt: number;
  lastUpdateAt: number;
  expiresAt: number;
}

// One serialisation per shared links array, not per device.
const linkText = new WeakMap<readonly WebLink[], string>();

function linksToText(links: readonly WebLink[]): string {
  let text = linkText.get(links);
  if (text === undefined) {
    text = serializeLinkFormat(links);
    linkText.set(links, text);
  }
  return text;
}

export function encodeRegistration(r: Registration): string {
  return JSON.stringify(toStoredRegistration(r));
}

export function toStoredRegistration(r: Registration): StoredRegistration {
  const stored: StoredRegistration = {
    id: r.id,
    endpoint: r.endpoint,
    lifetimeSec: r.lifetimeSec,
    lwm2mVersion: r.lwm2mVersion,
    binding: r.binding,
    queueMode: r.queueMode,
    address: { address: r.address.address, port: r.address.port },
    rootPath: r.rootPath,
    links: linksToText(r.objectLinks),
    registeredAt: r.registeredAt,
    lastUpdateAt: r.lastUpdateAt,
    expiresAt: r.expiresAt,
  };
  if (r.smsNumber !== undefined) stored.smsNumber = r.smsNumber;
  return stored;
}

const VERSIONS: readonly string[] = ['1.0', '1.1', '1.2'];

/** Throws StoreCorruptError when the text is not a registration this code wrote. */
export function decodeRegistration(text: string): Registration {
  let s: StoredRegistration;
  try {
    s = JSON.parse(text) as StoredRegistration;
  } catch {
    throw new StoreCorruptError('stored registration is not JSON');
  }
  const ok =
    typeof s === 'object' && s !== null &&
    typeof s.id === 'string' && s.id !== '' &&
    typeof s.endpoint === 'string' && s.endpoint !== '' &&
    Number.isFinite(s.lifetimeSec) &&
    VERSIONS.includes(s.lwm2mVersion) &&
    typeof s.binding === 'string' &&
    typeof s.queueMode === 'boolean' &&
    (s.smsNumber === undefined || typeof s.smsNumber === 'string') &&
    typeof s.address === 'object' && s.address !== null &&
    typeof s.address.address === 'string' && Number.isInteger(s.address.port) &&
    typeof s.rootPath === 'string' && typeof s.links === 'string' &&
    Number.isFinite(s.registeredAt) && Number.isFinite(s.lastUpdateAt) && Number.isFinite(s.expiresAt);
  if (!ok) throw new StoreCorruptError(`stored registration ${JSON.stringify(s?.id ?? null)} is missing fields`);
  let objectLinks: readonly WebLink[];
  try {
    objectLinks = parseObjectLinks(s.links).objectLinks;
  } catch {
    throw new StoreCorruptError(`stored registration "${s.id}" has unreadable object links`);
  }
  // Same property order as RegistrationService builds: one hidden class for all.
  return {
    id: s.id,
    endpoint: s.endpoint,
    lifetimeSec: s.lifetimeSec,
    lwm2mVersion: s.lwm2mVersion,
    binding: s.binding,
    queueMode: s.queueMode,
    smsNumber: s.smsNumber,
    address: { address: s.address.address, port: s.address.port },
    rootPath: s.rootPath,
    objectLinks,
    registeredAt: s.registeredAt,
    lastUpdateAt: s.lastUpdateAt,
    expiresAt: s.expiresAt,
  };
}
