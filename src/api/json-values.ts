/**
 * Resource values ⇄ JSON, following the conventions of Leshan's demo server API so
 * existing Leshan tooling reads our answers: integers, unsigned integers and floats
 * travel as strings (a JavaScript number cannot hold a 64-bit integer exactly), opaque as
 * lowercase hex, time as milliseconds since the epoch, objlnk as
 * {objectId, objectInstanceId}, corelnk as its link-format text.
 *
 * On input we are lenient where Leshan is (numbers for numeric types) and a little more:
 * "3:0" for an objlnk, an ISO 8601 string for a time, "true"/"false" for a boolean.
 */
import type { ObjectLink, ResourceType, ResourceValue } from '../lwm2m/node.js';

/** A JSON body or value that does not fit what the target expects; `message` says why. */
export class InvalidNodeJsonError extends Error {
  override readonly name = 'InvalidNodeJsonError';
}

const LESHAN_TYPE_NAMES: Record<ResourceType, string> = {
  string: 'STRING',
  integer: 'INTEGER',
  unsigned: 'UNSIGNED_INTEGER',
  float: 'FLOAT',
  boolean: 'BOOLEAN',
  opaque: 'OPAQUE',
  time: 'TIME',
  objlnk: 'OBJLNK',
  corelnk: 'CORELINK',
  none: 'NONE',
};

const TYPES_BY_NAME = new Map<string, ResourceType>();
for (const [ours, leshan] of Object.entries(LESHAN_TYPE_NAMES) as [ResourceType, string][]) {
  TYPES_BY_NAME.set(leshan, ours);
  TYPES_BY_NAME.set(ours.toUpperCase(), ours);
}
TYPES_BY_NAME.set('UNSIGNED', 'unsigned');

/** 'unsigned' → 'UNSIGNED_INTEGER', as Leshan names its types. */
export function leshanTypeName(type: ResourceType): string {
  return LESHAN_TYPE_NAMES[type];
}

/** Accepts Leshan's names in any case ('INTEGER', 'unsigned_integer') and ours ('unsigned'). */
export function parseTypeName(name: unknown): ResourceType {
  if (typeof name !== 'string') throw new InvalidNodeJsonError(`"type" must be a string, got ${describe(name)}`);
  const type = TYPES_BY_NAME.get(name.toUpperCase());
  if (type === undefined) {
    throw new InvalidNodeJsonError(
      `unknown type "${name}" (expected one of ${Object.values(LESHAN_TYPE_NAMES).join(', ')})`,
    );
  }
  return type;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export function valueToJson(type: ResourceType, value: ResourceValue): JsonValue {
  switch (type) {
    case 'integer':
    case 'unsigned':
      return String(value);
    case 'float':
      return typeof value === 'number' ? javaDoubleString(value) : String(value);
    case 'opaque':
      return Buffer.isBuffer(value) ? value.toString('hex') : String(value);
    case 'time':
      return value instanceof Date ? value.getTime() : Number(value);
    case 'objlnk': {
      const link = value as ObjectLink;
      return { objectId: link.objectId, objectInstanceId: link.instanceId };
    }
    case 'boolean':
      return Boolean(value);
    default:
      return typeof value === 'bigint' ? String(value) : (value as JsonValue);
  }
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** `where` names the value in error messages, e.g. "/3/0/13". */
export function valueFromJson(type: ResourceType, json: unknown, where: string): ResourceValue {
  const fail = (expected: string): never => {
    throw new InvalidNodeJsonError(`${where}: expected ${expected} for type ${leshanTypeName(type)}, got ${describe(json)}`);
  };
  switch (type) {
    case 'string':
    case 'corelnk':
      return typeof json === 'string' ? json : fail('a string');
    case 'boolean':
      if (typeof json === 'boolean') return json;
      if (json === 'true' || json === 'false') return json === 'true';
      return fail('true or false');
    case 'integer':
    case 'unsigned': {
      const text = typeof json === 'number' && Number.isInteger(json) ? String(json) : json;
      if (typeof text !== 'string' || !/^-?\d+$/.test(text)) return fail('an integer (a decimal string or a number)');
      const big = BigInt(text);
      const [min, max] = type === 'integer' ? [INT64_MIN, INT64_MAX] : [0n, UINT64_MAX];
      if (big < min || big > max) {
        throw new InvalidNodeJsonError(`${where}: ${text} is out of range for type ${leshanTypeName(type)} (${min}..${max})`);
      }
      return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
    }
    case 'float': {
      const n = typeof json === 'number' ? json : typeof json === 'string' && json.trim() !== '' ? Number(json) : NaN;
      return Number.isFinite(n) ? n : fail('a finite number (a decimal string or a number)');
    }
    case 'opaque':
      if (typeof json !== 'string' || json.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(json)) {
        return fail('an even-length hex string');
      }
      return Buffer.from(json, 'hex');
    case 'time': {
      if (typeof json === 'number' && Number.isInteger(json)) return new Date(json);
      if (typeof json === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(json)) {
        const ms = Date.parse(json);
        if (!Number.isNaN(ms)) return new Date(ms);
      }
      return fail('milliseconds since the epoch (an integer) or an ISO 8601 date');
    }
    case 'objlnk':
      return objectLinkFromJson(json) ?? fail('{"objectId":n,"objectInstanceId":n} or "n:n"');
    case 'none':
      throw new InvalidNodeJsonError(`${where}: resource has no value type (executable resource) and cannot be written`);
  }
}

function objectLinkFromJson(json: unknown): ObjectLink | undefined {
  let objectId: unknown;
  let instanceId: unknown;
  if (typeof json === 'string') {
    const match = /^(\d+):(\d+)$/.exec(json);
    if (!match) return undefined;
    [objectId, instanceId] = [Number(match[1]), Number(match[2])];
  } else if (isPlainObject(json)) {
    objectId = json.objectId;
    instanceId = json.objectInstanceId ?? json.instanceId;
  } else {
    return undefined;
  }
  const valid = (id: unknown): id is number => typeof id === 'number' && Number.isInteger(id) && id >= 0 && id <= 65535;
  return valid(objectId) && valid(instanceId) ? { objectId, instanceId } : undefined;
}

/**
 * Java's Double.toString, as Leshan prints floats: "1.0", "48.5", "1.0E7", "1.5E-5".
 * Plain notation for 1e-3 ≤ |x| < 1e7, computerized scientific notation otherwise.
 */
export function javaDoubleString(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const abs = Math.abs(x);
  if (abs >= 1e-3 && abs < 1e7) {
    const text = String(x);
    return text.includes('.') ? text : `${text}.0`;
  }
  const [mantissa, exponent] = x.toExponential().split('e');
  const digits = mantissa.includes('.') ? mantissa : `${mantissa}.0`;
  return `${digits}E${Number(exponent)}`;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}

export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value);
  return `${typeof value} ${text.length > 40 ? text.slice(0, 40) + '…' : text}`;
}
