import { Body, Controller, HttpCode, Logger, Param, Post } from '@nestjs/common';
import { ApiBody, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from '../common/access/access.decorators';
import { ApiError } from '../common/errors/api-error';
import { Problem } from '../common/errors/problem';
import { timingSafeEqual, createHash } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import { DistributionSenderService } from './distribution-sender.service';
import { TENCENT_RECEIPT_ACK } from './channels/sms-receipts';
import { readTencentReceipts } from './sms-receipts';

const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * The SMS provider's delivery receipts. Tencent's callbacks are unsigned, so the callback URL registered in its
 * console carries a shared secret (SMS_RECEIPT_TOKEN) as its last path segment, compared in constant time; a wrong
 * or missing token is a 404, as if the route did not exist.
 */
@ApiTags('distributions')
@Controller('v1/distribution/sms-receipts')
export class SmsReceiptsController {
  private readonly logger = new Logger(SmsReceiptsController.name);

  constructor(
    private readonly sender: DistributionSenderService,
    private readonly config: AppConfig,
  ) {}

  @Post('tencent/:token')
  @Public()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Tencent Cloud SMS delivery receipts (callback)',
    description:
      "Tencent's status-report callback: a JSON array of `{ user_receive_time, nationcode, mobile, report_status " +
      '(SUCCESS|FAIL), errmsg, description, sid }`. Matched on `sid` (the SendSms SerialNo): SUCCESS makes the ' +
      'recipient `delivered` (card.delivered), FAIL `failed`, or `bounced` when the number is dead ' +
      '(card.delivery_failed). Repeats change nothing. Authorised by SMS_RECEIPT_TOKEN in the path (Tencent does not ' +
      'sign callbacks); always answers `{"result":0,"errmsg":"OK"}`.',
    operationId: 'receiveTencentSmsReceipts',
  })
  @ApiBody({
    schema: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          user_receive_time: { type: 'string', example: '2026-12-06 10:03:04' },
          nationcode: { type: 'string', example: '86' },
          mobile: { type: 'string' },
          report_status: { type: 'string', enum: ['SUCCESS', 'FAIL'] },
          errmsg: { type: 'string', example: 'DELIVRD' },
          description: { type: 'string' },
          sid: { type: 'string' },
        },
        required: ['report_status', 'sid'],
      },
    },
  })
  @ApiOkResponse({
    description: "Tencent's acknowledgement",
    schema: {
      type: 'object',
      properties: { result: { type: 'integer', example: 0 }, errmsg: { type: 'string', example: 'OK' } },
      required: ['result', 'errmsg'],
    },
  })
  @ApiNotFoundResponse({ type: Problem, description: 'Receipts are not configured, or the token is wrong' })
  async tencent(@Param('token') token: string, @Body() body: unknown): Promise<typeof TENCENT_RECEIPT_ACK> {
    const expected = this.config.SMS_RECEIPT_TOKEN;
    if (!expected || !timingSafeEqual(sha256(token), sha256(expected))) {
      throw ApiError.notFound('route', 'POST /v1/distribution/sms-receipts/tencent');
    }
    const { receipts, malformed } = readTencentReceipts(body);
    if (malformed > 0) this.logger.warn({ msg: 'SMS receipts left out: not in Tencent format', malformed });
    await this.sender.applySmsReceipts(receipts);
    return TENCENT_RECEIPT_ACK;
  }
}
