import { Controller, Get, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Ctx, RequireScopes } from '../common/access/access.decorators';
import { RequestContext } from '../common/context/request-context';
import { Problem } from '../common/errors/problem';
import { type Page, PageOf } from '../common/pagination/pagination';
import { AuditService } from './audit.service';
import { AuditRecordDto } from './dto/audit-record.dto';
import { AuditVerificationDto } from './dto/audit-verification.dto';
import { ListAuditRecordsQueryDto } from './dto/list-audit-records-query.dto';

const AuditRecordList = PageOf(AuditRecordDto);

@ApiTags('admin')
@RequireScopes('admin')
@Controller('v1/admin/audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @ApiOperation({ summary: 'List audit records, newest first', operationId: 'listAuditRecords' })
  @ApiOkResponse({ type: AuditRecordList })
  @ApiBadRequestResponse({ type: Problem, description: 'Invalid filter or cursor' })
  list(@Ctx() ctx: RequestContext, @Query() query: ListAuditRecordsQueryDto): Promise<Page<AuditRecordDto>> {
    return this.audit.list(ctx, query);
  }

  @Get('verify')
  @ApiOperation({ summary: 'Verify the audit hash chain from its first record', operationId: 'verifyAuditChain' })
  @ApiOkResponse({ type: AuditVerificationDto })
  verify(@Ctx() ctx: RequestContext): Promise<AuditVerificationDto> {
    return this.audit.verify(ctx);
  }
}
