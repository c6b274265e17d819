import { describe, expect, it } from 'vitest';
import { lwm2mCborCodec } from '../../../../src/lwm2m/formats/lwm2m-cbor.js';
import { DecodeError, EncodeError } from '../../../../src/lwm2m/formats/types.js';
import { loadObjectModel } from '../../../../src/lwm2m/model/registry.js';
import type { LwM2mNode } from '../../../../src/lwm2m/node.js';
import { parsePath } from '../../../../src/lwm2m/path.js';
import { SAMPLE, testModel, TYPES } from './helpers.js';

const model = loadObjectModel();
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// LwM2M 1.2 core §7.4.6: {[3, 0]: {0: "ACME", 9: 100, 7: {0: 3800}}}, bytes derived by hand (RFC 8949).
const VECTOR = 'a1 82 03 00 a3 00 64 41 43 4d 45 09 18 64 07 a1 00 19 0e d8';
const INSTANCE: LwM2mNode = {
  kind: 'instance',
  id: 0,
  resources: [
    { kind: 'singleResource', id: 0, type: 'string', value: 'ACME' },
    { kind: 'multiResource', id: 7, type: 'integer', values: new Map([[0, 3800]]) },
    { kind: 'singleResource', id: 9, type: 'integer', value: 100 },
  ],
};

describe('LwM2M CBOR', () => {
  it('decodes the compressed-path example', () => {
    expect(lwm2mCborCodec.decode(hex(VECTOR), parsePath('/3/0'), model)).toEqual(INSTANCE);
  });

  it('decodes the same data written as fully nested maps: {3: {0: {...}}}', () => {
    const nested = 'a1 03 a1 00 a3 00 64 41 43 4d 45 09 18 64 07 a1 00 19 0e d8';
    expect(lwm2mCborCodec.decode(hex(nested), parsePath('/3/0'), model)).toEqual(INSTANCE);
    // and with the path split differently: {[3]: {[0, 9]: 100}}
    expect(lwm2mCborCodec.decode(hex('a1 81 03 a1 82 00 09 18 64'), parsePath('/3/0/9'), model)).toEqual({
      kind: 'singleResource', id: 9, type: 'integer', value: 100,
    });
  });

  it('encodes with the path to the node as an array key', () => {
    // Same content, in the order of the vector's keys (0, 9, 7).
    const ordered: LwM2mNode = {
      kind: 'instance',
      id: 0,
      resources: [
        { kind: 'singleResource', id: 0, type: 'string', value: 'ACME' },
        { kind: 'singleResource', id: 9, type: 'integer', value: 100 },
        { kind: 'multiResource', id: 7, type: 'integer', values: new Map([[0, 3800]]) },
      ],
    };
    expect(lwm2mCborCodec.encode(ordered, parsePath('/3/0'), model).toString('hex')).toBe(VECTOR.replace(/ /g, ''));
    expect(lwm2mCborCodec.encode({ kind: 'singleResource', id: 9, type: 'integer', value: 100 }, parsePath('/3/0/9'), model).toString('hex')).toBe(
      'a1830300091864',
    );
    expect(
      lwm2mCborCodec.encode({ kind: 'singleResource', id: 7, type: 'objlnk', value: { objectId: 3, instanceId: 1 } }, parsePath('/10000/0/7'), testModel).toString('hex'),
    ).toBe('a183192710000763333a31');
  });

  for (const [n, type] of TYPES.entries()) {
    it(`round trips ${type}`, () => {
      const [a, b] = SAMPLE[type];
      const single: LwM2mNode = { kind: 'singleResource', id: n, type, value: a };
      const multi: LwM2mNode = { kind: 'multiResource', id: 100 + n, type, values: new Map([[0, a], [7, b]]) };
      const obj: LwM2mNode = { kind: 'obj', id: 10000, instances: [{ kind: 'instance', id: 1, resources: [single, multi] }] };
      for (const [node, path] of [[single, `/10000/1/${n}`], [multi, `/10000/1/${100 + n}`], [obj, '/10000']] as const) {
        expect(lwm2mCborCodec.decode(lwm2mCborCodec.encode(node, parsePath(path), testModel), parsePath(path), testModel)).toEqual(node);
      }
    });
  }

  it('composite nodes', () => {
    const nodes = new Map<string, LwM2mNode>([
      ['/3/0/0', { kind: 'singleResource', id: 0, type: 'string', value: 'ACME' }],
      ['/5/0', { kind: 'instance', id: 0, resources: [{ kind: 'singleResource', id: 3, type: 'integer', value: 1 }] }],
    ]);
    const payload = lwm2mCborCodec.encodeNodes(nodes, model);
    expect(lwm2mCborCodec.decodeNodes(payload, model, [parsePath('/3/0/0'), parsePath('/5/0')])).toEqual(nodes);
    expect(lwm2mCborCodec.decodeTimestamped(payload, model).map((e) => e.path)).toEqual(['/3/0/0', '/5/0/3']);
    expect(() => lwm2mCborCodec.encodeTimestamped([{ timestamp: 1, path: '/3/0/0', node: nodes.get('/3/0/0')! }], model)).toThrow(EncodeError);
    expect(() => lwm2mCborCodec.encodePaths([parsePath('/3')])).toThrow(EncodeError);
  });

  it.each([
    ['not CBOR', '1c', /invalid CBOR: Unknown token 28/],
    ['not a map', '80', /must be a map/],
    ['text key', 'a1 61 33 00', /key 3 is not an id/],
    ['negative key', 'a1 20 00', /key -1 is not an id/],
    ['too deep', 'a1 85 03 00 00 00 00 01', /deeper than a resource instance/],
    ['value above resource level', 'a1 82 03 00 01', /\/3\/0 holds a value but is not a resource path/],
    ['wrong type', 'a1 83 03 00 00 01', /\/3\/0\/0 is string and needs a text string/],
    ['null', 'a1 83 03 00 00 f6', /needs a text string/],
    ['duplicate path', 'a2 83 03 00 09 01 82 03 00 a1 09 02', /\/3\/0\/9 appears twice/],
    ['truncated', 'a1 83 03 00', /invalid CBOR/],
  ])('%s → DecodeError', (_label, bytes, message) => {
    const run = () => lwm2mCborCodec.decode(hex(bytes), parsePath('/3/0'), model);
    expect(run).toThrow(DecodeError);
    expect(run).toThrow(message);
  });
});
