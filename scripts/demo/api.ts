/** A failed call, with the problem's `code` (README, "Errors"). */
export class DemoApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

interface CallOptions {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
  query?: Record<string, string | number | undefined>;
  /** The raw response instead of parsed JSON (downloads). */
  raw?: boolean;
}

/** The few calls the demo makes, over fetch: JSON in and out, a 429 waited out as its Retry-After says. */
export class DemoApi {
  constructor(readonly baseUrl: string) {}

  async token(clientId: string, clientSecret: string): Promise<string> {
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
    });
    const response = await fetch(`${this.baseUrl}/v1/oauth/token`, { method: 'POST', body });
    const json = (await response.json()) as { access_token?: string; error?: string };
    if (!response.ok || !json.access_token) {
      throw new DemoApiError(response.status, json.error, `token for ${clientId}: ${response.status} ${json.error}`);
    }
    return json.access_token;
  }

  get<T>(path: string, options: CallOptions = {}): Promise<T> {
    return this.call<T>('GET', path, options);
  }

  post<T>(path: string, options: CallOptions = {}): Promise<T> {
    return this.call<T>('POST', path, options);
  }

  async call<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
    const url = new URL(path, this.baseUrl);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    for (let attempt = 1; ; attempt++) {
      const response = await fetch(url, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
      if (response.status === 429 && attempt < 10) {
        await response.arrayBuffer();
        const seconds = Number(response.headers.get('retry-after') ?? '1');
        await new Promise((resolve) => setTimeout(resolve, Math.max(1, seconds) * 1000));
        continue;
      }
      if (!response.ok) {
        const text = await response.text();
        let code: string | undefined;
        try {
          code = (JSON.parse(text) as { code?: string }).code;
        } catch {
          code = undefined;
        }
        throw new DemoApiError(response.status, code, `${method} ${path}: ${response.status} ${text.slice(0, 300)}`);
      }
      if (options.raw) return response as T;
      if (response.status === 204) return undefined as T;
      const type = response.headers.get('content-type') ?? '';
      return (type.includes('json') ? await response.json() : await response.text()) as T;
    }
  }
}
