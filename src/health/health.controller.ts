import { Controller, Get, Header, Optional, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import {
  HealthCheckService,
  HealthIndicatorService,
  type HealthCheckResult,
  type HealthIndicatorFunction,
} from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';
import { Public } from '../common/access/access.decorators';
import { QueueService } from '../queue/queue.service';
import { LivenessDto, ReadinessDto } from './dto/health.dto';
import { HealthRepository } from './health.repository';

const CHECK_TIMEOUT_MS = 3_000;

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    private readonly database: HealthRepository,
    @Optional() private readonly queues?: QueueService,
  ) {}

  @Get('live')
  @Public()
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'Liveness: the process is running',
    operationId: 'getLiveness',
    description:
      'Always 200 while the process serves HTTP. Checks no dependency on purpose: an outage of the database must not get healthy processes restarted.',
  })
  @ApiOkResponse({ type: LivenessDto, description: 'The process is running' })
  live(): LivenessDto {
    return { status: 'ok' };
  }

  @Get('ready')
  @Public()
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'Readiness: the database and the queue backend answer',
    operationId: 'getReadiness',
    description: 'Route traffic here only while this returns 200.',
  })
  @ApiOkResponse({ type: ReadinessDto, description: 'Every dependency answered' })
  @ApiServiceUnavailableResponse({ type: ReadinessDto, description: 'A dependency did not answer; `error` names it' })
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<HealthCheckResult> {
    const checks: HealthIndicatorFunction[] = [
      () =>
        this.indicator
          .check('database')
          .attempt(async () => {
            await this.database.ping();
          })
          .withTimeout(CHECK_TIMEOUT_MS),
    ];
    const queues = this.queues;
    if (queues) {
      checks.push(() =>
        this.indicator
          .check('queue')
          .attempt(async () => {
            await queues.ping();
            return { backend: queues.backend };
          })
          .withTimeout(CHECK_TIMEOUT_MS),
      );
    }
    try {
      return await this.health.check(checks);
    } catch (error) {
      // Answer with the check result itself (which dependency failed), not a generic problem document.
      if (!(error instanceof ServiceUnavailableException)) throw error;
      void reply.status(503);
      return error.getResponse() as HealthCheckResult;
    }
  }
}
