/** At most `limit` holders at once per key; the others wait in arrival order. In-process only. */
export class KeyedLimiter {
  private readonly slots = new Map<string, { running: number; waiting: Array<() => void> }>();

  constructor(private readonly limit: number) {}

  /** Whether `key` has every place taken and at least `waiting` more waiting for one. */
  isCrowded(key: string, waiting: number): boolean {
    const slot = this.slots.get(key);
    return slot !== undefined && slot.running >= this.limit && slot.waiting.length >= waiting;
  }

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    await this.acquire(key);
    try {
      return await work();
    } finally {
      this.release(key);
    }
  }

  private async acquire(key: string): Promise<void> {
    let slot = this.slots.get(key);
    if (!slot) this.slots.set(key, (slot = { running: 0, waiting: [] }));
    if (slot.running < this.limit) {
      slot.running++;
      return;
    }
    // A releasing holder hands its place over directly (running stays as it is).
    await new Promise<void>((resolve) => slot.waiting.push(resolve));
  }

  private release(key: string): void {
    const slot = this.slots.get(key);
    if (!slot) return;
    const next = slot.waiting.shift();
    if (next) return next();
    slot.running--;
    if (slot.running === 0) this.slots.delete(key);
  }
}
