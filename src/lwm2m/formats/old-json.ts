import type { ResourceType, ResourceValue } from '../node.js';
import { formatPath, InvalidPathError, parsePath, pathIds, type LwM2mPath } from '../path.js';
import type { ObjectModel } from '../model/types.js';
import { ContentFormat, DecodeError, EncodeError, type NodeCodec } from './types.js';
import { assembleNode, modelType, type FlatValue } from './tree.js';
import { checkIntegerRange, dateFromSeconds, decodeBase64, decodeUtf8, normalizeInteger, parseObjectLink } from './values.js';

/**
 * The LwM2M 1.0 JSON format (§6.4.4, application/vnd.oma.lwm2m+json):
 * {"bn":"/3/0/","e":[{"n":"0","sv":"ACME"},{"n":"7/0","v":3800}]}. Decode only: 1.0 devices
 * still send it, but we answer in SenML JSON. Opaque values are base64 in "sv", object links
 * "3:0" in "ov". Entry times are ignored (it is a single-node format).
 */
const FORMAT = ContentFormat.OLD_JSON;

function fail(reason: string): never {
  throw new DecodeError(FORMAT, reason);
}

interface Entry {
  n?: string;
  v?: number;
  sv?: string;
  bv?: boolean;
  ov?: string;
}

function parse(payload: Buffer): { bn?: string; e: Entry[] } {
  const text = decodeUtf8(payload) ?? fail('payload is not valid UTF-8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return fail(`invalid JSON: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) fail('LwM2M JSON must be an object');
  const { bn, e } = doc as { bn?: unknown; e?: unknown };
  if (bn !== undefined && typeof bn !== 'string') fail('"bn" must be a string');
  if (!Array.isArray(e)) fail('LwM2M JSON needs an "e" array');
  const entries = e.map((raw, index): Entry => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(`entry ${index} is not an object`);
    const entry = raw as Record<string, unknown>;
    const check = (key: string, type: string): void => {
      if (entry[key] !== undefined && typeof entry[key] !== type) fail(`entry ${index}: "${key}" must be a ${type}`);
    };
    check('n', 'string');
    check('v', 'number');
    check('sv', 'string');
    check('bv', 'boolean');
    check('ov', 'string');
    check('t', 'number');
    return entry as Entry;
  });
  return bn === undefined ? { e: entries } : { bn, e: entries };
}

function entryValue(type: ResourceType, entry: Entry, where: string): ResourceValue {
  const bad = (expected: string): never => fail(`${where} is ${type} and needs ${expected}`);
  switch (type) {
    case 'integer':
    case 'unsigned': {
      if (entry.v === undefined || !Number.isInteger(entry.v)) return bad('an integer in "v"');
      const big = BigInt(entry.v);
      const reason = checkIntegerRange(type, big);
      if (reason) fail(`${where}: ${reason}`);
      return normalizeInteger(big);
    }
    case 'float':
      return entry.v ?? bad('a number in "v"');
    case 'time':
      if (entry.v === undefined) return bad('seconds in "v"');
      return dateFromSeconds(Math.floor(entry.v)) ?? bad('a time in range');
    case 'boolean':
      return entry.bv ?? bad('"bv"');
    case 'string':
    case 'corelnk':
    case 'none':
      return entry.sv ?? bad('"sv"');
    case 'opaque':
      if (entry.sv === undefined) return bad('base64 in "sv"');
      return decodeBase64(entry.sv) ?? bad('base64 in "sv"');
    case 'objlnk':
      if (entry.ov === undefined) return bad('"ov"');
      return parseObjectLink(entry.ov) ?? bad('"ov" of the form "3:0"');
  }
}

function typeFromEntry(entry: Entry, where: string): ResourceType {
  if (entry.v !== undefined) return Number.isInteger(entry.v) ? 'integer' : 'float';
  if (entry.sv !== undefined) return 'string';
  if (entry.bv !== undefined) return 'boolean';
  if (entry.ov !== undefined) return 'objlnk';
  return fail(`${where} has no value`);
}

export const oldJsonCodec: NodeCodec = {
  format: FORMAT,
  encode() {
    throw new EncodeError(FORMAT, 'the LwM2M 1.0 JSON format is unsupported for encoding, use SenML JSON');
  },
  decode(payload: Buffer, path: LwM2mPath, model: ObjectModel) {
    const doc = parse(payload);
    const base = doc.bn ?? formatPath(path) + '/';
    const values: FlatValue[] = doc.e.map((entry, index) => {
      const name = base + (entry.n ?? '');
      let ids: number[];
      try {
        ids = pathIds(parsePath(name));
      } catch (err) {
        if (err instanceof InvalidPathError) fail(`entry ${index}: ${err.message}`);
        throw err;
      }
      if (ids.length < 3) fail(`entry ${index}: "${name}" is not a resource path`);
      const type = modelType(model, ids[0], ids[2]) ?? typeFromEntry(entry, name);
      return { ids, type, value: entryValue(type, entry, name) };
    });
    return assembleNode(FORMAT, values, path, model);
  },
};
