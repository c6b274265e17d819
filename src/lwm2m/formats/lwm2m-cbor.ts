import type { LwM2mNode, ObjectLink, ResourceType, ResourceValue } from '../node.js';
import { InvalidPathError, parsePath, type LwM2mPath } from '../path.js';
import type { ObjectModel } from '../model/types.js';
import { ContentFormat, DecodeError, EncodeError, type MultiNodeCodec } from './types.js';
import { assembleComposite, assembleNode, flattenNode, leafNode, modelType, nodeBaseIds, type FlatValue } from './tree.js';
import { decodeCbor, encodeCbor } from './cbor.js';
import {
  checkIntegerRange,
  dateFromSeconds,
  formatObjectLink,
  normalizeInteger,
  parseObjectLink,
  secondsFromDate,
} from './values.js';

/**
 * LwM2M CBOR (LwM2M 1.2 §7.4.6): nested CBOR maps keyed by the ids of the path from the root,
 * e.g. {3: {0: {0: "ACME"}}}. A key may be an array of ids standing for several levels at once
 * ({[3, 0, 0]: "ACME"}), which we always use for the path down to the encoded node. A resource
 * whose value is a map is a multiple resource keyed by resource instance id. Object links are
 * text "3:0", time is seconds; it carries no timestamps and no path-only request bodies.
 */
const FORMAT = ContentFormat.LWM2M_CBOR;

function fail(reason: string): never {
  throw new DecodeError(FORMAT, reason);
}

// ---------- decoding ----------

function keyIds(key: unknown, where: string): number[] {
  const ids = Array.isArray(key) ? key : [key];
  if (ids.length === 0) fail(`${where}: empty array key`);
  return ids.map((id) => {
    const n = typeof id === 'bigint' ? Number(id) : id;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65535) {
      fail(`${where}: key ${String(id)} is not an id between 0 and 65535`);
    }
    return n;
  });
}

function collectLeaves(map: Map<unknown, unknown>, prefix: number[], out: { ids: number[]; raw: unknown }[]): void {
  const where = prefix.length === 0 ? 'root' : '/' + prefix.join('/');
  for (const [key, value] of map) {
    const ids = [...prefix, ...keyIds(key, where)];
    if (ids.length > 4) fail(`path /${ids.join('/')} is deeper than a resource instance`);
    if (value instanceof Map) {
      if (ids.length === 4) fail(`/${ids.join('/')} is a resource instance and cannot hold a map`);
      collectLeaves(value, ids, out);
    } else {
      if (ids.length < 3) fail(`/${ids.join('/')} holds a value but is not a resource path`);
      out.push({ ids, raw: value });
    }
  }
}

function leafValue(ids: number[], raw: unknown, model: ObjectModel): FlatValue {
  const where = '/' + ids.join('/');
  const type = modelType(model, ids[0], ids[2]) ?? typeFromCbor(raw, where);
  return { ids, type, value: cborValue(type, raw, where) };
}

function typeFromCbor(raw: unknown, where: string): ResourceType {
  if (typeof raw === 'bigint') return raw < 0n ? 'integer' : 'unsigned';
  if (typeof raw === 'number') return Number.isInteger(raw) ? 'integer' : 'float';
  if (typeof raw === 'string') return 'string';
  if (typeof raw === 'boolean') return 'boolean';
  if (raw instanceof Uint8Array) return 'opaque';
  if (raw instanceof Date) return 'time';
  return fail(`${where}: unsupported CBOR value ${raw === null ? 'null' : typeof raw}`);
}

function cborValue(type: ResourceType, raw: unknown, where: string): ResourceValue {
  const bad = (expected: string): never => fail(`${where} is ${type} and needs ${expected}`);
  switch (type) {
    case 'integer':
    case 'unsigned': {
      if (typeof raw !== 'bigint' && !(typeof raw === 'number' && Number.isInteger(raw))) return bad('a CBOR integer');
      const big = BigInt(raw as number | bigint);
      const reason = checkIntegerRange(type, big);
      if (reason) fail(`${where}: ${reason}`);
      return normalizeInteger(big);
    }
    case 'float':
      if (typeof raw !== 'number' && typeof raw !== 'bigint') return bad('a number');
      return Number(raw);
    case 'time':
      if (raw instanceof Date) return raw;
      if (typeof raw !== 'number' && typeof raw !== 'bigint') return bad('seconds');
      return dateFromSeconds(Math.floor(Number(raw))) ?? bad('a time in range');
    case 'boolean':
      if (typeof raw !== 'boolean') return bad('a boolean');
      return raw;
    case 'string':
    case 'corelnk':
    case 'none':
      if (typeof raw !== 'string') return bad('a text string');
      return raw;
    case 'opaque':
      if (!(raw instanceof Uint8Array)) return bad('a byte string');
      return Buffer.from(raw);
    case 'objlnk':
      if (typeof raw !== 'string') return bad('a text string "3:0"');
      return parseObjectLink(raw) ?? bad('a text string "3:0"');
  }
}

function decodeValues(payload: Buffer, model: ObjectModel): FlatValue[] {
  let doc: unknown;
  try {
    doc = decodeCbor(payload);
  } catch (err) {
    return fail(`invalid CBOR: ${(err as Error).message}`);
  }
  if (!(doc instanceof Map)) fail('LwM2M CBOR must be a map');
  const leaves: { ids: number[]; raw: unknown }[] = [];
  collectLeaves(doc, [], leaves);
  const seen = new Set<string>();
  return leaves.map(({ ids, raw }) => {
    const key = ids.join('/');
    if (seen.has(key)) fail(`/${key} appears twice`);
    seen.add(key);
    return leafValue(ids, raw, model);
  });
}

// ---------- encoding ----------

function cborLeaf(v: FlatValue): unknown {
  switch (v.type) {
    case 'time':
      return secondsFromDate(v.value as Date);
    case 'objlnk':
      return formatObjectLink(v.value as ObjectLink);
    default:
      return v.value;
  }
}

/** {[base ids]: nested maps of the values below}, or {[base ids]: value} for a single value. */
function subtree(baseIds: number[], values: FlatValue[]): [unknown, unknown] {
  const key = baseIds.length === 1 ? baseIds[0] : baseIds;
  if (values.length === 1 && values[0].ids.length === baseIds.length) return [key, cborLeaf(values[0])];
  const root = new Map<number, unknown>();
  for (const v of values) {
    let map = root;
    const rest = v.ids.slice(baseIds.length);
    rest.slice(0, -1).forEach((id) => {
      let child = map.get(id) as Map<number, unknown> | undefined;
      if (!child) {
        child = new Map();
        map.set(id, child);
      }
      map = child;
    });
    map.set(rest[rest.length - 1], cborLeaf(v));
  }
  return [key, root];
}

function encodeEntries(entries: [LwM2mPath, LwM2mNode][], model: ObjectModel): Buffer {
  const root = new Map<unknown, unknown>();
  for (const [path, node] of entries) {
    const baseIds = nodeBaseIds(FORMAT, node, path);
    const [key, value] = subtree(baseIds, flattenNode(FORMAT, node, baseIds, model));
    root.set(key, value);
  }
  return encodeCbor(root);
}

function toPath(text: string): LwM2mPath {
  try {
    return parsePath(text);
  } catch (err) {
    if (err instanceof InvalidPathError) throw new EncodeError(FORMAT, err.message);
    throw err;
  }
}

export const lwm2mCborCodec: MultiNodeCodec = {
  format: FORMAT,
  encode: (node, path, model) => encodeEntries([[path, node]], model),
  decode: (payload, path, model) => assembleNode(FORMAT, decodeValues(payload, model), path, model),
  encodeNodes: (nodes, model) => encodeEntries([...nodes].map(([p, n]) => [toPath(p), n]), model),
  decodeNodes: (payload, model, requested) => assembleComposite(FORMAT, decodeValues(payload, model), model, requested),
  decodeTimestamped: (payload, model) =>
    decodeValues(payload, model).map((v) => ({ path: '/' + v.ids.join('/'), node: leafNode(v) })),
  encodeTimestamped(nodes, model) {
    if (nodes.some((n) => n.timestamp !== undefined)) {
      throw new EncodeError(FORMAT, 'LwM2M CBOR carries no timestamps, use SenML CBOR');
    }
    return encodeEntries(nodes.map((n) => [toPath(n.path), n.node]), model);
  },
  encodePaths() {
    throw new EncodeError(FORMAT, 'composite request bodies are SenML only (use SenML JSON or CBOR)');
  },
  decodePaths() {
    throw new DecodeError(FORMAT, 'composite request bodies are SenML only (use SenML JSON or CBOR)');
  },
};

