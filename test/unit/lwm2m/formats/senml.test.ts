import { describe, expect, it } from 'vitest';
import { createSenmlJsonCodec, senmlJsonCodec } from '../../../../src/lwm2m/formats/senml-json.js';
import { createSenmlCborCodec, senmlCborCodec } from '../../../../src/lwm2m/formats/senml-cbor.js';
import { DecodeError, EncodeError } from '../../../../src/lwm2m/formats/types.js';
import { loadObjectModel } from '../../../../src/lwm2m/model/registry.js';
import type { LwM2mNode } from '../../../../src/lwm2m/node.js';
import { parsePath } from '../../../../src/lwm2m/path.js';
import { SAMPLE, testModel, TYPES } from './helpers.js';

const model = loadObjectModel();
const json = (text: string) => Buffer.from(text);

// LwM2M 1.1 core spec §7.4.4 (SenML JSON): Read of the Device object instance /3/0.
const DEVICE_SENML = `[{"bn":"/3/0/","n":"0","vs":"Open Mobile Alliance"},{"n":"1","vs":"Lightweight M2M Client"},
{"n":"2","vs":"345000123"},{"n":"3","vs":"1.0"},{"n":"6/0","v":1},{"n":"6/1","v":5},{"n":"7/0","v":3800},
{"n":"7/1","v":5000},{"n":"8/0","v":125},{"n":"8/1","v":900},{"n":"9","v":100},{"n":"10","v":15},
{"n":"11/0","v":0},{"n":"13","v":1367491215},{"n":"14","vs":"+02:00"},{"n":"16","vs":"U"}]`;

describe('SenML JSON known vectors', () => {
  it('decodes the spec Device instance example', () => {
    const node = senmlJsonCodec.decode(json(DEVICE_SENML), parsePath('/3/0'), model);
    expect(node.kind).toBe('instance');
    if (node.kind !== 'instance') return;
    expect(node.resources.map((r) => r.id)).toEqual([0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 13, 14, 16]);
    expect(node.resources[0]).toEqual({ kind: 'singleResource', id: 0, type: 'string', value: 'Open Mobile Alliance' });
    expect(node.resources[5]).toEqual({ kind: 'multiResource', id: 7, type: 'integer', values: new Map([[0, 3800], [1, 5000]]) });
    expect(node.resources[10]).toEqual({ kind: 'singleResource', id: 13, type: 'time', value: new Date(1367491215000) });
  });

  it('encodes the Device instance back to the spec records', () => {
    const node = senmlJsonCodec.decode(json(DEVICE_SENML), parsePath('/3/0'), model);
    expect(senmlJsonCodec.encode(node, parsePath('/3/0'), model).toString()).toBe(DEVICE_SENML.replace(/\n/g, ''));
  });

  it('writes a single resource with the path as base name, opaque as base64url and links as vlo', () => {
    const enc = (node: LwM2mNode, path: string) => senmlJsonCodec.encode(node, parsePath(path), testModel).toString();
    expect(enc({ kind: 'singleResource', id: 5, type: 'opaque', value: Buffer.from([0xfb, 0xff]) }, '/10000/0/5')).toBe('[{"bn":"/10000/0/5","vd":"-_8"}]');
    expect(enc({ kind: 'singleResource', id: 7, type: 'objlnk', value: { objectId: 3, instanceId: 1 } }, '/10000/0/7')).toBe('[{"bn":"/10000/0/7","vlo":"3:1"}]');
    expect(enc({ kind: 'singleResource', id: 1, type: 'integer', value: 9007199254740993n }, '/10000/0/1')).toBe('[{"bn":"/10000/0/1","v":9007199254740993}]');
    expect(enc({ kind: 'multiResource', id: 104, type: 'boolean', values: new Map([[1, false], [0, true]]) }, '/10000/0/104')).toBe(
      '[{"bn":"/10000/0/104/","n":"0","vb":true},{"n":"1","vb":false}]',
    );
  });
});

// SenML CBOR bytes derived by hand from RFC 8428 §6 labels and RFC 8949 encoding:
// [{-2: "/3/0/", 0: "0", 3: "ACME"}, {0: "9", 2: 100}]
const CBOR_VECTOR = '82 a3 21 65 2f 33 2f 30 2f 00 61 30 03 64 41 43 4d 45 a2 00 61 39 02 18 64';

describe('SenML CBOR known vectors', () => {
  const bytes = Buffer.from(CBOR_VECTOR.replace(/ /g, ''), 'hex');
  const instance: LwM2mNode = {
    kind: 'instance',
    id: 0,
    resources: [
      { kind: 'singleResource', id: 0, type: 'string', value: 'ACME' },
      { kind: 'singleResource', id: 9, type: 'integer', value: 100 },
    ],
  };

  it('decodes integer labels', () => {
    expect(senmlCborCodec.decode(bytes, parsePath('/3/0'), model)).toEqual(instance);
  });

  it('encodes to the same bytes', () => {
    expect(senmlCborCodec.encode(instance, parsePath('/3/0'), model).toString('hex')).toBe(CBOR_VECTOR.replace(/ /g, ''));
  });

  it('uses byte strings for opaque and the "vlo" text label for object links', () => {
    const out = senmlCborCodec.encode(
      { kind: 'singleResource', id: 7, type: 'objlnk', value: { objectId: 3, instanceId: 1 } },
      parsePath('/10000/0/7'),
      testModel,
    );
    expect(out.toString('hex')).toBe('81a2216a2f31303030302f302f3763766c6f63333a31');
    const opaque = senmlCborCodec.encode({ kind: 'singleResource', id: 5, type: 'opaque', value: Buffer.from([1, 2]) }, parsePath('/10000/0/5'), testModel);
    expect(opaque.toString('hex')).toBe('81a2216a2f31303030302f302f35084201' + '02');
  });
});

for (const [label, codec] of [['SenML JSON', senmlJsonCodec], ['SenML CBOR', senmlCborCodec]] as const) {
  describe(`${label} round trips and composites`, () => {
    for (const [n, type] of TYPES.entries()) {
      it(`${type}: single, multiple, instance`, () => {
        // JSON reads numbers as doubles, so the 2^53+ samples only survive in CBOR.
        const [a, b] = SAMPLE[type].map((v) => (label === 'SenML JSON' && typeof v === 'bigint' ? 12345 : v));
        const single: LwM2mNode = { kind: 'singleResource', id: n, type, value: a };
        const multi: LwM2mNode = { kind: 'multiResource', id: 100 + n, type, values: new Map([[0, a], [7, b]]) };
        const inst: LwM2mNode = { kind: 'instance', id: 1, resources: [single, multi] };
        for (const [node, path] of [[single, `/10000/1/${n}`], [multi, `/10000/1/${100 + n}`], [inst, '/10000/1']] as const) {
          expect(codec.decode(codec.encode(node, parsePath(path), testModel), parsePath(path), testModel)).toEqual(node);
        }
        const obj: LwM2mNode = { kind: 'obj', id: 10000, instances: [inst] };
        expect(codec.decode(codec.encode(obj, parsePath('/10000'), testModel), parsePath('/10000'), testModel)).toEqual(obj);
      });
    }

    it('composite nodes by path, with and without the requested paths', () => {
      const nodes = new Map<string, LwM2mNode>([
        ['/3/0/0', { kind: 'singleResource', id: 0, type: 'string', value: 'ACME' }],
        ['/3/0/7', { kind: 'multiResource', id: 7, type: 'integer', values: new Map([[0, 3800]]) }],
        ['/5/0/3', { kind: 'singleResource', id: 3, type: 'integer', value: 2 }],
      ]);
      const payload = codec.encodeNodes(nodes, model);
      expect(codec.decodeNodes(payload, model, [parsePath('/3/0'), parsePath('/5/0/3')])).toEqual(
        new Map<string, LwM2mNode>([
          ['/3/0', { kind: 'instance', id: 0, resources: [nodes.get('/3/0/0') as never, nodes.get('/3/0/7') as never] }],
          ['/5/0/3', nodes.get('/5/0/3')!],
        ]),
      );
      expect([...codec.decodeNodes(payload, model).entries()]).toEqual([
        ['/3/0/0', nodes.get('/3/0/0')],
        ['/3/0/7/0', { kind: 'resourceInstance', id: 0, type: 'integer', value: 3800 }],
        ['/5/0/3', nodes.get('/5/0/3')],
      ]);
      expect(() => codec.decodeNodes(payload, model, [parsePath('/3/0')])).toThrow(/\/5\/0\/3 was not requested/);
    });

    it('paths for composite read requests', () => {
      const paths = [parsePath('/3/0/0'), parsePath('/5'), parsePath('/3/0/7/1')];
      expect(codec.decodePaths(codec.encodePaths(paths))).toEqual(paths);
    });

    it('timestamps for Send: encode and decode', () => {
      const entries = [
        { timestamp: 1700000000000, path: '/3/0/9', node: { kind: 'singleResource', id: 9, type: 'integer', value: 80 } as LwM2mNode },
        { timestamp: 1700000060000, path: '/3/0/9', node: { kind: 'singleResource', id: 9, type: 'integer', value: 79 } as LwM2mNode },
        { path: '/3/0/0', node: { kind: 'singleResource', id: 0, type: 'string', value: 'ACME' } as LwM2mNode },
      ];
      expect(codec.decodeTimestamped(codec.encodeTimestamped(entries, model), model)).toEqual(entries);
    });
  });
}

describe('SenML times', () => {
  it('adds base time and time, and treats small times as relative to now', () => {
    const codec = createSenmlJsonCodec({ now: () => 1_800_000_000_000 });
    const payload = json('[{"bn":"/3/0/","bt":1700000000,"n":"9","v":80,"t":-60},{"n":"10","v":5},{"bt":0,"n":"9","v":1,"t":-10}]');
    expect(codec.decodeTimestamped(payload, model).map((e) => [e.path, e.timestamp])).toEqual([
      ['/3/0/9', 1699999940000],
      ['/3/0/10', 1700000000000],
      ['/3/0/9', 1_799_999_990_000],
    ]);
    const cbor = createSenmlCborCodec({ now: () => 5000 });
    const bytes = cbor.encodeTimestamped([{ timestamp: 1000, path: '/3/0/9', node: { kind: 'singleResource', id: 9, type: 'integer', value: 1 } }], model);
    // 1 s is below 2^28, so it reads back as relative to now.
    expect(cbor.decodeTimestamped(bytes, model)[0].timestamp).toBe(6000);
  });
});

describe('SenML errors', () => {
  it.each([
    ['not JSON', '[{', /invalid JSON/],
    ['not an array', '{"n":"/3/0/0"}', /must be an array of records/],
    ['record not an object', '[1]', /record 0 is not an object/],
    ['no name', '[{"v":1}]', /record 0 has no name/],
    ['bad name', '[{"n":"/3/x/0","v":1}]', /"x" is not a number/],
    ['id above 65535', '[{"n":"/3/0/70000","v":1}]', /70000 is above 65535/],
    ['name not a resource', '[{"n":"/3/0","v":1}]', /"\/3\/0" is not a resource path/],
    ['outside target', '[{"n":"/4/0/0","v":1}]', /\/4\/0\/0 is outside the target \/3\/0/],
    ['wrong value type', '[{"n":"/3/0/0","v":1}]', /"\/3\/0\/0" is string and needs "vs"/],
    ['fraction for integer', '[{"n":"/3/0/9","v":1.5}]', /is integer and needs an integer in "v"/],
    ['two values', '[{"n":"/3/0/9","v":1,"vs":"1"}]', /exactly one value field, has 2/],
    ['no value', '[{"n":"/3/0/9"}]', /exactly one value field, has 0/],
    ['field of wrong JSON type', '[{"n":"/3/0/9","v":"1"}]', /"v" must be a number/],
    ['bad base64', '[{"n":"/10000/0/5","vd":"***"}]', /"vd" must be valid base64url/],
    ['mandatory unknown field', '[{"n":"/3/0/9","v":1,"foo_":1}]', /unsupported mandatory field "foo_"/],
    ['single and multiple mixed', '[{"n":"/3/0/7","v":1},{"n":"/3/0/7/0","v":1}]', /both a single value and resource instances/],
    ['duplicate', '[{"n":"/3/0/9","v":1},{"n":"/3/0/9","v":2}]', /\/3\/0\/9 appears 2 times/],
  ])('JSON %s → DecodeError', (_label, payload, message) => {
    const run = () => senmlJsonCodec.decode(json(payload), parsePath('/3/0'), payload.includes('10000') ? testModel : model);
    expect(run).toThrow(DecodeError);
    expect(run).toThrow(message);
  });

  it('CBOR: bad bytes, wrong shapes, trailing data', () => {
    const hex = (s: string) => Buffer.from(s, 'hex');
    expect(() => senmlCborCodec.decode(hex('ff'), parsePath('/3/0'), model)).toThrow(DecodeError);
    expect(() => senmlCborCodec.decode(hex('a0'), parsePath('/3/0'), model)).toThrow(/must be an array of records/);
    expect(() => senmlCborCodec.decode(hex('8101'), parsePath('/3/0'), model)).toThrow(/record 0 is not a map/);
    expect(() => senmlCborCodec.decode(hex('81a1000a'), parsePath('/3/0'), model)).toThrow(/"n" must be a text string/);
    expect(() => senmlCborCodec.decode(hex('8100'.slice(0, 2)), parsePath('/3/0'), model)).toThrow(DecodeError);
    expect(() => senmlCborCodec.decode(hex('8000'), parsePath('/3/0'), model)).toThrow(/invalid CBOR/);
  });

  it('refuses path records with values and values of the wrong JS type', () => {
    expect(() => senmlJsonCodec.decodePaths(json('[{"n":"/3/0/0","v":1}]'))).toThrow(/must not carry a value/);
    expect(() => senmlJsonCodec.encode({ kind: 'singleResource', id: 3, type: 'float', value: NaN }, parsePath('/10000/0/3'), testModel)).toThrow(EncodeError);
    expect(() => senmlCborCodec.encode({ kind: 'singleResource', id: 9, type: 'integer', value: '1' }, parsePath('/3/0/9'), model)).toThrow(
      /string 1 is not a valid integer value/,
    );
  });

  it('types unknown resources by their value field', () => {
    const node = senmlJsonCodec.decode(json('[{"bn":"/3/0/","n":"90","v":1.5},{"n":"91","vb":true},{"n":"92","vlo":"3:0"},{"n":"93","vd":"AQ"},{"n":"94","v":7}]'), parsePath('/3/0'), model);
    expect(node.kind === 'instance' && node.resources.map((r) => [r.id, r.type])).toEqual([
      [90, 'float'], [91, 'boolean'], [92, 'objlnk'], [93, 'opaque'], [94, 'integer'],
    ]);
  });
});
