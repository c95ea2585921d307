/**
 * A boot that cannot go on because of its environment (a port in use, a service that does not answer): the process
 * prints the message alone, one line naming the variable and what to do, and exits.
 */
export class BootError extends Error {
  override name = 'BootError';
}

/** Each service gets this long to answer at boot; all checks together stay well within five seconds. */
export const BOOT_CONNECT_TIMEOUT_MS = 3_000;

/** A URL as it may be printed: the password masked. */
export function maskedUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:********@');
}
