import type { LwM2mNode, ObjectLink, ResourceType, ResourceValue, TimestampedNode } from '../node.js';
import { formatPath, fromIds, InvalidPathError, parsePath, pathIds, type LwM2mPath } from '../path.js';
import type { ObjectModel } from '../model/types.js';
import { DecodeError, EncodeError, type MultiNodeCodec } from './types.js';
import { assembleComposite, assembleNode, flattenNode, leafNode, modelType, nodeBaseIds, type FlatValue } from './tree.js';
import {
  checkIntegerRange,
  dateFromSeconds,
  formatObjectLink,
  normalizeInteger,
  parseObjectLink,
  secondsFromDate,
} from './values.js';

/**
 * The part of SenML (RFC 8428) that JSON and CBOR share, as LwM2M 1.1 §7.4.4/7.4.5 uses it:
 * names are paths ("/3/0/1"), resolved as base name + name; times as base time + time, where
 * a result below 2^28 is relative to now (RFC 8428 §4.5.3). Values go in v (numbers and time
 * in seconds), vs (strings), vb (booleans), vd (opaque) and vlo (object links, "3:0").
 */
export interface SenmlRecord {
  bn?: string;
  bt?: number;
  n?: string;
  t?: number;
  v?: number | bigint;
  vs?: string;
  vb?: boolean;
  vd?: Buffer;
  vlo?: string;
}

export interface SenmlOptions {
  /** Milliseconds since the epoch, for relative SenML times. */
  now?: () => number;
}

const RELATIVE_TIME_LIMIT = 2 ** 28;

export interface ResolvedRecord extends FlatValue {
  /** Milliseconds since the epoch. */
  timestamp?: number;
}

/**
 * "/3/0/1" → [3, 0, 1] in one pass. Names are the paths of the records, so this runs for
 * every record of every read and notification: the general parsePath (regular expressions,
 * an object per path) is left for the unusual ones, which it parses or reports.
 */
function idsOfName(name: string): number[] | undefined {
  const ids: number[] = [];
  const end = name.length;
  let i = 0;
  while (i < end && name.charCodeAt(i) === SLASH) i++;
  while (i < end) {
    let id = 0;
    const start = i;
    for (let c = name.charCodeAt(i); c >= DIGIT_0 && c <= DIGIT_9 && i - start < 5; c = name.charCodeAt(++i)) id = id * 10 + (c - DIGIT_0);
    if (i === start || id > 65535 || ids.length === 4) return undefined;
    ids.push(id);
    if (i === end) break;
    if (name.charCodeAt(i) !== SLASH) return undefined;
    i++;
    // Trailing slashes are accepted (as parsePath does); an empty segment inside is not.
    if (i < end && name.charCodeAt(i) === SLASH) {
      while (i < end && name.charCodeAt(i) === SLASH) i++;
      if (i < end) return undefined;
    }
  }
  return ids;
}

const SLASH = 0x2f;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

function parseRecordName(format: number, name: string, index: number): number[] {
  const fast = idsOfName(name);
  if (fast !== undefined) return fast;
  try {
    return pathIds(parsePath(name));
  } catch (err) {
    if (err instanceof InvalidPathError) throw new DecodeError(format, `record ${index}: ${err.message}`);
    throw err;
  }
}

interface NamedRecord {
  name: string;
  ids: number[];
  timestamp: number | undefined;
  record: SenmlRecord;
}

function resolveNames(format: number, records: SenmlRecord[], now: () => number): NamedRecord[] {
  let baseName = '';
  let baseTime = 0;
  const named: NamedRecord[] = new Array(records.length);
  for (let index = 0; index < records.length; index++) {
    const record = records[index];
    if (record.bn !== undefined) baseName = record.bn;
    if (record.bt !== undefined) baseTime = record.bt;
    const name = record.n === undefined ? baseName : baseName + record.n;
    if (name === '') throw new DecodeError(format, `record ${index} has no name`);
    const ids = parseRecordName(format, name, index);
    let timestamp: number | undefined;
    if (record.t !== undefined || record.bt !== undefined || baseTime !== 0) {
      const time = baseTime + (record.t ?? 0);
      timestamp = time < RELATIVE_TIME_LIMIT ? now() + time * 1000 : time * 1000;
    }
    named[index] = { name, ids, timestamp, record };
  }
  return named;
}

const VALUE_FIELDS = ['v', 'vs', 'vb', 'vd', 'vlo'] as const;
type ValueField = (typeof VALUE_FIELDS)[number];

/** The record's one value field, or how many it has when that is not exactly one. */
function valueField(record: SenmlRecord): ValueField | number {
  let found: ValueField | undefined;
  let count = 0;
  for (const field of VALUE_FIELDS) {
    if (record[field] === undefined) continue;
    found ??= field;
    count++;
  }
  return count === 1 ? found! : count;
}

/** Records to leaf values, typed by the model (or by the value field when the model does not know). */
export function resolveRecords(
  format: number,
  records: SenmlRecord[],
  model: ObjectModel,
  now: () => number,
): ResolvedRecord[] {
  return resolveNames(format, records, now).map(({ name, ids, timestamp, record }) => {
    if (ids.length < 3) throw new DecodeError(format, `record name "${name}" is not a resource path`);
    const field = valueField(record);
    if (typeof field === 'number') {
      throw new DecodeError(format, `record "${name}" must have exactly one value field, has ${field}`);
    }
    const type = modelType(model, ids[0], ids[2]) ?? typeFromField(field, record);
    const resolved: ResolvedRecord = { ids, type, value: recordValue(format, type, record, name) };
    if (timestamp !== undefined) resolved.timestamp = timestamp;
    return resolved;
  });
}

function typeFromField(field: ValueField, record: SenmlRecord): ResourceType {
  switch (field) {
    case 'v':
      return typeof record.v === 'bigint' || Number.isInteger(record.v) ? 'integer' : 'float';
    case 'vs':
      return 'string';
    case 'vb':
      return 'boolean';
    case 'vd':
      return 'opaque';
    case 'vlo':
      return 'objlnk';
  }
}

function recordValue(format: number, type: ResourceType, record: SenmlRecord, name: string): ResourceValue {
  const bad = (expected: string): never => {
    throw new DecodeError(format, `record "${name}" is ${type} and needs ${expected}`);
  };
  switch (type) {
    case 'integer':
    case 'unsigned': {
      const v = record.v;
      // Most integers are small: no bigint round trip for them (the result is the same number).
      if (typeof v === 'number' && Number.isSafeInteger(v) && (v >= 0 || type === 'integer')) return v === 0 ? 0 : v;
      if (v === undefined || (typeof v === 'number' && !Number.isInteger(v))) return bad('an integer in "v"');
      const big = typeof v === 'bigint' ? v : BigInt(v);
      // A big unsigned value can arrive as a 64-bit pattern; range errors are reported, not wrapped.
      const reason = checkIntegerRange(type, big);
      if (reason) throw new DecodeError(format, `record "${name}": ${reason}`);
      return normalizeInteger(big);
    }
    case 'float':
      if (record.v === undefined) return bad('a number in "v"');
      return Number(record.v);
    case 'time': {
      if (record.v === undefined) return bad('seconds in "v"');
      return dateFromSeconds(Math.floor(Number(record.v))) ?? bad('a time in range');
    }
    case 'boolean':
      return record.vb ?? bad('"vb"');
    case 'string':
    case 'corelnk':
    case 'none':
      return record.vs ?? bad('"vs"');
    case 'opaque':
      return record.vd ?? bad('"vd"');
    case 'objlnk':
      if (record.vlo === undefined) return bad('"vlo"');
      return parseObjectLink(record.vlo) ?? bad('"vlo" of the form "3:0"');
  }
}

/** A leaf value as a record without name; the caller sets names and times. */
export function valueRecord(format: number, v: FlatValue, allowNonFinite: boolean): SenmlRecord {
  switch (v.type) {
    case 'integer':
    case 'unsigned':
      return { v: v.value as number | bigint };
    case 'float': {
      const n = v.value as number;
      if (!allowNonFinite && !Number.isFinite(n)) {
        throw new EncodeError(format, `/${v.ids.join('/')}: ${n} cannot be written in this format`);
      }
      return { v: n };
    }
    case 'time':
      return { v: secondsFromDate(v.value as Date) };
    case 'boolean':
      return { vb: v.value as boolean };
    case 'string':
    case 'corelnk':
      return { vs: v.value as string };
    case 'opaque':
      return { vd: v.value as Buffer };
    case 'objlnk':
      return { vlo: formatObjectLink(v.value as ObjectLink) };
    case 'none':
      throw new EncodeError(format, `/${v.ids.join('/')} has no value type`);
  }
}

/** Records of one node written at `path`: a base name for the path, names relative to it. */
export function nodeRecords(
  format: number,
  node: LwM2mNode,
  path: LwM2mPath,
  model: ObjectModel,
  allowNonFinite: boolean,
): SenmlRecord[] {
  const baseIds = nodeBaseIds(format, node, path);
  const values = flattenNode(format, node, baseIds, model);
  const target = formatPath(path);
  return values.map((v, i) => {
    const full = '/' + v.ids.join('/');
    const record: SenmlRecord = {};
    if (full === target) {
      record.bn = full;
    } else {
      if (i === 0) record.bn = target === '/' ? '/' : target + '/';
      record.n = full.slice(target === '/' ? 1 : target.length + 1);
    }
    return Object.assign(record, valueRecord(format, v, allowNonFinite));
  });
}

/** Records for several nodes, each record named by its full path. */
export function compositeRecords(
  format: number,
  nodes: ReadonlyMap<string, LwM2mNode>,
  model: ObjectModel,
  allowNonFinite: boolean,
): SenmlRecord[] {
  const records: SenmlRecord[] = [];
  for (const [pathText, node] of nodes) {
    const values = flattenNode(format, node, nodeBaseIds(format, node, toPath(format, pathText, EncodeError)), model);
    for (const v of values) records.push({ n: '/' + v.ids.join('/'), ...valueRecord(format, v, allowNonFinite) });
  }
  return records;
}

export function timestampedRecords(
  format: number,
  nodes: readonly TimestampedNode[],
  model: ObjectModel,
  allowNonFinite: boolean,
): SenmlRecord[] {
  const records: SenmlRecord[] = [];
  for (const entry of nodes) {
    const path = toPath(format, entry.path, EncodeError);
    for (const v of flattenNode(format, entry.node, nodeBaseIds(format, entry.node, path), model)) {
      const record: SenmlRecord = { n: '/' + v.ids.join('/') };
      if (entry.timestamp !== undefined) record.t = entry.timestamp / 1000;
      records.push(Object.assign(record, valueRecord(format, v, allowNonFinite)));
    }
  }
  return records;
}

export function toTimestamped(resolved: ResolvedRecord[]): TimestampedNode[] {
  return resolved.map((r) => {
    const entry: TimestampedNode = { path: '/' + r.ids.join('/'), node: leafNode(r) };
    if (r.timestamp !== undefined) entry.timestamp = r.timestamp;
    return entry;
  });
}

/** A composite read/observe request body: records with names only. */
export function pathRecords(paths: readonly LwM2mPath[]): SenmlRecord[] {
  return paths.map((path) => ({ n: formatPath(path) }));
}

export function recordsToPaths(format: number, records: SenmlRecord[]): LwM2mPath[] {
  return resolveNames(format, records, () => 0).map(({ name, ids, record }) => {
    if (valueField(record) !== 0) throw new DecodeError(format, `path record "${name}" must not carry a value`);
    return fromIds(ids);
  });
}

function toPath(format: number, text: string, ErrorClass: typeof EncodeError | typeof DecodeError): LwM2mPath {
  try {
    return parsePath(text);
  } catch (err) {
    if (err instanceof InvalidPathError) throw new ErrorClass(format, err.message);
    throw err;
  }
}

/** How one SenML representation (JSON or CBOR) reads and writes its records. */
export interface SenmlWire {
  format: number;
  serialize(records: SenmlRecord[]): Buffer;
  parse(payload: Buffer): SenmlRecord[];
  /** Whether NaN and ±Infinity can be written (CBOR can, JSON cannot). */
  allowNonFinite: boolean;
}

/** The LwM2M codec over one SenML representation: everything but the wire is shared. */
export function createSenmlCodec(wire: SenmlWire, options: SenmlOptions = {}): MultiNodeCodec {
  const { format, serialize, parse, allowNonFinite } = wire;
  const now = options.now ?? Date.now;
  return {
    format,
    encode: (node, path, model) => serialize(nodeRecords(format, node, path, model, allowNonFinite)),
    decode: (payload, path, model) => assembleNode(format, resolveRecords(format, parse(payload), model, now), path, model),
    encodeNodes: (nodes, model) => serialize(compositeRecords(format, nodes, model, allowNonFinite)),
    decodeNodes: (payload, model, requested) =>
      assembleComposite(format, resolveRecords(format, parse(payload), model, now), model, requested),
    decodeTimestamped: (payload, model) => toTimestamped(resolveRecords(format, parse(payload), model, now)),
    encodeTimestamped: (nodes, model) => serialize(timestampedRecords(format, nodes, model, allowNonFinite)),
    encodePaths: (paths) => serialize(pathRecords(paths)),
    decodePaths: (payload) => recordsToPaths(format, parse(payload)),
  };
}
