/** Walking a cursor-paginated list (`limit`, `starting_after`, `has_more`, `next_cursor`) item by item. */
import type { FuliProblem } from './index.js';

/** Every list of the API answers with this envelope. */
export interface FuliPage<Item> {
  object: 'list';
  data: Item[];
  has_more: boolean;
  next_cursor?: string | null;
}

/** A page request that answered with a problem: thrown by paginate(), which has no `{ error }` to return. */
export class FuliApiError extends Error {
  override readonly name = 'FuliApiError';
  constructor(
    readonly status: number,
    readonly problem: FuliProblem | undefined,
  ) {
    super(problem ? `${status} ${problem.code}: ${problem.detail}` : `HTTP ${status}`);
  }
}

/**
 * Yields every item of a list, fetching the next page when the previous one is used up. `page` gets the cursor
 * (undefined for the first page) and makes the call, so any list, filters included, can be walked:
 *
 *     for await (const order of paginate((starting_after) =>
 *       fuli.GET('/v1/orders', { params: { query: { limit: 100, starting_after } } }),
 *     )) { … }
 */
export async function* paginate<Item>(
  page: (startingAfter: string | undefined) => Promise<{ data?: FuliPage<Item>; error?: unknown; response: Response }>,
): AsyncGenerator<Item, void, undefined> {
  let cursor: string | undefined;
  for (;;) {
    const { data, error, response } = await page(cursor);
    if (!data) throw new FuliApiError(response.status, error as FuliProblem | undefined);
    yield* data.data;
    if (!data.has_more || !data.next_cursor) return;
    cursor = data.next_cursor;
  }
}
