import type { LwM2mNode, ObjectLink, ResourceType, ResourceValue, TimestampedNode } from '../node.js';
import { formatPath, InvalidPathError, parsePath, pathIds, type LwM2mPath } from '../path.js';
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

function resolveNames(format: number, records: SenmlRecord[], now: () => number) {
  let baseName = '';
  let baseTime = 0;
  return records.map((record, index) => {
    if (record.bn !== undefined) baseName = record.bn;
    if (record.bt !== undefined) baseTime = record.bt;
    const name = baseName + (record.n ?? '');
    if (name === '') throw new DecodeError(format, `record ${index} has no name`);
    let path: LwM2mPath;
    try {
      path = parsePath(name);
    } catch (err) {
      if (err instanceof InvalidPathError) throw new DecodeError(format, `record ${index}: ${err.message}`);
      throw err;
    }
    let timestamp: number | undefined;
    if (record.t !== undefined || record.bt !== undefined || baseTime !== 0) {
      const time = baseTime + (record.t ?? 0);
      timestamp = time < RELATIVE_TIME_LIMIT ? now() + time * 1000 : time * 1000;
    }
    return { index, name, path, timestamp, record };
  });
}

const VALUE_FIELDS = ['v', 'vs', 'vb', 'vd', 'vlo'] as const;

function valueFields(record: SenmlRecord): (typeof VALUE_FIELDS)[number][] {
  return VALUE_FIELDS.filter((field) => record[field] !== undefined);
}

/** Records to leaf values, typed by the model (or by the value field when the model does not know). */
export function resolveRecords(
  format: number,
  records: SenmlRecord[],
  model: ObjectModel,
  now: () => number,
): ResolvedRecord[] {
  return resolveNames(format, records, now).map(({ name, path, timestamp, record }) => {
    const ids = pathIds(path);
    if (ids.length < 3) throw new DecodeError(format, `record name "${name}" is not a resource path`);
    const fields = valueFields(record);
    if (fields.length !== 1) {
      throw new DecodeError(format, `record "${name}" must have exactly one value field, has ${fields.length}`);
    }
    const type = modelType(model, ids[0], ids[2]) ?? typeFromField(fields[0], record);
    const resolved: ResolvedRecord = { ids, type, value: recordValue(format, type, record, name) };
    if (timestamp !== undefined) resolved.timestamp = timestamp;
    return resolved;
  });
}

function typeFromField(field: (typeof VALUE_FIELDS)[number], record: SenmlRecord): ResourceType {
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
    return { ...record, ...valueRecord(format, v, allowNonFinite) };
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
      records.push({ ...record, ...valueRecord(format, v, allowNonFinite) });
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
  return resolveNames(format, records, () => 0).map(({ name, path, record }) => {
    if (valueFields(record).length > 0) throw new DecodeError(format, `path record "${name}" must not carry a value`);
    return path;
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
