import { Controller, Get } from '@nestjs/common';
import { ApiForbiddenResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Ctx, RequireScopes } from '../common/access/access.decorators';
import { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import { BalanceDto } from './dto/balance.dto';
import { LedgerService } from './ledger.service';

/** An enterprise client's funds with the platform. */
@ApiTags('balance')
@RequireScopes('orders:read')
@Controller('v1/balance')
export class BalanceController {
  constructor(private readonly ledger: LedgerService) {}

  @Get()
  @ApiOperation({
    summary: "Get the caller's prepaid balance and credit line, derived from the ledger",
    operationId: 'getBalance',
  })
  @ApiOkResponse({ type: BalanceDto })
  @ApiForbiddenResponse({
    type: Problem,
    description:
      'insufficient_scope: the token lacks orders:read; enterprise_client_required: the caller is not an enterprise client',
  })
  get(@Ctx() ctx: RequestContext): Promise<BalanceDto> {
    return this.ledger.balance(ctx);
  }
}
