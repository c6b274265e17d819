import type { LwM2mNode, MultipleResource, ObjectInstance, Resource, ResourceType, ResourceValue } from '../node.js';
import { formatPath, pathIds, pathLevel, type LwM2mPath } from '../path.js';
import type { ObjectModel } from '../model/types.js';
import { DecodeError, EncodeError } from './types.js';
import { valueMismatch } from './values.js';

/**
 * Formats that list values by full path (SenML, LwM2M CBOR) flatten nodes into leaf values
 * and rebuild nodes from them here, so the tree rules live in one place.
 */
export interface FlatValue {
  /** Full path of a resource (3 ids) or resource instance (4 ids). */
  ids: number[];
  type: ResourceType;
  value: ResourceValue;
}

/** The type the model gives a resource, or undefined when unknown (or executable: no value type). */
export function modelType(model: ObjectModel, objectId: number, resourceId: number): ResourceType | undefined {
  const type = model.getResource(objectId, resourceId)?.type;
  return type === undefined || type === 'none' ? undefined : type;
}

export function isMultipleInModel(model: ObjectModel, objectId: number, resourceId: number): boolean {
  return model.getResource(objectId, resourceId)?.multiple ?? false;
}

/** The type used to encode a value: the model's when it knows the resource, else the node's own. */
export function encodingType(
  format: number,
  model: ObjectModel,
  objectId: number,
  resourceId: number,
  nodeType: ResourceType,
): ResourceType {
  const type = modelType(model, objectId, resourceId) ?? nodeType;
  if (type === 'none') throw new EncodeError(format, `/${objectId}/?/${resourceId} has no value type (executable?)`);
  return type;
}

export function checkEncodable(format: number, type: ResourceType, value: unknown, where: string): void {
  const reason = valueMismatch(type, value);
  if (reason) throw new EncodeError(format, `${where}: ${reason}`);
}

/** The full ids a node sits at when written to `path`, checking that node and path agree. */
export function nodeBaseIds(format: number, node: LwM2mNode, path: LwM2mPath): number[] {
  const ids = pathIds(path);
  const level = pathLevel(path);
  const mismatch = (): never => {
    throw new EncodeError(format, `a ${node.kind} node with id ${node.id} cannot be written at ${formatPath(path)}`);
  };
  switch (node.kind) {
    case 'obj':
      if (level !== 'object' || ids[0] !== node.id) mismatch();
      return [node.id];
    case 'instance':
      if (level === 'object') return [...ids, node.id];
      if (level !== 'instance' || ids[1] !== node.id) mismatch();
      return ids;
    case 'singleResource':
    case 'multiResource':
      if (level === 'instance') return [...ids, node.id];
      if (level !== 'resource' || ids[2] !== node.id) mismatch();
      return ids;
    case 'resourceInstance':
      if (level === 'resource') return [...ids, node.id];
      if (level !== 'resourceInstance' || ids[3] !== node.id) mismatch();
      return ids;
  }
}

/** Leaf values of a node placed at `baseIds` (the node's own full ids), types checked. */
export function flattenNode(format: number, node: LwM2mNode, baseIds: number[], model: ObjectModel): FlatValue[] {
  const out: FlatValue[] = [];
  const leaf = (ids: number[], nodeType: ResourceType, value: ResourceValue): void => {
    const type = encodingType(format, model, ids[0], ids[2], nodeType);
    checkEncodable(format, type, value, '/' + ids.join('/'));
    out.push({ ids, type, value });
  };
  const resource = (res: Resource, ids: number[]): void => {
    if (res.kind === 'singleResource') leaf(ids, res.type, res.value);
    else for (const [riid, value] of sortedEntries(res.values)) leaf([...ids, riid], res.type, value);
  };
  switch (node.kind) {
    case 'obj':
      for (const inst of node.instances) for (const res of inst.resources) resource(res, [...baseIds, inst.id, res.id]);
      break;
    case 'instance':
      for (const res of node.resources) resource(res, [...baseIds, res.id]);
      break;
    case 'singleResource':
    case 'multiResource':
      resource(node, baseIds);
      break;
    case 'resourceInstance':
      leaf(baseIds, node.type, node.value);
      break;
  }
  return out;
}

function sortedEntries<V>(map: ReadonlyMap<number, V>): [number, V][] {
  return [...map.entries()].sort((a, b) => a[0] - b[0]);
}

function isUnder(ids: readonly number[], prefix: readonly number[]): boolean {
  return prefix.length <= ids.length && prefix.every((id, i) => ids[i] === id);
}

/** Rebuilds the node at `path` from leaf values; every value must lie under `path`. */
export function assembleNode(format: number, values: FlatValue[], path: LwM2mPath, model: ObjectModel): LwM2mNode {
  const base = pathIds(path);
  for (const v of values) {
    if (!isUnder(v.ids, base)) {
      throw new DecodeError(format, `/${v.ids.join('/')} is outside the target ${formatPath(path)}`);
    }
  }
  switch (pathLevel(path)) {
    case 'root':
      throw new DecodeError(format, 'a payload for the root path cannot be decoded as one node');
    case 'object': {
      const byInstance = groupBy(values, 1);
      return {
        kind: 'obj',
        id: base[0],
        instances: [...byInstance.keys()].map((iid) => buildInstance(format, byInstance.get(iid)!, base[0], iid, model)),
      };
    }
    case 'instance':
      return buildInstance(format, values, base[0], base[1], model);
    case 'resource':
      return buildResource(format, values, base, model);
    case 'resourceInstance': {
      if (values.length !== 1) {
        throw new DecodeError(format, `expected one value for ${formatPath(path)}, got ${values.length}`);
      }
      const v = values[0];
      if (v.ids.length !== 4) throw new DecodeError(format, `/${v.ids.join('/')} is not a resource instance`);
      return { kind: 'resourceInstance', id: base[3], type: v.type, value: v.value };
    }
  }
}

function groupBy(values: FlatValue[], depth: number): Map<number, FlatValue[]> {
  const groups = new Map<number, FlatValue[]>();
  for (const v of values) {
    const key = v.ids[depth];
    const group = groups.get(key);
    if (group) group.push(v);
    else groups.set(key, [v]);
  }
  return new Map([...groups.entries()].sort((a, b) => a[0] - b[0]));
}

function buildInstance(format: number, values: FlatValue[], oid: number, iid: number, model: ObjectModel): ObjectInstance {
  for (const v of values) {
    if (v.ids.length < 3) throw new DecodeError(format, `/${v.ids.join('/')} is not a resource path`);
  }
  const byResource = groupBy(values, 2);
  return {
    kind: 'instance',
    id: iid,
    resources: [...byResource.keys()].map((rid) => buildResource(format, byResource.get(rid)!, [oid, iid, rid], model)),
  };
}

function buildResource(format: number, values: FlatValue[], ids: number[], model: ObjectModel): Resource {
  const where = '/' + ids.join('/');
  if (values.length === 0) {
    if (isMultipleInModel(model, ids[0], ids[2])) {
      return { kind: 'multiResource', id: ids[2], type: modelType(model, ids[0], ids[2]) ?? 'opaque', values: new Map() };
    }
    throw new DecodeError(format, `no value for ${where}`);
  }
  const instances = values.filter((v) => v.ids.length === 4);
  if (instances.length === 0) {
    if (values.length > 1) throw new DecodeError(format, `${where} appears ${values.length} times`);
    return { kind: 'singleResource', id: ids[2], type: values[0].type, value: values[0].value };
  }
  if (instances.length !== values.length) {
    throw new DecodeError(format, `${where} has both a single value and resource instances`);
  }
  const multi: MultipleResource = { kind: 'multiResource', id: ids[2], type: instances[0].type, values: new Map() };
  for (const v of [...instances].sort((a, b) => a.ids[3] - b.ids[3])) {
    if (multi.values.has(v.ids[3])) throw new DecodeError(format, `/${v.ids.join('/')} appears twice`);
    multi.values.set(v.ids[3], v.value);
  }
  return multi;
}

/**
 * Composite results: with the requested paths, one node per requested path that got values;
 * without them, one node per leaf path. Values under no requested path are an error.
 */
export function assembleComposite(
  format: number,
  values: FlatValue[],
  model: ObjectModel,
  requested?: readonly LwM2mPath[],
): Map<string, LwM2mNode> {
  const result = new Map<string, LwM2mNode>();
  if (!requested) {
    for (const v of values) {
      const key = '/' + v.ids.join('/');
      if (result.has(key)) throw new DecodeError(format, `${key} appears twice`);
      result.set(key, leafNode(v));
    }
    return result;
  }
  const requestedIds = requested.map(pathIds);
  for (const v of values) {
    if (!requestedIds.some((ids) => isUnder(v.ids, ids))) {
      throw new DecodeError(format, `/${v.ids.join('/')} was not requested`);
    }
  }
  requested.forEach((path, i) => {
    const under = values.filter((v) => isUnder(v.ids, requestedIds[i]));
    if (under.length > 0 && pathLevel(path) !== 'root') result.set(formatPath(path), assembleNode(format, under, path, model));
  });
  return result;
}

export function leafNode(v: FlatValue): LwM2mNode {
  return v.ids.length === 4
    ? { kind: 'resourceInstance', id: v.ids[3], type: v.type, value: v.value }
    : { kind: 'singleResource', id: v.ids[2], type: v.type, value: v.value };
}
