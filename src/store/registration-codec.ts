/**
 * Registration ⇄ stored row. A row is one JSON array, fields by position: compact (no
 * field names in a million rows), made by JSON.stringify's fast path on the thread that
 * answers devices, and still readable with the sqlite3 shell. The endpoint is not in the
 * row: it is the row's key (the SQLite column, the memory store's map key).
 *
 * Object links are stored as the link-format text the device sent (or as the number of
 * that text in a side table, see sqlite/link-interner.ts) and parsed back through
 * parseObjectLinks, so devices of one type share one frozen links array again after a
 * restart (the memory budget of 1M devices depends on it).
 *
 * Times: lastUpdateAt and expiresAt are stored as the distance from the field before,
 * and registeredAt as the distance from a time base kept beside the row (the SQLite
 * column time_base, one value per batch; 0, i.e. absolute, in rows of older versions and
 * in the memory store): small integers that cost less to format and to write than
 * 13-digit timestamps, on the thread that answers devices.
 */
import { serializeLinkFormat, type WebLink } from '../lwm2m/link-format.js';
import { parseObjectLinks } from '../lwm2m/server/object-links.js';
import type { Lwm2mVersion, Registration } from '../lwm2m/server/registration.js';
import { StoreCorruptError } from './types.js';

/** Where each field sits in a row. */
export const ROW = {
  id: 0,
  lifetimeSec: 1,
  lwm2mVersion: 2,
  binding: 3,
  /** 1 or 0. */
  queueMode: 4,
  /** null when absent. */
  smsNumber: 5,
  address: 6,
  port: 7,
  rootPath: 8,
  /** Link-format text, or the number of a stored link set. */
  links: 9,
  /** registeredAt - the row's time base. */
  registeredAt: 10,
  /** lastUpdateAt - registeredAt. */
  updatedAfter: 11,
  /** expiresAt - lastUpdateAt. */
  expiresAfter: 12,
} as const;

export type RegistrationRow = [
  id: string,
  lifetimeSec: number,
  lwm2mVersion: Lwm2mVersion,
  binding: string,
  queueMode: 0 | 1,
  smsNumber: string | null,
  address: string,
  port: number,
  rootPath: string,
  links: string | number,
  registeredAt: number,
  updatedAfter: number,
  expiresAfter: number,
];

const ROW_LENGTH = 13;

// One serialisation per shared links array, not per device.
const linkText = new WeakMap<readonly WebLink[], string>();

/** The link-format text of a (shared) links array, computed once per array. */
export function linksToText(links: readonly WebLink[]): string {
  let text = linkText.get(links);
  if (text === undefined) {
    text = serializeLinkFormat(links);
    linkText.set(links, text);
  }
  return text;
}

export function toRow(r: Registration, links: string | number): RegistrationRow {
  return [
    r.id,
    r.lifetimeSec,
    r.lwm2mVersion,
    r.binding,
    r.queueMode ? 1 : 0,
    r.smsNumber ?? null,
    r.address.address,
    r.address.port,
    r.rootPath,
    links,
    r.registeredAt,
    r.lastUpdateAt - r.registeredAt,
    r.expiresAt - r.lastUpdateAt,
  ];
}

/** A row with the endpoint in front, as a batch carries it to the writer (the key is taken off there). */
export type KeyedRow = [endpoint: string, ...row: RegistrationRow];

// Written out rather than [r.endpoint, ...toRow(r, links)]: this runs once per registration
// written, and the spread would build and drop a second array each time. Keep both in step with ROW.
/** `timeBase`: subtracted from registeredAt; the row must be stored with it (see the file comment). */
export function toKeyedRow(r: Registration, links: string | number, timeBase: number): KeyedRow {
  return [
    r.endpoint,
    r.id,
    r.lifetimeSec,
    r.lwm2mVersion,
    r.binding,
    r.queueMode ? 1 : 0,
    r.smsNumber ?? null,
    r.address.address,
    r.address.port,
    r.rootPath,
    links,
    r.registeredAt - timeBase,
    r.lastUpdateAt - r.registeredAt,
    r.expiresAt - r.lastUpdateAt,
  ];
}

/** A row with its links inline, as text. */
export function encodeRegistration(r: Registration): string {
  return JSON.stringify(toRow(r, linksToText(r.objectLinks)));
}

/** Throws StoreCorruptError when the text is not a row this code wrote with inline links. */
export function decodeRegistration(endpoint: string, text: string): Registration {
  return fromRow(endpoint, parseRow(text), () => undefined);
}

export function parseRow(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new StoreCorruptError('stored registration is not JSON');
  }
}

const VERSIONS: readonly unknown[] = ['1.0', '1.1', '1.2'];

const isText = (v: unknown): v is string => typeof v === 'string';
const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
const isNumber = (v: unknown): v is number => Number.isFinite(v);

/**
 * Throws StoreCorruptError when the row is not one this code wrote, or names a link set
 * `storedLinks` does not know. `timeBase`: the one the row was written with.
 */
export function fromRow(
  endpoint: string,
  row: unknown,
  storedLinks: (ref: number) => readonly WebLink[] | undefined,
  timeBase = 0,
): Registration {
  const r = row as unknown[];
  const ok =
    endpoint !== '' &&
    Array.isArray(r) && r.length === ROW_LENGTH &&
    isText(r[0]) && r[0] !== '' &&
    isNumber(r[1]) &&
    VERSIONS.includes(r[2]) &&
    isText(r[3]) &&
    (r[4] === 0 || r[4] === 1) &&
    (r[5] === null || isText(r[5])) &&
    isText(r[6]) && isInt(r[7]) &&
    isText(r[8]) &&
    (isText(r[9]) || isInt(r[9])) &&
    isNumber(r[10]) && isNumber(r[11]) && isNumber(r[12]);
  if (!ok) throw new StoreCorruptError(`stored registration of ${JSON.stringify(endpoint)} is not a registration row`);
  const [id, lifetimeSec, lwm2mVersion, binding, queueMode, smsNumber, address, port, rootPath, links, registeredAfterBase, updatedAfter, expiresAfter] =
    r as RegistrationRow;
  const registeredAt = timeBase + registeredAfterBase;
  let objectLinks: readonly WebLink[] | undefined;
  if (typeof links === 'number') {
    objectLinks = storedLinks(links);
    if (!objectLinks) throw new StoreCorruptError(`stored registration "${id}" names an unknown link set ${links}`);
  } else {
    try {
      objectLinks = parseObjectLinks(links).objectLinks;
    } catch {
      throw new StoreCorruptError(`stored registration "${id}" has unreadable object links`);
    }
  }
  const lastUpdateAt = registeredAt + updatedAfter;
  // Same property order as RegistrationService builds: one hidden class for all.
  return {
    id,
    endpoint,
    lifetimeSec,
    lwm2mVersion,
    binding,
    queueMode: queueMode === 1,
    smsNumber: smsNumber ?? undefined,
    address: { address, port },
    rootPath,
    objectLinks,
    registeredAt,
    lastUpdateAt,
    expiresAt: lastUpdateAt + expiresAfter,
  };
}
