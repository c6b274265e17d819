import { describe, expect, it } from 'vitest';
import { textCodec } from '../../../../src/lwm2m/formats/text.js';
import { opaqueCodec } from '../../../../src/lwm2m/formats/opaque.js';
import { DecodeError, EncodeError } from '../../../../src/lwm2m/formats/types.js';
import { loadObjectModel } from '../../../../src/lwm2m/model/registry.js';
import type { LwM2mNode } from '../../../../src/lwm2m/node.js';
import { parsePath } from '../../../../src/lwm2m/path.js';
import { SAMPLE, testModel, TYPES } from './helpers.js';

const model = loadObjectModel();
const text = (node: LwM2mNode, path: string) => textCodec.encode(node, parsePath(path), testModel).toString('utf8');

describe('text/plain', () => {
  it('writes each type as LwM2M 1.1 text', () => {
    expect(text({ kind: 'singleResource', id: 1, type: 'integer', value: -42 }, '/10000/0/1')).toBe('-42');
    expect(text({ kind: 'singleResource', id: 1, type: 'integer', value: 9007199254740993n }, '/10000/0/1')).toBe('9007199254740993');
    expect(text({ kind: 'singleResource', id: 3, type: 'float', value: 1.5 }, '/10000/0/3')).toBe('1.5');
    expect(text({ kind: 'singleResource', id: 3, type: 'float', value: 1e21 }, '/10000/0/3')).toBe('1e21');
    expect(text({ kind: 'singleResource', id: 4, type: 'boolean', value: true }, '/10000/0/4')).toBe('1');
    expect(text({ kind: 'singleResource', id: 6, type: 'time', value: new Date(1367491215000) }, '/10000/0/6')).toBe('1367491215');
    expect(text({ kind: 'singleResource', id: 7, type: 'objlnk', value: { objectId: 3, instanceId: 0 } }, '/10000/0/7')).toBe('3:0');
    expect(text({ kind: 'singleResource', id: 5, type: 'opaque', value: Buffer.from('hi!') }, '/10000/0/5')).toBe('aGkh');
    expect(text({ kind: 'resourceInstance', id: 2, type: 'string', value: 'x' }, '/10000/0/100/2')).toBe('x');
  });

  it('reads values typed by the model', () => {
    expect(textCodec.decode(Buffer.from('1367491215'), parsePath('/3/0/13'), model)).toEqual({
      kind: 'singleResource', id: 13, type: 'time', value: new Date(1367491215000),
    });
    expect(textCodec.decode(Buffer.from('3'), parsePath('/5/0/3'), model)).toEqual({ kind: 'singleResource', id: 3, type: 'integer', value: 3 });
    expect(textCodec.decode(Buffer.from('5000'), parsePath('/3/0/7/1'), model)).toEqual({ kind: 'resourceInstance', id: 1, type: 'integer', value: 5000 });
    // Unknown resource: a string.
    expect(textCodec.decode(Buffer.from('42'), parsePath('/3/0/99'), model)).toEqual({ kind: 'singleResource', id: 99, type: 'string', value: '42' });
  });

  for (const [n, type] of TYPES.entries()) {
    it(`round trips ${type}`, () => {
      for (const value of SAMPLE[type]) {
        const node: LwM2mNode = { kind: 'singleResource', id: n, type, value };
        const path = parsePath(`/10000/0/${n}`);
        expect(textCodec.decode(textCodec.encode(node, path, testModel), path, testModel)).toEqual(node);
      }
    });
  }

  it.each([
    ['/3/0', '1', /single value, not the instance \/3\/0/],
    ['/3/0/6', '1', /cannot carry the multiple resource \/3\/0\/6/],
    ['/3/0/9', '12a', /"12a" is not a valid integer value/],
    ['/3/0/9', '9223372036854775808', /does not fit a 64-bit integer/],
    ['/1/0/1', '-1', /"-1" is not a valid unsigned value/],
    ['/1/0/6', 'true', /"true" is not a valid boolean value/],
    ['/10000/0/3', 'NaN', /not a valid float value/],
    ['/10000/0/7', '3-0', /not a valid objlnk value/],
    ['/10000/0/7', '3:70000', /not a valid objlnk value/],
    ['/10000/0/5', 'a', /not a valid opaque value/],
  ])('refuses %s = %s', (path, payload, message) => {
    const run = () => textCodec.decode(Buffer.from(payload), parsePath(path), path.startsWith('/10000') ? testModel : model);
    expect(run).toThrow(DecodeError);
    expect(run).toThrow(message);
  });

  it('refuses invalid UTF-8 and non-single nodes', () => {
    expect(() => textCodec.decode(Buffer.from([0xc3, 0x28]), parsePath('/3/0/0'), model)).toThrow(/not valid UTF-8/);
    expect(() => textCodec.encode({ kind: 'instance', id: 0, resources: [] }, parsePath('/3/0'), model)).toThrow(EncodeError);
    expect(() => textCodec.encode({ kind: 'singleResource', id: 9, type: 'integer', value: true }, parsePath('/3/0/9'), model)).toThrow(
      /boolean true is not a valid integer value/,
    );
  });
});

describe('opaque', () => {
  it('carries raw bytes of opaque resources', () => {
    const pkg = Buffer.from([0xde, 0xad, 0xbe, 0xef]);
    expect(opaqueCodec.encode({ kind: 'singleResource', id: 0, type: 'opaque', value: pkg }, parsePath('/5/0/0'), model)).toEqual(pkg);
    expect(opaqueCodec.decode(pkg, parsePath('/5/0/0'), model)).toEqual({ kind: 'singleResource', id: 0, type: 'opaque', value: pkg });
    expect(opaqueCodec.decode(pkg, parsePath('/10000/0/105/3'), testModel)).toEqual({ kind: 'resourceInstance', id: 3, type: 'opaque', value: pkg });
    expect(opaqueCodec.decode(Buffer.alloc(0), parsePath('/3/0/99'), model)).toEqual({ kind: 'singleResource', id: 99, type: 'opaque', value: Buffer.alloc(0) });
  });

  it('refuses non-opaque resources and non-single nodes', () => {
    expect(() => opaqueCodec.decode(Buffer.from('x'), parsePath('/5/0/1'), model)).toThrow(/only carries opaque resources, and this one is string/);
    expect(() => opaqueCodec.decode(Buffer.from('x'), parsePath('/5/0'), model)).toThrow(DecodeError);
    expect(() => opaqueCodec.encode({ kind: 'singleResource', id: 1, type: 'string', value: 'x' }, parsePath('/5/0/1'), model)).toThrow(EncodeError);
    expect(() => opaqueCodec.encode({ kind: 'singleResource', id: 0, type: 'opaque', value: 'x' }, parsePath('/5/0/0'), model)).toThrow(
      /string x is not a valid opaque value/,
    );
  });
});
