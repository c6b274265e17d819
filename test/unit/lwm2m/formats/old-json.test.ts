import { describe, expect, it } from 'vitest';
import { oldJsonCodec } from '../../../../src/lwm2m/formats/old-json.js';
import { DecodeError, EncodeError } from '../../../../src/lwm2m/formats/types.js';
import { loadObjectModel } from '../../../../src/lwm2m/model/registry.js';
import { parsePath } from '../../../../src/lwm2m/path.js';
import { testModel } from './helpers.js';

const model = loadObjectModel();

// LwM2M 1.0 core §6.4.4 (JSON): Read of the Device object instance /3/0.
const DEVICE_JSON = `{"bn":"/3/0/","e":[{"n":"0","sv":"Open Mobile Alliance"},{"n":"1","sv":"Lightweight M2M Client"},
{"n":"2","sv":"345000123"},{"n":"3","sv":"1.0"},{"n":"6/0","v":1},{"n":"6/1","v":5},{"n":"7/0","v":3800},
{"n":"7/1","v":5000},{"n":"8/0","v":125},{"n":"8/1","v":900},{"n":"9","v":100},{"n":"10","v":15},
{"n":"11/0","v":0},{"n":"13","v":1367491215},{"n":"14","sv":"+02:00"},{"n":"16","sv":"U"}]}`;

describe('LwM2M 1.0 JSON (decode only)', () => {
  it('decodes the spec Device instance example', () => {
    const node = oldJsonCodec.decode(Buffer.from(DEVICE_JSON), parsePath('/3/0'), model);
    expect(node.kind === 'instance' && node.resources.map((r) => r.id)).toEqual([0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 13, 14, 16]);
    expect(node.kind === 'instance' && node.resources[4]).toEqual({ kind: 'multiResource', id: 6, type: 'integer', values: new Map([[0, 1], [1, 5]]) });
    expect(node.kind === 'instance' && node.resources[10]).toEqual({ kind: 'singleResource', id: 13, type: 'time', value: new Date(1367491215000) });
  });

  it('resolves names against the request path when bn is missing, with bv, ov and base64 opaque', () => {
    const payload = '{"e":[{"n":"4","bv":true},{"n":"7","ov":"3:1"},{"n":"5","sv":"AQI="},{"n":"3","v":2.5}]}';
    const node = oldJsonCodec.decode(Buffer.from(payload), parsePath('/10000/0'), testModel);
    expect(node).toEqual({
      kind: 'instance',
      id: 0,
      resources: [
        { kind: 'singleResource', id: 3, type: 'float', value: 2.5 },
        { kind: 'singleResource', id: 4, type: 'boolean', value: true },
        { kind: 'singleResource', id: 5, type: 'opaque', value: Buffer.from([1, 2]) },
        { kind: 'singleResource', id: 7, type: 'objlnk', value: { objectId: 3, instanceId: 1 } },
      ],
    });
  });

  it('refuses to encode', () => {
    expect(() => oldJsonCodec.encode({ kind: 'singleResource', id: 0, type: 'string', value: 'x' }, parsePath('/3/0/0'), model)).toThrow(EncodeError);
    expect(() => oldJsonCodec.encode({ kind: 'singleResource', id: 0, type: 'string', value: 'x' }, parsePath('/3/0/0'), model)).toThrow(
      /unsupported for encoding, use SenML JSON/,
    );
  });

  it.each([
    ['not JSON', '{', /invalid JSON/],
    ['array', '[]', /must be an object/],
    ['no e', '{"bn":"/3/0/"}', /needs an "e" array/],
    ['bad entry', '{"e":[3]}', /entry 0 is not an object/],
    ['wrong field type', '{"e":[{"n":"9","v":"1"}]}', /"v" must be a number/],
    ['wrong value kind', '{"e":[{"n":"0","v":1}]}', /is string and needs "sv"/],
    ['bad name', '{"e":[{"n":"x","v":1}]}', /"x" is not a number/],
  ])('%s → DecodeError', (_label, payload, message) => {
    const run = () => oldJsonCodec.decode(Buffer.from(payload), parsePath('/3/0'), model);
    expect(run).toThrow(DecodeError);
    expect(run).toThrow(message);
  });
});
