/**
 * Operator tags of devices, for campaign targeting (`target.tags`): kept in the store,
 * answered from memory (the fleet view asks for every device when a population is drawn).
 * Tags may be set for an endpoint that has not registered yet.
 */
import type { DeviceTagStore } from '../store/types.js';

export const MAX_TAGS = 32;
const TAG = /^[A-Za-z0-9._:-]{1,64}$/;

/** A tag list that is not acceptable; the message says why (answered 400). */
export class TagValidationError extends Error {
  override readonly name = 'TagValidationError';
}

/** `{"tags":[…]}` → the tags, or TagValidationError with the reason. */
export function parseTagsBody(body: unknown): string[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new TagValidationError('the body must be a JSON object {"tags":[…]}');
  const unknown = Object.keys(body).filter((key) => key !== 'tags');
  if (unknown.length > 0) throw new TagValidationError(`unknown field(s): ${unknown.join(', ')} (only "tags")`);
  return validateTags((body as { tags?: unknown }).tags);
}

/** An array of at most 32 distinct tags, each 1–64 characters of [A-Za-z0-9._:-]. */
export function validateTags(tags: unknown): string[] {
  if (!Array.isArray(tags)) throw new TagValidationError('"tags" must be an array of strings');
  if (tags.length > MAX_TAGS) throw new TagValidationError(`at most ${MAX_TAGS} tags, got ${tags.length}`);
  const seen = new Set<string>();
  tags.forEach((tag, k) => {
    if (typeof tag !== 'string') throw new TagValidationError(`tags[${k}] must be a string`);
    if (!TAG.test(tag)) throw new TagValidationError(`tags[${k}] "${tag}" must be 1 to 64 characters of A-Z a-z 0-9 . _ : -`);
    if (seen.has(tag)) throw new TagValidationError(`tags[${k}] "${tag}" is given twice`);
    seen.add(tag);
  });
  return [...tags] as string[];
}

const NONE: readonly string[] = Object.freeze([]);

export class DeviceTags {
  private readonly tags = new Map<string, readonly string[]>();

  private constructor(private readonly store: DeviceTagStore) {}

  /** Loads every stored tag list. */
  static async open(store: DeviceTagStore): Promise<DeviceTags> {
    const tags = new DeviceTags(store);
    for (const row of await store.list()) if (row.tags.length > 0) tags.tags.set(row.endpoint, Object.freeze([...row.tags]));
    return tags;
  }

  /** The endpoint's tags (empty when it has none). */
  get(endpoint: string): readonly string[] {
    return this.tags.get(endpoint) ?? NONE;
  }

  /** Replaces the endpoint's tags: validated, stored, then served. */
  async set(endpoint: string, tags: readonly string[]): Promise<readonly string[]> {
    const valid = Object.freeze(validateTags(tags));
    await this.store.set(endpoint, valid);
    if (valid.length === 0) this.tags.delete(endpoint);
    else this.tags.set(endpoint, valid);
    return valid;
  }
}
