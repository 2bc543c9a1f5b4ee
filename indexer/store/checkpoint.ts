import type { Sql } from 'postgres'
import type { WatchedToken } from '../../lib/config.js'
import type { BlockHeader, Hex } from '../rpc/types.js'

export interface Checkpoint {
  number: bigint
  hash: Hex
  finalizedNumber: bigint
}

export async function loadCheckpoint(
  sql: Sql,
  chainId: number,
): Promise<Checkpoint | null> {
  const [row] = await sql<
    { block_number: bigint; block_hash: string; finalized_number: bigint }[]
  >`select block_number, block_hash, finalized_number from checkpoints
    where chain_id = ${chainId}`
  if (!row) return null
  return {
    number: BigInt(row.block_number),
    hash: row.block_hash as Hex,
    finalizedNumber: BigInt(row.finalized_number),
  }
}

/**
 * First start on a chain: the anchor block becomes the checkpoint and the
 * first row of the window. Indexing starts at the block after it.
 */
export async function initCheckpoint(
  sql: Sql,
  chainId: number,
  anchor: BlockHeader,
  finalizedNumber: bigint,
): Promise<Checkpoint> {
  await sql.begin(async (tx) => {
    await tx`
      insert into checkpoints (chain_id, block_number, block_hash,
        finalized_number, head_number)
      values (${chainId}, ${anchor.number.toString()}::bigint, ${anchor.hash},
        ${finalizedNumber.toString()}::bigint, ${anchor.number.toString()}::bigint)
      on conflict (chain_id) do nothing`
    await tx`
      insert into blocks (chain_id, number, hash, parent_hash, timestamp)
      values (${chainId}, ${anchor.number.toString()}::bigint, ${anchor.hash},
        ${anchor.parentHash}, ${anchor.timestampMs.toString()}::bigint)
      on conflict do nothing`
  })
  const stored = await loadCheckpoint(sql, chainId)
  if (!stored) throw new Error('Checkpoint vanished after insert')
  return stored
}

/** Keeps the `tokens` table in step with configuration, for the API. */
export async function syncTokens(
  sql: Sql,
  chainId: number,
  tokens: WatchedToken[],
): Promise<void> {
  for (const t of tokens) {
    await sql`
      insert into tokens (chain_id, address, symbol, decimals)
      values (${chainId}, ${t.address}, ${t.symbol}, ${t.decimals})
      on conflict (chain_id, address)
      do update set symbol = excluded.symbol, decimals = excluded.decimals`
  }
}

/** Stored hash of the window block at `number`, if it is in the window. */
export async function storedHash(
  sql: Sql,
  chainId: number,
  number: bigint,
): Promise<Hex | null> {
  const [row] = await sql<{ hash: string }[]>`
    select hash from blocks
    where chain_id = ${chainId} and number = ${number.toString()}::bigint`
  return (row?.hash as Hex) ?? null
}

export async function recordHead(
  sql: Sql,
  chainId: number,
  head: bigint,
): Promise<void> {
  await sql`
    update checkpoints set head_number = ${head.toString()}::bigint,
      updated_at = now()
    where chain_id = ${chainId}`
}
