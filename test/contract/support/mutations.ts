import { resolve, type Operation, type Schema } from './openapi';
import type { Call } from './world';

/** One bad request derived from a valid call: the call with its body, path or query spoiled. */
export interface BadCase {
  name: string;
  call: Call;
  /** Sent as is with this content type instead of call.body. */
  raw?: { type: string; payload: string };
  /** Path parameters go into the URL as they are, not percent-encoded. */
  rawPath?: boolean;
}

/** Cases per operation, at most: the suite stays quick as the API grows. */
export const MAX_CASES_PER_OPERATION = 80;

const HUGE_STRING = 'x'.repeat(200_000);
/** `payload` and its Luhn check digit: a well-formed serial whose number is out of bigint's range. */
function withLuhnDigit(payload: string): string {
  let sum = 0;
  for (let i = payload.length - 1, doubled = true; i >= 0; i--, doubled = !doubled) {
    const digit = Number(payload[i]);
    sum += doubled ? ((digit * 2) % 10) + Math.floor(digit / 5) : digit;
  }
  return payload + String((10 - (sum % 10)) % 10);
}

const PATH_VALUES = [
  withLuhnDigit('9'.repeat(19)),
  '0',
  '-1',
  '9'.repeat(19),
  '9'.repeat(40),
  'x'.repeat(300),
  'ord_' + 'Z'.repeat(26),
  '..',
  ' ',
  '%',
  "'",
  '１２３',
  '\u0000',
];
const QUERY_VALUES: Array<string | string[]> = [
  'x',
  '',
  '-1',
  '1.5',
  '9'.repeat(19),
  '9'.repeat(40),
  'x'.repeat(5_000),
  ['1', '2'],
];

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

function typeOf(schema: Schema): string {
  const resolved = resolve(schema);
  if (resolved.type) return resolved.type;
  if (resolved.properties) return 'object';
  return 'unknown';
}

/** A wrong-typed value, null, and huge or hostile values for a property of this schema. */
function spoiledValues(schema: Schema): Array<[string, unknown]> {
  const resolved = resolve(schema);
  const values: Array<[string, unknown]> = [['null', null]];
  switch (typeOf(resolved)) {
    case 'string':
      values.push(
        ['a number', 12_345],
        ['an array', ['a']],
        ['an object', { $gt: '' }],
        ['200,000 characters', HUGE_STRING],
      );
      break;
    case 'integer':
    case 'number':
      values.push(
        ['a numeric string', '12'],
        ['1e308', 1e308],
        ['2^53 + 2', 9_007_199_254_740_994],
        ['-2^53 - 2', -9_007_199_254_740_994],
        ['a fraction', 0.5],
      );
      break;
    case 'boolean':
      values.push(['a string', 'yes'], ['a number', 1]);
      break;
    case 'array': {
      const item = resolved.items ? resolve(resolved.items) : {};
      values.push(
        ['a string', 'x'],
        ['an array of nulls', [null]],
        ['20,000 items', Array.from({ length: 20_000 }, () => (typeOf(item) === 'object' ? {} : 'x'))],
      );
      if (typeOf(item) === 'object') {
        values.push(['an array of empty objects', [{}]], ['an array of strings', ['x']]);
        for (const [name, property] of Object.entries(item.properties ?? {})) {
          for (const [what, value] of spoiledValues(property).slice(0, 3)) {
            values.push([`items whose ${name} is ${what}`, [{ [name]: value }]]);
          }
        }
      } else {
        values.push(['an array of objects', [{}]]);
      }
      break;
    }
    case 'object':
      values.push(['a string', 'x'], ['an array', []]);
      for (const [name, property] of Object.entries(resolved.properties ?? {})) {
        values.push([`an object whose ${name} is a number`, { [name]: typeOf(property) === 'number' ? 'x' : 1 }]);
      }
      break;
    default:
      values.push(['a nested object', nested(5)]);
  }
  return values;
}

/** Bad requests for `operation`, derived from a valid `call`; bounded by MAX_CASES_PER_OPERATION. */
export function badCases(operation: Operation, call: Call): BadCase[] {
  const cases: BadCase[] = [];
  const base = (call.body && typeof call.body === 'object' ? call.body : {}) as Record<string, unknown>;
  const withBody = (name: string, body: unknown) => cases.push({ name, call: { ...call, form: false, body } });
  const withRaw = (name: string, type: string, payload: string) =>
    cases.push({ name, call: { ...call, body: undefined }, raw: { type, payload } });

  if (operation.method !== 'get' && operation.method !== 'delete') {
    withRaw('malformed JSON', 'application/json', '{"name": ');
    withRaw('an empty JSON body', 'application/json', '');
    withRaw('a JSON string', 'application/json', '"x"');
    withRaw('JSON null', 'application/json', 'null');
    withRaw('a JSON array', 'application/json', '[]');
    withRaw('JSON nested 10,000 deep', 'application/json', '['.repeat(10_000) + ']'.repeat(10_000));
    withRaw('a malformed form body', 'application/x-www-form-urlencoded', '%E0%A4%A=1&&=');
    withRaw('a text/plain body', 'text/plain', JSON.stringify(base));
    withRaw(
      'a __proto__ member',
      'application/json',
      `{"__proto__": {"polluted": true}, "constructor": {"prototype": {}}}`,
    );
    withBody('an unknown field', { ...base, contract_unknown_field: 1 });
    withBody('an unknown field nested 500 deep', { ...base, contract_unknown_field: nested(500) });
    for (const [name, property] of Object.entries(operation.body?.properties ?? {})) {
      for (const [what, value] of spoiledValues(property)) withBody(`${name} as ${what}`, { ...base, [name]: value });
    }
  }
  for (const name of operation.pathParams) {
    // Not percent-encoded: the router itself refuses it.
    cases.push({
      name: `path ${name} badly percent-encoded`,
      call: { ...call, params: { ...call.params, [name]: '%E0%A4%A' } },
      rawPath: true,
    });
    for (const value of PATH_VALUES) {
      cases.push({
        name: `path ${name} = ${JSON.stringify(value.length > 20 ? `${value.slice(0, 8)}…(${value.length})` : value)}`,
        call: { ...call, params: { ...call.params, [name]: value } },
      });
    }
  }
  if (operation.method === 'get') {
    cases.push({
      name: 'an unknown query parameter',
      call: { ...call, query: { ...call.query, contract_unknown: '1' } },
    });
  }
  for (const { name } of operation.queryParams) {
    for (const value of QUERY_VALUES) {
      const shown = Array.isArray(value) ? `[${value.join(', ')}]` : value.length > 20 ? `…(${value.length})` : value;
      cases.push({
        name: `query ${name} = ${JSON.stringify(shown)}`,
        call: { ...call, query: { ...call.query, [name]: value } },
      });
    }
  }
  return cases.slice(0, MAX_CASES_PER_OPERATION);
}
