/**
 * The bytes of one Block2 block of a cached body (RFC 7959 §2.4), straight from a prefix
 * serialized once per cached body: every option below Block2 (Content-Format, ETag, ...)
 * is the same in each block, so a pull of a 256 KiB image no longer builds option objects,
 * sorts and encodes them 256 times. Only blocks after the first go this way (block 0 also
 * carries Size2, after Block2) and only bodies whose options all sort before Block2.
 */
import { serializeMessage } from './codec.js';
import { CoapOptionNumber, type CoapOption } from './types.js';

/** The options before Block2, encoded (deltas from 0), and the last of their numbers. */
export interface Block2Prefix {
  bytes: Buffer;
  lastNumber: number;
}

const EMPTY = Buffer.alloc(0);

/** Undefined when an option would sort after Block2: such bodies keep the general path. */
export function block2Prefix(options: readonly CoapOption[]): Block2Prefix | undefined {
  let lastNumber = 0;
  for (const option of options) {
    if (option.number >= CoapOptionNumber.Block2) return undefined;
    if (option.number > lastNumber) lastNumber = option.number;
  }
  // The codec sorts and encodes them; the 4 header bytes of an empty-token message are cut off.
  const bytes = serializeMessage({ type: 'ACK', code: 0, messageId: 0, token: EMPTY, options: [...options], payload: EMPTY }).subarray(4);
  return { bytes, lastNumber };
}

/** Type bits of the answer: a piggybacked ACK to a CON, a NON to a NON (RFC 7252 §3). */
export const ACK_TYPE = 2;
export const NON_TYPE = 1;

/**
 * One block: header, token, the prefix, Block2 {num, more, szx}, payload marker and `chunk`
 * (never empty: a block beyond the body is the caller's error answer).
 */
export function serializeBlock2(type: number, code: number, messageId: number, token: Buffer, prefix: Block2Prefix, num: number, more: boolean, szx: number, chunk: Buffer): Buffer {
  const value = num * 16 + (more ? 8 : 0) + szx;
  const valueLength = value === 0 ? 0 : value <= 0xff ? 1 : value <= 0xffff ? 2 : 3;
  const delta = CoapOptionNumber.Block2 - prefix.lastNumber;
  const extended = delta >= 13 ? 1 : 0;
  const tkl = token.length;
  const out = Buffer.allocUnsafe(4 + tkl + prefix.bytes.length + 1 + extended + valueLength + 1 + chunk.length);
  out[0] = 0x40 | (type << 4) | tkl;
  out[1] = code;
  out[2] = (messageId >> 8) & 0xff;
  out[3] = messageId & 0xff;
  let pos = 4;
  if (tkl > 0) pos += token.copy(out, pos);
  pos += prefix.bytes.copy(out, pos);
  out[pos++] = ((extended ? 13 : delta) << 4) | valueLength;
  if (extended) out[pos++] = delta - 13;
  if (valueLength === 3) out[pos++] = (value >> 16) & 0xff;
  if (valueLength >= 2) out[pos++] = (value >> 8) & 0xff;
  if (valueLength >= 1) out[pos++] = value & 0xff;
  out[pos++] = 0xff;
  chunk.copy(out, pos);
  return out;
}
