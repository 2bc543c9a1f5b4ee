import type { Sql } from '../../db/client.js'
import type { DepositEvent } from '../../lib/deposit-event.js'
import { applyEvent, type Outcome } from './apply.js'
import { claimEvent, markProcessed } from './claim.js'
import { tryFastPath } from './fast-path.js'

/**
 * Applies one verified event atomically: the event is recorded, the
 * deposit moved, the ledger and balance written, or none of it. An event
 * for an unknown user is kept as rejected (and committed) so it can be
 * replayed once the user exists.
 */
export async function receiveEvent(
  sql: Sql,
  event: DepositEvent,
  text: string,
): Promise<Outcome> {
  const fast = await tryFastPath(sql, event, text)
  return fast === 'slow' ? receiveInTransaction(sql, event, text) : fast
}

/** Every case, in one transaction of a few statements. */
export function receiveInTransaction(
  sql: Sql,
  event: DepositEvent,
  text: string,
): Promise<Outcome> {
  return sql.begin(async (tx): Promise<Outcome> => {
    const claim = await claimEvent(tx, event, text)
    if (claim.kind === 'duplicate') return { status: 'duplicate' }
    if (claim.kind === 'unknown_user') return { status: 'unknown_user' }
    const applied = await applyEvent(tx, event, claim.deposit)
    if (claim.replayed) await markProcessed(tx, event.id)
    return applied
  })
}
