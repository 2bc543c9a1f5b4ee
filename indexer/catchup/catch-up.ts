import type { Sql } from 'postgres'
import type { WatchedToken } from '../../lib/config.js'
import type { Logger } from '../../lib/logger.js'
import type { BlockFetcher } from '../fetch/block-fetcher.js'
import type { RangeFetcher } from '../fetch/range-fetcher.js'
import { decodeTransfer, type Transfer } from '../match/transfer.js'
import type { Hex } from '../rpc/types.js'
import type { Checkpoint } from '../store/checkpoint.js'
import type { Deposit } from '../store/deposit.js'
import { CheckpointConflictError } from '../store/errors.js'
import { matchTransfers, storeFinalRange } from '../store/store-range.js'

/**
 * Far behind a final block (after downtime, or on a first start with
 * START_BLOCK in the past), block-by-block sync wastes two requests per
 * block. Final blocks cannot reorg, so they are read by range instead and
 * stored in one transaction per chunk, moving the checkpoint to the
 * chunk's last block. Returns the new checkpoint, or null when not behind.
 */
export async function catchUpRange(opts: {
  sql: Sql
  chainId: number
  cp: Checkpoint
  finalNumber: bigint
  headNumber: bigint
  minBlocks: number
  maxBlocks: number
  fetcher: BlockFetcher
  range: RangeFetcher
  tokens: Map<string, WatchedToken>
  log: Logger
}): Promise<{ cp: Checkpoint; deposits: Deposit[]; logs: number } | null> {
  const { cp, sql, chainId } = opts
  // Only from a checkpoint already known to be on the final chain.
  if (cp.number > cp.finalizedNumber) return null
  if (opts.finalNumber - cp.number < BigInt(opts.minBlocks)) return null
  const from = cp.number + 1n
  const last = cp.number + BigInt(opts.maxBlocks)
  const to = last < opts.finalNumber ? last : opts.finalNumber

  const end = await opts.fetcher.header(to)
  const logs = await opts.range.transferLogs(from, to)
  const transfers = logs
    .map(decodeTransfer)
    .filter((t): t is Transfer => t !== null)
  const matched = await matchTransfers(sql, transfers)
  const hashes = new Set<Hex>(matched.transfers.map((t) => t.blockHash))
  const blockTimestamps = await opts.range.blockTimestamps(hashes)
  const deposits = await storeFinalRange(sql, {
    chainId,
    transfers: matched.transfers,
    owners: matched.owners,
    blockTimestamps,
    headNumber: opts.headNumber,
    tokens: opts.tokens,
    alsoInTransaction: async (tx) => {
      const moved = await tx`
        update checkpoints
        set block_number = ${to.toString()}::bigint, block_hash = ${end.hash},
            finalized_number = ${to.toString()}::bigint,
            head_number = ${opts.headNumber.toString()}::bigint,
            updated_at = now()
        where chain_id = ${chainId}
          and block_number = ${cp.number.toString()}::bigint
          and block_hash = ${cp.hash}`
      if (moved.count !== 1) {
        throw new CheckpointConflictError('Checkpoint moved during catch-up')
      }
      // The window restarts at the new final anchor.
      await tx`delete from blocks where chain_id = ${chainId}`
      await tx`
        insert into blocks (chain_id, number, hash, parent_hash, timestamp)
        values (${chainId}, ${to.toString()}::bigint, ${end.hash},
          ${end.parentHash}, ${end.timestampMs.toString()}::bigint)`
    },
  })
  opts.log.info(
    {
      from_block: from,
      to_block: to,
      logs: logs.length,
      deposits: deposits.length,
    },
    'Caught up final range',
  )
  return {
    cp: { number: to, hash: end.hash, finalizedNumber: to },
    deposits,
    logs: logs.length,
  }
}
