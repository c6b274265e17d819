/**
 * Write-Attributes parameters from the query (?pmin=10&pmax=60, an empty value removes
 * the attribute: ?gt=) or from a JSON body ({"pmin":10,"gt":null}).
 */
import { ApiError } from './errors.js';

export type AttributeName = 'pmin' | 'pmax' | 'gt' | 'lt' | 'st' | 'epmin' | 'epmax';
/** A number sets the attribute, null removes it. */
export type AttributeChanges = Partial<Record<AttributeName, number | null>>;

const INTEGER_ATTRIBUTES = new Set<string>(['pmin', 'pmax', 'epmin', 'epmax']);
const NUMBER_ATTRIBUTES = new Set<string>(['gt', 'lt', 'st']);
/** Query parameters that configure the request itself rather than name attributes. */
const REQUEST_PARAMS = new Set<string>(['timeout', 'format']);

export function parseAttributes(query: Record<string, unknown>, body: unknown): AttributeChanges {
  const changes: AttributeChanges = {};
  for (const [name, value] of Object.entries(query)) {
    if (REQUEST_PARAMS.has(name)) continue;
    setAttribute(changes, name, value === '' ? null : value, 'query');
  }
  if (body !== undefined && body !== null && body !== '') {
    if (typeof body !== 'object' || Array.isArray(body)) {
      throw new ApiError(400, 'bad attributes', 'the body must be a JSON object such as {"pmin":10,"pmax":60}');
    }
    for (const [name, value] of Object.entries(body)) setAttribute(changes, name, value, 'body');
  }
  if (Object.keys(changes).length === 0) {
    throw new ApiError(400, 'bad attributes', 'no attribute given (pmin, pmax, gt, lt, st, epmin, epmax)');
  }
  if (typeof changes.pmin === 'number' && typeof changes.pmax === 'number' && changes.pmax < changes.pmin) {
    throw new ApiError(400, 'bad attributes', `pmax (${changes.pmax}) must not be less than pmin (${changes.pmin})`);
  }
  return changes;
}

function setAttribute(changes: AttributeChanges, name: string, raw: unknown, from: string): void {
  const isInteger = INTEGER_ATTRIBUTES.has(name);
  if (!isInteger && !NUMBER_ATTRIBUTES.has(name)) {
    const known = 'pmin, pmax, gt, lt, st, epmin, epmax';
    throw new ApiError(400, 'bad attributes', `unknown attribute "${name}" in the ${from} (expected ${known})`);
  }
  if (raw === null) {
    changes[name as AttributeName] = null;
    return;
  }
  const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  const valid = typeof value === 'number' && Number.isFinite(value) && (!isInteger || (Number.isInteger(value) && value >= 0));
  if (!valid) {
    const expected = isInteger ? 'a non-negative integer (seconds)' : 'a number';
    throw new ApiError(400, 'bad attributes', `${name} must be ${expected}, got ${JSON.stringify(raw)}`);
  }
  if (name === 'st' && (value as number) < 0) {
    throw new ApiError(400, 'bad attributes', `st must not be negative, got ${JSON.stringify(raw)}`);
  }
  changes[name as AttributeName] = value as number;
}
