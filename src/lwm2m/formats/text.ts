import type { ResourceType, ResourceValue } from '../node.js';
import type { LwM2mPath } from '../path.js';
import type { ObjectModel } from '../model/types.js';
import { ContentFormat, DecodeError, type NodeCodec } from './types.js';
import { decodeTarget, encodeTarget, singleNode } from './single-value.js';
import {
  checkIntegerRange,
  dateFromSeconds,
  decodeBase64,
  decodeUtf8,
  formatObjectLink,
  normalizeInteger,
  parseObjectLink,
  secondsFromDate,
} from './values.js';
import type { ObjectLink } from '../node.js';

const FORMAT = ContentFormat.TEXT;

/**
 * text/plain (LwM2M 1.1 §7.4.1): numbers in decimal, booleans "0"/"1", time in seconds since
 * the epoch, object links "3:0", opaque in base64. Unknown resources decode as strings.
 */
export const textCodec: NodeCodec = {
  format: FORMAT,
  encode(node, path, model) {
    const { type, value } = encodeTarget(FORMAT, node, path, model, 'text/plain');
    return Buffer.from(formatText(type, value), 'utf8');
  },
  decode(payload: Buffer, path: LwM2mPath, model: ObjectModel) {
    const target = decodeTarget(FORMAT, path, model, 'text/plain');
    const text = decodeUtf8(payload);
    if (text === undefined) throw new DecodeError(FORMAT, 'payload is not valid UTF-8');
    const type = target.type ?? 'string';
    return singleNode(target, type, parseText(type, text));
  },
};

function formatText(type: ResourceType, value: ResourceValue): string {
  switch (type) {
    case 'boolean':
      return value ? '1' : '0';
    case 'time':
      return String(secondsFromDate(value as Date));
    case 'objlnk':
      return formatObjectLink(value as ObjectLink);
    case 'opaque':
      return (value as Buffer).toString('base64');
    case 'float':
      return floatText(value as number);
    default:
      return String(value);
  }
}

/** Plain decimal, never exponent notation with a "+", which some clients cannot parse. */
function floatText(value: number): string {
  return String(value).replace('e+', 'e');
}

export function parseText(type: ResourceType, text: string): ResourceValue {
  const bad = (): never => {
    throw new DecodeError(FORMAT, `"${text.slice(0, 40)}" is not a valid ${type} value`);
  };
  switch (type) {
    case 'string':
    case 'corelnk':
    case 'none':
      return text;
    case 'integer':
    case 'unsigned': {
      if (!(type === 'integer' ? /^[+-]?\d{1,20}$/ : /^\+?\d{1,20}$/).test(text)) bad();
      const big = BigInt(text);
      const reason = checkIntegerRange(type, big);
      if (reason) throw new DecodeError(FORMAT, reason);
      return normalizeInteger(big);
    }
    case 'float': {
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) bad();
      const n = Number(text);
      return Number.isFinite(n) ? n : bad();
    }
    case 'boolean':
      if (text === '1') return true;
      if (text === '0') return false;
      return bad();
    case 'time': {
      if (!/^[+-]?\d{1,15}$/.test(text)) bad();
      return dateFromSeconds(Number(text)) ?? bad();
    }
    case 'objlnk':
      return parseObjectLink(text) ?? bad();
    case 'opaque':
      return decodeBase64(text) ?? bad();
  }
}
