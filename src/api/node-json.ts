/**
 * LwM2M nodes ⇄ Leshan's JSON node format:
 *   {"id":1,"kind":"singleResource","type":"INTEGER","value":"77"}
 *   {"id":7,"kind":"multiResource","type":"INTEGER","values":{"0":"3800","1":"5000"}}
 *   {"id":0,"kind":"resourceInstance","type":"INTEGER","value":"0"}
 *   {"id":0,"kind":"instance","resources":[…]}
 *   {"id":3,"kind":"obj","instances":[…]}
 * Reading a body, the object model decides each resource's type; a body may leave out
 * "kind", "id" and "type" where the request path says them, so `{"value": 77}` is a
 * complete write of a single resource.
 */
import type {
  LwM2mNode,
  LwM2mObject,
  MultipleResource,
  ObjectInstance,
  Resource,
  ResourceInstance,
  ResourceType,
  ResourceValue,
  SingleResource,
} from '../lwm2m/node.js';
import { formatPath, type LwM2mPath } from '../lwm2m/path.js';
import type { ObjectModel } from '../lwm2m/model/types.js';
import {
  InvalidNodeJsonError,
  describe,
  isPlainObject,
  leshanTypeName,
  parseTypeName,
  valueFromJson,
  valueToJson,
  type JsonValue,
} from './json-values.js';

export { InvalidNodeJsonError } from './json-values.js';

export type JsonObject = { [key: string]: JsonValue };

export function nodeToJson(node: LwM2mNode): JsonObject {
  switch (node.kind) {
    case 'obj':
      return { id: node.id, kind: 'obj', instances: node.instances.map(nodeToJson) };
    case 'instance':
      return { id: node.id, kind: 'instance', resources: node.resources.map(nodeToJson) };
    case 'multiResource': {
      const values: JsonObject = {};
      for (const [id, value] of [...node.values].sort(([a], [b]) => a - b)) values[String(id)] = valueToJson(node.type, value);
      return { id: node.id, kind: 'multiResource', type: leshanTypeName(node.type), values };
    }
    case 'singleResource':
    case 'resourceInstance':
      return { id: node.id, kind: node.kind, type: leshanTypeName(node.type), value: valueToJson(node.type, node.value) };
  }
}

/** Composite content: {"/3/0/1": node, …}, as Leshan answers a composite read. */
export function nodesToJson(nodes: ReadonlyMap<string, LwM2mNode>): JsonObject {
  const out: JsonObject = {};
  for (const [path, node] of nodes) out[path] = nodeToJson(node);
  return out;
}

/**
 * Parses the body of a write to `path` (an instance, resource or resource instance;
 * an object path takes a whole object).
 */
export function nodeFromJson(body: unknown, path: LwM2mPath, model: ObjectModel): LwM2mNode {
  const where = formatPath(path);
  const json = requireObject(body, where);
  if (path.objectId === undefined) throw new InvalidNodeJsonError('a node cannot be written to the root path');
  if (path.instanceId === undefined) return objectFromJson(json, path.objectId, model);
  if (path.resourceId === undefined) return instanceFromJson(json, path.objectId, path.instanceId, model);
  const spec = resourceType(model, path.objectId, path.resourceId, json.type, where);
  if (path.resourceInstanceId === undefined) {
    return resourceFromJson(json, path.objectId, path.instanceId, path.resourceId, spec);
  }
  expectKind(json, ['resourceInstance'], where);
  expectId(json, path.resourceInstanceId, where);
  if (!spec.multiple) throw new InvalidNodeJsonError(`${where}: resource ${path.resourceId} is single, it has no resource instances`);
  return resourceInstance(path.resourceInstanceId, spec.type, valueFromJson(spec.type, requireField(json, 'value', where), where));
}

/**
 * The body of a create (POST on an object): an instance whose "id" may be left out, in
 * which case the device chooses it and `id` is undefined.
 */
export function newInstanceFromJson(
  body: unknown,
  objectId: number,
  model: ObjectModel,
): { id: number | undefined; resources: Resource[] } {
  const where = `/${objectId}`;
  const json = requireObject(body, where);
  const id = json.id === undefined ? undefined : parseId(json.id, `${where}: "id"`);
  const instance = instanceFromJson(json, objectId, id ?? 0, model);
  return { id, resources: instance.resources };
}

function objectFromJson(json: Record<string, unknown>, objectId: number, model: ObjectModel): LwM2mObject {
  const where = `/${objectId}`;
  expectKind(json, ['obj'], where);
  expectId(json, objectId, where);
  const instances = requireArray(json, 'instances', where).map((item, index) => {
    const child = requireObject(item, `${where} instances[${index}]`);
    const id = parseId(requireField(child, 'id', `${where} instances[${index}]`), `${where} instances[${index}].id`);
    return instanceFromJson(child, objectId, id, model);
  });
  return { kind: 'obj', id: objectId, instances };
}

function instanceFromJson(
  json: Record<string, unknown>,
  objectId: number,
  instanceId: number,
  model: ObjectModel,
): ObjectInstance {
  const where = `/${objectId}/${instanceId}`;
  expectKind(json, ['instance'], where);
  expectId(json, instanceId, where);
  const seen = new Set<number>();
  const resources = requireArray(json, 'resources', where).map((item, index) => {
    const child = requireObject(item, `${where} resources[${index}]`);
    const resourceId = parseId(requireField(child, 'id', `${where} resources[${index}]`), `${where} resources[${index}].id`);
    if (seen.has(resourceId)) throw new InvalidNodeJsonError(`${where}: resource ${resourceId} appears twice`);
    seen.add(resourceId);
    const resourceWhere = `${where}/${resourceId}`;
    const spec = resourceType(model, objectId, resourceId, child.type, resourceWhere);
    return resourceFromJson(child, objectId, instanceId, resourceId, spec);
  });
  return { kind: 'instance', id: instanceId, resources };
}

function resourceFromJson(
  json: Record<string, unknown>,
  objectId: number,
  instanceId: number,
  resourceId: number,
  spec: { type: ResourceType; multiple: boolean },
): Resource {
  const where = `/${objectId}/${instanceId}/${resourceId}`;
  const kind = expectKind(json, ['singleResource', 'multiResource'], where);
  expectId(json, resourceId, where);
  const isMultiple = kind === 'multiResource' || (kind === undefined && 'values' in json);
  if (isMultiple !== spec.multiple) {
    throw new InvalidNodeJsonError(
      `${where}: resource is ${spec.multiple ? 'multiple (send "values":{"0":…})' : 'single (send "value")'} in the object model`,
    );
  }
  if (!isMultiple) {
    const single: SingleResource = {
      kind: 'singleResource',
      id: resourceId,
      type: spec.type,
      value: valueFromJson(spec.type, requireField(json, 'value', where), where),
    };
    return single;
  }
  const rawValues = requireField(json, 'values', where);
  if (!isPlainObject(rawValues)) {
    throw new InvalidNodeJsonError(`${where}: "values" must be an object {"0": value, …}, got ${describe(rawValues)}`);
  }
  const entries: [number, ResourceValue][] = Object.entries(rawValues).map(([key, value]) => {
    const id = parseId(key, `${where}: "values" key`);
    return [id, valueFromJson(spec.type, value, `${where}/${id}`)];
  });
  entries.sort(([a], [b]) => a - b);
  const multi: MultipleResource = { kind: 'multiResource', id: resourceId, type: spec.type, values: new Map(entries) };
  return multi;
}

function resourceInstance(id: number, type: ResourceType, value: ResourceValue): ResourceInstance {
  return { kind: 'resourceInstance', id, type, value };
}

/** The model's type; a resource the model does not know needs a "type" in the body. */
function resourceType(
  model: ObjectModel,
  objectId: number,
  resourceId: number,
  bodyType: unknown,
  where: string,
): { type: ResourceType; multiple: boolean } {
  const spec = model.getResource(objectId, resourceId);
  const declared = bodyType === undefined ? undefined : parseTypeName(bodyType);
  if (spec === undefined) {
    if (declared === undefined) {
      throw new InvalidNodeJsonError(`${where}: resource is not in the object model, so the body must give its "type"`);
    }
    return { type: declared, multiple: false };
  }
  if (declared !== undefined && declared !== spec.type) {
    throw new InvalidNodeJsonError(
      `${where}: "type" ${leshanTypeName(declared)} does not match the object model's ${leshanTypeName(spec.type)}`,
    );
  }
  return { type: spec.type, multiple: spec.multiple };
}

/** Checks "kind" when present; returns it (undefined when the body leaves it out). */
function expectKind(json: Record<string, unknown>, allowed: string[], where: string): string | undefined {
  if (json.kind === undefined) return undefined;
  if (typeof json.kind !== 'string' || !allowed.includes(json.kind)) {
    const expected = allowed.map((k) => `"${k}"`).join(' or ');
    throw new InvalidNodeJsonError(`${where}: "kind" must be ${expected} here, got ${describe(json.kind)}`);
  }
  return json.kind;
}

function expectId(json: Record<string, unknown>, expected: number, where: string): void {
  if (json.id === undefined) return;
  const id = parseId(json.id, `${where}: "id"`);
  if (id !== expected) throw new InvalidNodeJsonError(`${where}: "id" is ${id} but the path says ${expected}`);
}

function parseId(value: unknown, where: string): number {
  const id = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 65535) {
    throw new InvalidNodeJsonError(`${where} must be an integer 0..65535, got ${describe(value)}`);
  }
  return id;
}

function requireObject(value: unknown, where: string): Record<string, unknown> {
  if (!isPlainObject(value)) throw new InvalidNodeJsonError(`${where}: expected a JSON object, got ${describe(value)}`);
  return value;
}

function requireField(json: Record<string, unknown>, field: string, where: string): unknown {
  if (!(field in json) || json[field] === undefined) throw new InvalidNodeJsonError(`${where}: missing "${field}"`);
  return json[field];
}

function requireArray(json: Record<string, unknown>, field: string, where: string): unknown[] {
  const value = requireField(json, field, where);
  if (!Array.isArray(value)) throw new InvalidNodeJsonError(`${where}: "${field}" must be an array, got ${describe(value)}`);
  return value;
}
