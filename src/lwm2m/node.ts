/**
 * LwM2M nodes, shaped like Leshan's JSON so the HTTP API maps them one to one:
 * an object holds instances, an instance holds resources, a multiple resource holds
 * resource instances.
 */

/** The resource data types of the LwM2M object model. */
export type ResourceType =
  | 'string'
  | 'integer'
  | 'unsigned'
  | 'float'
  | 'boolean'
  | 'opaque'
  | 'time'
  | 'objlnk'
  | 'corelnk'
  | 'none';

export interface ObjectLink {
  objectId: number;
  instanceId: number;
}

/**
 * integer/unsigned: number, or bigint beyond 2^53; float: number; boolean: boolean;
 * string/corelnk: string; opaque: Buffer; time: Date; objlnk: ObjectLink.
 */
export type ResourceValue = string | number | bigint | boolean | Buffer | Date | ObjectLink;

export interface SingleResource {
  kind: 'singleResource';
  id: number;
  type: ResourceType;
  value: ResourceValue;
}

export interface MultipleResource {
  kind: 'multiResource';
  id: number;
  type: ResourceType;
  /** Resource instance id → value, in ascending id order when iterated. */
  values: Map<number, ResourceValue>;
}

export interface ResourceInstance {
  kind: 'resourceInstance';
  id: number;
  type: ResourceType;
  value: ResourceValue;
}

export type Resource = SingleResource | MultipleResource;

export interface ObjectInstance {
  kind: 'instance';
  id: number;
  resources: Resource[];
}

export interface LwM2mObject {
  kind: 'obj';
  id: number;
  instances: ObjectInstance[];
}

export type LwM2mNode = LwM2mObject | ObjectInstance | Resource | ResourceInstance;

/** A value with the time it was measured, from SenML records (Send, notifications). */
export interface TimestampedNode {
  /** Milliseconds since the epoch, when the payload carried a time. */
  timestamp?: number;
  path: string;
  node: LwM2mNode;
}
