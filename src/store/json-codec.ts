/**
 * JSON that keeps Buffers (request payloads, keys): a Buffer becomes {"$b64": "..."}.
 * Stored rows are text so they stay readable with the sqlite3 shell and portable to Redis.
 */
export function toStoredJson(value: unknown): string {
  return JSON.stringify(value, function replacer(this: Record<string, unknown>, key, v: unknown) {
    // JSON.stringify has already called Buffer#toJSON on `v`; the original is on the holder.
    const original = this[key];
    if (Buffer.isBuffer(original)) return { $b64: original.toString('base64') };
    return v;
  });
}

export function fromStoredJson<T>(text: string): T {
  return JSON.parse(text, (_key, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const record = v as Record<string, unknown>;
      const keys = Object.keys(record);
      if (keys.length === 1 && keys[0] === '$b64' && typeof record.$b64 === 'string') return Buffer.from(record.$b64, 'base64');
    }
    return v;
  }) as T;
}
