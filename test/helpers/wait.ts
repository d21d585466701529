/** Polls until `check` holds (sync or async), or fails after `timeoutMs` saying what was awaited. */
export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'the condition',
): Promise<void> {
  await eventually(async () => ((await check()) ? true : null), timeoutMs, what);
}

/** Polls `probe` until it gives a value (not null), or fails after `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T | null>,
  timeoutMs = 5000,
  what = 'a value',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
