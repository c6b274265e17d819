import type { ResourceType } from '../node.js';

export type Operations = '' | 'R' | 'W' | 'RW' | 'E';

export interface ResourceSpec {
  id: number;
  name: string;
  operations: Operations;
  multiple: boolean;
  mandatory: boolean;
  type: ResourceType;
  rangeEnumeration?: string;
  units?: string;
  description?: string;
}

export interface ObjectSpec {
  id: number;
  name: string;
  description?: string;
  /** Object version, "1.0" when the DDF does not say. */
  version: string;
  /** LwM2M enabler version the object was written for, e.g. "1.0", "1.1". */
  lwm2mVersion?: string;
  urn?: string;
  multiple: boolean;
  mandatory: boolean;
  resources: Map<number, ResourceSpec>;
}

/** Read-only view of the loaded object model that codecs and services consult. */
export interface ObjectModel {
  getObject(objectId: number, version?: string): ObjectSpec | undefined;
  getResource(objectId: number, resourceId: number, version?: string): ResourceSpec | undefined;
  objects(): ObjectSpec[];
}
