import type { Sql } from '../../db/client.js'

/** An outbox row this process holds a lease on. */
export interface ClaimedEvent {
  seq: bigint
  id: string
  depositId: string
  body: string
  /** Attempts made before this one. */
  attempts: number
  /** `locked_until` as PostgreSQL wrote it: the claim's token. */
  lease: string
  /** The same instant in epoch milliseconds, for local deadlines. */
  leaseEndsAt: number
}

/**
 * Takes up to `limit` due events, oldest due first, and leases them for
 * `leaseMs`.
 *
 * - `FOR UPDATE SKIP LOCKED` lets dispatchers in several processes claim at
 *   once without waiting on, or taking, each other's rows.
 * - A claim is only a lease: if this process dies, `locked_until` passes
 *   and another dispatcher takes the event again. Nothing is lost; at worst
 *   an event is sent twice, which the receiver absorbs by `webhook-id`.
 * - An event waits while an earlier event of its deposit is still pending,
 *   so a receiver sees detected, then confirmed, then reverted. A dead
 *   earlier event does not block: it waits for a person, the rest should not.
 * - The lease comes back as ISO text, never a JS Date: it is compared as
 *   a token later, and the microseconds a Date drops would break that.
 *   (drizzle also switches the shared client's timestamp parsing to raw
 *   strings, so nothing here relies on Date conversion either way.)
 *
 * The shape is chosen for the planner, which sees stale statistics right
 * after a burst of events (or a drained backlog) and switches prepared
 * statements to generic plans. Measured with 500k delivered rows:
 * - `NOT EXISTS` for the deposit-order test let it pick merge or hash anti
 *   joins, or probe the partial `status = 'pending'` index per candidate,
 *   each O(backlog) or O(table): 15-290 ms a claim. The pending test inside
 *   an aggregate FILTER cannot use that partial index, so the per-row probe
 *   always walks the (deposit_id, seq) index: a deposit has few events.
 * - `UPDATE ... FROM cte` became a hash join over a sequential scan of the
 *   whole table in generic plans; `seq = any(array(...))` is always an
 *   index scan on the primary key.
 * Every variant of this form stayed under about 1 ms a claim.
 */
export async function claimDue(
  sql: Sql,
  limit: number,
  leaseMs: number,
): Promise<ClaimedEvent[]> {
  const rows = await sql<ClaimRow[]>`
    update outbox_events
    set locked_until = now() + ${leaseMs} * interval '1 millisecond'
    where seq = any(array(
      select e.seq
      from outbox_events e
      where e.status = 'pending'
        and e.next_attempt_at <= now()
        and (e.locked_until is null or e.locked_until <= now())
        -- the oldest pending event of its deposit; why FILTER: see above
        and e.seq = (
          select min(p.seq) filter (where p.status = 'pending')
          from outbox_events p
          where p.deposit_id = e.deposit_id
        )
      order by e.next_attempt_at
      limit ${limit}
      for update skip locked
    ))
    returning seq, id, deposit_id, body, attempts,
      to_json(locked_until) #>> '{}' as lease
  `
  return rows.map((row) => ({
    seq: row.seq,
    id: row.id,
    depositId: row.deposit_id,
    body: row.body,
    attempts: row.attempts,
    lease: row.lease,
    leaseEndsAt: Date.parse(row.lease),
  }))
}

interface ClaimRow {
  seq: bigint
  id: string
  deposit_id: string
  body: string
  attempts: number
  lease: string
}

/**
 * Records 2xx results, many in one statement. A 2xx is final whoever holds
 * the lease now, so only `pending` guards it: a late success still counts,
 * but never overwrites a dead letter or a delivery already recorded.
 * Returns, per event, whether its row changed.
 */
export async function recordDelivered(
  sql: Sql,
  delivered: { event: ClaimedEvent; statusCode: number }[],
): Promise<boolean[]> {
  const ids = delivered.map((d) => d.event.id)
  const codes = delivered.map((d) => String(d.statusCode))
  const rows = await sql<{ id: string }[]>`
    update outbox_events o
    set status = 'delivered',
      attempts = o.attempts + 1,
      delivered_at = now(),
      last_status_code = d.code::int,
      last_error = null,
      last_response = null,
      locked_until = null
    from unnest(${ids}::text[], ${codes}::text[]) as d(id, code)
    where o.id = d.id and o.status = 'pending'
    returning o.id
  `
  const changed = new Set(rows.map((row) => row.id))
  return ids.map((id) => changed.has(id))
}

export interface Failure {
  statusCode: number | undefined
  error: string | undefined
  response: string | undefined
}

/**
 * Schedules the next attempt. Guarded by the lease as well as the status:
 * if this result comes back after our lease ran out and another dispatcher
 * took the event, theirs is the attempt that counts.
 */
export async function recordRetry(
  sql: Sql,
  event: ClaimedEvent,
  failure: Failure,
  delayMs: number,
): Promise<boolean> {
  const result = await sql`
    update outbox_events
    set attempts = attempts + 1,
      next_attempt_at = now() + ${delayMs} * interval '1 millisecond',
      last_status_code = ${failure.statusCode ?? null},
      last_error = ${failure.error ?? null},
      last_response = ${failure.response ?? null},
      locked_until = null
    where id = ${event.id} and status = 'pending'
      and locked_until = ${event.lease}::timestamptz
  `
  return result.count === 1
}

/** Gives up on the event, keeping what the receiver said for a person. */
export async function recordDead(
  sql: Sql,
  event: ClaimedEvent,
  failure: Failure,
): Promise<boolean> {
  const result = await sql`
    update outbox_events
    set status = 'dead',
      attempts = attempts + 1,
      last_status_code = ${failure.statusCode ?? null},
      last_error = ${failure.error ?? null},
      last_response = ${failure.response ?? null},
      locked_until = null
    where id = ${event.id} and status = 'pending'
      and locked_until = ${event.lease}::timestamptz
  `
  return result.count === 1
}

/**
 * Hands unfinished claims back at once instead of when their lease ends.
 * Leases travel as text[]: drizzle turns the shared client's timestamptz[]
 * serializer into a pass-through that cannot encode a JS array.
 */
export async function releaseClaims(
  sql: Sql,
  events: ClaimedEvent[],
): Promise<number> {
  if (events.length === 0) return 0
  const ids = events.map((event) => event.id)
  const leases = events.map((event) => event.lease)
  const result = await sql`
    update outbox_events o
    set locked_until = null
    from unnest(${ids}::text[], ${leases}::text[]) as c(id, lease)
    where o.id = c.id and o.status = 'pending'
      and o.locked_until = c.lease::timestamptz
  `
  return result.count
}

/**
 * True while some pending event is due and not held back by an earlier
 * one of its deposit, whoever holds its lease.
 */
export async function hasDueEvents(sql: Sql): Promise<boolean> {
  const [row] = await sql<{ due: boolean }[]>`
    select exists (
      select 1 from outbox_events e
      where e.status = 'pending'
        and e.next_attempt_at <= now()
        and e.seq = (
          select min(p.seq) filter (where p.status = 'pending')
          from outbox_events p
          where p.deposit_id = e.deposit_id
        )
    ) as due
  `
  return row?.due ?? false
}

export interface OutboxStats {
  pending: number
  oldestSeconds: number
  dead: number
}

/** One query; each part reads one of the partial indexes on status. */
export async function readOutboxStats(sql: Sql): Promise<OutboxStats> {
  const [row] = await sql<{ pending: bigint; oldest: number; dead: bigint }[]>`
    select
      (select count(*) from outbox_events where status = 'pending')
        as pending,
      coalesce(extract(epoch from now() - (
        select min(created_at) from outbox_events where status = 'pending'
      ))::float8, 0) as oldest,
      (select count(*) from outbox_events where status = 'dead') as dead
  `
  return {
    pending: Number(row?.pending ?? 0),
    oldestSeconds: row?.oldest ?? 0,
    dead: Number(row?.dead ?? 0),
  }
}
