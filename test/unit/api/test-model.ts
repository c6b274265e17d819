/**
 * A small object model for the API tests: enough of /1 and /3 for realistic requests and
 * an object (9990) with one resource of every type. Built as data, not a mock: it is a
 * complete ObjectModel, just a short one.
 */
import type { ObjectModel, ObjectSpec, Operations, ResourceSpec } from '../../../src/lwm2m/model/types.js';
import type { ResourceType } from '../../../src/lwm2m/node.js';

function res(id: number, name: string, operations: Operations, type: ResourceType, multiple = false, extra: Partial<ResourceSpec> = {}): ResourceSpec {
  return { id, name, operations, type, multiple, mandatory: false, ...extra };
}

function obj(id: number, name: string, multiple: boolean, resources: ResourceSpec[], extra: Partial<ObjectSpec> = {}): ObjectSpec {
  return { id, name, version: '1.0', multiple, mandatory: false, resources: new Map(resources.map((r) => [r.id, r])), ...extra };
}

export const TEST_OBJECTS: ObjectSpec[] = [
  obj(1, 'LwM2M Server', true, [
    res(0, 'Short Server ID', 'R', 'integer', false, { mandatory: true, rangeEnumeration: '1..65534' }),
    res(1, 'Lifetime', 'RW', 'integer', false, { mandatory: true, units: 's' }),
    res(6, 'Notification Storing When Disabled or Offline', 'RW', 'boolean', false, { mandatory: true }),
    res(7, 'Binding', 'RW', 'string', false, { mandatory: true }),
    res(8, 'Registration Update Trigger', 'E', 'none', false, { mandatory: true }),
  ], { mandatory: true, lwm2mVersion: '1.1', urn: 'urn:oma:lwm2m:oma:1:1.1', version: '1.1' }),
  obj(3, 'Device', false, [
    res(0, 'Manufacturer', 'R', 'string', false, { description: 'Human readable manufacturer name' }),
    res(1, 'Model Number', 'R', 'string'),
    res(4, 'Reboot', 'E', 'none', false, { mandatory: true }),
    res(7, 'Power Source Voltage', 'R', 'integer', true, { units: 'mV' }),
    res(11, 'Error Code', 'R', 'integer', true, { mandatory: true }),
    res(13, 'Current Time', 'RW', 'time'),
  ], { mandatory: true }),
  obj(9990, 'All Types', true, [
    res(0, 'String', 'RW', 'string'),
    res(1, 'Integer', 'RW', 'integer'),
    res(2, 'Unsigned', 'RW', 'unsigned'),
    res(3, 'Float', 'RW', 'float'),
    res(4, 'Boolean', 'RW', 'boolean'),
    res(5, 'Opaque', 'RW', 'opaque'),
    res(6, 'Time', 'RW', 'time'),
    res(7, 'Objlnk', 'RW', 'objlnk'),
    res(8, 'Corelnk', 'RW', 'corelnk'),
    res(9, 'Execute', 'E', 'none'),
    res(10, 'Integers', 'RW', 'integer', true),
    res(11, 'Opaques', 'RW', 'opaque', true),
  ]),
];

export class TestObjectModel implements ObjectModel {
  constructor(private readonly specs: ObjectSpec[] = TEST_OBJECTS) {}
  getObject(objectId: number): ObjectSpec | undefined {
    return this.specs.find((s) => s.id === objectId);
  }
  getResource(objectId: number, resourceId: number): ResourceSpec | undefined {
    return this.getObject(objectId)?.resources.get(resourceId);
  }
  objects(): ObjectSpec[] {
    return [...this.specs];
  }
}
