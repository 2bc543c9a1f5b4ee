/**
 * Backfill of a range of final blocks, resumable through its row in
 * `backfill_jobs`: the same matcher and storage step as the live path, so a
 * block indexed by both yields the same deposits and event ids once.
 */

import type { Sql, TransactionSql } from 'postgres'
import type { BackfillStatus } from '../../db/schema/index.js'
import type { Config } from '../../lib/config.js'
import { AppError } from '../../lib/errors.js'
import type { Logger } from '../../lib/logger.js'
import type { Metrics } from '../../lib/metrics.js'
import { createFinalityTracker } from '../confirm/finality.js'
import { createBlockFetcher } from '../fetch/block-fetcher.js'
import { createRangeFetcher, type LogChunk } from '../fetch/range-fetcher.js'
import { decodeTransfer, type Transfer } from '../match/transfer.js'
import { checkChainId } from '../rpc/chain-id.js'
import type { RpcClient } from '../rpc/rpc-client.js'
import type { Hex } from '../rpc/types.js'
import { syncTokens } from '../store/checkpoint.js'
import {
  type MatchedTransfers,
  matchTransfers,
  storeFinalRange,
} from '../store/store-range.js'

/** A request the backfill will not carry out; printed as one line. */
export class BackfillRefusedError extends AppError {
  override name = 'BackfillRefusedError'
}

export interface BackfillOptions {
  sql: Sql
  rpc: RpcClient
  metrics: Metrics
  log: Logger
  chain: Pick<
    Config['chain'],
    | 'id'
    | 'tokens'
    | 'confirmations'
    | 'finalityStallSeconds'
    | 'backfillChunkBlocks'
  >
  /** Job id; `<chainId>-<from>-<to>` by default. */
  job?: string
  /** Needed to create a job; a resumed job keeps its own range. */
  from?: bigint
  to?: bigint
  /** An exact result cap of the provider, besides 10,000 and 20,000. */
  resultCaps?: number[]
  /** eth_getLogs calls in flight; 4 by default. */
  concurrency?: number
  /** When aborted, the run stops after the chunk being stored. */
  signal?: AbortSignal
  progressIntervalMs?: number
}

export interface BackfillSummary {
  job: string
  status: BackfillStatus
  from: bigint
  to: bigint
  nextBlock: bigint
  /** Counts of this run alone. */
  blocks: bigint
  logs: number
  deposits: number
  /** Deposits the job has found over all its runs. */
  depositsFound: number
  seconds: number
}

interface JobRow {
  id: string
  chain_id: number
  from_block: bigint
  to_block: bigint
  next_block: bigint
  status: BackfillStatus
  deposits_found: number
}

interface Prepared {
  chunk: LogChunk
  matched: MatchedTransfers
  timestamps: Map<Hex, bigint>
}

/**
 * Creates or resumes a job and runs it to its end, one transaction per
 * chunk: the chunk's deposits, their events and the job's next block.
 * While one chunk is stored, the next ones are fetched and matched.
 */
export async function runBackfill(
  opts: BackfillOptions,
): Promise<BackfillSummary> {
  const { sql, chain } = opts
  const log = opts.log.child({ component: 'backfill', chain_id: chain.id })
  const jobId = opts.job ?? defaultJobId(chain.id, opts.from, opts.to)
  // Refuse a range that is not final before a job is made for it.
  const checked =
    opts.to === undefined ? undefined : await checkFinal(opts, opts.to)
  const job = await openJob(sql, jobId, chain.id, opts.from, opts.to)
  const progress = createProgress(job, log, opts.progressIntervalMs ?? 1_000)
  if (job.status === 'done') {
    log.info(progress.fields(), 'Found the job already done')
    return progress.summary()
  }
  const head = checked ?? (await checkFinal(opts, job.to_block))
  await syncTokens(sql, chain.id, chain.tokens)
  log.info(progress.fields(), 'Started backfill')
  try {
    await runChunks(opts, progress, head)
  } catch (error) {
    await sql`
      update backfill_jobs set status = 'failed', updated_at = now()
      where id = ${job.id}`.catch(() => {})
    throw error
  }
  const done = progress.summary()
  log.info(
    { ...progress.fields(), status: done.status, seconds: done.seconds },
    done.status === 'done' ? 'Finished backfill' : 'Stopped backfill',
  )
  return done
}

/**
 * Fetches the job's remaining range chunk by chunk and stores each chunk
 * once the next one has arrived, so that matching and header fetches of
 * one chunk overlap the transaction of the one before.
 */
async function runChunks(
  opts: BackfillOptions,
  progress: Progress,
  head: bigint,
): Promise<void> {
  const { sql, chain } = opts
  const job = progress.job()
  const tokens = new Map(chain.tokens.map((t) => [t.address as string, t]))
  const fetcher = createRangeFetcher({
    rpc: opts.rpc,
    tokens: chain.tokens,
    log: opts.log,
    maxChunk: chain.backfillChunkBlocks,
    ...(opts.resultCaps ? { resultCaps: opts.resultCaps } : {}),
    ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
  })

  async function prepare(chunk: LogChunk): Promise<Prepared> {
    const transfers: Transfer[] = []
    for (const l of chunk.logs) {
      const t = decodeTransfer(l)
      if (t) transfers.push(t)
    }
    const matched = await matchTransfers(sql, transfers)
    const hashes = new Set(matched.transfers.map((t) => t.blockHash))
    const timestamps = await fetcher.blockTimestamps(hashes)
    return { chunk, matched, timestamps }
  }

  let pending: Promise<Prepared> | undefined
  async function storePending(): Promise<void> {
    const ready = pending
    pending = undefined
    if (!ready) return
    const { chunk, matched, timestamps } = await ready
    const stored = await storeFinalRange(sql, {
      chainId: chain.id,
      ...matched,
      blockTimestamps: timestamps,
      headNumber: head,
      tokens,
      alsoInTransaction: (tx, rows) =>
        advanceJob(tx, job.id, chunk.from, chunk.to + 1n, rows.length),
    })
    progress.stored(chunk, stored.length)
  }

  if (opts.signal?.aborted) return
  try {
    for await (const chunk of fetcher.chunks(job.next_block, job.to_block)) {
      const prepared = prepare(chunk)
      prepared.catch(() => {})
      await storePending()
      pending = prepared
      if (opts.signal?.aborted) break
    }
    await storePending()
  } catch (error) {
    // A chunk that failed to fetch must not lose the one ready before it.
    await storePending().catch(() => {})
    throw error
  }
}

type Progress = ReturnType<typeof createProgress>

/** The job as this run has left it, and the rates it ran at. */
function createProgress(start: JobRow, log: Logger, intervalMs: number) {
  let job = start
  const started = performance.now()
  const counts = { blocks: 0n, logs: 0, deposits: 0 }
  let reportedAt = 0

  const summary = (): BackfillSummary => ({
    job: job.id,
    status: job.status,
    from: job.from_block,
    to: job.to_block,
    nextBlock: job.next_block,
    ...counts,
    depositsFound: job.deposits_found,
    seconds: (performance.now() - started) / 1000,
  })
  const fields = () => progressFields(summary())

  return {
    job: () => job,
    summary,
    fields,
    /** Called once the chunk's transaction has committed. */
    stored(chunk: LogChunk, deposits: number) {
      const next = chunk.to + 1n
      job = {
        ...job,
        next_block: next,
        status: next > job.to_block ? 'done' : 'running',
        deposits_found: job.deposits_found + deposits,
      }
      counts.blocks += chunk.to - chunk.from + 1n
      counts.logs += chunk.logs.length
      counts.deposits += deposits
      const now = performance.now()
      if (now - reportedAt < intervalMs && job.status !== 'done') return
      reportedAt = now
      log.info(fields(), 'Backfilled blocks')
    },
  }
}

/** Progress as log fields: where the job is and how fast this run goes. */
function progressFields(s: BackfillSummary) {
  const total = s.to - s.from + 1n
  const finished = s.nextBlock - s.from
  const remaining = s.to + 1n - s.nextBlock
  const blocksPerS = s.seconds > 0 ? Number(s.blocks) / s.seconds : 0
  return {
    job: s.job,
    from: s.from,
    to: s.to,
    next_block: s.nextBlock,
    percent: Math.floor((Number(finished) / Number(total)) * 1000) / 10,
    logs_per_s: Math.round(s.seconds > 0 ? s.logs / s.seconds : 0),
    blocks_per_s: Math.round(blocksPerS),
    deposits: s.deposits,
    deposits_found: s.depositsFound,
    eta_s: blocksPerS > 0 ? Math.ceil(Number(remaining) / blocksPerS) : null,
  }
}

function defaultJobId(chainId: number, from?: bigint, to?: bigint) {
  if (from === undefined || to === undefined) {
    throw new BackfillRefusedError(
      'Give --from and --to (or FROM_BLOCK and TO_BLOCK), or --job to resume a job',
    )
  }
  return `${chainId}-${from}-${to}`
}

/** Creates the job, or loads it to resume; refuses a mismatched range. */
async function openJob(
  sql: Sql,
  id: string,
  chainId: number,
  from?: bigint,
  to?: bigint,
): Promise<JobRow> {
  if (from !== undefined && to !== undefined) {
    await sql`
      insert into backfill_jobs (id, chain_id, from_block, to_block,
        next_block, status)
      values (${id}, ${chainId}, ${from.toString()}::bigint,
        ${to.toString()}::bigint, ${from.toString()}::bigint, 'running')
      on conflict (id) do nothing`
  }
  const [job] = await sql<JobRow[]>`
    select id, chain_id, from_block, to_block, next_block, status,
      deposits_found
    from backfill_jobs where id = ${id}`
  if (!job) {
    throw new BackfillRefusedError(
      `Backfill job "${id}" does not exist; give --from and --to to create it`,
    )
  }
  if (job.chain_id !== chainId) {
    throw new BackfillRefusedError(
      `Backfill job "${id}" belongs to chain ${job.chain_id}, not ${chainId}`,
    )
  }
  const sameRange =
    (from === undefined || from === job.from_block) &&
    (to === undefined || to === job.to_block)
  if (!sameRange) {
    throw new BackfillRefusedError(
      `Backfill job "${id}" covers blocks ${job.from_block}-` +
        `${job.to_block}, not ${from}-${to}; name another job with --job`,
    )
  }
  if (job.status === 'failed') {
    await sql`
      update backfill_jobs set status = 'running', updated_at = now()
      where id = ${id}`
    return { ...job, status: 'running' }
  }
  return job
}

/** Moves the job on, only from where this run last left it. */
async function advanceJob(
  tx: TransactionSql,
  id: string,
  from: bigint,
  next: bigint,
  deposits: number,
) {
  const moved = await tx`
    update backfill_jobs
    set next_block = ${next.toString()}::bigint,
        deposits_found = deposits_found + ${deposits},
        status = case when ${next.toString()}::bigint > to_block
                 then 'done' else 'running' end,
        updated_at = now()
    where id = ${id} and next_block = ${from.toString()}::bigint`
  if (moved.count !== 1) {
    throw new BackfillRefusedError(
      `Backfill job "${id}" moved while this run stored block ${from}; is another run of it going?`,
    )
  }
}

/**
 * The head, once `to` is known to be final: by the `finalized` tag, or by
 * CONFIRMATIONS depth where the node does not serve it.
 */
async function checkFinal(opts: BackfillOptions, to: bigint): Promise<bigint> {
  const { chain } = opts
  await checkChainId(opts.rpc, chain.id)
  const fetcher = createBlockFetcher({
    rpc: opts.rpc,
    tokens: chain.tokens,
    crossCheck: false,
    log: opts.log,
  })
  const finality = createFinalityTracker({
    fetcher,
    confirmations: chain.confirmations,
    stallSeconds: chain.finalityStallSeconds,
    chainId: chain.id,
    metrics: opts.metrics,
    log: opts.log,
  })
  const head = await fetcher.blockNumber()
  const final = await finality.target(head)
  if (to > final.number) {
    const by =
      final.source === 'tag' ? 'the finalized tag' : 'CONFIRMATIONS depth'
    throw new BackfillRefusedError(
      `Block ${to} is not final yet: the chain's finalized block is ` +
        `${final.number} (by ${by}); backfill only final blocks and let ` +
        'the indexer follow the rest',
    )
  }
  return head
}

// ---- command line ------------------------------------------------------------
