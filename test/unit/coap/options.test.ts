import { describe, it, expect } from 'vitest';
import {
  KNOWN_OPTIONS, blockSize, decodeBlock, decodeUint, encodeBlock, encodeUint, firstUnknownCriticalOption,
  getOptions, getUintOption, isCriticalOption, pathOptions, queryOptions, splitPath, splitQuery, szxForSize, uriPath, uriQuery,
} from '../../../src/coap/options.js';
import type { CoapMessage } from '../../../src/coap/types.js';

const message = (options: CoapMessage['options']): CoapMessage => ({ type: 'CON', code: 1, messageId: 1, token: Buffer.alloc(0), options, payload: Buffer.alloc(0) });

describe('options', () => {
  it('encodes uints minimally, 0 as empty', () => {
    expect(encodeUint(0).length).toBe(0);
    expect(encodeUint(255).toString('hex')).toBe('ff');
    expect(encodeUint(256).toString('hex')).toBe('0100');
    expect(encodeUint(0x10000).toString('hex')).toBe('010000');
    expect(encodeUint(0xffffffff).toString('hex')).toBe('ffffffff');
    expect(decodeUint(Buffer.from('0100', 'hex'))).toBe(256);
    expect(decodeUint(Buffer.alloc(0))).toBe(0);
    expect(() => encodeUint(-1)).toThrow(RangeError);
  });

  it('reads paths, queries, repeated options and uints', () => {
    const msg = message([...pathOptions(['rd', '5a']), ...queryOptions(['ep=dev1', 'lt=60']), { number: 12, value: encodeUint(11543) }]);
    expect(uriPath(msg)).toEqual(['rd', '5a']);
    expect(uriQuery(msg)).toEqual(['ep=dev1', 'lt=60']);
    expect(getOptions(msg, 11).map(String)).toEqual(['rd', '5a']);
    expect(getUintOption(msg, 12)).toBe(11543);
    expect(getUintOption(msg, 17)).toBeUndefined();
  });

  it('splits path and query strings', () => {
    expect(splitPath('/rd//5a/')).toEqual(['rd', '5a']);
    expect(splitQuery('?ep=a&lt=60')).toEqual(['ep=a', 'lt=60']);
  });

  it('encodes and decodes block options (RFC 7959 §2.2)', () => {
    expect(encodeBlock({ num: 0, more: false, szx: 0 }).length).toBe(0);
    expect(encodeBlock({ num: 0, more: true, szx: 6 }).toString('hex')).toBe('0e');
    expect(encodeBlock({ num: 1, more: true, szx: 6 }).toString('hex')).toBe('1e');
    expect(encodeBlock({ num: 4096, more: false, szx: 2 }).toString('hex')).toBe('010002');
    expect(decodeBlock(Buffer.from('1e', 'hex'))).toEqual({ num: 1, more: true, szx: 6 });
    expect(decodeBlock(Buffer.from('010002', 'hex'))).toEqual({ num: 4096, more: false, szx: 2 });
    expect(() => decodeBlock(Buffer.from('07', 'hex'))).toThrow(RangeError);
    expect(() => decodeBlock(Buffer.from('00000000', 'hex'))).toThrow(RangeError);
    expect(blockSize(0)).toBe(16);
    expect(blockSize(6)).toBe(1024);
    expect(szxForSize(256)).toBe(4);
    expect(szxForSize(300)).toBe(4);
    expect(szxForSize(5)).toBe(0);
  });

  it('knows critical options', () => {
    expect(isCriticalOption(11)).toBe(true);
    expect(isCriticalOption(12)).toBe(false);
    expect(KNOWN_OPTIONS.has(27)).toBe(true);
    expect(firstUnknownCriticalOption(message([{ number: 11, value: Buffer.from('a') }, { number: 2049, value: Buffer.alloc(0) }]))).toBe(2049);
    expect(firstUnknownCriticalOption(message([{ number: 2048, value: Buffer.alloc(0) }]))).toBeUndefined();
  });
});
