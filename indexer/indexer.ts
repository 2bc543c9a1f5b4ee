import type { Sql } from 'postgres'
import type { Config } from '../lib/config.js'
import type { Logger } from '../lib/logger.js'
import type { Metrics } from '../lib/metrics.js'
import { createFinalityTracker } from './confirm/finality.js'
import { createBlockFetcher } from './fetch/block-fetcher.js'
import { createRangeFetcher } from './fetch/range-fetcher.js'
import { createHeadTracker } from './follow/head-tracker.js'
import { checkChainId } from './rpc/chain-id.js'
import { describeError, RpcUnavailableError } from './rpc/errors.js'
import { createRpcClient } from './rpc/rpc-client.js'
import { createChainLock } from './store/chain-lock.js'
import {
  initCheckpoint,
  loadCheckpoint,
  syncTokens,
} from './store/checkpoint.js'
import { createSyncer } from './sync/syncer.js'

export interface IndexerOptions {
  config: Config['chain'] & { rpcUrls: string[] }
  sql: Sql
  metrics: Metrics
  log: Logger
  onEvents?: () => void
  /** Aborts waiting for the RPC at start-up (it waits forever otherwise). */
  signal?: AbortSignal
  /** Overrides for tests. */
  tuning?: {
    wsStallMs?: number
    prefetch?: number
    crossCheckLogs?: boolean
    catchUpMinBlocks?: number
  }
}

/**
 * Wires the stages of the indexer: RPC, head following, fetching, matching
 * and storing, confirming, reverting. `run()` resolves when stopped and
 * rejects only on a fault a person must look at (a reorg past finality).
 */
export async function createIndexer(opts: IndexerOptions) {
  const { config, sql, metrics } = opts
  const log = opts.log.child({ component: 'indexer' })
  const rpc = createRpcClient({
    urls: config.rpcUrls,
    timeoutMs: config.rpcTimeoutMs,
    metrics,
    log: opts.log,
  })
  const fetcher = createBlockFetcher({
    rpc,
    tokens: config.tokens,
    crossCheck: opts.tuning?.crossCheckLogs ?? config.crossCheckLogs,
    log: opts.log,
  })
  const retry = <T>(what: string, fn: () => Promise<T>) =>
    untilAnswered(what, fn, log, opts.signal)
  await retry('chain id', () => checkChainId(rpc, config.id))
  await syncTokens(sql, config.id, config.tokens)

  const lock = createChainLock(sql, config.id, log)
  await lock.acquire()
  const finality = createFinalityTracker({
    fetcher,
    confirmations: config.confirmations,
    stallSeconds: config.finalityStallSeconds,
    chainId: config.id,
    metrics,
    log: opts.log,
  })
  if (!(await loadCheckpoint(sql, config.id))) {
    const head = await retry('head', () => fetcher.blockNumber())
    const final = await retry('finalized block', () => finality.target(head))
    const anchorNumber =
      config.startBlock !== undefined
        ? config.startBlock > 0n
          ? config.startBlock - 1n
          : 0n
        : final.number > 0n
          ? final.number
          : 0n
    const anchor = await retry('anchor block', () =>
      fetcher.header(anchorNumber),
    )
    const finalized = anchorNumber < final.number ? anchorNumber : final.number
    await initCheckpoint(
      sql,
      config.id,
      anchor,
      finalized < 0n ? 0n : finalized,
    )
    log.info(
      { block_number: anchor.number, block_hash: anchor.hash },
      'Created checkpoint',
    )
  }

  const head = createHeadTracker({
    fetcher,
    pollIntervalMs: config.pollIntervalMs,
    wsUrl: config.wsUrl,
    wsStallMs: opts.tuning?.wsStallMs ?? 3_000,
    chainId: config.id,
    metrics,
    log: opts.log,
  })
  const syncer = createSyncer({
    sql,
    chainId: config.id,
    tokens: config.tokens,
    fetcher,
    head,
    finality,
    maxReorgDepth: config.maxReorgDepth,
    prefetch: opts.tuning?.prefetch ?? 16,
    pollIntervalMs: config.pollIntervalMs,
    metrics,
    log: opts.log,
    onEvents: opts.onEvents ?? (() => {}),
    lockHeld: lock.held,
    range: createRangeFetcher({
      rpc,
      tokens: config.tokens,
      log: opts.log,
      maxChunk: config.backfillChunkBlocks,
    }),
    catchUpMinBlocks: opts.tuning?.catchUpMinBlocks ?? 256,
    catchUpMaxBlocks: config.backfillChunkBlocks * 4,
  })

  const running = syncer.run().finally(() => {
    head.stop()
    return lock.release()
  })
  return {
    running,
    checkpoint: syncer.checkpoint,
    stop: async () => {
      syncer.stop()
      head.stop()
      await running.catch(() => {})
    },
  }
}

export type Indexer = Awaited<ReturnType<typeof createIndexer>>

/**
 * A daemon that starts while its node is briefly unreachable should wait
 * for it, not exit. Only RPC unavailability is retried; a wrong chain id
 * or a bad answer is final.
 */
async function untilAnswered<T>(
  what: string,
  fn: () => Promise<T>,
  log: Logger,
  signal: AbortSignal | undefined,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn()
    } catch (error) {
      if (!(error instanceof RpcUnavailableError) || signal?.aborted) {
        throw error
      }
      const delay = Math.min(250 * 2 ** attempt, 10_000)
      log.warn(
        { what, attempt, retry_in_ms: delay, error: describeError(error) },
        'Waiting for the RPC at start-up',
      )
      await new Promise((resolve) => setTimeout(resolve, delay))
    }
  }
}
