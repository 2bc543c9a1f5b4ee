import type { Sql, TransactionSql } from 'postgres'
import type { WatchedToken } from '../../lib/config.js'
import { AppError } from '../../lib/errors.js'
import type { Transfer } from '../match/transfer.js'
import type { Hex } from '../rpc/types.js'
import type { Deposit } from './deposit.js'
import { findOwners, insertDeposits, toDeposits } from './deposit-rows.js'
import { insertEvents } from './events.js'

export interface StoreRangeInput {
  chainId: number
  /** Decoded Transfers of watched tokens in final blocks, any recipient. */
  transfers: Transfer[]
  /** Owners by recipient, from matchTransfers; looked up here if absent. */
  owners?: Map<string, string>
  /** Unix ms by block hash, for every block that holds a deposit. */
  blockTimestamps: Map<Hex, bigint>
  headNumber: bigint
  tokens: Map<string, WatchedToken>
  /** Runs last in the same transaction, e.g. to advance a backfill job. */
  alsoInTransaction?: (tx: TransactionSql, stored: Deposit[]) => Promise<void>
}

export interface MatchedTransfers {
  /** The Transfers to known deposit addresses, in their order. */
  transfers: Transfer[]
  owners: Map<string, string>
}

/**
 * Matches recipients against deposit addresses in one round trip, before
 * the transaction, so that headers are fetched only for the blocks that
 * hold a deposit and no transaction stays open while they are.
 */
export async function matchTransfers(
  sql: Sql,
  transfers: Transfer[],
): Promise<MatchedTransfers> {
  const owners = await findOwners(sql, transfers)
  return {
    transfers: transfers.filter((t) => t.amount > 0n && owners.has(t.to)),
    owners,
  }
}

/**
 * Stores deposits of blocks that are already final, in one transaction:
 * each new deposit is written as confirmed with its `deposit.detected` and
 * `deposit.confirmed` events. A deposit the live indexer already stored is
 * left alone and gets no event, and event ids are the live ones, so a
 * range stored twice, or by both paths, yields each row once.
 *
 * Note: only for final blocks. A deposit stored live and later reverted
 * keeps its reverted state here; only the live path revives deposits.
 */
export async function storeFinalRange(
  sql: Sql,
  input: StoreRangeInput,
): Promise<Deposit[]> {
  const { chainId } = input
  return sql.begin(async (tx) => {
    const owners = input.owners ?? (await findOwners(tx, input.transfers))
    const deposits = toDeposits({
      chainId,
      transfers: input.transfers,
      owners,
      timestampOf: (t) => timestampOf(input.blockTimestamps, t),
      status: 'confirmed',
    })
    const stored = await insertDeposits(tx, deposits, 'skip')
    await insertEvents(tx, stored, 'deposit.detected', input)
    await insertEvents(tx, stored, 'deposit.confirmed', input)
    await input.alsoInTransaction?.(tx, stored)
    return stored
  })
}

function timestampOf(timestamps: Map<Hex, bigint>, t: Transfer): bigint {
  const ms = timestamps.get(t.blockHash)
  if (ms === undefined) {
    throw new AppError('No timestamp was given for a block with a deposit', {
      details: { block_number: t.blockNumber, block_hash: t.blockHash },
    })
  }
  return ms
}
