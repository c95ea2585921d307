import { Controller, Get, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Ctx, RequireScopes } from '../common/access/access.decorators';
import { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import { type Page, PageOf } from '../common/pagination/pagination';
import { LedgerEntryDto } from './dto/ledger-entry.dto';
import { LedgerVerificationDto } from './dto/ledger-verification.dto';
import { ListLedgerEntriesQueryDto } from './dto/list-ledger-entries-query.dto';
import { LedgerService } from './ledger.service';

const LedgerEntryList = PageOf(LedgerEntryDto);

/** Operator view of the double-entry ledger. */
@ApiTags('admin')
@RequireScopes('admin')
@Controller('v1/admin/ledger')
export class AdminLedgerController {
  constructor(private readonly ledger: LedgerService) {}

  @Get('entries')
  @ApiOperation({ summary: 'List journal entries with their lines, newest first', operationId: 'listLedgerEntries' })
  @ApiOkResponse({ type: LedgerEntryList })
  @ApiBadRequestResponse({ type: Problem, description: 'Invalid filter or cursor' })
  list(@Ctx() ctx: RequestContext, @Query() query: ListLedgerEntriesQueryDto): Promise<Page<LedgerEntryDto>> {
    return this.ledger.listEntries(ctx, query);
  }

  @Get('verify')
  @ApiOperation({
    summary: "Check the ledger's invariants and report the first violation",
    operationId: 'verifyLedger',
  })
  @ApiOkResponse({ type: LedgerVerificationDto })
  verify(@Ctx() ctx: RequestContext): Promise<LedgerVerificationDto> {
    return this.ledger.verify(ctx);
  }
}
