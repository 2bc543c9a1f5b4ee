import type { Sql, TransactionSql } from 'postgres'
import type { WatchedToken } from '../../lib/config.js'
import type { Transfer } from '../match/transfer.js'
import type { BlockHeader } from '../rpc/types.js'
import { type Deposit, depositId } from './deposit.js'
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
    const candidates = input.transfers.filter((t) => t.amount > 0n)
    if (candidates.length === 0) return [] as Deposit[]

    const owners = await tx<{ address: string; user_id: string }[]>`
      select address, user_id from deposit_addresses
      where address = any(${[...new Set(candidates.map((t) => t.to))]}::text[])`
    if (owners.length === 0) return [] as Deposit[]
    const ownerOf = new Map(owners.map((o) => [o.address, o.user_id]))
    const deposits: Deposit[] = []
    for (const t of candidates) {
      const userId = ownerOf.get(t.to)
      if (!userId) continue
      deposits.push({
        id: depositId(chainId, block.hash, t.logIndex),
        chainId,
        blockNumber: block.number,
        blockHash: block.hash,
        blockTimestampMs: block.timestampMs,
        txHash: t.txHash,
        logIndex: t.logIndex,
        token: t.token,
        from: t.from,
        to: t.to,
        userId,
        amount: t.amount,
        status: 'detected',
        revision: 0,
      })
    }
    const written = await insertDeposits(tx, deposits)
    await insertEvents(tx, written, 'deposit.detected', input)
    return written
  })
}

/**
 * Inserts deposits; a deposit that was reverted and whose block is canonical
 * again comes back as detected with its revision bumped. Returns the rows
 * that changed, with their revision.
 */
async function insertDeposits(tx: TransactionSql, deposits: Deposit[]) {
  const col = <K extends keyof Deposit>(k: K) =>
    deposits.map((d) => String(d[k]))
  const rows = await tx<{ id: string; revision: number }[]>`
    insert into deposits (id, chain_id, block_number, block_hash,
      block_timestamp, tx_hash, log_index, token, from_address, to_address,
      user_id, amount, status)
    select id, chain_id::integer, block_number::bigint, block_hash,
      block_timestamp::bigint, tx_hash, log_index::integer, token,
      from_address, to_address, user_id::uuid, amount::numeric, 'detected'
    from unnest(${col('id')}::text[], ${col('chainId')}::text[],
      ${col('blockNumber')}::text[], ${col('blockHash')}::text[],
      ${col('blockTimestampMs')}::text[], ${col('txHash')}::text[],
      ${col('logIndex')}::text[], ${col('token')}::text[], ${col('from')}::text[],
      ${col('to')}::text[], ${col('userId')}::text[], ${col('amount')}::text[])
      as t(id, chain_id, block_number, block_hash, block_timestamp, tx_hash,
           log_index, token, from_address, to_address, user_id, amount)
    on conflict (id) do update
      set status = 'detected', revision = deposits.revision + 1,
          updated_at = now()
      where deposits.status = 'reverted'
    returning id, revision`
  const revisionOf = new Map(rows.map((r) => [r.id, r.revision]))
  return deposits
    .filter((d) => revisionOf.has(d.id))
    .map((d) => ({ ...d, revision: revisionOf.get(d.id)! }))
}
