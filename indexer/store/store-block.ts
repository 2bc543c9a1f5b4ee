import type { Sql } from 'postgres'
import type { WatchedToken } from '../../lib/config.js'
import type { Transfer } from '../match/transfer.js'
import type { BlockHeader } from '../rpc/types.js'
import type { Deposit } from './deposit.js'
import { findOwners, insertDeposits, toDeposits } from './deposit-rows.js'
import { CheckpointConflictError } from './errors.js'
import { insertEvents } from './events.js'

export interface StoreBlockInput {
  chainId: number
  block: BlockHeader
  /** Decoded Transfers of watched tokens in this block, any recipient. */
  transfers: Transfer[]
  headNumber: bigint
  tokens: Map<string, WatchedToken>
}

/**
 * Stores one block in one transaction: the window row, its deposits, their
 * `deposit.detected` events and the checkpoint. The checkpoint update is
 * conditional on the parent being the stored checkpoint, so a block can be
 * stored only on top of the block it descends from, and only once.
 */
export async function storeBlock(sql: Sql, input: StoreBlockInput) {
  const { chainId, block } = input
  return sql.begin(async (tx) => {
    const moved = await tx`
      update checkpoints
      set block_number = ${block.number.toString()}::bigint,
          block_hash = ${block.hash},
          head_number = ${input.headNumber.toString()}::bigint,
          updated_at = now()
      where chain_id = ${chainId}
        and block_number = ${(block.number - 1n).toString()}::bigint
        and block_hash = ${block.parentHash}`
    if (moved.count !== 1) {
      throw new CheckpointConflictError('Checkpoint is not the parent', {
        details: { block_number: block.number, block_hash: block.hash },
      })
    }
    await tx`
      insert into blocks (chain_id, number, hash, parent_hash, timestamp)
      values (${chainId}, ${block.number.toString()}::bigint, ${block.hash},
              ${block.parentHash}, ${block.timestampMs.toString()}::bigint)`
    const owners = await findOwners(tx, input.transfers)
    if (owners.size === 0) return [] as Deposit[]
    const deposits = toDeposits({
      chainId,
      transfers: input.transfers,
      owners,
      timestampOf: () => block.timestampMs,
      status: 'detected',
    })
    const written = await insertDeposits(tx, deposits, 'revive')
    await insertEvents(tx, written, 'deposit.detected', input)
    return written
  })
}
