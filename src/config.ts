// Typed, validated configuration. Every setting comes from the environment; a bad one stops the
// process with one message that lists every problem, so an operator fixes them all in one go.
import { DEFAULT_RISK_POLICY, readRiskPolicy, rulesNeedingGeoip, type RiskPolicy } from './mfa/risk.ts';
import { geoDatabaseProblem } from './mfa/geo.ts';
import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { declarationsOf, readDeclarations, type Declarations } from './declarations/index.ts';
import { DEFAULT_RP_NAME, readOrigin, rpIdProblem, rpScopeProblems } from './mfa/relyingParty.ts';

const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const;

// `name@host` or `Display Name <name@host>`, on one line.
const MAILBOX = /^(?:[^<>\r\n]*<[^\s<>@]+@[^\s<>@]+>|[^\s<>@]+@[^\s<>@]+)$/;

const integer = (name: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `${name} must be a whole number`)
    .transform(Number)
    .pipe(z.number().min(min, `${name} must be at least ${min}`).max(max, `${name} must be at most ${max}`));

const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    PORT: integer('PORT', 0, 65535).default(3000),
    HOST: z.string().min(1).default('0.0.0.0'),
    ISSUER: z.url('ISSUER must be an absolute URL such as https://id.example.com').optional(),
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'DATABASE_URL must start with postgres:// or postgresql://')
      .optional(),
    DATA_DIR: z.string().min(1).default('./data'),
    SECRET_KEY: z.string().min(32, 'SECRET_KEY must be at least 32 characters (use: openssl rand -base64 48)').optional(),
    // The key SECRET_KEY replaced: it still opens what it sealed until `gatehouse secrets rotate`.
    SECRET_KEY_PREVIOUS: z
      .string()
      .min(32, 'SECRET_KEY_PREVIOUS must be at least 32 characters (the SECRET_KEY being replaced)')
      .optional(),
    LOG_LEVEL: z.enum(LOG_LEVELS, { message: `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
    INITIAL_ACCESS_TOKEN: z.string().min(16, 'INITIAL_ACCESS_TOKEN must be at least 16 characters').optional(),
    SMTP_URL: z
      .string()
      .regex(/^smtps?:\/\//, 'SMTP_URL must start with smtp:// or smtps://')
      .optional(),
    // The sender of Gatehouse's mail: an address, or a display name and an address in <>.
    MAIL_FROM: z
      .string()
      .regex(MAILBOX, 'MAIL_FROM must be an email address, optionally with a name: Gatehouse <no-reply@id.example.com>')
      .optional(),
    BCRYPT_COST: integer('BCRYPT_COST', 4, 15).default(12),
    // Below 8 no password list or strength estimate makes up for it (NIST SP 800-63B's floor).
    PASSWORD_MIN_LENGTH: integer('PASSWORD_MIN_LENGTH', 8, 128).default(12),
    TRUST_PROXY: z.enum(['true', 'false'], { message: 'TRUST_PROXY must be true or false' }).default('false'),
    TRUST_PROXY_HOPS: integer('TRUST_PROXY_HOPS', 1, 10).default(1),
    SWEEP_INTERVAL_SECONDS: integer('SWEEP_INTERVAL_SECONDS', 1, 86400).default(300),
    /** How long Gatehouse waits for each answer of an upstream identity provider before giving up. */
    UPSTREAM_TIMEOUT_SECONDS: integer('UPSTREAM_TIMEOUT_SECONDS', 1, 60).default(10),
    SIGNUP_ENABLED: z.enum(['true', 'false'], { message: 'SIGNUP_ENABLED must be true or false' }).default('true'),
    PASSKEY_SIGNUP_ENABLED: z.enum(['true', 'false'], { message: 'PASSKEY_SIGNUP_ENABLED must be true or false' }).default('true'),
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\//, 'REDIS_URL must start with redis:// or rediss://')
      .optional(),
    SIGNIN_DELAY_AFTER: integer('SIGNIN_DELAY_AFTER', 1, 100).default(5),
    SIGNIN_LOCK_AFTER: integer('SIGNIN_LOCK_AFTER', 2, 1000).default(10),
    SIGNIN_LOCK_MINUTES: integer('SIGNIN_LOCK_MINUTES', 1, 1440).default(15),
    MFA_RISK_RULES: z
      .string()
      .transform((value, ctx) => {
        const read = readRiskPolicy(value);
        if ('problem' in read) {
          ctx.addIssue({ code: 'custom', message: read.problem });
          return z.NEVER;
        }
        return read.policy;
      })
      .optional(),
    // A MaxMind DB file (GeoLite2-Country or -City) for the adaptive-MFA rules that place an
    // address (src/mfa/geo.ts): read and checked now, so a bad file stops the start, not a sign-in.
    GEOIP_DATABASE: z
      .string()
      .transform((path) => resolve(path))
      .superRefine((path, ctx) => {
        const problem = geoDatabaseProblem(path);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
    // Passkeys (src/mfa/relyingParty.ts): each entry must be an origin a browser would run WebAuthn on.
    WEBAUTHN_RP_ID: z
      .string()
      .superRefine((rpId, ctx) => {
        const problem = rpIdProblem(rpId);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
    WEBAUTHN_RP_NAME: z.string().max(64, 'WEBAUTHN_RP_NAME must be at most 64 characters').optional(),
    WEBAUTHN_ORIGINS: z
      .string()
      .transform((list, ctx) =>
        list
          .split(',')
          .map((entry) => entry.trim())
          .filter(Boolean)
          .flatMap((entry) => {
            const read = readOrigin(entry);
            if ('origin' in read) return [read.origin];
            ctx.addIssue({ code: 'custom', message: read.problem });
            return [];
          }),
      )
      .optional(),
    // Declarative files under config/ (src/declarations): checked below, with their own messages.
    PROFILE_SCHEMA_FILE: z
      .string()
      .transform((path) => resolve(path))
      .optional(),
    POLICIES_FILE: z
      .string()
      .transform((path) => resolve(path))
      .optional(),
  })
  .superRefine((env, ctx) => {
    if (env.SECRET_KEY_PREVIOUS && !env.SECRET_KEY) {
      ctx.addIssue({ code: 'custom', path: ['SECRET_KEY_PREVIOUS'], message: 'SECRET_KEY_PREVIOUS needs SECRET_KEY set to the new key' });
    }
    if (env.SECRET_KEY_PREVIOUS && env.SECRET_KEY_PREVIOUS === env.SECRET_KEY) {
      ctx.addIssue({ code: 'custom', path: ['SECRET_KEY_PREVIOUS'], message: 'SECRET_KEY_PREVIOUS must differ from SECRET_KEY' });
    }
    if (env.SIGNIN_LOCK_AFTER <= env.SIGNIN_DELAY_AFTER) {
      ctx.addIssue({ code: 'custom', path: ['SIGNIN_LOCK_AFTER'], message: 'SIGNIN_LOCK_AFTER must be greater than SIGNIN_DELAY_AFTER' });
    }
    for (const rule of rulesNeedingGeoip(env.MFA_RISK_RULES ?? DEFAULT_RISK_POLICY, env.GEOIP_DATABASE))
      ctx.addIssue({ code: 'custom', path: ['MFA_RISK_RULES'], message: `${rule} needs GEOIP_DATABASE` });
    // A bad PORT or ISSUER is reported on its own; the passkey scope is checked against a good one.
    const issuer = env.ISSUER ?? `http://localhost:${env.PORT}`;
    if (URL.canParse(issuer))
      for (const { path, message } of rpScopeProblems(issuer, env.WEBAUTHN_RP_ID, env.WEBAUTHN_ORIGINS ?? []))
        ctx.addIssue({ code: 'custom', path: [path], message });
    if (env.NODE_ENV !== 'production') return;
    if (!env.SECRET_KEY) {
      ctx.addIssue({ code: 'custom', path: ['SECRET_KEY'], message: 'SECRET_KEY is required in production' });
    }
    if (!env.ISSUER?.startsWith('https://')) {
      ctx.addIssue({ code: 'custom', path: ['ISSUER'], message: 'ISSUER must be an https URL in production' });
    }
    // Gatehouse speaks plain HTTP; in production a TLS-terminating proxy sits in front, and only
    // by trusting its X-Forwarded-* headers are cookies marked Secure and client IPs right.
    if (env.TRUST_PROXY !== 'true') {
      ctx.addIssue({
        code: 'custom',
        path: ['TRUST_PROXY'],
        message: 'TRUST_PROXY must be true in production (Gatehouse runs behind a TLS-terminating proxy)',
      });
    }
  });

export interface Config {
  env: 'development' | 'production' | 'test';
  port: number;
  host: string;
  issuer: string;
  databaseUrl: string | undefined;
  dataDir: string;
  secretKey: string;
  /** Keys that still open what they sealed (SECRET_KEY_PREVIOUS); new values are sealed with secretKey. */
  previousSecretKeys: string[];
  logLevel: (typeof LOG_LEVELS)[number];
  initialAccessToken: string | undefined;
  smtpUrl: string | undefined;
  /** The From of Gatehouse's mail (MAIL_FROM; default Gatehouse <no-reply@issuer host>). */
  mailFrom: string;
  bcryptCost: number;
  /** The fewest characters (Unicode code points) a new password may have. */
  passwordMinLength: number;
  trustProxy: boolean;
  /** How many proxies append to X-Forwarded-For; the client IP is that many entries from the right. */
  trustProxyHops: number;
  sweepIntervalSeconds: number;
  upstreamTimeoutSeconds: number;
  /** Whether people may create their own accounts (each client may still turn it off for itself). */
  signupEnabled: boolean;
  /** Whether sign-up may use a passkey instead of a password (PASSKEY_SIGNUP_ENABLED). */
  passkeySignupEnabled: boolean;
  /** Rate-limit counters in Redis instead of PostgreSQL. */
  redisUrl: string | undefined;
  /** Failed sign-ins to one address (from anywhere) before each further try must wait. */
  signInDelayAfter: number;
  /** Failed sign-ins to one address within an hour that lock it. */
  signInLockAfter: number;
  signInLockMinutes: number;
  /** Passkeys: WEBAUTHN_RP_ID, when set; else the RP ID is the issuer's host. */
  webauthnRpId: string | undefined;
  /** The name authenticators show for Gatehouse (WEBAUTHN_RP_NAME). */
  webauthnRpName: string;
  /** Origins besides the issuer's where passkey ceremonies may run (WEBAUTHN_ORIGINS). */
  webauthnOrigins: string[];
  /** A MaxMind DB file (GEOIP_DATABASE, absolute): where sign-ins come from (src/mfa/geo.ts). */
  geoipDatabase: string | undefined;
  /** When a user who holds a second factor is asked for it (MFA_RISK_RULES, with GEOIP_DATABASE; src/mfa/risk.ts). */
  mfaRiskPolicy: RiskPolicy;
  /** The profile schema and the policies (PROFILE_SCHEMA_FILE, POLICIES_FILE), as now in force (reloaded on SIGHUP). */
  declarations: Declarations;
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Reads and validates the environment. Throws ConfigError listing every bad setting. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means "unset": shells and compose files often export KEY= by accident.
  const present = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  const files = {
    profileSchemaFile: present.PROFILE_SCHEMA_FILE && resolve(present.PROFILE_SCHEMA_FILE),
    policiesFile: present.POLICIES_FILE && resolve(present.POLICIES_FILE),
  };
  const declared = readDeclarations(files);
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.') || 'environment'}: ${i.message}`)),
    ...('problems' in declared ? declared.problems : []),
  ];
  if (!parsed.success || 'problems' in declared) throw new ConfigError(problems);
  const env = parsed.data;
  const dataDir = resolve(env.DATA_DIR);
  const issuer = (env.ISSUER ?? `http://localhost:${env.PORT}`).replace(/\/$/, '');
  return {
    env: env.NODE_ENV,
    port: env.PORT,
    host: env.HOST,
    issuer,
    databaseUrl: env.DATABASE_URL,
    dataDir,
    secretKey: env.SECRET_KEY ?? developmentSecretKey(dataDir),
    previousSecretKeys: env.SECRET_KEY_PREVIOUS ? [env.SECRET_KEY_PREVIOUS] : [],
    logLevel: env.LOG_LEVEL,
    initialAccessToken: env.INITIAL_ACCESS_TOKEN,
    smtpUrl: env.SMTP_URL,
    mailFrom: env.MAIL_FROM ?? `Gatehouse <no-reply@${new URL(issuer).hostname}>`,
    bcryptCost: env.BCRYPT_COST,
    passwordMinLength: env.PASSWORD_MIN_LENGTH,
    trustProxy: env.TRUST_PROXY === 'true',
    trustProxyHops: env.TRUST_PROXY_HOPS,
    sweepIntervalSeconds: env.SWEEP_INTERVAL_SECONDS,
    upstreamTimeoutSeconds: env.UPSTREAM_TIMEOUT_SECONDS,
    signupEnabled: env.SIGNUP_ENABLED === 'true',
    passkeySignupEnabled: env.PASSKEY_SIGNUP_ENABLED === 'true',
    redisUrl: env.REDIS_URL,
    signInDelayAfter: env.SIGNIN_DELAY_AFTER,
    signInLockAfter: env.SIGNIN_LOCK_AFTER,
    signInLockMinutes: env.SIGNIN_LOCK_MINUTES,
    webauthnRpId: env.WEBAUTHN_RP_ID,
    webauthnRpName: env.WEBAUTHN_RP_NAME ?? DEFAULT_RP_NAME,
    webauthnOrigins: env.WEBAUTHN_ORIGINS ?? [],
    geoipDatabase: env.GEOIP_DATABASE,
    mfaRiskPolicy: withGeoip(env.MFA_RISK_RULES ?? DEFAULT_RISK_POLICY, env.GEOIP_DATABASE),
    declarations: declarationsOf(files, declared.declared),
  };
}

// The place rules read the GeoIP database through the policy the mfa prompt is handed.
const withGeoip = (policy: RiskPolicy, geoipDatabase: string | undefined): RiskPolicy =>
  policy === 'always' || !geoipDatabase ? policy : { ...policy, geoipDatabase };

// Outside production a missing SECRET_KEY is generated once and kept beside the data, so a
// restart can still decrypt the signing keys it stored.
function developmentSecretKey(dataDir: string): string {
  const file = join(dataDir, 'secret.key');
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // Written aside and linked into place, so a process starting at the same moment never reads
    // a half-written key; if another process linked its key first, we use theirs.
    const draft = `${file}.${process.pid}.tmp`;
    writeFileSync(draft, `${randomBytes(48).toString('base64url')}\n`, { mode: 0o600 });
    try {
      linkSync(draft, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      unlinkSync(draft);
    }
  }
  const key = readFileSync(file, 'utf8').trim();
  if (key.length < 32)
    throw new ConfigError([`SECRET_KEY: ${file} does not hold a usable key (at least 32 characters); set SECRET_KEY or remove the file`]);
  return key;
}
