import type { Sql } from '../../db/client.js'
import type { DepositEvent } from '../../lib/deposit-event.js'
import { type Applied, applyEvent } from './apply.js'
import { claimEvent, markProcessed } from './claim.js'

export type Outcome = Applied | { status: 'unknown_user' }

/**
 * Applies one verified event in one transaction: the event is recorded,
 * the deposit moved, the ledger and balance written, or none of it.
 * An event for an unknown user is kept as rejected (and committed) so it
 * can be replayed once the user exists.
 */
export function receiveEvent(
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
