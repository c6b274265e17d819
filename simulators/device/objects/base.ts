/**
 * The common base of the simulated objects: an instance is a table of resources, each with
 * its own read/write/execute handlers, so every object file only says what its resources
 * are and how their values behave.
 */
import type { ResourceType, ResourceValue } from '../../../src/lwm2m/node.js';

export type ResourceOperations = 'R' | 'W' | 'RW' | 'E';
export type MultiValues = Map<number, ResourceValue>;
export type ResourceContent = ResourceValue | MultiValues;

/** A value the server sent that the resource refuses (answered 4.00 Bad Request). */
export class BadValueError extends Error {
  override readonly name = 'BadValueError';
}

/** An operation the resource refuses in its current state (answered 4.05). */
export class NotAllowedError extends Error {
  override readonly name = 'NotAllowedError';
}

export interface SimResource {
  readonly id: number;
  readonly type: ResourceType;
  readonly operations: ResourceOperations;
  readonly multiple: boolean;
  read(): ResourceContent;
  write(value: ResourceContent): void;
  execute(args: string): void;
}

export const canRead = (r: SimResource): boolean => r.operations === 'R' || r.operations === 'RW';
export const canWrite = (r: SimResource): boolean => r.operations === 'W' || r.operations === 'RW';
export const canExecute = (r: SimResource): boolean => r.operations === 'E';

interface ValueOptions<T> {
  /** Throws BadValueError for a value the device would not accept. */
  validate?: (value: T) => void;
  /** Told after every accepted write (e.g. Server lifetime → registration update). */
  onWrite?: (value: T) => void;
}

/*
 * Resources are small classes, not object literals of closures: a fleet holds thousands of
 * devices with ~60 resources each, and prototype methods cost nothing per resource.
 */
abstract class BaseResource implements SimResource {
  abstract readonly operations: ResourceOperations;
  abstract readonly multiple: boolean;

  constructor(
    readonly id: number,
    readonly type: ResourceType,
  ) {}

  read(): ResourceContent {
    throw new NotAllowedError(`resource ${this.id} is not readable`);
  }

  write(_value: ResourceContent): void {
    throw new NotAllowedError(`resource ${this.id} is not writable`);
  }

  execute(_args: string): void {
    throw new NotAllowedError(`resource ${this.id} is not executable`);
  }
}

class ValueResource extends BaseResource {
  readonly multiple = false;

  constructor(
    id: number,
    type: ResourceType,
    readonly operations: 'R' | 'W' | 'RW',
    private current: ResourceValue,
    private readonly options: ValueOptions<ResourceValue> | undefined,
  ) {
    super(id, type);
  }

  override read(): ResourceContent {
    return this.current;
  }

  override write(value: ResourceContent): void {
    if (value instanceof Map) throw new BadValueError(`resource ${this.id} is not multiple`);
    this.options?.validate?.(value);
    this.current = value;
    this.options?.onWrite?.(value);
  }
}

class MultiValueResource extends BaseResource {
  readonly multiple = true;

  constructor(
    id: number,
    type: ResourceType,
    readonly operations: 'R' | 'W' | 'RW',
    private current: MultiValues,
  ) {
    super(id, type);
  }

  override read(): ResourceContent {
    return this.current;
  }

  override write(value: ResourceContent): void {
    if (!(value instanceof Map)) throw new BadValueError(`resource ${this.id} is multiple`);
    this.current = new Map([...value].sort(([a], [b]) => a - b));
  }
}

class ComputedResource extends BaseResource {
  readonly operations: 'R' | 'RW';

  constructor(
    id: number,
    type: ResourceType,
    readonly multiple: boolean,
    private readonly reader: () => ResourceContent,
    private readonly writer: ((value: ResourceContent) => void) | undefined,
  ) {
    super(id, type);
    this.operations = writer ? 'RW' : 'R';
  }

  override read(): ResourceContent {
    return this.reader();
  }

  override write(value: ResourceContent): void {
    if (!this.writer) super.write(value);
    else this.writer(value);
  }
}

class ExecutableResource extends BaseResource {
  readonly operations = 'E';
  readonly multiple = false;

  constructor(
    id: number,
    private readonly run: (args: string) => void,
  ) {
    super(id, 'none');
  }

  override execute(args: string): void {
    this.run(args);
  }
}

/** A single-value resource whose value lives in the instance. */
export function valueResource(
  id: number,
  type: ResourceType,
  operations: 'R' | 'W' | 'RW',
  initial: ResourceValue,
  options?: ValueOptions<ResourceValue>,
): SimResource {
  return new ValueResource(id, type, operations, initial, options);
}

/** A multiple resource whose instances live in the instance. */
export function multiResource(
  id: number,
  type: ResourceType,
  operations: 'R' | 'W' | 'RW',
  initial: readonly ResourceValue[],
): SimResource {
  return new MultiValueResource(id, type, operations, new Map(initial.map((value, index) => [index, value])));
}

/** A resource computed on every read (battery level, signal strength, clock). */
export function computedResource(
  id: number,
  type: ResourceType,
  read: () => ResourceContent,
  write?: (value: ResourceContent) => void,
): SimResource {
  return new ComputedResource(id, type, false, read, write);
}

/** A read-only multiple resource computed on every read (e.g. the current error codes). */
export function computedMultiResource(id: number, type: ResourceType, read: () => MultiValues): SimResource {
  return new ComputedResource(id, type, true, read, undefined);
}

export function executableResource(id: number, run: (args: string) => void): SimResource {
  return new ExecutableResource(id, run);
}

export class SimInstance {
  private readonly table = new Map<number, SimResource>();

  constructor(
    readonly id: number,
    resources: readonly SimResource[],
  ) {
    for (const resource of [...resources].sort((a, b) => a.id - b.id)) this.table.set(resource.id, resource);
  }

  resource(id: number): SimResource | undefined {
    return this.table.get(id);
  }

  resources(): IterableIterator<SimResource> {
    return this.table.values();
  }
}

export interface SimObject {
  readonly id: number;
  readonly instances: Map<number, SimInstance>;
  /** Whether the server may create (POST /X) and delete (DELETE /X/Y) instances. */
  readonly serverManagesInstances: boolean;
  /** A fresh instance with default values; only when serverManagesInstances. */
  newInstance?(instanceId: number): SimInstance;
}

export function singleInstanceObject(id: number, instance: SimInstance): SimObject {
  return { id, instances: new Map([[instance.id, instance]]), serverManagesInstances: false };
}
