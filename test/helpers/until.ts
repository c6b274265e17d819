/** Polls `probe` until it answers a value (not undefined), or throws after `withinMs` naming `what`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, withinMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Polls `check` until it is true, or throws after `withinMs` naming `what`. */
export async function untilTrue(what: string, check: () => boolean | Promise<boolean>, withinMs: number, everyMs = 5): Promise<void> {
  await until(what, async () => ((await check()) ? true : undefined), withinMs, everyMs);
}
