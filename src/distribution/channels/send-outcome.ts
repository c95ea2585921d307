/**
 * What a channel adapter answers for one message. `permanent` failures will not succeed on a retry (the address or
 * number is refused: the recipient is `bounced`); the others (4xx, connection errors, timeouts, provider limits) are
 * retried with backoff. `error` is safe to store and show: never the message body, a claim link or a code.
 */
export type SendOutcome = { ok: true; providerMessageId: string } | { ok: false; permanent: boolean; error: string };

/**
 * A short, single-line error text (provider replies can be long or multi-line), with any link and the given values
 * (a message's parameters: a claim link, a one-time code) cut out, should a provider echo them.
 */
export function errorText(text: string, max = 300, scrub: readonly string[] = []): string {
  let line = text.replace(/\s+/g, ' ').trim();
  for (const value of scrub) if (value.length >= 4) line = line.split(value).join('[…]');
  line = line.replace(/https?:\/\/\S+/gi, '[link]');
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
