/**
 * Registration ⇄ stored row. A row is one JSON array, fields by position: compact (no
 * field names in a million rows), made by JSON.stringify's fast path on the thread that
 * answers devices, and still readable with the sqlite3 shell. The endpoint is not in the
 * row: it is the memory store's map key, and the SQLite log puts it in front of the row
 * (KeyedRow; the old one-row-per-endpoint table had it as its key column).
 *
 * What devices of one type and firmware all send alike — lifetime, version, binding, queue
 * mode, SMS number, root path and object links — is the row's "shape": the number of a
 * shape stored once in a side table (sqlite/shape-interner.ts; the shape names its link
 * set, see sqlite/link-interner.ts), or, where nothing is numbered (the memory store, a
 * full table), the shape array itself. Links are parsed back through parseObjectLinks, so
 * devices of one type share one frozen links array again after a restart (the memory
 * budget of 1M devices depends on it).
 *
 * Times: registeredAt is stored as the distance from a time base kept beside the row (the
 * SQLite column time_base, one value per log entry; 0, i.e. absolute, in the memory store),
 * lastUpdateAt as the distance from registeredAt: small integers that cost less to format
 * and to write than 13-digit timestamps, on the thread that answers devices. expiresAt is
 * lastUpdateAt + the lifetime for every registration the server makes, so it is only
 * stored (a 7th field) when it is not.
 *
 * Rows of older versions (13 fields, every field inline) stay readable.
 */
import { serializeLinkFormat, type WebLink } from '../lwm2m/link-format.js';
import { parseObjectLinks } from '../lwm2m/server/object-links.js';
import type { Lwm2mVersion, Registration } from '../lwm2m/server/registration.js';
import { StoreCorruptError } from './types.js';

/** Where each field sits in a row. */
export const ROW = {
  id: 0,
  address: 1,
  port: 2,
  /** The number of a stored shape, or a ShapeArray. */
  shape: 3,
  /** registeredAt - the row's time base. */
  registeredAt: 4,
  /** lastUpdateAt - registeredAt. */
  updatedAfter: 5,
  /** expiresAt - lastUpdateAt; only present when it is not lifetimeSec * 1000. */
  expiresAfter: 6,
} as const;

/** Where each field sits in a shape. */
export const SHAPE = {
  lifetimeSec: 0,
  lwm2mVersion: 1,
  binding: 2,
  /** 1 or 0. */
  queueMode: 3,
  /** null when absent. */
  smsNumber: 4,
  rootPath: 5,
  /** Link-format text, or the number of a stored link set. */
  links: 6,
} as const;

export type ShapeArray = [
  lifetimeSec: number,
  lwm2mVersion: Lwm2mVersion,
  binding: string,
  queueMode: 0 | 1,
  smsNumber: string | null,
  rootPath: string,
  links: string | number,
];

export type RegistrationRow =
  | [id: string, address: string, port: number, shape: number | ShapeArray, registeredAt: number, updatedAfter: number]
  | [id: string, address: string, port: number, shape: number | ShapeArray, registeredAt: number, updatedAfter: number, expiresAfter: number];

/** The fields of a registration that make its shape: what devices of one type send alike. */
export type ShapeFields = Readonly<Pick<Registration, 'lifetimeSec' | 'lwm2mVersion' | 'binding' | 'queueMode' | 'smsNumber' | 'rootPath' | 'objectLinks'>>;

/** A shape as the rows that name it need it: the registration's fields, links parsed. */
export type StoredShape = ShapeFields;

/** How a row's numbers are resolved when it is read (numbered shapes and link sets). */
export interface StoredSets {
  shape(n: number): StoredShape | undefined;
  links(n: number): readonly WebLink[] | undefined;
}

export const NO_STORED_SETS: StoredSets = { shape: () => undefined, links: () => undefined };

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

/** The shape of a registration, its links as given. */
export function toShape(r: Registration, links: string | number): ShapeArray {
  return [r.lifetimeSec, r.lwm2mVersion, r.binding, r.queueMode ? 1 : 0, r.smsNumber ?? null, r.rootPath, links];
}

export function toRow(r: Registration, shape: number | ShapeArray): RegistrationRow {
  const expiresAfter = r.expiresAt - r.lastUpdateAt;
  return expiresAfter === r.lifetimeSec * 1000
    ? [r.id, r.address.address, r.address.port, shape, r.registeredAt, r.lastUpdateAt - r.registeredAt]
    : [r.id, r.address.address, r.address.port, shape, r.registeredAt, r.lastUpdateAt - r.registeredAt, expiresAfter];
}

/** A row with the endpoint in front, as a batch carries it to the writer (the key is taken off there). */
export type KeyedRow = [endpoint: string, ...row: RegistrationRow];

// Written out rather than [r.endpoint, ...toRow(r, shape)]: this runs once per registration
// written, and the spread would build and drop a second array each time. Keep both in step with ROW.
/** `timeBase`: subtracted from registeredAt; the row must be stored with it (see the file comment). */
export function toKeyedRow(r: Registration, shape: number | ShapeArray, timeBase: number): KeyedRow {
  const registeredAt = r.registeredAt;
  const lastUpdateAt = r.lastUpdateAt;
  const address = r.address;
  const expiresAfter = r.expiresAt - lastUpdateAt;
  return expiresAfter === r.lifetimeSec * 1000
    ? [r.endpoint, r.id, address.address, address.port, shape, registeredAt - timeBase, lastUpdateAt - registeredAt]
    : [r.endpoint, r.id, address.address, address.port, shape, registeredAt - timeBase, lastUpdateAt - registeredAt, expiresAfter];
}

/** A row with its shape and links inline, as text. */
export function encodeRegistration(r: Registration): string {
  return JSON.stringify(toRow(r, toShape(r, linksToText(r.objectLinks))));
}

/** Throws StoreCorruptError when the text is not a row this code wrote with an inline shape. */
export function decodeRegistration(endpoint: string, text: string): Registration {
  return fromRow(endpoint, parseRow(text), NO_STORED_SETS);
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
 * A shape array (inline in a row, or from the shape table) with its links resolved;
 * undefined when it is not one this code wrote or names an unknown or unreadable link set.
 */
export function fromShape(shape: unknown, storedLinks: (n: number) => readonly WebLink[] | undefined): StoredShape | undefined {
  const s = shape as unknown[];
  const ok =
    Array.isArray(s) && s.length === 7 &&
    isNumber(s[0]) && VERSIONS.includes(s[1]) && isText(s[2]) && (s[3] === 0 || s[3] === 1) &&
    (s[4] === null || isText(s[4])) && isText(s[5]) && (isText(s[6]) || isInt(s[6]));
  if (!ok) return undefined;
  const objectLinks = resolveLinks(s[6] as string | number, storedLinks);
  if (!objectLinks) return undefined;
  const [lifetimeSec, lwm2mVersion, binding, queueMode, smsNumber, rootPath] = s as ShapeArray;
  return { lifetimeSec, lwm2mVersion, binding, queueMode: queueMode === 1, smsNumber: smsNumber ?? undefined, rootPath, objectLinks };
}

function resolveLinks(links: string | number, storedLinks: (n: number) => readonly WebLink[] | undefined): readonly WebLink[] | undefined {
  if (typeof links === 'number') return storedLinks(links);
  try {
    return parseObjectLinks(links).objectLinks;
  } catch {
    return undefined;
  }
}

/**
 * Throws StoreCorruptError when the row is not one this code (or an older version) wrote,
 * or names a shape or link set `stored` does not know. `timeBase`: the one the row was written with.
 */
export function fromRow(endpoint: string, row: unknown, stored: StoredSets, timeBase = 0): Registration {
  const r = row as unknown[];
  if (endpoint === '' || !Array.isArray(r)) throw notARow(endpoint);
  if (r.length === LEGACY_ROW_LENGTH) return fromLegacyRow(endpoint, r, stored, timeBase);
  const ok =
    (r.length === 6 || (r.length === 7 && isNumber(r[6]))) &&
    isText(r[0]) && r[0] !== '' &&
    isText(r[1]) && isInt(r[2]) &&
    (isInt(r[3]) || Array.isArray(r[3])) &&
    isNumber(r[4]) && isNumber(r[5]);
  if (!ok) throw notARow(endpoint);
  const id = r[0] as string;
  const shape = typeof r[3] === 'number' ? stored.shape(r[3]) : fromShape(r[3], stored.links);
  if (!shape) {
    throw new StoreCorruptError(
      typeof r[3] === 'number' ? `stored registration "${id}" names an unknown shape ${r[3]}` : `stored registration "${id}" has an unreadable shape`,
    );
  }
  const registeredAt = timeBase + (r[4] as number);
  const lastUpdateAt = registeredAt + (r[5] as number);
  // Same property order as RegistrationService builds: one hidden class for all.
  return {
    id,
    endpoint,
    lifetimeSec: shape.lifetimeSec,
    lwm2mVersion: shape.lwm2mVersion,
    binding: shape.binding,
    queueMode: shape.queueMode,
    smsNumber: shape.smsNumber,
    address: { address: r[1] as string, port: r[2] as number },
    rootPath: shape.rootPath,
    objectLinks: shape.objectLinks,
    registeredAt,
    lastUpdateAt,
    expiresAt: lastUpdateAt + (r.length === 7 ? (r[6] as number) : shape.lifetimeSec * 1000),
  };
}

function notARow(endpoint: string): StoreCorruptError {
  return new StoreCorruptError(`stored registration of ${JSON.stringify(endpoint)} is not a registration row`);
}

/**
 * Rows written before shapes (schema 5 to 7): [id, lifetimeSec, lwm2mVersion, binding,
 * queueMode, smsNumber, address, port, rootPath, links, registeredAt, updatedAfter, expiresAfter].
 */
export const LEGACY_ROW_LENGTH = 13;
/** Where a legacy row holds its links. */
export const LEGACY_LINKS = 9;

function fromLegacyRow(endpoint: string, r: unknown[], stored: StoredSets, timeBase: number): Registration {
  const ok =
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
  if (!ok) throw notARow(endpoint);
  const id = r[0] as string;
  const links = r[9] as string | number;
  const objectLinks = resolveLinks(links, stored.links);
  if (!objectLinks) {
    throw new StoreCorruptError(
      typeof links === 'number' ? `stored registration "${id}" names an unknown link set ${links}` : `stored registration "${id}" has unreadable object links`,
    );
  }
  const registeredAt = timeBase + (r[10] as number);
  const lastUpdateAt = registeredAt + (r[11] as number);
  return {
    id,
    endpoint,
    lifetimeSec: r[1] as number,
    lwm2mVersion: r[2] as Lwm2mVersion,
    binding: r[3] as string,
    queueMode: r[4] === 1,
    smsNumber: (r[5] as string | null) ?? undefined,
    address: { address: r[6] as string, port: r[7] as number },
    rootPath: r[8] as string,
    objectLinks,
    registeredAt,
    lastUpdateAt,
    expiresAt: lastUpdateAt + (r[12] as number),
  };
}
