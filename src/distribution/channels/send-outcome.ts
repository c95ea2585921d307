/**
 * What a channel adapter answers for one message. `permanent` failures will not succeed on a retry (the address or
 * number is refused: the recipient is `bounced`); the others (4xx, connection errors, timeouts, provider limits) are
 * retried with backoff. `error` is safe to store and show: never the message body, a claim link or a code.
 */
export type SendOutcome = { ok: true; providerMessageId: string } | { ok: false; permanent: boolean; error: string };

/** A short, single-line error text (provider replies can be long or multi-line). */
export function errorText(text: string, max = 300): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
