import { describe, expect, it } from 'vitest';
import { tlvCodec } from '../../../../src/lwm2m/formats/tlv.js';
import { DecodeError, EncodeError } from '../../../../src/lwm2m/formats/types.js';
import { loadObjectModel } from '../../../../src/lwm2m/model/registry.js';
import type { LwM2mNode, ObjectInstance } from '../../../../src/lwm2m/node.js';
import { parsePath } from '../../../../src/lwm2m/path.js';
import { SAMPLE, testModel, TYPES } from './helpers.js';

const model = loadObjectModel();
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// LwM2M 1.1 core spec §7.4.3.2 (TLV examples): Read of the Device object instance /3/0.
const DEVICE_TLV = hex(`
  C8 00 14 4F 70 65 6E 20 4D 6F 62 69 6C 65 20 41 6C 6C 69 61 6E 63 65
  C8 01 16 4C 69 67 68 74 77 65 69 67 68 74 20 4D 32 4D 20 43 6C 69 65 6E 74
  C8 02 09 33 34 35 30 30 30 31 32 33
  C3 03 31 2E 30
  86 06 41 00 01 41 01 05
  88 07 08 42 00 0E D8 42 01 13 88
  87 08 41 00 7D 42 01 03 84
  C1 09 64
  C1 0A 0F
  83 0B 41 00 00
  C4 0D 51 82 42 8F
  C6 0E 2B 30 32 3A 30 30
  C1 10 55`);

const DEVICE_INSTANCE: ObjectInstance = {
  kind: 'instance',
  id: 0,
  resources: [
    { kind: 'singleResource', id: 0, type: 'string', value: 'Open Mobile Alliance' },
    { kind: 'singleResource', id: 1, type: 'string', value: 'Lightweight M2M Client' },
    { kind: 'singleResource', id: 2, type: 'string', value: '345000123' },
    { kind: 'singleResource', id: 3, type: 'string', value: '1.0' },
    { kind: 'multiResource', id: 6, type: 'integer', values: new Map([[0, 1], [1, 5]]) },
    { kind: 'multiResource', id: 7, type: 'integer', values: new Map([[0, 3800], [1, 5000]]) },
    { kind: 'multiResource', id: 8, type: 'integer', values: new Map([[0, 125], [1, 900]]) },
    { kind: 'singleResource', id: 9, type: 'integer', value: 100 },
    { kind: 'singleResource', id: 10, type: 'integer', value: 15 },
    { kind: 'multiResource', id: 11, type: 'integer', values: new Map([[0, 0]]) },
    { kind: 'singleResource', id: 13, type: 'time', value: new Date(1367491215000) },
    { kind: 'singleResource', id: 14, type: 'string', value: '+02:00' },
    { kind: 'singleResource', id: 16, type: 'string', value: 'U' },
  ],
};

describe('TLV known vectors (LwM2M core §7.4.3)', () => {
  it('decodes the spec Device instance example', () => {
    expect(tlvCodec.decode(DEVICE_TLV, parsePath('/3/0'), model)).toEqual(DEVICE_INSTANCE);
  });

  it('encodes the Device instance to the spec bytes', () => {
    expect(tlvCodec.encode(DEVICE_INSTANCE, parsePath('/3/0'), model).toString('hex')).toBe(DEVICE_TLV.toString('hex'));
  });

  it('decodes the same instance read at /3 wrapped in an object instance TLV (08 00 79 ...)', () => {
    const wrapped = Buffer.concat([hex('08 00 79'), DEVICE_TLV]);
    expect(DEVICE_TLV.length).toBe(0x79);
    expect(tlvCodec.decode(wrapped, parsePath('/3'), model)).toEqual({ kind: 'obj', id: 3, instances: [DEVICE_INSTANCE] });
    expect(tlvCodec.encode({ kind: 'obj', id: 3, instances: [DEVICE_INSTANCE] }, parsePath('/3'), model)).toEqual(wrapped);
  });

  it('single resource /3/0/0 and multiple resource /3/0/6', () => {
    expect(tlvCodec.decode(hex('C8 00 14 4F 70 65 6E 20 4D 6F 62 69 6C 65 20 41 6C 6C 69 61 6E 63 65'), parsePath('/3/0/0'), model)).toEqual({
      kind: 'singleResource',
      id: 0,
      type: 'string',
      value: 'Open Mobile Alliance',
    });
    const multi: LwM2mNode = { kind: 'multiResource', id: 6, type: 'integer', values: new Map([[0, 1], [1, 5]]) };
    expect(tlvCodec.decode(hex('86 06 41 00 01 41 01 05'), parsePath('/3/0/6'), model)).toEqual(multi);
    expect(tlvCodec.encode(multi, parsePath('/3/0/6'), model)).toEqual(hex('86 06 41 00 01 41 01 05'));
    // Resource instances without the enclosing TLV are accepted too.
    expect(tlvCodec.decode(hex('41 00 01 41 01 05'), parsePath('/3/0/6'), model)).toEqual(multi);
    expect(tlvCodec.decode(hex('41 01 05'), parsePath('/3/0/6/1'), model)).toEqual({ kind: 'resourceInstance', id: 1, type: 'integer', value: 5 });
  });

  it('uses 16-bit ids and 8/16/24-bit lengths', () => {
    const long = (n: number) => ({ kind: 'singleResource', id: 300, type: 'opaque', value: Buffer.alloc(n, 7) }) as const;
    expect(tlvCodec.encode(long(7), parsePath('/10000/0/300'), testModel).subarray(0, 3)).toEqual(hex('E7 01 2C'));
    expect(tlvCodec.encode(long(8), parsePath('/10000/0/300'), testModel).subarray(0, 4)).toEqual(hex('E8 01 2C 08'));
    expect(tlvCodec.encode(long(256), parsePath('/10000/0/300'), testModel).subarray(0, 5)).toEqual(hex('F0 01 2C 01 00'));
    expect(tlvCodec.encode(long(65536), parsePath('/10000/0/300'), testModel).subarray(0, 6)).toEqual(hex('F8 01 2C 01 00 00'));
    const back = tlvCodec.decode(tlvCodec.encode(long(65536), parsePath('/10000/0/300'), testModel), parsePath('/10000/0/300'), testModel);
    expect(back).toEqual({ kind: 'singleResource', id: 300, type: 'opaque', value: Buffer.alloc(65536, 7) });
  });

  it('writes integers in the fewest bytes and floats in 4 bytes only when exact', () => {
    const enc = (id: number, value: number | bigint) =>
      tlvCodec.encode({ kind: 'singleResource', id, type: 'integer', value }, parsePath(`/10000/0/${id}`), testModel).toString('hex');
    expect(enc(1, 127)).toBe('c1017f');
    expect(enc(1, -128)).toBe('c10180');
    expect(enc(1, 128)).toBe('c2010080');
    expect(enc(1, -32769)).toBe('c401ffff7fff');
    expect(enc(1, 2147483648)).toBe('c801080000000080000000');
    expect(enc(2, 255)).toBe('c102ff'); // unsigned: one byte
    expect(enc(3, 1.5)).toBe('c4033fc00000');
    expect(enc(3, 0.1)).toBe('c803083fb999999999999a');
  });
});

describe('TLV round trips for every type', () => {
  for (const [n, type] of TYPES.entries()) {
    it(`${type}: single, multiple, resource instance and whole instance`, () => {
      const [a, b] = SAMPLE[type];
      const single: LwM2mNode = { kind: 'singleResource', id: n, type, value: a };
      expect(tlvCodec.decode(tlvCodec.encode(single, parsePath(`/10000/1/${n}`), testModel), parsePath(`/10000/1/${n}`), testModel)).toEqual(single);
      const multi: LwM2mNode = { kind: 'multiResource', id: 100 + n, type, values: new Map([[0, a], [7, b]]) };
      const multiPath = parsePath(`/10000/1/${100 + n}`);
      expect(tlvCodec.decode(tlvCodec.encode(multi, multiPath, testModel), multiPath, testModel)).toEqual(multi);
      const ri: LwM2mNode = { kind: 'resourceInstance', id: 7, type, value: b };
      const riPath = parsePath(`/10000/1/${100 + n}/7`);
      expect(tlvCodec.decode(tlvCodec.encode(ri, riPath, testModel), riPath, testModel)).toEqual(ri);
      const inst: LwM2mNode = { kind: 'instance', id: 1, resources: [single, multi] };
      expect(tlvCodec.decode(tlvCodec.encode(inst, parsePath('/10000/1'), testModel), parsePath('/10000/1'), testModel)).toEqual(inst);
    });
  }

  it('decodes resources the model does not know as opaque', () => {
    expect(tlvCodec.decode(hex('C1 2A 05'), parsePath('/3/0/42'), model)).toEqual({
      kind: 'singleResource',
      id: 42,
      type: 'opaque',
      value: Buffer.from([5]),
    });
  });

  it('encodes an instance for a create on /o inside an object instance TLV', () => {
    const inst: LwM2mNode = { kind: 'instance', id: 2, resources: [{ kind: 'singleResource', id: 9, type: 'integer', value: 1 }] };
    expect(tlvCodec.encode(inst, parsePath('/3'), model)).toEqual(hex('03 02 C1 09 01'));
  });
});

describe('TLV errors', () => {
  it.each([
    ['truncated header', '/3/0', 'C8', /header at byte 0 is truncated/],
    ['length past end', '/3/0', 'C8 00 14 4F', /claims 20 bytes but only 1 remain/],
    ['integer of 3 bytes', '/3/0/9', 'C3 09 00 00 01', /an integer takes 1, 2, 4 or 8 bytes, not 3/],
    ['boolean of value 2', '/1/0/6', 'C1 06 02', /a boolean is one byte, 0 or 1/],
    ['object link of 3 bytes', '/3/0/22/0', '43 00 00 03 00', /an object link takes 4 bytes, not 3/],
    ['invalid UTF-8', '/3/0/0', 'C1 00 FF', /not valid UTF-8/],
    ['wrong resource id', '/3/0/0', 'C1 01 41', /payload holds resource 1, not 0/],
    ['wrong instance id', '/3/0', '03 01 C1 09 01', /payload holds instance 1, not 0/],
    ['duplicate resources', '/3/0', 'C1 09 01 C1 09 02', /id 9 appears twice/],
    ['two TLVs at a resource path', '/3/0/9', 'C1 09 01 C1 0A 01', /expected one resource TLV, got 2/],
    ['mixed object level', '/3', '03 00 C1 09 01 C1 0A 01', /mixes object instances/],
    ['root path', '/', 'C1 09 01', /root path/],
    ['float of 2 bytes', '/10000/0/3', 'C2 03 00 00', /a float takes 4 or 8 bytes, not 2/],
  ])('%s → DecodeError', (_label, path, bytes, message) => {
    const run = () => tlvCodec.decode(hex(bytes), parsePath(path), path.startsWith('/10000') ? testModel : model);
    expect(run).toThrow(DecodeError);
    expect(run).toThrow(message);
  });

  it('refuses to encode a value of the wrong JS type', () => {
    const run = () => tlvCodec.encode({ kind: 'singleResource', id: 9, type: 'integer', value: 'full' }, parsePath('/3/0/9'), model);
    expect(run).toThrow(EncodeError);
    expect(run).toThrow('resource 9: string full is not a valid integer value');
    expect(() => tlvCodec.encode({ kind: 'singleResource', id: 9, type: 'integer', value: 1.5 }, parsePath('/3/0/9'), model)).toThrow(EncodeError);
    expect(() => tlvCodec.encode({ kind: 'singleResource', id: 9, type: 'integer', value: 1 }, parsePath('/3/0/10'), model)).toThrow(
      /cannot be written at \/3\/0\/10/,
    );
  });
});
