/**
 * Notification attributes (LwM2M 1.1 §5.1.2) set by Write-Attributes: a PUT with only a
 * query, e.g. `?pmin=10&pmax=60&st=2`; a name without a value (`?pmin`) removes it.
 * Attributes are inherited: a resource uses its own, then its instance's, then its object's.
 */
import { formatPath, pathIds, fromIds, type LwM2mPath } from '../../../src/lwm2m/path.js';
import { BadValueError } from '../objects/base.js';

export interface NotificationAttributes {
  /** Seconds. */
  pmin?: number;
  /** Seconds; 0 or absent = no periodic notification. */
  pmax?: number;
  gt?: number;
  lt?: number;
  st?: number;
}

type AttributeName = keyof NotificationAttributes;
const NAMES: readonly AttributeName[] = ['pmin', 'pmax', 'gt', 'lt', 'st'];
const PERIODS = new Set<AttributeName>(['pmin', 'pmax']);

export interface AttributeChange {
  set: NotificationAttributes;
  remove: AttributeName[];
}

/** Parses a Write-Attributes query; throws BadValueError for unknown names or bad numbers. */
export function parseAttributeQuery(query: readonly string[]): AttributeChange {
  const change: AttributeChange = { set: {}, remove: [] };
  if (query.length === 0) throw new BadValueError('write-attributes needs at least one attribute');
  for (const item of query) {
    const equals = item.indexOf('=');
    const name = (equals === -1 ? item : item.slice(0, equals)) as AttributeName;
    if (!NAMES.includes(name)) throw new BadValueError(`unknown attribute "${name}"`);
    if (equals === -1) {
      change.remove.push(name);
      continue;
    }
    const text = item.slice(equals + 1);
    const value = Number(text);
    if (text === '' || !Number.isFinite(value)) throw new BadValueError(`attribute ${name}="${text}" is not a number`);
    if (PERIODS.has(name) && (!Number.isInteger(value) || value < 0)) {
      throw new BadValueError(`attribute ${name} must be a non-negative integer`);
    }
    if (name === 'st' && value < 0) throw new BadValueError('attribute st must not be negative');
    change.set[name] = value;
  }
  const { lt, gt, st } = change.set;
  // LwM2M 1.1 §5.1.2: lt must be below gt, with at least 2 * st between them.
  if (lt !== undefined && gt !== undefined && lt + 2 * (st ?? 0) >= gt) {
    throw new BadValueError('lt + 2*st must be below gt');
  }
  return change;
}

export class AttributeStore {
  private readonly byPath = new Map<string, NotificationAttributes>();

  apply(path: LwM2mPath, change: AttributeChange): void {
    const key = formatPath(path);
    const merged: NotificationAttributes = { ...this.byPath.get(key), ...change.set };
    for (const name of change.remove) delete merged[name];
    if (Object.keys(merged).length === 0) this.byPath.delete(key);
    else this.byPath.set(key, merged);
  }

  /** Only the attributes set on this exact path (what discover shows). */
  own(path: LwM2mPath): NotificationAttributes {
    return { ...this.byPath.get(formatPath(path)) };
  }

  /** Object, then instance, then resource level; the more specific wins. */
  effective(path: LwM2mPath): NotificationAttributes {
    // Every observation check asks; most devices never get a Write-Attributes.
    if (this.byPath.size === 0) return {};
    const ids = pathIds(path);
    let result: NotificationAttributes = {};
    for (let depth = 1; depth <= ids.length; depth++) {
      result = { ...result, ...this.byPath.get(formatPath(fromIds(ids.slice(0, depth)))) };
    }
    return result;
  }

  /** Forgets attributes on and below a path (an instance was deleted). */
  removeBelow(path: LwM2mPath): void {
    const prefix = formatPath(path);
    for (const key of [...this.byPath.keys()]) {
      if (key === prefix || key.startsWith(prefix + '/')) this.byPath.delete(key);
    }
  }

  clear(): void {
    this.byPath.clear();
  }
}

export function attributesAsLinkParams(attributes: NotificationAttributes): Record<string, string> {
  const params: Record<string, string> = {};
  for (const name of NAMES) {
    const value = attributes[name];
    if (value !== undefined) params[name] = String(value);
  }
  return params;
}
