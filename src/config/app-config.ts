import { randomBytes, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { plainToInstance, Transform } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  MinLength,
  ValidateBy,
  validateSync,
} from 'class-validator';
import ipaddr from 'ipaddr.js';

/** proxy-addr's names for address ranges, which Fastify's trustProxy list accepts besides addresses and blocks. */
const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * A TRUST_PROXY value as a list of proxies (false: none); null when it is not one. A hop count is not accepted:
 * Fastify 5.12 ignores it (it cannot tell a proxy from a client by counting), so it would silently trust no one.
 */
export function parseTrustProxy(value: string): false | string[] | null {
  const trimmed = value.trim();
  if (trimmed === 'false') return false;
  const entries = trimmed.split(',').map((entry) => entry.trim());
  // Dotted-quad IPv4 only: ipaddr.js would otherwise read `1` or `2` (a hop count, meant) as an address.
  const address = (text: string) => ipaddr.IPv4.isValidFourPartDecimal(text) || ipaddr.IPv6.isValid(text);
  const valid = (entry: string) => {
    if (PROXY_RANGE_NAMES.has(entry)) return true;
    if (!entry.includes('/')) return address(entry);
    try {
      ipaddr.parseCIDR(entry);
      return address(entry.slice(0, entry.indexOf('/')));
    } catch {
      return false;
    }
  };
  return entries.every(valid) ? entries : null;
}

const CREDIT_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const CREDIT_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/**
 * GB 32100-2015's check: 18 characters of the alphabet, the last one the mod-31 check character of the others. The
 * enterprises module has the full rule (src/enterprises/credit-code.ts); config knows no feature, so it keeps this copy.
 */
export function isValidUnifiedCreditCode(code: string): boolean {
  if (!/^[0-9A-HJ-NPQRTUWXY]{18}$/.test(code)) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += CREDIT_ALPHABET.indexOf(code[i]) * CREDIT_WEIGHTS[i];
  return CREDIT_ALPHABET[(31 - (sum % 31)) % 31] === code[17];
}

/** The S3-compatible bucket that holds stored files' content (AppConfig.s3). */
export interface S3Settings {
  bucket: string;
  region: string;
  /** null: AWS's own endpoint for the region. */
  endpoint: string | null;
  forcePathStyle: boolean;
  accessKeyId: string;
  secretAccessKey: string;
  /** '' or path segments ending with `/`. */
  prefix: string;
}

export type QueueBackend = 'postgres' | 'redis';
export type NodeEnv = 'development' | 'test' | 'production';
export type SmsProvider = 'tencent' | 'log';

const toInt = ({ value }: { value: unknown }) => (value === undefined || value === '' ? undefined : Number(value));
const optionalBoolean = ({ value }: { value: unknown }) =>
  value === undefined ? undefined : value === 'true' || value === '1' || value === true;

/**
 * The whole environment of the service, typed and validated once at boot.
 * Every field has a default or fails boot with a message naming the variable.
 * Secret fields are listed in SECRET_FIELDS and never printed.
 */
export class AppConfig {
  /**
   * Unset means production (keys required, no demo, no private webhook targets): a deployment that forgets it must
   * not fall back to the permissive development defaults. `npm start` passes `--development` (see loadConfig).
   */
  @IsIn(['development', 'test', 'production'])
  NODE_ENV: NodeEnv = 'production';

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 3000;

  @IsString()
  HOST = '0.0.0.0';

  /**
   * The Prometheus scrape (`GET /metrics`) has a listener of its own, off the public port: loopback by default, so
   * that only the host (or, with METRICS_HOST=0.0.0.0 in a container, the monitoring network) can read it.
   */
  @IsString()
  METRICS_HOST = '127.0.0.1';

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  METRICS_PORT = 9464;

  /** Public base URL, used in printed links and the OpenAPI servers list. */
  @IsOptional()
  @IsString()
  PUBLIC_URL?: string;

  /** Unset: `npm start` boots an embedded PostgreSQL under DATA_DIR/postgres. */
  @IsOptional()
  @Matches(/^postgres(ql)?:\/\//, { message: 'DATABASE_URL must be a postgres:// URL' })
  DATABASE_URL?: string;

  @IsOptional()
  @Matches(/^rediss?:\/\//, { message: 'REDIS_URL must be a redis:// or rediss:// URL' })
  REDIS_URL?: string;

  /**
   * Namespace of every key Fuli writes to Redis (BullMQ's queues and the rate-limit counters), so that several
   * deployments can share one Redis without seeing each other's jobs or budgets. Unset: BullMQ's `bull` and
   * `fuli:rate:…`.
   */
  @IsOptional()
  @Matches(/^[A-Za-z0-9_.-]{1,64}$/, {
    message: 'REDIS_PREFIX must be 1-64 letters, digits, dots, dashes or underscores',
  })
  REDIS_PREFIX?: string;

  /** Defaults to redis when REDIS_URL is set, else postgres. */
  @IsIn(['postgres', 'redis'])
  QUEUE_BACKEND: QueueBackend = 'postgres';

  @IsString()
  DATA_DIR = '.data';

  @Transform(toInt)
  @IsInt()
  @Min(1024)
  @Max(65535)
  EMBEDDED_POSTGRES_PORT = 54329;

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';

  /**
   * Peppers of the card-code blind index and PIN digest (each gets its own HKDF-derived key): `base64` (≥ 32 bytes;
   * the pepper `p0`) or `id:base64,…`, newest first. The first indexes new cards; the others still find old ones
   * until the re-encryption job has re-indexed them.
   */
  @IsString()
  @MinLength(43, { message: 'CODE_PEPPER must be at least 32 bytes of base64' })
  @Matches(/^([A-Za-z0-9+/=]+|[A-Za-z0-9_-]+:[A-Za-z0-9+/=]+(,[A-Za-z0-9_-]+:[A-Za-z0-9+/=]+)*)$/, {
    message: 'CODE_PEPPER must be base64, or id:base64 pairs separated by commas',
  })
  CODE_PEPPER: string;

  /** Data-encryption keys as `id:base64key` pairs, comma separated; the first encrypts new data. */
  @Matches(/^[A-Za-z0-9_-]+:[A-Za-z0-9+/=]{43,44}(,[A-Za-z0-9_-]+:[A-Za-z0-9+/=]{43,44})*$/, {
    message: 'DATA_ENCRYPTION_KEYS must be id:base64(32 bytes) pairs separated by commas',
  })
  DATA_ENCRYPTION_KEYS: string;

  /**
   * Keys of the audit chain's HMACs as `id:base64key` pairs (≥ 32 bytes each), comma separated: the first signs new
   * records and checkpoints, the others still verify. Kept outside the database, so that whoever can write to it
   * cannot forge or re-chain audit records; a key of its own (not derived from another), so that rotating CODE_PEPPER
   * or the data keys never orphans the chain.
   */
  @Matches(/^[A-Za-z0-9_-]+:[A-Za-z0-9+/=]{43,}(,[A-Za-z0-9_-]+:[A-Za-z0-9+/=]{43,})*$/, {
    message: 'AUDIT_HMAC_KEYS must be id:base64(≥ 32 bytes) pairs separated by commas',
  })
  AUDIT_HMAC_KEYS: string;

  /** How often the worker verifies the audit records appended since the last checkpoint and signs a new one. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  AUDIT_CHECKPOINT_INTERVAL_SECONDS = 300;

  /**
   * The schema owner's URL, used only to run the migrations at boot (the app's own pool then connects with
   * DATABASE_URL, a role that owns nothing and cannot drop the append-only triggers). Unset: DATABASE_URL migrates.
   */
  @IsOptional()
  @Matches(/^postgres(ql)?:\/\//, { message: 'MIGRATION_DATABASE_URL must be a postgres:// URL' })
  MIGRATION_DATABASE_URL?: string;

  /** PEM EC P-256 private key that signs access tokens (ES256). */
  @Matches(/-----BEGIN (EC )?PRIVATE KEY-----/, { message: 'JWT_SIGNING_KEY must be a PEM private key' })
  JWT_SIGNING_KEY: string;

  @IsString()
  JWT_ISSUER = 'https://fuli.local';

  @Transform(toInt)
  @IsInt()
  @Min(60)
  @Max(3600)
  ACCESS_TOKEN_TTL_SECONDS = 900;

  /**
   * Bootstrap operator client (scope `admin`), created at first boot; a later boot gives it the configured
   * secret, but never brings it back once revoked (see ADMIN_CLIENT_REACTIVATE). `cli_` and 6-64 letters or digits,
   * e.g. `cli_operator` (what development generates); its secret (ADMIN_CLIENT_SECRET) is at least 24 characters.
   */
  @Matches(/^cli_[A-Za-z0-9]{6,64}$/, { message: 'ADMIN_CLIENT_ID must look like cli_<6-64 letters or digits>' })
  ADMIN_CLIENT_ID: string;

  @IsString()
  @MinLength(24, { message: 'ADMIN_CLIENT_SECRET must be at least 24 characters' })
  ADMIN_CLIENT_SECRET: string;

  /**
   * Let boot re-activate a revoked bootstrap operator client. Unset, a revoked ADMIN_CLIENT_ID stops the boot:
   * revoking it must survive restarts. Set it for one boot to recover, then remove it.
   */
  @IsOptional()
  @Transform(optionalBoolean)
  ADMIN_CLIENT_REACTIVATE?: boolean;

  /**
   * HMAC-SHA-256 key (base64, ≥ 32 bytes) under which client secrets are stored. Changing it invalidates every
   * stored client secret (the bootstrap operator's is set again at boot).
   */
  @IsString()
  @MinLength(43, { message: 'CLIENT_SECRET_KEY must be at least 32 bytes of base64' })
  CLIENT_SECRET_KEY: string;

  /**
   * Failed token requests (wrong secret, unknown client, disallowed IP) allowed per client id in one window;
   * after that many the token endpoint answers 429 for that client id, without checking any secret, until the
   * window ends.
   */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  TOKEN_FAILURE_LIMIT = 20;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  TOKEN_FAILURE_WINDOW_SECONDS = 300;

  /** Seed a demo enterprise with an HR client at boot (on by default outside production). */
  @Transform(({ value }: { value: unknown }) => (value === undefined ? undefined : value === 'true' || value === '1'))
  @IsOptional()
  SEED_DEMO?: boolean;

  @Transform(toInt)
  @IsInt()
  @Min(1024)
  BODY_LIMIT_BYTES = 1_048_576;

  /**
   * Requests per window, and the window length: per API client once authenticated, and per IP address for
   * what comes before authentication (token requests, calls whose token is not yet verified, bad tokens).
   */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  RATE_LIMIT_REQUESTS = 600;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  RATE_LIMIT_WINDOW_SECONDS = 60;

  /**
   * The per-IP budget alone, when it must differ from the per-client one (many clients behind one address);
   * unset: RATE_LIMIT_REQUESTS.
   */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  RATE_LIMIT_IP_REQUESTS?: number;

  /** PRC prepaid-card rules (README, "PRC prepaid-card rules, enforced by the API"), on by default; the limits below are in fen. */
  @Transform(({ value }: { value: unknown }) => (value === undefined ? undefined : value === 'true' || value === '1'))
  @IsOptional()
  COMPLIANCE_ENFORCED?: boolean;

  /** Highest face value of one anonymous (不记名) card: 1,000 CNY. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  ANONYMOUS_CARD_MAX_FEN = 100_000;

  /** Highest face value of one registered (记名) card: 5,000 CNY. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  REGISTERED_CARD_MAX_FEN = 500_000;

  /** Anonymous orders from this face total need the purchaser's identity (registered ones always do): 10,000 CNY. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  REAL_NAME_THRESHOLD_FEN = 1_000_000;

  /** Orders from this payable amount must be paid from the corporate account (对公转账): 5,000 CNY. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  BANK_TRANSFER_THRESHOLD_FEN = 500_000;

  /** Shortest validity of an anonymous card product, in months (3 years). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  ANONYMOUS_MIN_VALIDITY_MONTHS = 36;

  /** Cards minted per chunk job (one transaction, one COPY). */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(1_000_000)
  ISSUANCE_CHUNK_SIZE = 10_000;

  /** Seconds a paid order waits before minting starts: the window in which it can still be cancelled. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  ISSUANCE_DELAY_SECONDS = 0;

  /**
   * Worker threads that open an export's envelopes (exports of 250,000 cards and more); 0 or 1: the export job's
   * own thread. Off by default: with v2 envelopes, a pool measured slower on 2 cores (src/exports/decrypt-pool.ts).
   */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(8)
  EXPORT_DECRYPT_THREADS = 0;

  /**
   * Milliseconds before each delivery attempt, the first included: the retry schedule (about 3 days by default).
   * Its length is the number of attempts.
   */
  @Matches(/^\d+(,\d+)*$/, { message: 'WEBHOOK_RETRY_SCHEDULE_MS must be comma-separated milliseconds' })
  WEBHOOK_RETRY_SCHEDULE_MS = [0, 5, 300, 1_800, 7_200, 18_000, 36_000, 36_000, 86_400, 86_400]
    .map((seconds) => seconds * 1000)
    .join(',');

  /** A receiver that has not answered within this many milliseconds has failed the attempt. */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(60_000)
  WEBHOOK_TIMEOUT_MS = 15_000;

  /** An endpoint failing without a single success for this long is disabled (5 days by default). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  WEBHOOK_DISABLE_AFTER_SECONDS = 5 * 24 * 3600;

  /** How often an idle worker looks for committed events to relay. */
  @Transform(toInt)
  @IsInt()
  @Min(10)
  @Max(10_000)
  WEBHOOK_RELAY_INTERVAL_MS = 250;

  /**
   * Allow webhook URLs on loopback, private and link-local addresses (tests, the demo, a receiver on the same
   * host). Unset: allowed outside production only. Cloud-metadata addresses stay refused either way.
   */
  @IsOptional()
  @Transform(optionalBoolean)
  WEBHOOK_ALLOW_PRIVATE_NETWORKS?: boolean;

  /** Require https:// webhook URLs. Unset: required in production only. */
  @IsOptional()
  @Transform(optionalBoolean)
  WEBHOOK_REQUIRE_HTTPS?: boolean;

  /**
   * Guessing resistance of the redemption channel: failed verify/bind attempts allowed per holder account (of one
   * channel) in one window before that key is refused (429) for the cool-down.
   */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  REDEMPTION_HOLDER_FAILURE_LIMIT = 10;

  /**
   * Failed attempts per end user in one window (the IP and the device id a channel passes for its user, each per
   * channel) before that end user is refused (429) for the cool-down.
   */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  REDEMPTION_END_USER_FAILURE_LIMIT = 10;

  /**
   * Failed attempts per channel client, and per calling IP, in one window before that channel is slowed down (each
   * verify and bind waits REDEMPTION_SLOWDOWN_MS) and, for the client, raised as channel.under_attack. Not a lockout:
   * a channel (and its servers' IP) fronts many holders, who must not all be shut out by one guesser.
   */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  REDEMPTION_CLIENT_FAILURE_LIMIT = 100;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  REDEMPTION_IP_FAILURE_LIMIT = 100;

  /** How long each verify and bind of a channel waits while that channel (or its IP) is past its failure limit. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(10_000)
  REDEMPTION_SLOWDOWN_MS = 1_000;

  /**
   * Wrong PINs of one card, through any channel, since it was bound or last unfrozen, after which it is frozen
   * (card.frozen, reason pin_attempts) until its enterprise or the operator unfreezes it.
   */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  REDEMPTION_CARD_PIN_FAILURE_LIMIT = 5;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  REDEMPTION_FAILURE_WINDOW_SECONDS = 600;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  REDEMPTION_LOCKOUT_SECONDS = 600;

  /**
   * How long a dynamic payment code's window lasts (RFC 6238's time step): a code is made for one window and also
   * accepted in the next one (clock skew, screen to scanner), never after it is spent.
   */
  @Transform(toInt)
  @IsInt()
  @Min(10)
  @Max(600)
  PAYMENT_CODE_WINDOW_SECONDS = 60;

  /**
   * Fraud rules' thresholds and actions (README, "Fraud monitoring"): JSON, `{"<rule>": {"threshold": n, "action":
   * "flag|hold|block", "enabled": true}, "enterprises": {"<enterprise id>": {…}}, "channels": {"<client id>": {…}}}`.
   * Unset: the rules' defaults. PUT /v1/admin/risk-rules settings win over these at each scope.
   */
  @IsOptional()
  @ValidateBy({
    name: 'riskRulesJson',
    validator: {
      // The shape is checked here; the rules' names and values by the risk module as the app boots.
      validate: (value: unknown) => {
        if (typeof value !== 'string') return false;
        try {
          const parsed: unknown = JSON.parse(value);
          return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
        } catch {
          return false;
        }
      },
      defaultMessage: () => 'RISK_RULES must be a JSON object of rule settings',
    },
  })
  RISK_RULES?: string;

  /** How long an API process uses the operator's fraud-rule settings it read before reading them again. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(3_600)
  RISK_SETTINGS_REFRESH_SECONDS = 10;

  /** How often the expiry job looks for cards past expires_at (it books their balance as breakage). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  CARD_EXPIRY_INTERVAL_SECONDS = 3_600;

  /**
   * The proxies whose X-Forwarded-For is believed (request.ip feeds the IP allow-lists, per-IP rate limits and the
   * redemption IP lockout): their addresses or CIDR blocks, comma separated (also `loopback`, `linklocal`,
   * `uniquelocal`). Unset: no one, the peer address is the client's. `true` (any peer) is refused: any client could
   * then pick its own address with one header.
   */
  @IsOptional()
  @ValidateBy({
    name: 'trustProxy',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && parseTrustProxy(value) !== null,
      defaultMessage: () =>
        "TRUST_PROXY must list the trusted proxies' addresses or CIDR blocks, comma separated " +
        '(not true, which would believe any client, nor a hop count, which Fastify ignores)',
    },
  })
  TRUST_PROXY?: string;

  /**
   * Outgoing mail (distribution): an SMTP server's URL, `smtp://user:password@host:587` or `smtps://…:465`. Unset:
   * every message is written as an `.eml` file under DATA_DIR/mail instead of being sent.
   */
  @IsOptional()
  @Matches(/^smtps?:\/\/[^/\s]+/, { message: 'SMTP_URL must be an smtp:// or smtps:// URL' })
  SMTP_URL?: string;

  /** SMTP connections kept open and shared by the sends of one process. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100)
  SMTP_POOL_SIZE = 5;

  /** The address distribution mail comes from; the display name is the enterprise's. */
  @Matches(/^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>"]+$/, { message: 'MAIL_FROM_ADDRESS must be an e-mail address' })
  MAIL_FROM_ADDRESS = 'no-reply@fuli.example';

  /** `tencent`: Tencent Cloud SMS (the TENCENT_SMS_* variables are then required); `log`: nothing sent, a log line. */
  @IsIn(['tencent', 'log'])
  SMS_PROVIDER: SmsProvider = 'log';

  @IsOptional()
  @IsString()
  TENCENT_SMS_SECRET_ID?: string;

  @IsOptional()
  @IsString()
  TENCENT_SMS_SECRET_KEY?: string;

  /** The SMS application's SdkAppId (console: 应用管理). */
  @IsOptional()
  @Matches(/^\d+$/, { message: 'TENCENT_SMS_SDK_APP_ID must be digits' })
  TENCENT_SMS_SDK_APP_ID?: string;

  /** The approved signature (签名) the messages carry, e.g. 福利卡. */
  @IsOptional()
  @IsString()
  TENCENT_SMS_SIGN_NAME?: string;

  @Matches(/^[a-z]{2}-[a-z]+(-\d+)?$/, { message: 'TENCENT_SMS_REGION must be a region such as ap-guangzhou' })
  TENCENT_SMS_REGION = 'ap-guangzhou';

  /** Overridable for tests (a local fake of the API); the signature signs this URL's host. */
  @Matches(/^https?:\/\/[^/\s]+\/?$/, { message: 'TENCENT_SMS_ENDPOINT must be an http(s) origin' })
  TENCENT_SMS_ENDPOINT = 'https://sms.tencentcloudapi.com';

  /** Approved template ids: the claim message (sender, face value, link) and the one-time code. */
  @IsOptional()
  @Matches(/^\d+$/, { message: 'TENCENT_SMS_TEMPLATE_CLAIM must be a template id (digits)' })
  TENCENT_SMS_TEMPLATE_CLAIM?: string;

  @IsOptional()
  @Matches(/^\d+$/, { message: 'TENCENT_SMS_TEMPLATE_OTP must be a template id (digits)' })
  TENCENT_SMS_TEMPLATE_OTP?: string;

  /** SMS requests per second one process sends at most (the provider's limit for the account). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(10_000)
  SMS_QPS = 20;

  // ── distribution: the claim page (src/distribution/claims.service.ts) ──

  /** Reveals of a card's code and PIN per claim link, after which the page answers 429 reveal_limit_reached. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  CLAIM_REVEAL_LIMIT = 10;

  /** How long an SMS one-time code of a registered card's claim page stays valid. */
  @Transform(toInt)
  @IsInt()
  @Min(30)
  CLAIM_OTP_TTL_SECONDS = 300;

  /** Wrong one-time codes before the current one is locked (429 otp_locked) until a new one is sent. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  CLAIM_OTP_FAILURE_LIMIT = 5;

  /** At most one one-time code per recipient per this many seconds. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  CLAIM_OTP_RESEND_SECONDS = 60;

  /** One-time codes per claim link in all: with CLAIM_OTP_FAILURE_LIMIT, the most guesses anyone gets. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  CLAIM_OTP_SEND_LIMIT = 10;

  /** How long an "add to my account" ticket stays usable by the redemption channel. */
  @Transform(toInt)
  @IsInt()
  @Min(30)
  CLAIM_BIND_TICKET_TTL_SECONDS = 600;

  // ── distribution: sending (src/distribution/distribution-sender.service.ts) ──

  /** Delays in seconds before the retries of a message that failed transiently; after the last, `failed`. */
  @Matches(/^\d+(,\d+)*$/, { message: 'DISTRIBUTION_RETRY_SCHEDULE_SECONDS must be comma-separated seconds' })
  DISTRIBUTION_RETRY_SCHEDULE_SECONDS = '60,300,1800,7200';

  /** Days before a claim link expires that one reminder goes to a recipient who has not opened it; 0: none. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(365)
  DISTRIBUTION_REMINDER_DAYS_BEFORE = 3;

  /** Recipients one send job claims and sends at once (one claim, one record statement per batch). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1_000)
  DISTRIBUTION_SEND_BATCH = 100;

  /** Messages of one batch in flight at once (SMTP connections are pooled by the mail adapter). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(500)
  DISTRIBUTION_SEND_CONCURRENCY = 20;

  /** How often the distribution sweep runs (scheduled sends, retries, lost leases, expiry, reminders, completion). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  DISTRIBUTION_SWEEP_INTERVAL_SECONDS = 30;

  /**
   * The shared secret of the SMS delivery-receipt callback (POST /v1/distribution/sms-receipts/tencent/{token}):
   * Tencent does not sign its callbacks, so the URL registered in its console carries this token. Unset: receipts
   * are refused (404).
   */
  @IsOptional()
  @IsString()
  @MinLength(16)
  SMS_RECEIPT_TOKEN?: string;

  /** DISTRIBUTION_RETRY_SCHEDULE_SECONDS as milliseconds: delay before retry 1, 2, … */
  get distributionRetrySchedule(): number[] {
    return this.DISTRIBUTION_RETRY_SCHEDULE_SECONDS.split(',').map((seconds) => Number(seconds) * 1000);
  }

  /**
   * The seller on every invoice (docs/invoicing.md): the platform operator's registered name, unified social credit
   * code (checked with its check character at boot), address and phone, bank and account.
   */
  @IsString()
  @MinLength(1)
  INVOICE_SELLER_NAME = '福利卡示范运营有限公司';

  @ValidateBy({
    name: 'isCreditCode',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && isValidUnifiedCreditCode(value),
      defaultMessage: () => 'INVOICE_SELLER_TAX_ID must be a unified social credit code with a valid check character',
    },
  })
  INVOICE_SELLER_TAX_ID = '91310000MA1FL0000N';

  @IsString()
  INVOICE_SELLER_ADDRESS = '上海市浦东新区示范路1号';

  @IsString()
  INVOICE_SELLER_PHONE = '021-00000000';

  @IsString()
  INVOICE_SELLER_BANK = '示范银行上海分行';

  @IsString()
  INVOICE_SELLER_ACCOUNT = '310000000000000000000';

  /** Six digits before every invoice's sequence: numbers are gapless per (issuer code, year). */
  @Matches(/^\d{6}$/, { message: 'INVOICE_ISSUER_CODE must be six digits' })
  INVOICE_ISSUER_CODE = '310000';

  /** 税收分类编码 of 预付卡销售和充值 (不征税项目 601). */
  @Matches(/^601\d{16}$/, { message: 'INVOICE_TAX_CLASSIFICATION_CODE must be a 19-digit code starting with 601' })
  INVOICE_TAX_CLASSIFICATION_CODE = '6010000000000000000';

  /**
   * Threads a worker renders invoice PDFs on (each holds the CJK fonts, about 70 MB); 0 renders on the event loop.
   * One keeps the worker's RSS flat and its event loop free; more help only with idle cores.
   */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(16)
  INVOICE_RENDER_THREADS = 1;

  /** 开票人 printed on every invoice. */
  @IsString()
  @MinLength(1)
  INVOICE_DRAWER = '系统';

  // ── Distribution, creating distributions (src/distribution): recipient files ──

  /** The largest recipient file (CSV or XLSX) POST /v1/distribution-files accepts; larger: 413 file_too_large. */
  @Transform(toInt)
  @IsInt()
  @Min(1024)
  DISTRIBUTION_FILE_MAX_BYTES = 20 * 1024 * 1024;

  /** The most data rows of a recipient file (its header not counted); more: 413 file_too_large. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100_000)
  DISTRIBUTION_FILE_MAX_ROWS = 100_000;

  /** How long an uploaded recipient file may be distributed; then it is deleted. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  DISTRIBUTION_FILE_TTL_HOURS = 72;

  // ── The file store's content in an S3-compatible bucket (src/storage/s3-content-store.ts) ──

  /**
   * The bucket that holds the content of stored files (exports, invoice documents, statements); their metadata stays
   * in PostgreSQL. Unset (with every other S3_* variable): content in PostgreSQL too. Set: S3_REGION,
   * S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY are required, and boot checks the bucket answers.
   */
  @IsOptional()
  @Matches(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, {
    message: 'S3_BUCKET must be a bucket name: 3-63 lower-case letters, digits, dots or dashes',
  })
  S3_BUCKET?: string;

  /** The bucket's region, e.g. `cn-north-1` or `eu-west-1` (S3-compatible stores often take `us-east-1`). */
  @IsOptional()
  @Matches(/^[a-z0-9-]{2,32}$/, { message: 'S3_REGION must be a region such as eu-west-1' })
  S3_REGION?: string;

  /** An S3-compatible store's URL (MinIO, Ceph, a cloud's S3 API), e.g. `https://minio.internal:9000`. Unset: AWS. */
  @IsOptional()
  @Matches(/^https?:\/\/[^/\s]+\/?$/, { message: 'S3_ENDPOINT must be an http(s) origin' })
  S3_ENDPOINT?: string;

  /** Addresses the bucket in the path (`endpoint/bucket/key`) instead of the host name: most S3-compatible stores need it. */
  @IsOptional()
  @Transform(optionalBoolean)
  S3_FORCE_PATH_STYLE?: boolean;

  /** The access key the process signs its S3 requests with (it needs ListBucket, GetObject, PutObject, DeleteObject). */
  @IsOptional()
  @IsString()
  S3_ACCESS_KEY_ID?: string;

  @IsOptional()
  @IsString()
  S3_SECRET_ACCESS_KEY?: string;

  /** Prepended to every object key, so that one bucket can serve several deployments: `fuli/` or `prod/fuli/`. */
  @IsOptional()
  @Matches(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*\/$/, {
    message: 'S3_PREFIX must be path segments ending with a slash, e.g. fuli/',
  })
  S3_PREFIX?: string;

  // ── Reconciliation, upload and match (src/reconciliation) ──

  /** The largest ERP file (CSV or XLSX) POST /v1/reconciliations accepts; larger: 413 file_too_large. */
  @Transform(toInt)
  @IsInt()
  @Min(1024)
  RECONCILIATION_FILE_MAX_BYTES = 20 * 1024 * 1024;

  /** The most rows of one reconciliation upload (a file's header not counted); more: 413 file_too_large. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100_000)
  RECONCILIATION_MAX_ROWS = 100_000;

  /** TRUST_PROXY as Fastify's trustProxy takes it: false (no one) or a list of addresses and blocks. */
  get trustProxy(): false | string[] {
    return (this.TRUST_PROXY === undefined ? null : parseTrustProxy(this.TRUST_PROXY)) ?? false;
  }

  /** Where file content goes when S3_BUCKET is set (loadConfig has checked the rest is given too); else null. */
  get s3(): S3Settings | null {
    if (this.S3_BUCKET === undefined) return null;
    return {
      bucket: this.S3_BUCKET,
      region: this.S3_REGION!,
      endpoint: this.S3_ENDPOINT ?? null,
      forcePathStyle: this.S3_FORCE_PATH_STYLE ?? false,
      accessKeyId: this.S3_ACCESS_KEY_ID!,
      secretAccessKey: this.S3_SECRET_ACCESS_KEY!,
      prefix: this.S3_PREFIX ?? '',
    };
  }

  get isProduction(): boolean {
    return this.NODE_ENV === 'production';
  }

  get complianceEnforced(): boolean {
    return this.COMPLIANCE_ENFORCED ?? true;
  }

  get webhookAllowPrivateNetworks(): boolean {
    return this.WEBHOOK_ALLOW_PRIVATE_NETWORKS ?? !this.isProduction;
  }

  get webhookRequireHttps(): boolean {
    return this.WEBHOOK_REQUIRE_HTTPS ?? this.isProduction;
  }

  /** WEBHOOK_RETRY_SCHEDULE_MS as numbers: delay before attempt 1, 2, … */
  get webhookRetrySchedule(): number[] {
    return this.WEBHOOK_RETRY_SCHEDULE_MS.split(',').map(Number);
  }

  get seedDemo(): boolean {
    return this.SEED_DEMO ?? !this.isProduction;
  }

  get publicUrl(): string {
    return this.PUBLIC_URL ?? `http://localhost:${this.PORT}`;
  }

  get dataDir(): string {
    return resolve(this.DATA_DIR);
  }
}

/** Secrets that outside production are generated once when the environment does not give them. */
const GENERATED_SECRET_FIELDS = [
  'CODE_PEPPER',
  'DATA_ENCRYPTION_KEYS',
  'JWT_SIGNING_KEY',
  'ADMIN_CLIENT_SECRET',
  'CLIENT_SECRET_KEY',
  'AUDIT_HMAC_KEYS',
] as const satisfies readonly (keyof AppConfig)[];

/** What production cannot start without (development generates the keys and embeds its database). */
export const PRODUCTION_REQUIRED_FIELDS = [
  'DATABASE_URL',
  ...GENERATED_SECRET_FIELDS,
  'ADMIN_CLIENT_ID',
] as const satisfies readonly (keyof AppConfig)[];

/** Fields whose values never reach a log line (SMTP_URL's password is masked as every URL's is). */
export const SECRET_FIELDS = [
  ...GENERATED_SECRET_FIELDS,
  'TENCENT_SMS_SECRET_KEY',
  'SMS_RECEIPT_TOKEN',
  'S3_SECRET_ACCESS_KEY',
] as const satisfies readonly (keyof AppConfig)[];

/** What SMS_PROVIDER=tencent cannot send without. */
const TENCENT_SMS_REQUIRED = [
  'TENCENT_SMS_SECRET_ID',
  'TENCENT_SMS_SECRET_KEY',
  'TENCENT_SMS_SDK_APP_ID',
  'TENCENT_SMS_SIGN_NAME',
  'TENCENT_SMS_TEMPLATE_CLAIM',
  'TENCENT_SMS_TEMPLATE_OTP',
] as const satisfies readonly (keyof AppConfig)[];

/** S3 is all or nothing: any S3_* variable set needs these four (else content would silently stay in PostgreSQL). */
const S3_REQUIRED = [
  'S3_BUCKET',
  'S3_REGION',
  'S3_ACCESS_KEY_ID',
  'S3_SECRET_ACCESS_KEY',
] as const satisfies readonly (keyof AppConfig)[];
const S3_OPTIONAL = ['S3_ENDPOINT', 'S3_FORCE_PATH_STYLE', 'S3_PREFIX'] as const satisfies readonly (keyof AppConfig)[];

type GeneratedSecrets = Pick<AppConfig, (typeof GENERATED_SECRET_FIELDS)[number] | 'ADMIN_CLIENT_ID'>;

function generateSecrets(): GeneratedSecrets {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    CODE_PEPPER: randomBytes(32).toString('base64'),
    DATA_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    JWT_SIGNING_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    ADMIN_CLIENT_ID: 'cli_operator',
    ADMIN_CLIENT_SECRET: randomBytes(24).toString('base64url'),
    CLIENT_SECRET_KEY: randomBytes(32).toString('base64'),
    AUDIT_HMAC_KEYS: `a1:${randomBytes(32).toString('base64')}`,
  };
}

/**
 * Outside production, keys the environment does not give are generated once and
 * kept in DATA_DIR/secrets.json so that restarts keep tokens and ciphertexts valid.
 */
function developmentSecrets(dataDir: string): GeneratedSecrets {
  const file = join(dataDir, 'secrets.json');
  if (existsSync(file)) {
    const kept = JSON.parse(readFileSync(file, 'utf8')) as Partial<GeneratedSecrets>;
    // A key added in a later version is generated once and kept beside the others.
    const fresh = generateSecrets();
    const missing = (Object.keys(fresh) as Array<keyof GeneratedSecrets>).filter((key) => kept[key] === undefined);
    if (missing.length === 0) return kept as GeneratedSecrets;
    const completed = { ...kept, ...Object.fromEntries(missing.map((key) => [key, fresh[key]])) } as GeneratedSecrets;
    writeFileSync(file, JSON.stringify(completed, null, 2), { mode: 0o600 });
    return completed;
  }
  const secrets = generateSecrets();
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

export class ConfigError extends Error {}

/** What NODE_ENV is when the environment does not say: development for a process started with `--development`. */
export function defaultNodeEnv(argv: readonly string[] = process.argv): NodeEnv {
  return argv.includes('--development') ? 'development' : 'production';
}

export interface LoadConfigOptions {
  /** NODE_ENV when the environment leaves it unset (production unless told). */
  defaultNodeEnv?: NodeEnv;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: LoadConfigOptions = {}): AppConfig {
  // Only the variables AppConfig declares: the rest of the environment is none of its business (nor of its log line).
  const declared = new Set(Object.keys(new AppConfig()));
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(env)) if (declared.has(key) && value !== '') raw[key] = value;
  if (raw.QUEUE_BACKEND === undefined) raw.QUEUE_BACKEND = raw.REDIS_URL ? 'redis' : 'postgres';
  raw.NODE_ENV ??= options.defaultNodeEnv ?? 'production';
  const production = raw.NODE_ENV === 'production';
  if (!production) {
    const dataDir = resolve(typeof raw.DATA_DIR === 'string' ? raw.DATA_DIR : '.data');
    const missing = [...GENERATED_SECRET_FIELDS, 'ADMIN_CLIENT_ID'].filter((key) => raw[key] === undefined);
    if (missing.length > 0) {
      const generated = developmentSecrets(dataDir);
      for (const key of missing) raw[key] = generated[key as keyof GeneratedSecrets];
    }
  }
  const config = plainToInstance(AppConfig, raw, { excludeExtraneousValues: false, exposeDefaultValues: true });
  const errors = validateSync(config, { whitelist: false, forbidUnknownValues: false });
  if (config.QUEUE_BACKEND === 'redis' && !config.REDIS_URL) {
    throw new ConfigError('Invalid configuration: QUEUE_BACKEND=redis needs REDIS_URL');
  }
  const missing = errors.filter((error) => error.value === undefined).map((error) => error.property);
  // Production has no embedded database: DATABASE_URL is one of the settings it cannot start without.
  if (production && raw.DATABASE_URL === undefined) missing.unshift('DATABASE_URL');
  const invalid = errors
    .filter((error) => error.value !== undefined)
    .map((error) => `${error.property} is invalid: ${Object.values(error.constraints ?? {}).join('; ')}`);
  if (missing.length > 0 || invalid.length > 0) {
    // One line, every problem at once: a deployment fixes them all in one go instead of one per restart.
    const parts = [...invalid];
    if (missing.length > 0) {
      parts.unshift(
        `${missing.map((name) => `${name} is missing`).join(', ')} (` +
          (production
            ? 'production needs them set: .env.example shows the format of each; `npm start` runs as development and generates them'
            : 'set them, see .env.example') +
          ')',
      );
    }
    throw new ConfigError(`Invalid configuration: ${parts.join('; ')}`);
  }
  const s3Given = [...S3_REQUIRED, ...S3_OPTIONAL].filter((key) => config[key] !== undefined);
  const s3Missing = S3_REQUIRED.filter((key) => config[key] === undefined);
  if (s3Given.length > 0 && s3Missing.length > 0) {
    throw new ConfigError(
      `Invalid configuration: ${s3Given.join(', ')} ${s3Given.length === 1 ? 'is' : 'are'} set but ` +
        `${s3Missing.join(', ')} ${s3Missing.length === 1 ? 'is' : 'are'} not: files go to S3 only with all of ` +
        `${S3_REQUIRED.join(', ')} set (unset every S3_* variable to keep them in PostgreSQL)`,
    );
  }
  if (config.SMS_PROVIDER === 'tencent') {
    const missingSms = TENCENT_SMS_REQUIRED.filter((key) => config[key] === undefined);
    if (missingSms.length > 0) {
      throw new ConfigError(`Invalid configuration: SMS_PROVIDER=tencent needs ${missingSms.join(', ')}`);
    }
  }
  return config;
}

/** The configuration as it may be logged: secrets replaced by a fixed mask. */
export function describeConfig(config: AppConfig): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (value === undefined) continue;
    const secret = (SECRET_FIELDS as readonly string[]).includes(key);
    shown[key] = secret ? '********' : maskUrl(value);
  }
  return shown;
}

function maskUrl(value: unknown): unknown {
  if (typeof value !== 'string' || !/^[a-z]+:\/\/[^/]*@/.test(value)) return value;
  return value.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:********@');
}
