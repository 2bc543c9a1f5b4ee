import type { Sql } from 'postgres'
import type { WatchedToken } from '../../lib/config.js'
import type { Logger } from '../../lib/logger.js'
import type { Metrics } from '../../lib/metrics.js'
import { catchUpRange } from '../catchup/catch-up.js'
import { confirmUpTo } from '../confirm/confirm-deposits.js'
import type { FinalityTarget, FinalityTracker } from '../confirm/finality.js'
import type { BlockFetcher } from '../fetch/block-fetcher.js'
import type { RangeFetcher } from '../fetch/range-fetcher.js'
import type { HeadTracker } from '../follow/head-tracker.js'
import { decodeTransfer, type Transfer } from '../match/transfer.js'
import {
  DeepReorgError,
  findCommonAncestor,
  revertAbove,
} from '../revert/reorg.js'
import { describeError } from '../rpc/errors.js'
import type { BlockHeader, RawLog } from '../rpc/types.js'
import {
  type Checkpoint,
  loadCheckpoint,
  recordHead,
  storedHash,
} from '../store/checkpoint.js'
import { CheckpointConflictError } from '../store/errors.js'
import { storeBlock } from '../store/store-block.js'
import { createDepositReporter } from './report.js'

export interface SyncerDeps {
  sql: Sql
  chainId: number
  tokens: WatchedToken[]
  fetcher: BlockFetcher
  head: HeadTracker
  finality: FinalityTracker
  maxReorgDepth: number
  /** Blocks fetched ahead in parallel while catching up. */
  prefetch: number
  pollIntervalMs: number
  metrics: Metrics
  log: Logger
  /** Called after a commit that wrote outbox events. */
  onEvents: () => void
  range: RangeFetcher
  /** Final blocks behind before range catch-up replaces block-by-block. */
  catchUpMinBlocks: number
  catchUpMaxBlocks: number
  /** False while the chain lock is lost; syncing pauses. */
  lockHeld: () => boolean
}

interface Fetched {
  header: BlockHeader
  logs: RawLog[]
}

/**
 * Follows the chain block by block from the checkpoint: each block must
 * name the stored checkpoint as its parent, or the reorg is handled before
 * anything else is written.
 */
export function createSyncer(deps: SyncerDeps) {
  const { sql, chainId, metrics } = deps
  const log = deps.log.child({ component: 'sync', chain_id: chainId })
  const labels = { chain_id: String(chainId) }
  const tokens = new Map(deps.tokens.map((t) => [t.address as string, t]))
  const report = createDepositReporter({ chainId, tokens, metrics, log })
  let cp: Checkpoint
  let stopped = false
  let lastFinalityAt = 0
  let lastHeadRecordAt = 0
  let verified = false

  async function fetchBlock(number: bigint): Promise<Fetched> {
    const header = await deps.fetcher.header(number)
    const logs = await deps.fetcher.transferLogs(header)
    return { header, logs }
  }

  async function advance(head: bigint): Promise<void> {
    const last = cp.number + BigInt(deps.prefetch)
    const to = head < last ? head : last
    const pending: Promise<Fetched>[] = []
    for (let n = cp.number + 1n; n <= to; n++) {
      const p = fetchBlock(n)
      p.catch(() => {})
      pending.push(p)
    }
    for (const [i, p] of pending.entries()) {
      let fetched: Fetched
      try {
        fetched = await p
      } catch (error) {
        // Keep what is committed; only the next block's failure is ours.
        if (i === 0) throw error
        return
      }
      const { header, logs } = fetched
      if (header.parentHash !== cp.hash) {
        // At the first block: our checkpoint was orphaned. Further on: the
        // chain moved while we fetched; the next round starts from here.
        if (i === 0) await handleReorg(head)
        return
      }
      await commit(header, logs, head)
      if (stopped) return
    }
  }

  async function commit(header: BlockHeader, logs: RawLog[], head: bigint) {
    const started = performance.now()
    const transfers = logs
      .map(decodeTransfer)
      .filter((t): t is Transfer => t !== null)
    const deposits = await storeBlock(sql, {
      chainId,
      block: header,
      transfers,
      headNumber: head,
      tokens,
    })
    cp = { ...cp, number: header.number, hash: header.hash }
    metrics.blockProcessingSeconds.observe(
      labels,
      (performance.now() - started) / 1000,
    )
    metrics.blocksProcessed.inc(labels)
    metrics.logsProcessed.inc(labels, logs.length)
    metrics.checkpointBlock.set(labels, Number(header.number))
    metrics.lagBlocks.set(labels, Number(head - header.number))
    log.debug(
      {
        block_number: header.number,
        block_hash: header.hash,
        logs: logs.length,
      },
      'Stored block',
    )
    report('detected', deposits)
    if (deposits.length > 0) deps.onEvents()
  }

  async function handleReorg(head: bigint): Promise<void> {
    const ancestor = await findCommonAncestor({
      sql,
      fetcher: deps.fetcher,
      chainId,
      from: cp.number,
      finalizedNumber: cp.finalizedNumber,
      maxDepth: deps.maxReorgDepth,
    })
    const depth = Number(cp.number - ancestor.number)
    const reverted = await revertAbove(sql, {
      chainId,
      ancestor,
      expectedCheckpoint: cp.number,
      headNumber: head,
      tokens,
    })
    metrics.reorgs.inc(labels)
    metrics.reorgDepth.observe(labels, depth)
    log.warn(
      {
        depth,
        ancestor_number: ancestor.number,
        ancestor_hash: ancestor.hash,
        orphaned_from: cp.number,
        reverted: reverted.length,
      },
      'Handled reorg',
    )
    report('reverted', reverted)
    cp = { ...cp, number: ancestor.number, hash: ancestor.hash }
    if (reverted.length > 0) deps.onEvents()
  }

  /**
   * The node's head is below our checkpoint. A lagging node agrees with us
   * on the block at its head; a shorter canonical chain does not.
   */
  async function checkBehind(head: bigint): Promise<void> {
    if (head < cp.finalizedNumber) return
    const theirs = await deps.fetcher.header(head)
    const ours = await storedHash(sql, chainId, head)
    if (ours && ours !== theirs.hash) await handleReorg(head)
  }

  async function catchUp(head: bigint, finalNumber: bigint) {
    const caught = await catchUpRange({
      sql,
      chainId,
      cp,
      finalNumber,
      headNumber: head,
      minBlocks: deps.catchUpMinBlocks,
      maxBlocks: deps.catchUpMaxBlocks,
      fetcher: deps.fetcher,
      range: deps.range,
      tokens,
      log,
    })
    if (!caught) return false
    metrics.blocksProcessed.inc(labels, Number(caught.cp.number - cp.number))
    cp = caught.cp
    metrics.logsProcessed.inc(labels, caught.logs)
    metrics.checkpointBlock.set(labels, Number(cp.number))
    metrics.finalizedBlock.set(labels, Number(cp.number))
    report('confirmed', caught.deposits, { finalized_by: 'range' })
    if (caught.deposits.length > 0) deps.onEvents()
    return true
  }

  async function confirm(head: bigint, target: FinalityTarget): Promise<void> {
    // biome-ignore lint/complexity/useMathMinMax: bigint has no Math.min
    const upTo = target.number < cp.number ? target.number : cp.number
    if (upTo <= cp.finalizedNumber) return
    const hash =
      upTo === target.number && target.hash
        ? target.hash
        : (await deps.fetcher.header(upTo)).hash
    const confirmed = await confirmUpTo(sql, {
      chainId,
      target: upTo,
      targetHash: hash,
      headNumber: head,
      tokens,
    })
    // null: the stored block at `upTo` is orphaned; the next block's parent
    // check finds and handles the reorg.
    if (confirmed === null) return
    cp = { ...cp, finalizedNumber: upTo }
    metrics.finalizedBlock.set(labels, Number(upTo))
    report('confirmed', confirmed, { finalized_by: target.source })
    if (confirmed.length > 0) deps.onEvents()
  }

  /**
   * A reorg may have happened while we were down; with no new block yet,
   * the parent check would not see it. Compare the checkpoint itself.
   */
  async function verifyCheckpoint(head: bigint): Promise<void> {
    if (head < cp.number) return
    const canonical = await deps.fetcher.header(cp.number)
    if (canonical.hash !== cp.hash) await handleReorg(head)
  }

  async function step(): Promise<void> {
    const head = deps.head.current()
    if (head < 0n || !deps.lockHeld()) return
    if (!verified) {
      await verifyCheckpoint(head)
      verified = true
    }
    const now = Date.now()
    const due = now - lastFinalityAt >= deps.pollIntervalMs
    const final = due ? await deps.finality.target(head) : undefined
    if (due) lastFinalityAt = now
    let failure: unknown
    try {
      if (final && (await catchUp(head, final.number))) return
      if (head > cp.number) await advance(head)
      else if (head < cp.number) await checkBehind(head)
    } catch (error) {
      if (error instanceof DeepReorgError) throw error
      failure = error
    }
    // Confirmations go on while a new block cannot be fetched.
    if (final) await confirm(head, final)
    if (failure) throw failure
    if (now - lastHeadRecordAt >= 1_000) {
      lastHeadRecordAt = now
      await recordHead(sql, chainId, head)
      metrics.lagBlocks.set(
        labels,
        Number(head > cp.number ? head - cp.number : 0n),
      )
    }
  }

  async function run(): Promise<void> {
    const loaded = await loadCheckpoint(sql, chainId)
    if (!loaded) throw new Error(`No checkpoint for chain ${chainId}`)
    cp = loaded
    log.info(
      {
        block_number: cp.number,
        block_hash: cp.hash,
        finalized_number: cp.finalizedNumber,
      },
      'Resumed from checkpoint',
    )
    let failures = 0
    while (!stopped) {
      const before = cp.number
      try {
        await step()
        failures = 0
        if (deps.head.current() <= cp.number) {
          await deps.head.waitAbove(cp.number, deps.pollIntervalMs)
        }
      } catch (error) {
        if (error instanceof DeepReorgError) {
          metrics.deepReorgHalted.set(labels, 1)
          log.fatal({ err: error, ...error.details }, 'Stopped on deep reorg')
          throw error
        }
        if (error instanceof CheckpointConflictError) {
          cp = (await loadCheckpoint(sql, chainId).catch(() => null)) ?? cp
        }
        // Progress resets the backoff: a step that stored blocks and then
        // met a missing one is not a failing node.
        failures = cp.number === before ? failures + 1 : 1
        const delay = Math.min(100 * 2 ** failures, 5_000)
        log.warn(
          {
            error: describeError(error),
            retry_in_ms: delay,
            block_number: cp.number + 1n,
          },
          'Failed sync step',
        )
        await new Promise((resolve) => setTimeout(resolve, delay))
      }
    }
  }

  return {
    run,
    stop: () => {
      stopped = true
    },
    checkpoint: () => cp,
  }
}
