import { Type as ClassType } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Matches, Max, Min } from 'class-validator';
import { ANY_ID_PATTERN } from '../ids';

export const MAX_PAGE_SIZE = 100;

/** `limit` and `starting_after` of every list endpoint; extend it with the list's filters. */
export class ListQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE_SIZE, default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_SIZE)
  limit?: number;

  @ApiPropertyOptional({ description: 'Id of the last object of the previous page; the next page follows it' })
  @IsOptional()
  @Matches(ANY_ID_PATTERN, { message: 'starting_after must be an object id' })
  starting_after?: string;
}

export interface Page<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  next_cursor: string | null;
}

/** The OpenAPI schema of a page of `item`, named `<Item>List`. */
export function PageOf<T>(item: ClassType<T>): ClassType<Page<T>> {
  class PageDto {
    @ApiProperty({ enum: ['list'] })
    object: 'list';

    @ApiProperty({ type: [item] })
    data: T[];

    @ApiProperty()
    has_more: boolean;

    @ApiProperty({ type: String, nullable: true, description: 'Pass as starting_after to get the next page' })
    next_cursor: string | null;
  }
  Object.defineProperty(PageDto, 'name', { value: `${item.name.replace(/Dto$/, '')}List` });
  return PageDto;
}
