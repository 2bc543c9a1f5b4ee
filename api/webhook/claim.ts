import type { TransactionSql } from 'postgres'
import { canonicalAddress } from '../../lib/address.js'
import type { DepositEvent, DepositEventType } from '../../lib/deposit-event.js'

export type CreditStatus = 'pending' | 'credited' | 'reverted'

/** What the deposit becomes when this event is the first one heard of it. */
export const INITIAL_STATUS: Record<DepositEventType, CreditStatus> = {
  'deposit.detected': 'pending',
  // Its ledger entry is written in the same transaction.
  'deposit.confirmed': 'credited',
  // Kept, so a late detected or confirmed of the same block cannot credit.
  'deposit.reverted': 'reverted',
}

export type Claim =
  | { kind: 'duplicate' }
  | { kind: 'unknown_user' }
  | {
      kind: 'claimed'
      /** True when the event had been stored as rejected before. */
      replayed: boolean
      deposit: { status: CreditStatus; created: boolean }
    }

interface ClaimRow {
  event_status: 'processed' | 'rejected'
  event_created: boolean
  deposit_status: CreditStatus | null
  deposit_created: boolean | null
}

/**
 * One statement that records the event by its id and creates or locks the
 * deposit's row. Both upserts take row locks, so deliveries of one event,
 * or of two events of one deposit, run one after the other from here on.
 * `xmax = 0` tells a row this statement inserted from one it updated.
 */
export async function claimEvent(
  tx: TransactionSql,
  event: DepositEvent,
  text: string,
): Promise<Claim> {
  const d = event.data
  const [row] = await tx<ClaimRow[]>`
    with known as (
      select exists (select 1 from users where id = ${d.userId}) as known
    ), ev as (
      insert into received_events
        (id, type, deposit_id, status, error_code, body, processed_at)
      select ${event.id}, ${event.type}, ${d.depositId},
        case when known then 'processed' else 'rejected' end,
        case when known then null else 'unknown_user' end,
        ${text}::jsonb,
        case when known then now() end
      from known
      on conflict (id) do update set status = received_events.status
      returning status, (xmax = 0) as created
    ), dep as (
      insert into user_deposits (deposit_id, user_id, chain_id, token,
        symbol, amount, tx_hash, block_number, status)
      select ${d.depositId}, ${d.userId}, ${d.chainId},
        ${canonicalAddress(d.token.address)}, ${d.token.symbol},
        ${d.amount}, ${d.txHash.toLowerCase()}, ${d.blockNumber},
        ${INITIAL_STATUS[event.type]}
      from ev, known
      where known.known and (ev.created or ev.status = 'rejected')
      on conflict (deposit_id)
        do update set updated_at = user_deposits.updated_at
      returning status, (xmax = 0) as created
    )
    select ev.status as event_status, ev.created as event_created,
      dep.status as deposit_status, dep.created as deposit_created
    from ev left join dep on true`
  if (!row) throw new Error('Claim statement returned no row')
  return toClaim(row)
}

function toClaim(row: ClaimRow): Claim {
  if (!row.event_created && row.event_status === 'processed') {
    return { kind: 'duplicate' }
  }
  if (row.deposit_status === null) return { kind: 'unknown_user' }
  return {
    kind: 'claimed',
    replayed: !row.event_created,
    deposit: {
      status: row.deposit_status,
      created: row.deposit_created === true,
    },
  }
}

export async function markProcessed(
  tx: TransactionSql,
  eventId: string,
): Promise<void> {
  await tx`
    update received_events
    set status = 'processed', error_code = null, processed_at = now()
    where id = ${eventId}`
}
