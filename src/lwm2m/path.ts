/** An LwM2M path: /3, /3/0, /3/0/1 or /3/0/7/1. The root path / has no ids. */
export interface LwM2mPath {
  objectId?: number;
  instanceId?: number;
  resourceId?: number;
  resourceInstanceId?: number;
}

export class InvalidPathError extends Error {
  override readonly name = 'InvalidPathError';
}

const MAX_ID = 65535;

/** Parses "/3/0/1" (leading slash optional). Throws InvalidPathError with the reason. */
export function parsePath(text: string): LwM2mPath {
  const trimmed = text.replace(/^\/+/, '').replace(/\/+$/, '');
  if (trimmed === '') return {};
  const parts = trimmed.split('/');
  if (parts.length > 4) throw new InvalidPathError(`path "${text}" has more than 4 levels`);
  const ids = parts.map((part) => {
    if (!/^\d+$/.test(part)) throw new InvalidPathError(`path "${text}": "${part}" is not a number`);
    const id = Number(part);
    if (id > MAX_ID) throw new InvalidPathError(`path "${text}": ${id} is above ${MAX_ID}`);
    return id;
  });
  return fromIds(ids);
}

export function fromIds(ids: readonly number[]): LwM2mPath {
  const [objectId, instanceId, resourceId, resourceInstanceId] = ids;
  const path: LwM2mPath = {};
  if (objectId !== undefined) path.objectId = objectId;
  if (instanceId !== undefined) path.instanceId = instanceId;
  if (resourceId !== undefined) path.resourceId = resourceId;
  if (resourceInstanceId !== undefined) path.resourceInstanceId = resourceInstanceId;
  return path;
}

export function pathIds(path: LwM2mPath): number[] {
  const ids: number[] = [];
  for (const id of [path.objectId, path.instanceId, path.resourceId, path.resourceInstanceId]) {
    if (id === undefined) break;
    ids.push(id);
  }
  return ids;
}

/** "/3/0/1"; the root is "/". */
export function formatPath(path: LwM2mPath): string {
  return '/' + pathIds(path).join('/');
}

export type PathLevel = 'root' | 'object' | 'instance' | 'resource' | 'resourceInstance';

export function pathLevel(path: LwM2mPath): PathLevel {
  const depth = pathIds(path).length;
  return (['root', 'object', 'instance', 'resource', 'resourceInstance'] as const)[depth];
}
