/**
 * `npm run backfill -- --from N --to M [--job NAME] [--result-cap N]`
 *
 * Runs a range of final blocks through the same matcher and storage step
 * as the live indexer: each deposit found is stored as confirmed, with its
 * `deposit.detected` and `deposit.confirmed` events. The range also comes
 * from FROM_BLOCK and TO_BLOCK. A job is resumable: run it again with the
 * same --job (or the same range) and it continues where it stopped.
 * Ctrl-C stops it after the chunk being stored.
 */
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { openDatabase } from '../db/open.js'
import {
  BackfillRefusedError,
  runBackfill,
} from '../indexer/backfill/run-backfill.js'
import { createRpcClient } from '../indexer/rpc/rpc-client.js'
import { loadConfigOrExit } from '../lib/config.js'
import { reportFatal } from '../lib/fatal.js'
import { createLogger } from '../lib/logger.js'
import { createMetrics } from '../lib/metrics.js'
import { onShutdown } from '../lib/shutdown.js'

export interface CliArgs {
  from?: bigint
  to?: bigint
  job?: string
  resultCap?: number
}

/** Parses arguments and FROM_BLOCK/TO_BLOCK; throws one line on misuse. */
export function parseCliArgs(
  argv: string[],
  env: Record<string, string | undefined>,
): CliArgs {
  let values: Record<string, string | undefined>
  try {
    values = parseArgs({
      args: argv,
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        job: { type: 'string' },
        'result-cap': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }).values
  } catch (error) {
    throw new BackfillRefusedError(
      `${(error as Error).message.split('\n')[0]}; usage: npm run backfill -- --from N --to M [--job NAME]`,
    )
  }
  const from = block('--from', values.from ?? blank(env.FROM_BLOCK))
  const to = block('--to', values.to ?? blank(env.TO_BLOCK))
  if (from !== undefined && to !== undefined && from > to) {
    throw new BackfillRefusedError(
      `--to: expected a block at or above --from (${from}), got ${to}`,
    )
  }
  if ((from === undefined) !== (to === undefined)) {
    throw new BackfillRefusedError(
      `${from === undefined ? '--from' : '--to'}: required with ${from === undefined ? '--to' : '--from'}`,
    )
  }
  const job = values.job
  if (job !== undefined && !/^[A-Za-z0-9._:-]{1,64}$/.test(job)) {
    throw new BackfillRefusedError(
      `--job: expected 1-64 letters, digits or ._:-, got "${job.slice(0, 80)}"`,
    )
  }
  if (job === undefined && from === undefined) {
    throw new BackfillRefusedError(
      '--from and --to: required (or FROM_BLOCK and TO_BLOCK), or --job NAME to resume a job',
    )
  }
  const cap = values['result-cap']
  if (cap !== undefined && !/^[1-9][0-9]{0,6}$/.test(cap)) {
    throw new BackfillRefusedError(
      `--result-cap: expected a whole number of logs, got "${cap.slice(0, 80)}"`,
    )
  }
  return {
    ...(from !== undefined ? { from } : {}),
    ...(to !== undefined ? { to } : {}),
    ...(job !== undefined ? { job } : {}),
    ...(cap !== undefined ? { resultCap: Number(cap) } : {}),
  }
}

const blank = (value: string | undefined) => (value === '' ? undefined : value)

function block(name: string, value: string | undefined): bigint | undefined {
  if (value === undefined) return undefined
  if (!/^[0-9]{1,19}$/.test(value)) {
    throw new BackfillRefusedError(
      `${name}: expected a block number (a whole number >= 0), got "${value.slice(0, 80)}"`,
    )
  }
  return BigInt(value)
}

async function main(): Promise<void> {
  let args: CliArgs
  try {
    args = parseCliArgs(process.argv.slice(2), process.env)
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`)
    process.exit(1)
  }
  const config = loadConfigOrExit('script')
  const rpcUrls = config.chain.rpcUrls
  if (!rpcUrls) {
    process.stderr.write(
      'RPC_URL: required by the backfill, e.g. RPC_URL=https://bsc-rpc.publicnode.com\n',
    )
    process.exit(1)
  }
  const { resultCap, ...range } = args
  const log = createLogger(config.logLevel)
  const controller = new AbortController()
  const metrics = createMetrics()
  const run = async () => {
    const db = await openDatabase(config.database, log)
    try {
      const rpc = createRpcClient({
        urls: rpcUrls,
        timeoutMs: config.chain.rpcTimeoutMs,
        metrics,
        log,
      })
      return await runBackfill({
        sql: db.sql,
        rpc,
        metrics,
        log,
        chain: config.chain,
        signal: controller.signal,
        ...range,
        ...(resultCap ? { resultCaps: [resultCap] } : {}),
      })
    } finally {
      await db.close()
    }
  }
  const running = run()
  running.catch(() => {})
  // Ctrl-C: the chunk being stored commits, then the job stops resumably.
  onShutdown(log, async () => {
    controller.abort()
    await running
  })
  try {
    const summary = await running
    process.exit(summary.status === 'done' || controller.signal.aborted ? 0 : 1)
  } catch (error) {
    if (error instanceof BackfillRefusedError) {
      process.stderr.write(`${error.message}\n`)
      process.exit(1)
    }
    reportFatal(log, error)
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main()
}
