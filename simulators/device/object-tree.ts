/**
 * The device's objects as one tree addressed by LwM2M paths: read/write/execute/create/
 * delete turn into calls on the objects' resource handlers, and refusals become
 * OperationError with the CoAP code the device answers.
 */
import { CoapCode, type CoapCodeValue } from '../../src/coap/types.js';
import type { WebLink } from '../../src/lwm2m/link-format.js';
import type {
  LwM2mNode,
  LwM2mObject,
  ObjectInstance,
  Resource,
  ResourceInstance,
  ResourceValue,
} from '../../src/lwm2m/node.js';
import { formatPath, pathLevel, type LwM2mPath } from '../../src/lwm2m/path.js';
import {
  BadValueError,
  canExecute,
  canRead,
  canWrite,
  NotAllowedError,
  type SimInstance,
  type SimObject,
  type SimResource,
} from './objects/base.js';

export class OperationError extends Error {
  override readonly name = 'OperationError';
  constructor(
    readonly code: CoapCodeValue,
    reason: string,
  ) {
    super(reason);
  }
}

const notFound = (path: LwM2mPath): OperationError => new OperationError(CoapCode.NotFound, `${formatPath(path)} not found`);
const notAllowed = (reason: string): OperationError => new OperationError(CoapCode.MethodNotAllowed, reason);
const badRequest = (reason: string): OperationError => new OperationError(CoapCode.BadRequest, reason);

/** Runs a resource handler, turning its refusals into the device's answer codes. */
function guarded<T>(action: () => T): T {
  try {
    return action();
  } catch (error) {
    if (error instanceof NotAllowedError) throw notAllowed(error.message);
    if (error instanceof BadValueError) throw badRequest(error.message);
    throw error;
  }
}

export type WriteMode = 'replace' | 'update';

export class ObjectTree {
  private readonly objects = new Map<number, SimObject>();

  constructor(objects: readonly SimObject[]) {
    for (const object of [...objects].sort((a, b) => a.id - b.id)) this.objects.set(object.id, object);
  }

  objectIds(): number[] {
    return [...this.objects.keys()];
  }

  /** Throws 4.04 unless the path names something that exists. */
  ensureExists(path: LwM2mPath): void {
    this.locate(path);
  }

  /** Whether the path names something that exists (ensureExists without the 4.04). */
  has(path: LwM2mPath): boolean {
    if (path.objectId === undefined) return true;
    const object = this.objects.get(path.objectId);
    if (!object || path.instanceId === undefined) return object !== undefined;
    const instance = object.instances.get(path.instanceId);
    if (!instance || path.resourceId === undefined) return instance !== undefined;
    const resource = instance.resource(path.resourceId);
    return resource !== undefined && (path.resourceInstanceId === undefined || resource.multiple);
  }

  read(path: LwM2mPath): LwM2mNode {
    const { object, instance, resource } = this.locate(path);
    if (resource) {
      if (!canRead(resource)) throw notAllowed(`${formatPath(path)} is not readable`);
      const content = guarded(() => resource.read());
      if (path.resourceInstanceId === undefined) return resourceNode(resource, content);
      const value = content instanceof Map ? content.get(path.resourceInstanceId) : undefined;
      if (value === undefined) throw notFound(path);
      return { kind: 'resourceInstance', id: path.resourceInstanceId, type: resource.type, value } satisfies ResourceInstance;
    }
    if (instance) return instanceNode(instance);
    if (object) {
      return {
        kind: 'obj',
        id: object.id,
        instances: [...object.instances.values()].sort((a, b) => a.id - b.id).map(instanceNode),
      } satisfies LwM2mObject;
    }
    throw notAllowed('the root cannot be read');
  }

  write(path: LwM2mPath, node: LwM2mNode, mode: WriteMode): void {
    const { instance, resource } = this.locate(path);
    if (resource) {
      if (!canWrite(resource)) throw notAllowed(`${formatPath(path)} is not writable`);
      guarded(() => writeResource(resource, node, path));
      return;
    }
    if (!instance) throw notAllowed(`${formatPath(path)}: write needs an instance or a resource`);
    const resources = instanceResources(node, path);
    // Check every resource before changing any, so a refused write changes nothing.
    for (const written of resources) {
      const target = instance.resource(written.id);
      if (!target) throw notFound({ ...path, resourceId: written.id });
      if (!canWrite(target)) throw notAllowed(`${formatPath({ ...path, resourceId: written.id })} is not writable`);
    }
    if (mode === 'replace' && resources.length === 0) throw badRequest('replace needs at least one resource');
    for (const written of resources) {
      const target = instance.resource(written.id) as SimResource;
      guarded(() => writeResource(target, written, { ...path, resourceId: written.id }));
    }
  }

  execute(path: LwM2mPath, args: string): void {
    if (pathLevel(path) !== 'resource') throw notAllowed('execute needs a resource path');
    const { resource } = this.locate(path);
    if (!resource || !canExecute(resource)) throw notAllowed(`${formatPath(path)} is not executable`);
    guarded(() => resource.execute(args));
  }

  /** Creates an instance from a decoded payload; returns its id. */
  create(objectId: number, node: LwM2mNode | undefined): number {
    const object = this.objects.get(objectId);
    if (!object) throw notFound({ objectId });
    if (!object.serverManagesInstances || !object.newInstance) throw notAllowed(`object ${objectId} does not allow create`);
    const given = node?.kind === 'obj' ? node.instances[0] : node?.kind === 'instance' ? node : undefined;
    if (node !== undefined && given === undefined) throw badRequest('create needs an object instance payload');
    let id = given?.id ?? 0;
    if (object.instances.has(id)) {
      id = 0;
      while (object.instances.has(id)) id++;
    }
    const instance = object.newInstance(id);
    object.instances.set(id, instance);
    try {
      if (given) this.write({ objectId, instanceId: id }, { ...given, id }, 'update');
    } catch (error) {
      object.instances.delete(id);
      throw error;
    }
    return id;
  }

  delete(path: LwM2mPath): void {
    if (pathLevel(path) !== 'instance') throw notAllowed('delete needs an instance path');
    const { object } = this.locate(path);
    if (!object?.serverManagesInstances) throw notAllowed(`instances of object ${path.objectId} cannot be deleted`);
    object.instances.delete(path.instanceId as number);
  }

  /** The links of a registration: every instance, never the Security object (0). */
  registrationLinks(): WebLink[] {
    const links: WebLink[] = [];
    for (const object of this.objects.values()) {
      if (object.id === 0) continue;
      if (object.instances.size === 0) links.push({ uri: `/${object.id}`, params: {} });
      for (const instanceId of [...object.instances.keys()].sort((a, b) => a - b)) {
        links.push({ uri: `/${object.id}/${instanceId}`, params: {} });
      }
    }
    return links;
  }

  /**
   * Discover (LwM2M 1.1 §5.4.2): the path itself and everything below it down to resources,
   * with `dim` for multiple resources and the attributes set on each level.
   */
  discover(path: LwM2mPath, attributesOf: (path: LwM2mPath) => Record<string, string>): WebLink[] {
    const { object, instance, resource } = this.locate(path);
    if (!object) throw notAllowed('discover needs at least an object');
    if (path.resourceInstanceId !== undefined) throw badRequest('discover does not go below resources');
    const links: WebLink[] = [];
    const resourceLink = (instanceId: number, r: SimResource): WebLink => {
      const resourcePath = { objectId: object.id, instanceId, resourceId: r.id };
      const params: Record<string, string> = {};
      if (r.multiple && canRead(r)) {
        const content = r.read();
        if (content instanceof Map) params.dim = String(content.size);
      }
      return { uri: formatPath(resourcePath), params: { ...params, ...attributesOf(resourcePath) } };
    };
    if (resource) return [resourceLink(path.instanceId as number, resource)];
    const instances = instance ? [instance] : [...object.instances.values()].sort((a, b) => a.id - b.id);
    if (!instance) links.push({ uri: `/${object.id}`, params: attributesOf({ objectId: object.id }) });
    for (const each of instances) {
      const instancePath = { objectId: object.id, instanceId: each.id };
      links.push({ uri: formatPath(instancePath), params: attributesOf(instancePath) });
      for (const r of each.resources()) links.push(resourceLink(each.id, r));
    }
    return links;
  }

  private locate(path: LwM2mPath): { object?: SimObject; instance?: SimInstance; resource?: SimResource } {
    if (path.objectId === undefined) return {};
    const object = this.objects.get(path.objectId);
    if (!object) throw notFound(path);
    if (path.instanceId === undefined) return { object };
    const instance = object.instances.get(path.instanceId);
    if (!instance) throw notFound(path);
    if (path.resourceId === undefined) return { object, instance };
    const resource = instance.resource(path.resourceId);
    if (!resource) throw notFound(path);
    if (path.resourceInstanceId !== undefined && !resource.multiple) throw notFound(path);
    return { object, instance, resource };
  }
}

function resourceNode(resource: SimResource, content: ResourceValue | Map<number, ResourceValue>): Resource {
  return content instanceof Map
    ? { kind: 'multiResource', id: resource.id, type: resource.type, values: content }
    : { kind: 'singleResource', id: resource.id, type: resource.type, value: content };
}

/** An instance as a node: its readable resources only (executables and write-only left out). */
function instanceNode(instance: SimInstance): ObjectInstance {
  const resources: Resource[] = [];
  for (const resource of instance.resources()) {
    if (canRead(resource)) resources.push(resourceNode(resource, resource.read()));
  }
  return { kind: 'instance', id: instance.id, resources };
}

function instanceResources(node: LwM2mNode, path: LwM2mPath): Resource[] {
  if (node.kind === 'instance') {
    if (node.id !== path.instanceId) throw badRequest(`payload is for instance ${node.id}, not ${path.instanceId}`);
    return node.resources;
  }
  if (node.kind === 'obj') {
    const instance = node.instances.find((candidate) => candidate.id === path.instanceId);
    if (!instance || node.instances.length !== 1) throw badRequest('payload does not hold exactly the target instance');
    return instance.resources;
  }
  throw badRequest(`payload holds a ${node.kind}, the target is an instance`);
}

function writeResource(resource: SimResource, node: LwM2mNode, path: LwM2mPath): void {
  if (path.resourceInstanceId !== undefined) {
    if (node.kind !== 'resourceInstance') throw badRequest('payload is not a resource instance');
    const current = resource.read();
    const values = new Map(current instanceof Map ? current : []);
    values.set(path.resourceInstanceId, node.value);
    resource.write(values);
    return;
  }
  if (node.kind === 'singleResource' && node.id === resource.id && !resource.multiple) return resource.write(node.value);
  if (node.kind === 'multiResource' && node.id === resource.id && resource.multiple) return resource.write(node.values);
  throw badRequest(`payload does not match resource ${formatPath(path)}`);
}
