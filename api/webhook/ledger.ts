import type { TransactionSql } from 'postgres'
import type { CreditStatus } from './claim.js'

/**
 * Credits the deposit's amount once. The unique (deposit_id, kind) index
 * decides whether this is the first credit; the balance moves only when
 * the ledger row was really inserted. Returns whether it was.
 */
export async function credit(
  tx: TransactionSql,
  depositId: string,
  eventId: string,
): Promise<boolean> {
  const [row] = await tx<{ inserted: number }[]>`
    with entry as (
      insert into ledger_entries
        (user_id, chain_id, token, deposit_id, kind, amount, event_id)
      select user_id, chain_id, token, deposit_id, 'credit', amount,
        ${eventId}
      from user_deposits where deposit_id = ${depositId}
      on conflict (deposit_id, kind) do nothing
      returning user_id, chain_id, token, amount
    ), balance as (
      insert into balances as b (user_id, chain_id, token, symbol, amount)
      select e.user_id, e.chain_id, e.token, d.symbol, e.amount
      from entry e join user_deposits d on d.deposit_id = ${depositId}
      on conflict (user_id, chain_id, token) do update
        set amount = b.amount + excluded.amount, updated_at = now()
      returning 1
    ), marked as (
      update user_deposits set status = 'credited', updated_at = now()
      where deposit_id = ${depositId} and exists (select 1 from entry)
      returning 1
    )
    select count(*)::int as inserted from entry`
  return (row?.inserted ?? 0) > 0
}

/**
 * Takes a credited deposit back: a negative 'reversal' entry (once, by the
 * same unique index), the balance lowered by it, the deposit marked
 * reverted and flagged for a person to look at.
 */
export async function reverse(
  tx: TransactionSql,
  depositId: string,
  eventId: string,
  reason: string,
): Promise<boolean> {
  const [row] = await tx<{ inserted: number }[]>`
    with entry as (
      insert into ledger_entries
        (user_id, chain_id, token, deposit_id, kind, amount, event_id)
      select user_id, chain_id, token, deposit_id, 'reversal', -amount,
        ${eventId}
      from user_deposits where deposit_id = ${depositId}
      on conflict (deposit_id, kind) do nothing
      returning user_id, chain_id, token, amount
    ), balance as (
      update balances b
      set amount = b.amount + e.amount, updated_at = now()
      from entry e
      where b.user_id = e.user_id and b.chain_id = e.chain_id
        and b.token = e.token
      returning 1
    ), marked as (
      update user_deposits
      set status = 'reverted', flagged = ${reason}, updated_at = now()
      where deposit_id = ${depositId}
      returning 1
    )
    select count(*)::int as inserted from entry`
  return (row?.inserted ?? 0) > 0
}

export async function setStatus(
  tx: TransactionSql,
  depositId: string,
  status: CreditStatus,
  flagged?: string,
): Promise<void> {
  await tx`
    update user_deposits
    set status = ${status}, updated_at = now(),
      flagged = coalesce(${flagged ?? null}, flagged)
    where deposit_id = ${depositId}`
}

/**
 * The highest revisions this API has processed for a deposit: of its
 * reverted events, and of its detected or confirmed ones; -1 when none.
 */
export async function revisions(
  tx: TransactionSql,
  depositId: string,
): Promise<{ reverted: number; live: number }> {
  const [row] = await tx<{ reverted: number; live: number }[]>`
    select
      coalesce(max(rev) filter (where type = 'deposit.reverted'), -1)
        as reverted,
      coalesce(max(rev) filter (where type <> 'deposit.reverted'), -1)
        as live
    from (
      select type, coalesce((body -> 'data' ->> 'revision')::int, 0) as rev
      from received_events
      where deposit_id = ${depositId} and status = 'processed'
    ) r`
  return row ?? { reverted: -1, live: -1 }
}
