import { MemoryThrottlerStorage } from './memory-throttler.storage';

describe('MemoryThrottlerStorage', () => {
  let now = 0;
  const storage = new MemoryThrottlerStorage(() => now);
  afterAll(() => storage.onModuleDestroy());

  it('counts hits in a fixed window, blocks past the limit, and starts over when the block ends', async () => {
    now = 1_000;
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await storage.increment('client:a', 60_000, 3, 60_000));
    expect(results.map((result) => [result.totalHits, result.isBlocked])).toEqual([
      [1, false],
      [2, false],
      [3, false],
      [4, true],
    ]);
    expect(results[0].timeToExpire).toBe(60);
    expect(results[3].timeToBlockExpire).toBe(60);

    now = 31_000;
    const stillBlocked = await storage.increment('client:a', 60_000, 3, 60_000);
    expect(stillBlocked).toMatchObject({ isBlocked: true, timeToBlockExpire: 30 });

    now = 61_000;
    expect(await storage.increment('client:a', 60_000, 3, 60_000)).toMatchObject({ totalHits: 1, isBlocked: false });
  });

  it('tells how long a key stays blocked without counting a hit', async () => {
    now = 100_000;
    expect(await storage.blockedForSeconds('client:d')).toBe(0);
    await storage.increment('client:d', 10_000, 0, 10_000);
    now = 104_000;
    expect(await storage.blockedForSeconds('client:d')).toBe(6);
    expect(await storage.blockedForSeconds('client:d')).toBe(6);
    now = 110_000;
    expect(await storage.blockedForSeconds('client:d')).toBe(0);
  });

  it('keeps clients apart', async () => {
    now = 200_000;
    await storage.increment('client:b', 1_000, 1, 1_000);
    expect((await storage.increment('client:c', 1_000, 1, 1_000)).isBlocked).toBe(false);
    expect((await storage.increment('client:b', 1_000, 1, 1_000)).isBlocked).toBe(true);
  });
});
