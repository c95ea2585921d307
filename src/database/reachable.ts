import pg from 'pg';
import { BOOT_CONNECT_TIMEOUT_MS, BootError, maskedUrl } from '../config/boot-error';

/** Why a Postgres connection failed, in the words an operator acts on. */
function describeFailure(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'connection refused — is PostgreSQL running?';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host not found (${error.message}) — check the host name`;
    case '28P01':
    case '28000':
      return `${error.message} — check the user and password`;
    case '3D000':
      return `${error.message} — create it or fix the database name`;
    default:
      return /timeout/i.test(error.message)
        ? `no answer within ${BOOT_CONNECT_TIMEOUT_MS / 1000} s — is the host reachable and PostgreSQL listening?`
        : error.message;
  }
}

/** Connects once and sends a trivial query; a BootError naming `variable` when that fails. */
export async function assertPostgresReachable(variable: string, url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: BOOT_CONNECT_TIMEOUT_MS });
  // A connection dropped after the check is not this check's business.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    throw new BootError(`${variable} ${maskedUrl(url)}: ${describeFailure(error as NodeJS.ErrnoException)}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}
