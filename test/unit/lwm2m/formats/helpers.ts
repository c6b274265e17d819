import { ObjectRegistry } from '../../../../src/lwm2m/model/registry.js';
import type { ResourceSpec } from '../../../../src/lwm2m/model/types.js';
import type { ResourceType, ResourceValue } from '../../../../src/lwm2m/node.js';

/** Object 10000: one single (id = n) and one multiple (id = 100 + n) resource per type. */
export const TYPES: ResourceType[] = ['string', 'integer', 'unsigned', 'float', 'boolean', 'opaque', 'time', 'objlnk', 'corelnk'];

export const SAMPLE: Record<string, ResourceValue[]> = {
  string: ['hello wörld', ''],
  integer: [-129, 9007199254740993n],
  unsigned: [255, 18446744073709551615n],
  float: [1.5, 3.141592653589793],
  boolean: [true, false],
  opaque: [Buffer.from([0, 1, 0xfe, 0xff]), Buffer.alloc(0)],
  time: [new Date(1367491215000), new Date(0)],
  objlnk: [{ objectId: 3, instanceId: 0 }, { objectId: 65535, instanceId: 65535 }],
  corelnk: ['</3/0>;ver=1.1', '</5>'],
};

function resource(id: number, type: ResourceType, multiple: boolean): ResourceSpec {
  return { id, name: `${type}${multiple ? 's' : ''}`, operations: 'RW', multiple, mandatory: false, type };
}

export const testModel = ObjectRegistry.fromSpecs([
  {
    id: 10000,
    name: 'All types',
    version: '1.0',
    multiple: true,
    mandatory: false,
    resources: new Map(
      TYPES.flatMap((type, n) => [
        [n, resource(n, type, false)],
        [100 + n, resource(100 + n, type, true)],
      ]),
    ),
  },
]);
