import { BadRequestException, HttpException, NotFoundException } from '@nestjs/common';
import { ThrottlerException } from '@nestjs/throttler';
import { ApiError } from './api-error';
import { renderError } from './problem.filter';
import { Problem } from './problem';

describe('renderError', () => {
  it('keeps an ApiError status, code, detail and extra fields', () => {
    const rendered = renderError(ApiError.conflict('enterprise_exists', 'Already there', { existing_id: 'ent_1' }));
    expect(rendered).toMatchObject({
      status: 409,
      code: 'enterprise_exists',
      detail: 'Already there',
      extra: { existing_id: 'ent_1' },
    });
  });

  it('never lets an unexpected error reach the caller', () => {
    const rendered = renderError(new Error('connect ECONNREFUSED 10.0.0.5:5432 password=hunter2'));
    expect(rendered).toEqual({ status: 500, code: 'internal_error', detail: 'An internal error occurred' });
  });

  it('hides the message of 5xx HttpExceptions', () => {
    expect(renderError(new HttpException('pool exhausted at db-3', 503))).toMatchObject({
      status: 503,
      detail: 'An internal error occurred',
    });
  });

  it('maps Nest and Fastify errors to stable codes', () => {
    expect(renderError(new NotFoundException('Cannot GET /x'))).toMatchObject({
      status: 404,
      code: 'resource_not_found',
    });
    expect(renderError(new BadRequestException('bad'))).toMatchObject({ status: 400, code: 'bad_request' });
    expect(renderError(new ThrottlerException())).toMatchObject({ status: 429, code: 'rate_limited' });
    expect(
      renderError(Object.assign(new Error('x'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 })),
    ).toMatchObject({
      status: 413,
      code: 'payload_too_large',
    });
    expect(
      renderError(Object.assign(new Error('x'), { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 })),
    ).toMatchObject({
      status: 415,
      code: 'unsupported_media_type',
    });
  });

  it('builds RFC 9457 bodies', () => {
    expect(Problem.of(422, 'invalid_credit_code', 'Check character is wrong', 'req_1')).toEqual({
      type: 'urn:fuli:problem:invalid_credit_code',
      title: 'Unprocessable Entity',
      status: 422,
      detail: 'Check character is wrong',
      code: 'invalid_credit_code',
      request_id: 'req_1',
    });
  });
});
