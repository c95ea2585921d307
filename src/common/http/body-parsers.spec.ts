import { ApiError } from '../errors/api-error';
import { parseFormBody, parseJsonBody } from './body-parsers';

const codeOf = (parse: () => unknown): string => {
  try {
    parse();
  } catch (error) {
    return error instanceof ApiError ? error.code : 'not an ApiError';
  }
  return 'accepted';
};

describe('parseJsonBody', () => {
  it('parses JSON, nested and non-object values included', () => {
    expect(parseJsonBody(Buffer.from('{"a":{"b":[1,"x"]},"constructor":"fine"}'))).toEqual({
      a: { b: [1, 'x'] },
      constructor: 'fine',
    });
    expect(parseJsonBody(Buffer.from('null'))).toBeNull();
  });

  it('tells malformed or empty JSON from valid JSON carrying a prototype key', () => {
    expect(codeOf(() => parseJsonBody(Buffer.from('{"a":')))).toBe('malformed_json');
    expect(codeOf(() => parseJsonBody(Buffer.alloc(0)))).toBe('malformed_json');
    expect(codeOf(() => parseJsonBody(Buffer.from('{"__proto__":{"admin":true}}')))).toBe('forbidden_property');
    expect(codeOf(() => parseJsonBody(Buffer.from('[{"x":{"\\u005f_proto__":1}}]')))).toBe('forbidden_property');
    expect(codeOf(() => parseJsonBody(Buffer.from('{"constructor":{"prototype":{}}}')))).toBe('forbidden_property');
  });
});

describe('parseFormBody', () => {
  it('decodes fields, a repeated one as an array', () => {
    expect(parseFormBody(Buffer.from('grant_type=client_credentials&scope=a+b&scope=c%20d'))).toEqual({
      grant_type: 'client_credentials',
      scope: ['a b', 'c d'],
    });
  });

  it('refuses a __proto__ field', () => {
    expect(codeOf(() => parseFormBody(Buffer.from('a=1&__proto__=x')))).toBe('forbidden_property');
  });
});
