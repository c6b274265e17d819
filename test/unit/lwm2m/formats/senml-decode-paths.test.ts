/**
 * The SenML decoder's shortcuts (record names read without parsePath, small integers
 * without a bigint round trip) must give exactly what the general path gives: the /5/0
 * notification the firmware driver reads, every name form parsePath accepts or refuses,
 * and integers at the edges of the shortcut.
 */
import { describe, expect, it } from 'vitest';
import { encodeCbor } from '../../../../src/lwm2m/formats/cbor.js';
import { senmlCborCodec } from '../../../../src/lwm2m/formats/senml-cbor.js';
import { senmlJsonCodec } from '../../../../src/lwm2m/formats/senml-json.js';
import { DecodeError } from '../../../../src/lwm2m/formats/types.js';
import { loadObjectModel } from '../../../../src/lwm2m/model/registry.js';
import type { LwM2mNode } from '../../../../src/lwm2m/node.js';
import { parsePath } from '../../../../src/lwm2m/path.js';
import { testModel } from './helpers.js';

const model = loadObjectModel();

/** SenML CBOR records (integer labels: -2 bn, 0 n, 2 v, 3 vs). */
function cbor(records: Array<Record<number, unknown>>): Buffer {
  return encodeCbor(records.map((r) => new Map(Object.entries(r).map(([k, v]) => [Number(k), v]))));
}

describe('SenML decoding shortcuts', () => {
  it('decodes the /5/0 instance a device notifies to exactly the resources it encoded', () => {
    const node: LwM2mNode = {
      kind: 'instance',
      id: 0,
      resources: [
        { kind: 'singleResource', id: 1, type: 'string', value: 'coaps://127.0.0.1:5684/fw/AbC-_9' },
        { kind: 'singleResource', id: 3, type: 'integer', value: 1 },
        { kind: 'singleResource', id: 5, type: 'integer', value: 0 },
        { kind: 'singleResource', id: 6, type: 'string', value: 'sim-firmware' },
        { kind: 'singleResource', id: 7, type: 'string', value: '1.0.0' },
        { kind: 'multiResource', id: 8, type: 'integer', values: new Map([[0, 0], [1, 1]]) },
        { kind: 'singleResource', id: 9, type: 'integer', value: 2 },
        { kind: 'singleResource', id: 12, type: 'time', value: new Date(1_700_000_000_000) },
        { kind: 'singleResource', id: 13, type: 'unsigned', value: 86_400 },
      ],
    };
    const path = parsePath('/5/0');
    for (const codec of [senmlCborCodec, senmlJsonCodec]) {
      const payload = codec.encode(node, path, model);
      expect(codec.decode(payload, path, model)).toEqual(node);
    }
  });

  it('reads every name form parsePath accepts, to the same ids', () => {
    const value = (name: string): LwM2mNode => senmlCborCodec.decode(cbor([{ 0: name, 2: 7 }]), parsePath('/3/0/9'), model);
    const expected = { kind: 'singleResource', id: 9, type: 'integer', value: 7 };
    expect(value('/3/0/9')).toEqual(expected);
    expect(value('3/0/9')).toEqual(expected);
    expect(value('//3/0/9//')).toEqual(expected);
    expect(value('/03/00/0009')).toEqual(expected);
    expect(value('/000003/0/9')).toEqual(expected);
    // Base name + name, as devices send instances.
    expect(senmlCborCodec.decode(cbor([{ [-2]: '/3/0/', 0: '9', 2: 7 }]), parsePath('/3/0/9'), model)).toEqual(expected);
  });

  it('refuses the name forms parsePath refuses, with its reason', () => {
    const reason = (name: string): string => {
      try {
        senmlCborCodec.decode(cbor([{ 0: name, 2: 7 }]), parsePath('/3/0/9'), model);
      } catch (err) {
        expect(err).toBeInstanceOf(DecodeError);
        return (err as Error).message;
      }
      throw new Error(`"${name}" was accepted`);
    };
    expect(reason('/3//0/9')).toContain('record 0: path "/3//0/9": "" is not a number');
    expect(reason('/3/0/9x')).toContain('"9x" is not a number');
    expect(reason('/3/0/65536')).toContain('65536 is above 65535');
    expect(reason('/3/0/100000')).toContain('100000 is above 65535');
    expect(reason('/3/0/9/0/1')).toContain('has more than 4 levels');
    expect(reason('/3/0')).toContain('record name "/3/0" is not a resource path');
  });

  it('keeps integers exact at the edges of the small-integer shortcut', () => {
    const read = (objectId: number, resourceId: number, v: number | bigint): unknown => {
      const node = senmlCborCodec.decode(cbor([{ 0: `/${objectId}/0/${resourceId}`, 2: v }]), parsePath(`/${objectId}/0/${resourceId}`), testModel);
      return node.kind === 'singleResource' ? node.value : node;
    };
    // /10000/0/1 is an integer, /10000/0/2 unsigned (helpers.ts).
    expect(read(10000, 1, Number.MAX_SAFE_INTEGER)).toBe(Number.MAX_SAFE_INTEGER);
    expect(read(10000, 1, Number.MIN_SAFE_INTEGER)).toBe(Number.MIN_SAFE_INTEGER);
    expect(read(10000, 1, 2n ** 53n + 1n)).toBe(2n ** 53n + 1n);
    expect(read(10000, 1, -(2n ** 63n))).toBe(-(2n ** 63n));
    expect(read(10000, 1, 12n)).toBe(12);
    expect(read(10000, 2, 0)).toBe(0);
    expect(read(10000, 2, 2n ** 64n - 1n)).toBe(2n ** 64n - 1n);
    expect(() => read(10000, 2, -1)).toThrow('-1 does not fit an unsigned 64-bit integer');
    expect(() => read(10000, 1, 2n ** 63n)).toThrow('does not fit a 64-bit integer');
    expect(() => read(10000, 1, 1.5)).toThrow('needs an integer in "v"');
  });
});
