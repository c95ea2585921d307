import type { ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import type { ListQueryDto, Page } from '../common/pagination/pagination';

/**
 * Newest first by id (ids are time-sortable ULIDs), so pages are stable while
 * objects are added: a cursor is the last id seen.
 */
export async function paginate<T extends ObjectLiteral & { id: string }, R>(
  query: SelectQueryBuilder<T>,
  list: ListQueryDto,
  toResponse: (row: T) => R,
): Promise<Page<R>> {
  const alias = query.alias;
  const limit = list.limit ?? 20;
  if (list.starting_after) query.andWhere(`${alias}.id < :cursor`, { cursor: list.starting_after });
  const rows = await query
    .orderBy(`${alias}.id`, 'DESC')
    .limit(limit + 1)
    .getMany();
  const hasMore = rows.length > limit;
  const data = rows.slice(0, limit);
  return {
    object: 'list',
    data: data.map(toResponse),
    has_more: hasMore,
    next_cursor: hasMore ? data[data.length - 1].id : null,
  };
}
