import type { Sql } from '../../db/client.js'
import { canonicalAddress } from '../../lib/address.js'
import type { DepositEvent } from '../../lib/deposit-event.js'
import type { Outcome } from './apply.js'
import { type CreditStatus, INITIAL_STATUS } from './claim.js'

interface FastRow {
  route: 'seen' | 'unknown_user' | 'apply' | 'slow'
  deposit_status: CreditStatus | null
  seen_status: 'processed' | 'rejected' | null
  event_status: 'processed' | 'rejected' | null
  event_created: boolean | null
  credited: number
}

/**
 * The common cases in one statement, so one round trip and one commit:
 * a duplicate, an unknown user, the first event of a deposit, a detected
 * event on a live deposit, a confirmation of a pending one. Everything
 * else (reverts of known deposits, anything on a reverted deposit, replays
 * of rejected events) answers 'slow' and goes to the full transaction,
 * having changed nothing.
 *
 * Why it cannot credit twice: the deposit row is created or locked by an
 * upsert before anything else is written, so deliveries for one deposit
 * queue there; its update moves only 'pending' to 'credited'; and the
 * ledger entry is guarded by the unique (deposit_id, kind) index, the
 * balance moving only with an inserted entry.
 */
export async function tryFastPath(
  sql: Sql,
  event: DepositEvent,
  text: string,
): Promise<Outcome | 'slow'> {
  const d = event.data
  const [row] = await sql<FastRow[]>`
    with seen as (
      select status from received_events where id = ${event.id}
    ), known as (
      select exists (select 1 from users where id = ${d.userId}) as known
    ), dep as (
      insert into user_deposits (deposit_id, user_id, chain_id, token,
        symbol, amount, tx_hash, block_number, status)
      select ${d.depositId}, ${d.userId}, ${d.chainId},
        ${canonicalAddress(d.token.address)}, ${d.token.symbol},
        ${d.amount}, ${d.txHash.toLowerCase()}, ${d.blockNumber},
        ${INITIAL_STATUS[event.type]}
      from known where known and not exists (select 1 from seen)
      on conflict (deposit_id) do update set
        status = case
          when ${event.type} = 'deposit.confirmed'
            and user_deposits.status = 'pending' then 'credited'
          else user_deposits.status end,
        updated_at = now()
      returning user_id, chain_id, token, symbol, amount, status,
        (xmax = 0) as created
    ), plan as (
      select dep.*, case
        when exists (select 1 from seen) then 'seen'
        when not known.known then 'unknown_user'
        when dep.created then 'apply'
        when ${event.type} <> 'deposit.reverted'
          and dep.status in ('pending', 'credited') then 'apply'
        else 'slow' end as route
      from known left join dep on true
    ), ev as (
      insert into received_events
        (id, type, deposit_id, status, error_code, body, processed_at)
      select ${event.id}, ${event.type}, ${d.depositId},
        case when route = 'apply' then 'processed' else 'rejected' end,
        case when route = 'apply' then null else 'unknown_user' end,
        ${text}::jsonb,
        case when route = 'apply' then now() end
      from plan where route in ('apply', 'unknown_user')
      on conflict (id) do update set status = received_events.status
      returning status, (xmax = 0) as created
    ), entry as (
      insert into ledger_entries
        (user_id, chain_id, token, deposit_id, kind, amount, event_id)
      select user_id, chain_id, token, ${d.depositId}, 'credit', amount,
        ${event.id}
      from plan
      where route = 'apply' and status = 'credited'
        and ${event.type} = 'deposit.confirmed'
      on conflict (deposit_id, kind) do nothing
      returning user_id, chain_id, token, amount
    ), balance as (
      insert into balances as b (user_id, chain_id, token, symbol, amount)
      select e.user_id, e.chain_id, e.token, ${d.token.symbol}, e.amount
      from entry e
      on conflict (user_id, chain_id, token) do update
        set amount = b.amount + excluded.amount, updated_at = now()
      returning 1
    )
    select plan.route, plan.status as deposit_status,
      (select status from seen) as seen_status,
      ev.status as event_status, ev.created as event_created,
      (select count(*) from entry)::int as credited
    from plan left join ev on true`
  if (!row) throw new Error('Fast-path statement returned no row')
  return toOutcome(event, row)
}

function toOutcome(event: DepositEvent, row: FastRow): Outcome | 'slow' {
  if (row.credited > 0) return { status: 'credited', credited: true }
  if (row.seen_status === 'processed') return { status: 'duplicate' }
  if (row.route === 'seen' || row.route === 'slow') return 'slow'
  // Another delivery stored this id while we ran: processed means done;
  // rejected means a replay the full transaction must look at.
  if (row.event_created === false) {
    return row.event_status === 'processed' ? { status: 'duplicate' } : 'slow'
  }
  if (row.route === 'unknown_user') return { status: 'unknown_user' }
  if (event.type === 'deposit.confirmed') return { status: 'duplicate' }
  return { status: row.deposit_status ?? 'pending' }
}
