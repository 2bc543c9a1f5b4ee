import type { Sql } from 'postgres'
import type { WatchedToken } from '../../lib/config.js'
import type { Hex } from '../rpc/types.js'
import { type DepositDbRow, fromDbRow } from '../store/deposit.js'
import { insertEvents } from '../store/events.js'

/**
 * Confirms every detected deposit at or below `target`, a block the chain
 * has finalized and whose hash we stored, and prunes the window below it.
 * Returns null when the stored block at `target` is not the final one: our
 * branch is orphaned and the reorg must be handled first.
 */
export async function confirmUpTo(
  sql: Sql,
  input: {
    chainId: number
    target: bigint
    targetHash: Hex
    headNumber: bigint
    tokens: Map<string, WatchedToken>
  },
) {
  const { chainId } = input
  const target = input.target.toString()
  return sql.begin(async (tx) => {
    const [stored] = await tx<{ hash: string }[]>`
      select hash from blocks
      where chain_id = ${chainId} and number = ${target}::bigint
      for share`
    if (!stored || stored.hash !== input.targetHash) return null
    const rows = await tx<DepositDbRow[]>`
      update deposits set status = 'confirmed', updated_at = now()
      where chain_id = ${chainId} and status = 'detected'
        and block_number <= ${target}::bigint
      returning *`
    const confirmed = rows.map(fromDbRow)
    await insertEvents(tx, confirmed, 'deposit.confirmed', input)
    await tx`
      delete from blocks
      where chain_id = ${chainId} and number < ${target}::bigint`
    await tx`
      update checkpoints set finalized_number = ${target}::bigint
      where chain_id = ${chainId} and finalized_number < ${target}::bigint`
    return confirmed
  })
}
