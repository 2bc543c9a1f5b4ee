import type { Sql } from 'postgres'
import type { WatchedToken } from '../../lib/config.js'
import { AppError } from '../../lib/errors.js'
import type { BlockFetcher } from '../fetch/block-fetcher.js'
import type { Hex } from '../rpc/types.js'
import { type DepositDbRow, fromDbRow } from '../store/deposit.js'
import { CheckpointConflictError } from '../store/errors.js'
import { insertEvents } from '../store/events.js'

/**
 * The chain replaced a block we treated as final. Credited deposits may be
 * wrong; a person must decide. The indexer stops rather than guess.
 */
export class DeepReorgError extends AppError {
  override name = 'DeepReorgError'
}

export interface Ancestor {
  number: bigint
  hash: Hex
}

/**
 * Walks down the stored window until the chain's block at a height has the
 * hash we stored: the newest block both branches share.
 */
export async function findCommonAncestor(opts: {
  sql: Sql
  fetcher: BlockFetcher
  chainId: number
  from: bigint
  finalizedNumber: bigint
  maxDepth: number
}): Promise<Ancestor> {
  const { sql, chainId } = opts
  const stored = await sql<{ number: bigint; hash: string }[]>`
    select number, hash from blocks
    where chain_id = ${chainId} and number <= ${opts.from.toString()}::bigint
    order by number desc limit ${opts.maxDepth + 1}`
  for (const row of stored) {
    const number = BigInt(row.number)
    const canonical = await opts.fetcher.header(number)
    if (canonical.hash === row.hash) {
      if (number < opts.finalizedNumber) break
      return { number, hash: canonical.hash }
    }
  }
  throw new DeepReorgError(
    'Reorg reaches below the finalized block; indexer stopped',
    {
      details: {
        chain_id: chainId,
        checkpoint: opts.from,
        finalized_number: opts.finalizedNumber,
      },
    },
  )
}

/**
 * Reverts every deposit above the ancestor, writes `deposit.reverted` for
 * each, drops the orphaned blocks from the window and moves the checkpoint
 * back, all in one transaction.
 */
export async function revertAbove(
  sql: Sql,
  input: {
    chainId: number
    ancestor: Ancestor
    expectedCheckpoint: bigint
    headNumber: bigint
    tokens: Map<string, WatchedToken>
  },
) {
  const { chainId, ancestor } = input
  const above = ancestor.number.toString()
  return sql.begin(async (tx) => {
    const moved = await tx`
      update checkpoints
      set block_number = ${above}::bigint, block_hash = ${ancestor.hash},
          updated_at = now()
      where chain_id = ${chainId}
        and block_number = ${input.expectedCheckpoint.toString()}::bigint`
    if (moved.count !== 1) {
      throw new CheckpointConflictError('Checkpoint moved during reorg')
    }
    const rows = await tx<DepositDbRow[]>`
      update deposits set status = 'reverted', updated_at = now()
      where chain_id = ${chainId} and block_number > ${above}::bigint
        and status <> 'reverted'
      returning *`
    const reverted = rows.map(fromDbRow)
    await insertEvents(tx, reverted, 'deposit.reverted', input)
    await tx`
      delete from blocks
      where chain_id = ${chainId} and number > ${above}::bigint`
    return reverted
  })
}
