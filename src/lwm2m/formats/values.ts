import type { ObjectLink, ResourceType, ResourceValue } from '../node.js';

/**
 * Checks of JS values against resource types, shared by every codec so that all of them
 * accept and refuse the same values. Each check returns a reason string, or undefined when
 * the value fits.
 */

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Buffer.isBuffer(value)) return 'a Buffer';
  if (value instanceof Date) return 'a Date';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`.slice(0, 60);
}

export function isObjectLink(value: unknown): value is ObjectLink {
  if (typeof value !== 'object' || value === null) return false;
  const link = value as Partial<ObjectLink>;
  return isId(link.objectId) && isId(link.instanceId);
}

function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 65535;
}

/** Why `value` cannot be a value of `type`, or undefined when it can. */
export function valueMismatch(type: ResourceType, value: unknown): string | undefined {
  const fits = ((): boolean => {
    switch (type) {
      case 'string':
      case 'corelnk':
        return typeof value === 'string';
      case 'integer':
        return asBigInt(value) !== undefined && inRange(asBigInt(value)!, INT64_MIN, INT64_MAX);
      case 'unsigned':
        return asBigInt(value) !== undefined && inRange(asBigInt(value)!, 0n, UINT64_MAX);
      case 'float':
        return typeof value === 'number';
      case 'boolean':
        return typeof value === 'boolean';
      case 'opaque':
        return Buffer.isBuffer(value);
      case 'time':
        return value instanceof Date && !Number.isNaN(value.getTime());
      case 'objlnk':
        return isObjectLink(value);
      case 'none':
        return false;
    }
  })();
  return fits ? undefined : `${describeValue(value)} is not a valid ${type} value`;
}

function asBigInt(value: unknown): bigint | undefined {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  return undefined;
}

function inRange(value: bigint, min: bigint, max: bigint): boolean {
  return value >= min && value <= max;
}

/** Integers come back as numbers when exact, as bigint beyond 2^53 (see node.ts). */
export function normalizeInteger(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

/** An integer value checked against the range of `type`; a reason string when outside. */
export function checkIntegerRange(type: 'integer' | 'unsigned', value: bigint): string | undefined {
  if (type === 'integer' && !inRange(value, INT64_MIN, INT64_MAX)) return `${value} does not fit a 64-bit integer`;
  if (type === 'unsigned' && !inRange(value, 0n, UINT64_MAX)) return `${value} does not fit an unsigned 64-bit integer`;
  return undefined;
}

export function toBigInt(value: number | bigint): bigint {
  return typeof value === 'bigint' ? value : BigInt(value);
}

/** Seconds since the epoch → Date; undefined when outside what Date can hold. */
export function dateFromSeconds(seconds: number | bigint): Date | undefined {
  const ms = Number(seconds) * 1000;
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** LwM2M time values are whole seconds; sub-second parts are dropped, as devices cannot carry them. */
export function secondsFromDate(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

/** "3:0" → { objectId: 3, instanceId: 0 }; undefined when malformed. */
export function parseObjectLink(text: string): ObjectLink | undefined {
  const match = /^(\d{1,5}):(\d{1,5})$/.exec(text);
  if (!match) return undefined;
  const link = { objectId: Number(match[1]), instanceId: Number(match[2]) };
  return isObjectLink(link) ? link : undefined;
}

export function formatObjectLink(link: ObjectLink): string {
  return `${link.objectId}:${link.instanceId}`;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Strict UTF-8 decoding; undefined for invalid byte sequences. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Base64 or base64url, with or without padding; undefined when not base64 at all. */
export function decodeBase64(text: string): Buffer | undefined {
  const trimmed = text.replace(/=+$/, '');
  if (!/^[A-Za-z0-9+/_-]*$/.test(trimmed) || trimmed.length % 4 === 1) return undefined;
  return Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

export function isResourceValue(value: unknown): value is ResourceValue {
  return (
    typeof value === 'string' ||
    typeof value === 'number' ||
    typeof value === 'bigint' ||
    typeof value === 'boolean' ||
    Buffer.isBuffer(value) ||
    value instanceof Date ||
    isObjectLink(value)
  );
}
