import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROW_ERROR_CODES } from '../../distribution/recipient-rows';
import { FIELD_CODES } from '../validation-codes';
import { ApiError } from './api-error';
import { ERROR_MESSAGES, interpolate, isErrorCode, languageOf, LANGUAGES, messageOf } from './messages';
import { DEFAULT_CODES } from './problem';
import { renderError } from './problem.filter';

const SRC = join(__dirname, '..', '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.ts$/.test(name) && !/\.(spec|medium-spec)\.ts$/.test(name) ? [path] : [];
  });
}

/**
 * Every quoted code a source file hands to ApiError (its constructor and helpers), to a field error (`code: '…'`) or
 * to a helper typed by codes: a second net under the type check (ApiError takes only an ErrorCode), which a cast
 * would slip through.
 */
function codesInSource(): Map<string, string> {
  const found = new Map<string, string>();
  const patterns = [
    /ApiError\.(?:badRequest|unauthorized|forbidden|conflict|unprocessable|oauth)\(\s*(?:\d+\s*,\s*)?'([a-z0-9_]+)'/g,
    /new ApiError\(\s*[\w.]+\s*,\s*'([a-z0-9_]+)'/g,
    /\bcode: '([a-z0-9_]+)'/g,
  ];
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const pattern of patterns) {
      for (const [, code] of text.matchAll(pattern)) found.set(code, file);
    }
  }
  return found;
}

const placeholders = (template: string) => [...template.matchAll(/\{(\w+)\}/g)].map(([, name]) => name).sort();

describe('the error message catalog', () => {
  it.each(Object.entries(ERROR_MESSAGES))('%s has an English and a Simplified Chinese text', (_, texts) => {
    expect(Object.keys(texts).sort()).toEqual([...LANGUAGES].sort());
    expect(texts.en.trim()).not.toBe('');
    expect(texts['zh-CN']).toMatch(/[\u4e00-\u9fff]/);
    // The same values, so a detail says as much in either language.
    expect(placeholders(texts['zh-CN'])).toEqual(placeholders(texts.en));
  });

  it('holds every code the API can emit', () => {
    const emitted = new Map<string, string>([
      ...[...codesInSource()],
      ...Object.values(FIELD_CODES).map((code): [string, string] => [code, 'validation-codes.ts']),
      ...Object.values(DEFAULT_CODES).map((code): [string, string] => [code, 'problem.ts']),
      ...ROW_ERROR_CODES.map((code): [string, string] => [code, 'recipient-rows.ts']),
      ['validation_failed', 'api-error.ts'],
    ]);
    expect(emitted.size).toBeGreaterThan(150);
    const missing = [...emitted].filter(([code]) => !isErrorCode(code)).map(([code, file]) => `${code} (${file})`);
    expect(missing).toEqual([]);
  });

  it('fills values, and leaves out a part whose values are unknown', () => {
    expect(interpolate('No {object} with id {id}', { object: 'order', id: 'ord_1' })).toBe('No order with id ord_1');
    expect(interpolate('Too many[; try in {retry_after} s]', { retry_after: 5 })).toBe('Too many; try in 5 s');
    expect(interpolate('Too many[; try in {retry_after} s]', {})).toBe('Too many');
    expect(messageOf('invalid_state', 'zh-CN', { order_id: 'ord_1', order_status: 'paid' })).toBe(
      "对象当前状态不允许此操作：订单 'ord_1' 的状态为 paid",
    );
  });

  it.each([
    [undefined, 'en'],
    ['', 'en'],
    ['zh-CN', 'zh-CN'],
    ['zh', 'zh-CN'],
    ['zh-Hans-CN,zh;q=0.9,en;q=0.8', 'zh-CN'],
    ['en-US,en;q=0.9,zh-CN;q=0.8', 'en'],
    ['fr-FR, zh-CN;q=0.5, en;q=0.3', 'zh-CN'],
    ['de, fr', 'en'],
    ['zh-CN;q=0, en', 'en'],
    ['*', 'en'],
  ])('reads Accept-Language %p as %s', (header, language) => {
    expect(languageOf(header)).toBe(language);
  });
});

describe('problems in the reader language', () => {
  it('translates a 404 with its object and id, keeping the code', () => {
    const english = renderError(ApiError.notFound('order', 'ord_01'), 'en');
    const chinese = renderError(ApiError.notFound('order', 'ord_01'), 'zh-CN');
    expect(english).toMatchObject({ code: 'resource_not_found', detail: "No order with id 'ord_01'" });
    expect(chinese).toMatchObject({ code: 'resource_not_found', detail: "未找到 id 为 'ord_01' 的订单" });
  });

  it('translates the values an error carries as extension members', () => {
    const error = ApiError.conflict('export_in_progress', "Export 'exp_1' of order 'ord_1' is being built", {
      export_id: 'exp_1',
    });
    expect(renderError(error, 'zh-CN').detail).toBe("该订单的另一个导出正在生成，请等待其完成：导出 'exp_1'");
    expect(renderError(error, 'en').detail).toBe("Export 'exp_1' of order 'ord_1' is being built");
  });

  it('translates field errors, one by its message and several by their count', () => {
    const one = ApiError.validation([
      { field: 'lines.0.quantity', message: 'quantity must be …', code: 'invalid_quantity', params: { max: '1,000' } },
    ]);
    expect(renderError(one, 'zh-CN')).toMatchObject({
      code: 'invalid_quantity',
      detail: 'lines.0.quantity：必须是整数，范围 1 至 1,000',
      extra: {
        errors: [{ field: 'lines.0.quantity', code: 'invalid_quantity', message: expect.stringMatching(/^lines/) }],
      },
    });
    const two = ApiError.validation([
      { field: 'a', message: 'a is bad' },
      { field: 'b', message: 'unknown field', code: 'unknown_field' },
    ]);
    expect(renderError(two, 'zh-CN')).toMatchObject({
      code: 'validation_failed',
      detail: '2 个字段无效',
      extra: {
        errors: [
          { field: 'a', code: 'invalid_value', message: 'a：值无效' },
          { field: 'b', code: 'unknown_field', message: 'b：请求不允许包含此字段' },
        ],
      },
    });
    // English keeps the messages written where the error was raised.
    expect(renderError(two, 'en')).toMatchObject({
      detail: '2 fields are invalid',
      extra: { errors: [{ message: 'a is bad' }, {}] },
    });
  });
});
