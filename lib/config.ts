import 'dotenv/config'
import { z } from 'zod'
import { canonicalAddress, isHexAddress } from './address.js'
import { ConfigError } from './errors.js'

/** Which process is starting: each needs a different set of variables. */
export type Role = 'all' | 'indexer' | 'api' | 'script'

export interface WatchedToken {
  address: `0x${string}`
  symbol: string
  decimals: number
}

/** BSC-USD and USDC on BSC, both 18 decimals (unlike their Ethereum twins). */
export const DEFAULT_TOKENS: WatchedToken[] = [
  {
    address: '0x55d398326f99059ff775485246999027b3197955',
    symbol: 'USDT',
    decimals: 18,
  },
  {
    address: '0x8ac76a51cc950d9822d68b83fe1ad97b32cd580d',
    symbol: 'USDC',
    decimals: 18,
  },
]

/** Digits only: `1e3` or `0x10` is a typo here, not a number to guess. */
const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^-?[0-9]+$/, 'expected a whole number')
    .transform(Number)
    .pipe(
      z
        .number()
        .int('expected a whole number')
        .min(min, `expected a whole number >= ${min}`)
        .max(max, `expected a whole number <= ${max}`),
    )

const url = (schemes: string[]) =>
  z.string().refine(
    (value) => {
      try {
        return schemes.includes(new URL(value).protocol)
      } catch {
        return false
      }
    },
    {
      message: `expected a URL starting with ${schemes.map((s) => `${s}//`).join(' or ')}`,
    },
  )

const urlList = (schemes: string[]) =>
  z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean),
    )
    .pipe(z.array(url(schemes)).min(1, 'expected at least one URL'))

const bool = z
  .enum(['true', 'false', '1', '0'], { error: 'expected true or false' })
  .transform((value) => value === 'true' || value === '1')

/** `address:SYMBOL:decimals`, comma separated. */
const tokens = z.string().transform((value, ctx) => {
  const list: WatchedToken[] = []
  for (const entry of value.split(',').map((part) => part.trim())) {
    const [address = '', symbol = '', decimals = ''] = entry.split(':')
    const dec = Number(decimals)
    if (!isHexAddress(address) || !/^[A-Za-z0-9.$_-]{1,16}$/.test(symbol)) {
      ctx.addIssue({
        code: 'custom',
        message: `expected address:SYMBOL:decimals entries, got "${entry}"`,
      })
      return z.NEVER
    }
    if (!Number.isInteger(dec) || dec < 0 || dec > 36) {
      ctx.addIssue({
        code: 'custom',
        message: `expected decimals 0-36 in "${entry}"`,
      })
      return z.NEVER
    }
    let canonical: `0x${string}`
    try {
      canonical = canonicalAddress(address)
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message })
      return z.NEVER
    }
    if (list.some((t) => t.address === canonical)) {
      ctx.addIssue({ code: 'custom', message: `names ${address} twice` })
      return z.NEVER
    }
    list.push({ address: canonical, symbol, decimals: dec })
  }
  return list
})

/** Standard Webhooks secrets are `whsec_` followed by base64 of 24-64 bytes. */
const webhookSecret = z
  .string()
  .regex(
    /^whsec_[A-Za-z0-9+/]{32,}={0,2}$/,
    'expected "whsec_" followed by base64 of at least 24 random bytes',
  )

const schema = z.object({
  LOG_LEVEL: z
    .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
    .default('info'),
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  DATABASE_POOL_SIZE: int(1, 100).default(10),
  EMBEDDED_PG_DIR: z.string().min(1).default('.data/postgres'),
  EMBEDDED_PG_PORT: int(1, 65535).default(54329),

  RPC_URL: urlList(['http:', 'https:']).optional(),
  RPC_WS_URL: url(['ws:', 'wss:']).optional(),
  RPC_TIMEOUT_MS: int(100, 120_000).default(10_000),
  CHAIN_ID: int(1).default(56),
  TOKENS: tokens.optional(),
  START_BLOCK: int(0).optional(),
  POLL_INTERVAL_MS: int(10, 60_000).default(200),
  CONFIRMATIONS: int(1, 10_000).default(50),
  FINALITY_STALL_SECONDS: int(1, 86_400).default(60),
  MAX_REORG_DEPTH: int(1, 100_000).default(1_000),
  LOGS_CROSS_CHECK: bool.default(true),
  BACKFILL_CHUNK_BLOCKS: int(1, 5_000).default(2_000),
  ANVIL_PORT: int(1, 65535).default(8545),
  ANVIL_BLOCK_TIME: z.coerce.number().positive().max(60).default(0.45),
  INDEXER_METRICS_PORT: int(0, 65535).default(9464),

  WEBHOOK_URL: url(['http:', 'https:']).optional(),
  WEBHOOK_SECRET: webhookSecret.optional(),
  WEBHOOK_CONCURRENCY: int(1, 1_000).default(16),
  WEBHOOK_TIMEOUT_MS: int(100, 120_000).default(10_000),
  WEBHOOK_MAX_ATTEMPTS: int(1, 1_000).default(30),
  WEBHOOK_BACKOFF_BASE_MS: int(1, 3_600_000).default(1_000),
  WEBHOOK_BACKOFF_MAX_MS: int(1, 86_400_000).default(3_600_000),

  API_HOST: z.string().min(1).default('127.0.0.1'),
  API_PORT: int(0, 65535).default(3000),
  API_BODY_LIMIT_BYTES: int(1_024, 10_485_760).default(65_536),
  ADMIN_TOKEN: z.string().min(16, 'expected at least 16 characters').optional(),
  READY_MAX_LAG_BLOCKS: int(0).default(30),

  DEMO: bool.optional(),
})

type Env = z.output<typeof schema>

export interface Config {
  role: Role
  logLevel: Env['LOG_LEVEL']
  database: {
    url: string | undefined
    poolSize: number
    embeddedDir: string
    embeddedPort: number
  }
  chain: {
    id: number
    rpcUrls: string[] | undefined
    wsUrl: string | undefined
    rpcTimeoutMs: number
    tokens: WatchedToken[]
    startBlock: bigint | undefined
    pollIntervalMs: number
    confirmations: number
    finalityStallSeconds: number
    maxReorgDepth: number
    backfillChunkBlocks: number
    crossCheckLogs: boolean
    anvilPort: number
    anvilBlockTime: number
    metricsPort: number
  }
  webhook: {
    url: string | undefined
    secret: string | undefined
    concurrency: number
    timeoutMs: number
    maxAttempts: number
    backoffBaseMs: number
    backoffMaxMs: number
  }
  api: {
    host: string
    port: number
    bodyLimitBytes: number
    adminToken: string | undefined
    readyMaxLagBlocks: number
  }
  demo: boolean
}

/**
 * Parses the environment once. Every problem is reported, one line each,
 * naming the variable and what was expected; nothing is guessed.
 */
export function loadConfig(
  role: Role,
  env: Record<string, string | undefined> = process.env,
): Config {
  // An empty variable is an unset one: `.env` files leave many `X=` lines.
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(
      ([, value]) => value !== undefined && value !== '',
    ),
  )
  const parsed = schema.safeParse(cleaned)
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const [name, item] = issue.path
        const where = typeof item === 'number' ? ` (entry ${item + 1})` : ''
        return `${String(name ?? '(env)')}: ${issue.message}${where}`
      }),
    )
  }
  const e = parsed.data
  const problems: string[] = []
  if (role === 'indexer' && !e.RPC_URL) {
    problems.push(
      'RPC_URL: required by the indexer alone (npm start has a local chain)',
    )
  }
  if (role === 'indexer' && !e.WEBHOOK_URL) {
    problems.push(
      'WEBHOOK_URL: required by the indexer alone, e.g. http://127.0.0.1:3000/api/v1/webhooks/bep20',
    )
  }
  if ((role === 'indexer' || role === 'api') && !e.WEBHOOK_SECRET) {
    problems.push(
      'WEBHOOK_SECRET: required; generate one with `npm run secret`',
    )
  }
  if (e.WEBHOOK_BACKOFF_MAX_MS < e.WEBHOOK_BACKOFF_BASE_MS) {
    problems.push(
      'WEBHOOK_BACKOFF_MAX_MS: expected a value >= WEBHOOK_BACKOFF_BASE_MS',
    )
  }
  if (problems.length > 0) throw new ConfigError(problems)

  const tokensForChain =
    e.TOKENS ?? (e.CHAIN_ID === 56 ? DEFAULT_TOKENS : undefined)
  if (!tokensForChain) {
    throw new ConfigError([
      `TOKENS: required when CHAIN_ID is not 56 (got ${e.CHAIN_ID})`,
    ])
  }

  return {
    role,
    logLevel: e.LOG_LEVEL,
    database: {
      url: e.DATABASE_URL,
      poolSize: e.DATABASE_POOL_SIZE,
      embeddedDir: e.EMBEDDED_PG_DIR,
      embeddedPort: e.EMBEDDED_PG_PORT,
    },
    chain: {
      id: e.CHAIN_ID,
      rpcUrls: e.RPC_URL,
      wsUrl: e.RPC_WS_URL,
      rpcTimeoutMs: e.RPC_TIMEOUT_MS,
      tokens: tokensForChain,
      startBlock:
        e.START_BLOCK === undefined ? undefined : BigInt(e.START_BLOCK),
      pollIntervalMs: e.POLL_INTERVAL_MS,
      confirmations: e.CONFIRMATIONS,
      finalityStallSeconds: e.FINALITY_STALL_SECONDS,
      maxReorgDepth: e.MAX_REORG_DEPTH,
      backfillChunkBlocks: e.BACKFILL_CHUNK_BLOCKS,
      crossCheckLogs: e.LOGS_CROSS_CHECK,
      anvilPort: e.ANVIL_PORT,
      anvilBlockTime: e.ANVIL_BLOCK_TIME,
      metricsPort: e.INDEXER_METRICS_PORT,
    },
    webhook: {
      url: e.WEBHOOK_URL,
      secret: e.WEBHOOK_SECRET,
      concurrency: e.WEBHOOK_CONCURRENCY,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      maxAttempts: e.WEBHOOK_MAX_ATTEMPTS,
      backoffBaseMs: e.WEBHOOK_BACKOFF_BASE_MS,
      backoffMaxMs: e.WEBHOOK_BACKOFF_MAX_MS,
    },
    api: {
      host: e.API_HOST,
      port: e.API_PORT,
      bodyLimitBytes: e.API_BODY_LIMIT_BYTES,
      adminToken: e.ADMIN_TOKEN,
      readyMaxLagBlocks: e.READY_MAX_LAG_BLOCKS,
    },
    demo: e.DEMO ?? (role === 'all' && !e.RPC_URL),
  }
}

/** Loads config or exits 1 with one line per problem, never a stack trace. */
export function loadConfigOrExit(role: Role): Config {
  try {
    return loadConfig(role)
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`)
      process.exit(1)
    }
    throw error
  }
}
