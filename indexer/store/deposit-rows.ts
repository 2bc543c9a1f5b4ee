import type { Sql, TransactionSql } from 'postgres'
import type { DepositStatus } from '../../db/schema/index.js'
import type { Transfer } from '../match/transfer.js'
import { type Deposit, depositId } from './deposit.js'

type Queryable = Sql | TransactionSql

/**
 * The user behind each recipient of a positive Transfer, in one round
 * trip. Recipients without a deposit address are absent from the map.
 */
export async function findOwners(
  sql: Queryable,
  transfers: Transfer[],
): Promise<Map<string, string>> {
  const recipients = new Set<string>()
  for (const t of transfers) if (t.amount > 0n) recipients.add(t.to)
  if (recipients.size === 0) return new Map()
  const rows = (await sql`
    select address, user_id from deposit_addresses
    where address = any(${[...recipients]}::text[])`) as unknown as {
    address: string
    user_id: string
  }[]
  return new Map(rows.map((r) => [r.address, r.user_id]))
}

/**
 * The deposits among `transfers`: positive amounts to a known address.
 * Their ids depend only on chain, block hash and log index, so the live
 * indexer and the backfill name the same log the same way.
 */
export function toDeposits(input: {
  chainId: number
  transfers: Transfer[]
  owners: Map<string, string>
  timestampOf: (t: Transfer) => bigint
  status: DepositStatus
}): Deposit[] {
  const deposits: Deposit[] = []
  for (const t of input.transfers) {
    const userId = input.owners.get(t.to)
    if (!userId || t.amount <= 0n) continue
    deposits.push({
      id: depositId(input.chainId, t.blockHash, t.logIndex),
      chainId: input.chainId,
      blockNumber: t.blockNumber,
      blockHash: t.blockHash,
      blockTimestampMs: input.timestampOf(t),
      txHash: t.txHash,
      logIndex: t.logIndex,
      token: t.token,
      from: t.from,
      to: t.to,
      userId,
      amount: t.amount,
      status: input.status,
      revision: 0,
    })
  }
  return deposits
}

/**
 * Inserts deposits with one `unnest` statement and returns the rows it
 * wrote, with their revision. On an existing id:
 * - `revive` (live): a reverted deposit whose block is canonical again
 *   comes back as detected with its revision bumped; others are left;
 * - `skip` (backfill): the stored row is left alone.
 */
export async function insertDeposits(
  tx: TransactionSql,
  deposits: Deposit[],
  onConflict: 'revive' | 'skip',
): Promise<Deposit[]> {
  if (deposits.length === 0) return []
  const col = <K extends keyof Deposit>(k: K) =>
    deposits.map((d) => String(d[k]))
  const conflict =
    onConflict === 'revive'
      ? tx`on conflict (id) do update
          set status = 'detected', revision = deposits.revision + 1,
              updated_at = now()
          where deposits.status = 'reverted'`
      : tx`on conflict (id) do nothing`
  const rows = await tx<{ id: string; revision: number }[]>`
    insert into deposits (id, chain_id, block_number, block_hash,
      block_timestamp, tx_hash, log_index, token, from_address, to_address,
      user_id, amount, status)
    select id, chain_id::integer, block_number::bigint, block_hash,
      block_timestamp::bigint, tx_hash, log_index::integer, token,
      from_address, to_address, user_id::uuid, amount::numeric, status
    from unnest(${col('id')}::text[], ${col('chainId')}::text[],
      ${col('blockNumber')}::text[], ${col('blockHash')}::text[],
      ${col('blockTimestampMs')}::text[], ${col('txHash')}::text[],
      ${col('logIndex')}::text[], ${col('token')}::text[], ${col('from')}::text[],
      ${col('to')}::text[], ${col('userId')}::text[], ${col('amount')}::text[],
      ${col('status')}::text[])
      as t(id, chain_id, block_number, block_hash, block_timestamp, tx_hash,
           log_index, token, from_address, to_address, user_id, amount, status)
    ${conflict}
    returning id, revision`
  const revisionOf = new Map(rows.map((r) => [r.id, r.revision]))
  return deposits
    .filter((d) => revisionOf.has(d.id))
    .map((d) => ({ ...d, revision: revisionOf.get(d.id)! }))
}
