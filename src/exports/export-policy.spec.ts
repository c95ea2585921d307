import { ApiError } from '../common/errors/api-error';
import { downloadTokenOf } from './export-policy';

const TOKEN = 'm2Vb3c0Yk9f4R1sQ7xT6uP8wZ5aN0dL2hJ3gK4eC1iA';
const OTHER = 'A'.repeat(43);

const codeOf = (run: () => unknown) => {
  try {
    run();
    return null;
  } catch (error) {
    return (error as ApiError).code;
  }
};

describe('downloadTokenOf', () => {
  it('takes the token from the header or from the link', () => {
    expect(downloadTokenOf(TOKEN, undefined)).toBe(TOKEN);
    expect(downloadTokenOf(undefined, TOKEN)).toBe(TOKEN);
    expect(downloadTokenOf(TOKEN, TOKEN)).toBe(TOKEN);
  });

  it('refuses no token, a malformed or repeated header, and a header and link that differ', () => {
    expect(codeOf(() => downloadTokenOf(undefined, undefined))).toBe('download_token_required');
    expect(codeOf(() => downloadTokenOf('short', undefined))).toBe('validation_failed');
    expect(codeOf(() => downloadTokenOf([TOKEN, TOKEN], undefined))).toBe('validation_failed');
    expect(codeOf(() => downloadTokenOf(TOKEN, OTHER))).toBe('validation_failed');
  });
});
