import type { DepositStatus } from '../../db/schema/index.js'
import type { Hex } from '../rpc/types.js'

/** A deposit as the indexer writes it and as its events describe it. */
export interface Deposit {
  id: string
  chainId: number
  blockNumber: bigint
  blockHash: Hex
  blockTimestampMs: bigint
  txHash: Hex
  logIndex: number
  token: Hex
  from: Hex
  to: Hex
  userId: string
  amount: bigint
  status: DepositStatus
  revision: number
}

export function depositId(chainId: number, blockHash: Hex, logIndex: number) {
  return `${chainId}:${blockHash}:${logIndex}`
}

/** Columns of `deposits` as postgres.js returns them (snake_case). */
export interface DepositDbRow {
  id: string
  chain_id: number
  block_number: bigint
  block_hash: string
  block_timestamp: bigint
  tx_hash: string
  log_index: number
  token: string
  from_address: string
  to_address: string
  user_id: string
  amount: string
  status: DepositStatus
  revision: number
}

export function fromDbRow(row: DepositDbRow): Deposit {
  return {
    id: row.id,
    chainId: row.chain_id,
    blockNumber: BigInt(row.block_number),
    blockHash: row.block_hash as Hex,
    blockTimestampMs: BigInt(row.block_timestamp),
    txHash: row.tx_hash as Hex,
    logIndex: row.log_index,
    token: row.token as Hex,
    from: row.from_address as Hex,
    to: row.to_address as Hex,
    userId: row.user_id,
    amount: BigInt(row.amount),
    status: row.status,
    revision: row.revision,
  }
}
