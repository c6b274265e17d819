import { describe, it, expect } from 'vitest';
import { nodeFromJson, nodeToJson, nodesToJson, newInstanceFromJson, InvalidNodeJsonError } from '../../../src/api/node-json.js';
import { javaDoubleString, parseTypeName } from '../../../src/api/json-values.js';
import type { LwM2mNode, ResourceType, ResourceValue, SingleResource } from '../../../src/lwm2m/node.js';
import { parsePath } from '../../../src/lwm2m/path.js';
import { TestObjectModel } from './test-model.js';

const model = new TestObjectModel();

const single = (id: number, type: ResourceType, value: ResourceValue): SingleResource => ({ kind: 'singleResource', id, type, value });

/** One resource of every type in object 9990: [resource id, our node value, Leshan JSON value, Leshan type]. */
const EVERY_TYPE: [number, ResourceType, ResourceValue, unknown, string][] = [
  [0, 'string', 'héllo', 'héllo', 'STRING'],
  [1, 'integer', -77, '-77', 'INTEGER'],
  [2, 'unsigned', 18446744073709551615n, '18446744073709551615', 'UNSIGNED_INTEGER'],
  [3, 'float', 48.5, '48.5', 'FLOAT'],
  [4, 'boolean', true, true, 'BOOLEAN'],
  [5, 'opaque', Buffer.from([0xde, 0xad, 0x00, 0x01]), 'dead0001', 'OPAQUE'],
  [6, 'time', new Date(1_700_000_000_000), 1_700_000_000_000, 'TIME'],
  [7, 'objlnk', { objectId: 3, instanceId: 0 }, { objectId: 3, objectInstanceId: 0 }, 'OBJLNK'],
  [8, 'corelnk', '</3/0>;ver=1.1', '</3/0>;ver=1.1', 'CORELINK'],
];

describe('nodeToJson', () => {
  for (const [id, type, value, json, leshanType] of EVERY_TYPE) {
    it(`writes a ${type} single resource as Leshan does`, () => {
      expect(nodeToJson(single(id, type, value))).toEqual({ id, kind: 'singleResource', type: leshanType, value: json });
    });
  }

  it('writes an integer beyond 2^53 exactly (bigint → string)', () => {
    expect(nodeToJson(single(1, 'integer', -9223372036854775808n))).toEqual({ id: 1, kind: 'singleResource', type: 'INTEGER', value: '-9223372036854775808' });
  });

  it('writes a multiple resource with values keyed by instance id, ascending', () => {
    const node: LwM2mNode = { kind: 'multiResource', id: 7, type: 'integer', values: new Map([[1, 5000], [0, 3800]]) };
    const json = nodeToJson(node);
    expect(json).toEqual({ id: 7, kind: 'multiResource', type: 'INTEGER', values: { '0': '3800', '1': '5000' } });
    expect(JSON.stringify(json)).toBe('{"id":7,"kind":"multiResource","type":"INTEGER","values":{"0":"3800","1":"5000"}}');
  });

  it('writes a resource instance, an instance and an object', () => {
    const instance: LwM2mNode = {
      kind: 'instance',
      id: 0,
      resources: [single(0, 'string', 'ACME'), { kind: 'multiResource', id: 11, type: 'integer', values: new Map([[0, 0]]) }],
    };
    expect(nodeToJson({ kind: 'resourceInstance', id: 2, type: 'opaque', value: Buffer.from('ab', 'hex') })).toEqual({
      id: 2, kind: 'resourceInstance', type: 'OPAQUE', value: 'ab',
    });
    expect(nodeToJson({ kind: 'obj', id: 3, instances: [instance as never] })).toEqual({
      id: 3,
      kind: 'obj',
      instances: [{
        id: 0,
        kind: 'instance',
        resources: [
          { id: 0, kind: 'singleResource', type: 'STRING', value: 'ACME' },
          { id: 11, kind: 'multiResource', type: 'INTEGER', values: { '0': '0' } },
        ],
      }],
    });
  });

  it('writes composite content keyed by path', () => {
    expect(nodesToJson(new Map([['/3/0/0', single(0, 'string', 'ACME')]]))).toEqual({
      '/3/0/0': { id: 0, kind: 'singleResource', type: 'STRING', value: 'ACME' },
    });
  });
});

describe('javaDoubleString (Leshan prints floats with Double.toString)', () => {
  it.each([
    [48.5, '48.5'], [1, '1.0'], [0, '0.0'], [-2.25, '-2.25'], [1e7, '1.0E7'], [123456789, '1.23456789E8'],
    [1.5e-5, '1.5E-5'], [0.001, '0.001'], [9999999, '9999999.0'], [-1e-4, '-1.0E-4'],
  ])('%s → %s', (x, text) => {
    expect(javaDoubleString(x)).toBe(text);
  });
});

describe('nodeFromJson: every type, Leshan shape and our short forms', () => {
  for (const [id, type, value, json, leshanType] of EVERY_TYPE) {
    it(`reads a ${type} single resource from Leshan JSON and from {"value":…}`, () => {
      const path = parsePath(`/9990/0/${id}`);
      expect(nodeFromJson({ id, kind: 'singleResource', type: leshanType, value: json }, path, model)).toEqual(single(id, type, value));
      expect(nodeFromJson({ value: json }, path, model)).toEqual(single(id, type, value));
    });
  }

  it('tolerates numbers for numeric types, as Leshan does', () => {
    expect(nodeFromJson({ value: 77 }, parsePath('/9990/0/1'), model)).toEqual(single(1, 'integer', 77));
    expect(nodeFromJson({ value: 5 }, parsePath('/9990/0/2'), model)).toEqual(single(2, 'unsigned', 5));
    expect(nodeFromJson({ value: 1.25 }, parsePath('/9990/0/3'), model)).toEqual(single(3, 'float', 1.25));
  });

  it('accepts objlnk "3:0", time as ISO 8601, boolean as "false", lowercase type names, id as string', () => {
    expect(nodeFromJson({ value: '3:0' }, parsePath('/9990/0/7'), model)).toEqual(single(7, 'objlnk', { objectId: 3, instanceId: 0 }));
    expect(nodeFromJson({ value: '2023-11-14T22:13:20.000Z' }, parsePath('/9990/0/6'), model)).toEqual(single(6, 'time', new Date(1_700_000_000_000)));
    expect(nodeFromJson({ id: '4', type: 'boolean', value: 'false' }, parsePath('/9990/0/4'), model)).toEqual(single(4, 'boolean', false));
    expect(nodeFromJson({ type: 'unsigned', value: '1' }, parsePath('/9990/0/2'), model)).toEqual(single(2, 'unsigned', 1));
  });

  it('reads integers beyond 2^53 as bigint', () => {
    expect(nodeFromJson({ value: '9223372036854775807' }, parsePath('/9990/0/1'), model)).toEqual(single(1, 'integer', 9223372036854775807n));
  });

  it('reads a multiple resource and a resource instance', () => {
    expect(nodeFromJson({ id: 11, kind: 'multiResource', type: 'OPAQUE', values: { '3': '01', '1': 'ff' } }, parsePath('/9990/0/11'), model)).toEqual({
      kind: 'multiResource', id: 11, type: 'opaque', values: new Map([[1, Buffer.from([0xff])], [3, Buffer.from([0x01])]]),
    });
    expect(nodeFromJson({ values: { '0': '1' } }, parsePath('/9990/0/10'), model)).toEqual({
      kind: 'multiResource', id: 10, type: 'integer', values: new Map([[0, 1]]),
    });
    expect(nodeFromJson({ value: '12' }, parsePath('/9990/0/10/4'), model)).toEqual({ kind: 'resourceInstance', id: 4, type: 'integer', value: 12 });
    expect(nodeFromJson({ id: 4, kind: 'resourceInstance', type: 'INTEGER', value: '12' }, parsePath('/9990/0/10/4'), model)).toEqual({
      kind: 'resourceInstance', id: 4, type: 'integer', value: 12,
    });
  });

  it('reads an instance and an object, typed by the model', () => {
    const body = { id: 0, kind: 'instance', resources: [{ id: 1, value: '86400' }, { id: 6, kind: 'singleResource', type: 'BOOLEAN', value: false }, { id: 7, value: 'U' }] };
    const instance = { kind: 'instance', id: 0, resources: [single(1, 'integer', 86400), single(6, 'boolean', false), single(7, 'string', 'U')] };
    expect(nodeFromJson(body, parsePath('/1/0'), model)).toEqual(instance);
    expect(nodeFromJson({ resources: body.resources }, parsePath('/1/0'), model)).toEqual(instance);
    expect(nodeFromJson({ id: 1, kind: 'obj', instances: [body] }, parsePath('/1'), model)).toEqual({ kind: 'obj', id: 1, instances: [instance] });
  });

  it('reads a new instance for create, with or without an id', () => {
    expect(newInstanceFromJson({ id: 5, resources: [{ id: 0, value: 'x' }] }, 9990, model)).toEqual({ id: 5, resources: [single(0, 'string', 'x')] });
    expect(newInstanceFromJson({ resources: [{ id: 0, value: 'x' }] }, 9990, model)).toEqual({ id: undefined, resources: [single(0, 'string', 'x')] });
  });

  it('round-trips every kind: nodeFromJson(nodeToJson(n)) = n', () => {
    const nodes: [string, LwM2mNode][] = [
      ['/9990/0', { kind: 'instance', id: 0, resources: EVERY_TYPE.map(([id, type, value]) => single(id, type, value)) }],
      ['/9990/0/11', { kind: 'multiResource', id: 11, type: 'opaque', values: new Map([[0, Buffer.from('00ff', 'hex')]]) }],
      ['/9990/0/10/2', { kind: 'resourceInstance', id: 2, type: 'integer', value: -1 }],
    ];
    for (const [path, node] of nodes) {
      expect(nodeFromJson(JSON.parse(JSON.stringify(nodeToJson(node))), parsePath(path), model)).toEqual(node);
    }
  });

  it('uses the body type for a resource the model does not know', () => {
    expect(nodeFromJson({ type: 'FLOAT', value: '2.5' }, parsePath('/9990/0/99'), model)).toEqual(single(99, 'float', 2.5));
  });
});

describe('nodeFromJson errors say exactly what is wrong', () => {
  const cases: [string, unknown, string][] = [
    ['/9990/0/1', { value: 'abc' }, '/9990/0/1: expected an integer (a decimal string or a number) for type INTEGER, got string "abc"'],
    ['/9990/0/1', { value: 1.5 }, '/9990/0/1: expected an integer (a decimal string or a number) for type INTEGER, got number 1.5'],
    ['/9990/0/1', { value: '9223372036854775808' }, '/9990/0/1: 9223372036854775808 is out of range for type INTEGER (-9223372036854775808..9223372036854775807)'],
    ['/9990/0/2', { value: '-1' }, '/9990/0/2: -1 is out of range for type UNSIGNED_INTEGER (0..18446744073709551615)'],
    ['/9990/0/3', { value: 'NaN' }, '/9990/0/3: expected a finite number (a decimal string or a number) for type FLOAT, got string "NaN"'],
    ['/9990/0/4', { value: 1 }, '/9990/0/4: expected true or false for type BOOLEAN, got number 1'],
    ['/9990/0/5', { value: 'abc' }, '/9990/0/5: expected an even-length hex string for type OPAQUE, got string "abc"'],
    ['/9990/0/6', { value: 'yesterday' }, '/9990/0/6: expected milliseconds since the epoch (an integer) or an ISO 8601 date for type TIME, got string "yesterday"'],
    ['/9990/0/7', { value: { objectId: 3 } }, '/9990/0/7: expected {"objectId":n,"objectInstanceId":n} or "n:n" for type OBJLNK, got an object'],
    ['/9990/0/0', { value: 5 }, '/9990/0/0: expected a string for type STRING, got number 5'],
    ['/9990/0/9', { value: '' }, '/9990/0/9: resource has no value type (executable resource) and cannot be written'],
    ['/9990/0/0', { id: 1, value: 'x' }, '/9990/0/0: "id" is 1 but the path says 0'],
    ['/9990/0/0', { kind: 'instance', resources: [] }, '/9990/0/0: "kind" must be "singleResource" or "multiResource" here, got string "instance"'],
    ['/9990/0/0', { type: 'INTEGER', value: '1' }, '/9990/0/0: "type" INTEGER does not match the object model\'s STRING'],
    ['/9990/0/0', { type: 'WORD', value: '1' }, 'unknown type "WORD" (expected one of STRING, INTEGER, UNSIGNED_INTEGER, FLOAT, BOOLEAN, OPAQUE, TIME, OBJLNK, CORELINK, NONE)'],
    ['/9990/0/0', {}, '/9990/0/0: missing "value"'],
    ['/9990/0/0', [1], '/9990/0/0: expected a JSON object, got an array'],
    ['/9990/0/0', { values: { '0': 'a' } }, '/9990/0/0: resource is single (send "value") in the object model'],
    ['/9990/0/10', { value: '1' }, '/9990/0/10: resource is multiple (send "values":{"0":…}) in the object model'],
    ['/9990/0/10', { values: [1] }, '/9990/0/10: "values" must be an object {"0": value, …}, got an array'],
    ['/9990/0/10', { values: { x: '1' } }, '/9990/0/10: "values" key must be an integer 0..65535, got string "x"'],
    ['/9990/0/0/1', { value: 'a' }, '/9990/0/0/1: resource 0 is single, it has no resource instances'],
    ['/9990/0/99', { value: 'a' }, '/9990/0/99: resource is not in the object model, so the body must give its "type"'],
    ['/9990/0', { resources: {} }, '/9990/0: "resources" must be an array, got an object'],
    ['/9990/0', { resources: [{ value: 'a' }] }, '/9990/0 resources[0]: missing "id"'],
    ['/9990/0', { resources: [{ id: 0, value: 'a' }, { id: 0, value: 'b' }] }, '/9990/0: resource 0 appears twice'],
    ['/', { value: 1 }, 'a node cannot be written to the root path'],
  ];
  for (const [path, body, message] of cases) {
    it(`${path} ${JSON.stringify(body)}`, () => {
      expect(() => nodeFromJson(body, parsePath(path), model)).toThrow(new InvalidNodeJsonError(message));
    });
  }

  it('parseTypeName rejects a non-string type', () => {
    expect(() => parseTypeName(3)).toThrow('"type" must be a string, got number 3');
  });
});
