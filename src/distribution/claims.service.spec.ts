import { AppConfig } from '../config/app-config';
import { ClaimsService } from './claims.service';
import { expectApiError } from '../../test/support/unit';

/** The same-origin rule of the claim page's actions (the rest of ClaimsService: test/claim-page.e2e-spec.ts). */
describe('ClaimsService.assertSameOrigin', () => {
  const config = Object.assign(new AppConfig(), { PUBLIC_URL: 'https://fuli.example/base' });
  const unused = null as never;
  const service = new ClaimsService(
    unused,
    unused,
    unused,
    unused,
    unused,
    unused,
    unused,
    unused,
    unused,
    unused,
    unused,
    config,
    unused,
    unused,
  );
  const check = (headers: { origin?: string; 'sec-fetch-site'?: string }) =>
    Promise.resolve().then(() => service.assertSameOrigin(headers));

  it("takes the browser's Sec-Fetch-Site when it sends one", async () => {
    await expect(check({ 'sec-fetch-site': 'same-origin' })).resolves.toBeUndefined();
    await expectApiError(check({ 'sec-fetch-site': 'same-site' }), 403, 'cross_origin_request');
    await expectApiError(
      check({ 'sec-fetch-site': 'cross-site', origin: 'https://fuli.example' }),
      403,
      'cross_origin_request',
    );
    await expectApiError(check({ 'sec-fetch-site': 'none' }), 403, 'cross_origin_request');
  });

  it("else wants PUBLIC_URL's origin, and refuses a request with neither", async () => {
    await expect(check({ origin: 'https://fuli.example' })).resolves.toBeUndefined();
    await expectApiError(check({ origin: 'https://fuli.example.evil.com' }), 403, 'cross_origin_request');
    await expectApiError(check({ origin: 'http://fuli.example' }), 403, 'cross_origin_request');
    await expectApiError(check({ origin: 'null' }), 403, 'cross_origin_request');
    await expectApiError(check({}), 403, 'cross_origin_request');
  });
});
