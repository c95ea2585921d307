import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { Ctx, RequireScopes } from '../common/access/access.decorators';
import type { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import { PageOf, type Page } from '../common/pagination/pagination';
import { ListBatchesQueryDto } from './dto/list-batches.dto';
import { IssuanceReadsService } from './issuance-reads.service';
import { BatchDto } from '../orders/dto/batch.dto';
import { CardDto, CardPageDto, ListCardsQueryDto } from '../cards/dto/card.dto';
import { IssuanceService } from './issuance.service';

@ApiTags('cards')
@Controller()
export class IssuanceController {
  constructor(
    private readonly cards: IssuanceReadsService,
    private readonly issuance: IssuanceService,
  ) {}

  @Get('v1/batches')
  @RequireScopes('orders:read')
  @ApiOperation({
    summary: 'List issuance batches, newest first (filters: order, status, creation time)',
    description:
      'One batch per paid order line. Without `order_id`, every batch of your enterprise: for reconciling by id ' +
      'without walking the orders.',
    operationId: 'listBatches',
  })
  @ApiOkResponse({ type: PageOf(BatchDto) })
  @ApiBadRequestResponse({ type: Problem, description: 'validation_failed: a filter is malformed or unknown' })
  listBatches(@Ctx() ctx: RequestContext, @Query() query: ListBatchesQueryDto): Promise<Page<BatchDto>> {
    return this.cards.listBatches(ctx, query);
  }

  @Get('v1/batches/:id')
  @RequireScopes('orders:read')
  @ApiOperation({ summary: 'Progress of an issuance batch: issued count, rate, ETA', operationId: 'getBatch' })
  @ApiOkResponse({ type: BatchDto })
  @ApiNotFoundResponse({ type: Problem })
  batch(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<BatchDto> {
    return this.cards.batch(ctx, id);
  }

  @Get('v1/orders/:id/cards')
  @RequireScopes('cards:read')
  @ApiOperation({ summary: "An order's cards in serial order (never their codes)", operationId: 'listOrderCards' })
  @ApiOkResponse({ type: CardPageDto })
  @ApiNotFoundResponse({ type: Problem })
  cardsOf(
    @Ctx() ctx: RequestContext,
    @Param('id') id: string,
    @Query() query: ListCardsQueryDto,
  ): Promise<CardPageDto> {
    return this.cards.cardsOf(ctx, id, query);
  }

  @Get('v1/cards/:serial')
  @RequireScopes('cards:read')
  @ApiOperation({ summary: 'A card by its serial', operationId: 'getCard' })
  @ApiOkResponse({ type: CardDto })
  @ApiNotFoundResponse({ type: Problem, description: "card_not_found, also for another tenant's card" })
  card(@Ctx() ctx: RequestContext, @Param('serial') serial: string): Promise<CardDto> {
    return this.cards.card(ctx, serial);
  }

  @Post('v1/admin/batches/:id/retry')
  @HttpCode(200)
  @RequireScopes('admin')
  @ApiTags('admin')
  @ApiOperation({ summary: 'Retry a failed issuance batch from its unminted chunks', operationId: 'retryBatch' })
  @ApiOkResponse({ type: BatchDto })
  @ApiNotFoundResponse({ type: Problem })
  @ApiConflictResponse({ type: Problem, description: 'invalid_state: the batch has not failed' })
  async retry(@Ctx() ctx: RequestContext, @Param('id') id: string): Promise<BatchDto> {
    return BatchDto.from(await this.issuance.retryBatch(ctx, id));
  }
}
