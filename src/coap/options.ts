/** Reading and building CoAP options (RFC 7252 §5.10, RFC 7959 §2.2, RFC 7641). */
import { CoapOptionNumber, type BlockOption, type CoapMessage, type CoapOption } from './types.js';
import { ReceivedMessage } from './received-message.js';

/** Every option number this stack understands; an unknown odd (critical) one is rejected. */
export const KNOWN_OPTIONS: ReadonlySet<number> = new Set<number>(Object.values(CoapOptionNumber));

/** RFC 7252 §5.4.6: odd option numbers are critical. */
export const isCriticalOption = (number: number): boolean => (number & 1) === 1;

export function getOptions(msg: CoapMessage, number: number): Buffer[] {
  const values: Buffer[] = [];
  for (const option of msg.options) if (option.number === number) values.push(option.value);
  return values;
}

export function getOption(msg: CoapMessage, number: number): Buffer | undefined {
  if (msg instanceof ReceivedMessage) return msg.optionValue(number);
  for (const option of msg.options) if (option.number === number) return option.value;
  return undefined;
}

export function hasOption(msg: CoapMessage, number: number): boolean {
  if (msg instanceof ReceivedMessage) return msg.hasOption(number);
  for (const option of msg.options) if (option.number === number) return true;
  return false;
}

export function getUintOption(msg: CoapMessage, number: number): number | undefined {
  if (msg instanceof ReceivedMessage) return msg.optionUint(number);
  const value = getOption(msg, number);
  return value === undefined ? undefined : decodeUint(value);
}

/** Minimal big-endian encoding; 0 is the empty value. */
export function encodeUint(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`${n} is not a uint32`);
  if (n === 0) return Buffer.alloc(0);
  const length = n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x1000000 ? 3 : 4;
  const out = Buffer.allocUnsafe(length);
  out.writeUIntBE(n, 0, length);
  return out;
}

export function decodeUint(buf: Buffer): number {
  let n = 0;
  for (let i = 0; i < buf.length; i++) n = n * 256 + buf[i];
  return n;
}

function decodeStrings(msg: CoapMessage, number: number): string[] {
  if (msg instanceof ReceivedMessage) return msg.optionStrings(number);
  const out: string[] = [];
  for (const option of msg.options) if (option.number === number) out.push(option.value.toString('utf8'));
  return out;
}

export const uriPath = (msg: CoapMessage): string[] => decodeStrings(msg, CoapOptionNumber.UriPath);
export const uriQuery = (msg: CoapMessage): string[] => decodeStrings(msg, CoapOptionNumber.UriQuery);
export const locationPath = (msg: CoapMessage): string[] => decodeStrings(msg, CoapOptionNumber.LocationPath);

/** One option per segment; `['rd', '5a']` → two Uri-Path options. */
export function stringOptions(number: number, segments: readonly string[]): CoapOption[] {
  return segments.map((segment) => ({ number, value: Buffer.from(segment, 'utf8') }));
}

export const pathOptions = (path: readonly string[]): CoapOption[] => stringOptions(CoapOptionNumber.UriPath, path);
export const queryOptions = (query: readonly string[]): CoapOption[] => stringOptions(CoapOptionNumber.UriQuery, query);

/** '/rd/5a' → ['rd', '5a']; empty segments (leading, trailing, doubled slashes) are dropped. */
export function splitPath(path: string): string[] {
  return path.split('/').filter((segment) => segment.length > 0).map(decodeURIComponent);
}

/** 'ep=a&lt=60' → ['ep=a', 'lt=60']. */
export function splitQuery(query: string): string[] {
  const trimmed = query.startsWith('?') ? query.slice(1) : query;
  return trimmed.split('&').filter((part) => part.length > 0).map(decodeURIComponent);
}

/** size = 2 ** (szx + 4): szx 0..6 → 16..1024 bytes (7 is reserved for BERT). */
export function blockSize(szx: number): number {
  return 1 << (szx + 4);
}

/** The largest szx whose block fits in `bytes` (at least 0 = 16 bytes). */
export function szxForSize(bytes: number): number {
  let szx = 6;
  while (szx > 0 && blockSize(szx) > bytes) szx--;
  return szx;
}

export function encodeBlock(block: BlockOption): Buffer {
  if (block.szx < 0 || block.szx > 6) throw new RangeError(`block szx ${block.szx} outside 0..6`);
  if (block.num < 0 || block.num > 0xfffff) throw new RangeError(`block num ${block.num} outside 0..2^20-1`);
  return encodeUint(block.num * 16 + (block.more ? 8 : 0) + block.szx);
}

/** Throws RangeError on a value longer than 3 bytes or the reserved szx 7. */
export function decodeBlock(buf: Buffer): BlockOption {
  if (buf.length > 3) throw new RangeError(`block option of ${buf.length} bytes (max 3)`);
  const n = decodeUint(buf);
  const szx = n & 0x07;
  if (szx === 7) throw new RangeError('block szx 7 (BERT) is not supported over UDP');
  return { num: Math.floor(n / 16), more: (n & 0x08) !== 0, szx };
}

export function getBlockOption(msg: CoapMessage, number: number): BlockOption | undefined {
  const value = getOption(msg, number);
  return value === undefined ? undefined : decodeBlock(value);
}

/** The first unrecognized critical option number, if any (RFC 7252 §5.4.1). */
const isUnknownCritical = (number: number): boolean => isCriticalOption(number) && !KNOWN_OPTIONS.has(number);

export function firstUnknownCriticalOption(msg: CoapMessage): number | undefined {
  if (msg instanceof ReceivedMessage) return msg.findOptionNumber(isUnknownCritical);
  for (const option of msg.options) {
    if (isUnknownCritical(option.number)) return option.number;
  }
  return undefined;
}
