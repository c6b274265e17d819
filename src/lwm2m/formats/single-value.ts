import type { LwM2mNode, ResourceType, ResourceValue } from '../node.js';
import { formatPath, pathLevel, type LwM2mPath } from '../path.js';
import type { ObjectModel } from '../model/types.js';
import { DecodeError, EncodeError } from './types.js';
import { checkEncodable, encodingType, isMultipleInModel, modelType } from './tree.js';

/**
 * text/plain and opaque carry one value: a single resource or a resource instance.
 * These helpers hold the rules both share.
 */
export interface SingleTarget {
  objectId: number;
  resourceId: number;
  resourceInstanceId?: number;
  /** From the model; undefined when the model does not know the resource. */
  type: ResourceType | undefined;
}

export function decodeTarget(format: number, path: LwM2mPath, model: ObjectModel, formatLabel: string): SingleTarget {
  const level = pathLevel(path);
  if (level !== 'resource' && level !== 'resourceInstance') {
    throw new DecodeError(format, `${formatLabel} carries a single value, not the ${level} ${formatPath(path)}`);
  }
  const objectId = path.objectId!;
  const resourceId = path.resourceId!;
  if (level === 'resource' && isMultipleInModel(model, objectId, resourceId)) {
    throw new DecodeError(format, `${formatLabel} cannot carry the multiple resource ${formatPath(path)}`);
  }
  const target: SingleTarget = { objectId, resourceId, type: modelType(model, objectId, resourceId) };
  if (path.resourceInstanceId !== undefined) target.resourceInstanceId = path.resourceInstanceId;
  return target;
}

export function singleNode(target: SingleTarget, type: ResourceType, value: ResourceValue): LwM2mNode {
  return target.resourceInstanceId !== undefined
    ? { kind: 'resourceInstance', id: target.resourceInstanceId, type, value }
    : { kind: 'singleResource', id: target.resourceId, type, value };
}

/** The value to encode, with the type it is encoded as; refuses anything but one value. */
export function encodeTarget(
  format: number,
  node: LwM2mNode,
  path: LwM2mPath,
  model: ObjectModel,
  formatLabel: string,
): { type: ResourceType; value: ResourceValue } {
  if (node.kind !== 'singleResource' && node.kind !== 'resourceInstance') {
    throw new EncodeError(format, `${formatLabel} carries a single value, not a ${node.kind} node`);
  }
  const objectId = path.objectId;
  const resourceId = path.resourceId;
  if (objectId === undefined || resourceId === undefined) {
    throw new EncodeError(format, `${formatLabel} needs a resource path, not ${formatPath(path)}`);
  }
  const type = encodingType(format, model, objectId, resourceId, node.type);
  checkEncodable(format, type, node.value, formatPath(path));
  return { type, value: node.value };
}
