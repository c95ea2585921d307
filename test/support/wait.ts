/** How a test polls for work that finishes on its own time (a queue job, a worker, another process). */
export interface PollOptions {
  /** How long to keep reading before the test fails. */
  timeoutMs?: number;
  /** The pause between two reads. */
  intervalMs?: number;
  /** What is awaited, named in the failure. */
  what?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Reads until `done` accepts the value and returns that value; once `timeoutMs` has passed it fails with the last
 * value read, which says how far the work got.
 */
export async function waitFor<T>(
  read: () => T | Promise<T>,
  done: (value: T) => boolean,
  { timeoutMs = 30_000, intervalMs = 100, what }: PollOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting${what ? ` for ${what}` : ''}; last value ${JSON.stringify(value)}`,
      );
    }
    await sleep(intervalMs);
  }
}

/** Waits until `holds` is true; `what` names it in the failure. */
export async function waitUntil(
  what: string,
  holds: () => boolean | Promise<boolean>,
  options: Omit<PollOptions, 'what'> = {},
): Promise<void> {
  await waitFor(holds, (held) => held, { ...options, what });
}
