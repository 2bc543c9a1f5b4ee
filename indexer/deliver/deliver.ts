import { setTimeout as sleep } from 'node:timers/promises'
import type { Sql } from '../../db/client.js'
import type { Logger } from '../../lib/logger.js'
import type { Metrics } from '../../lib/metrics.js'
import { createBatcher } from './batch.js'
import {
  type ClaimedEvent,
  recordDead,
  recordDelivered,
  recordRetry,
} from './outbox.js'
import type { Poster } from './post.js'
import {
  type AttemptResult,
  judge,
  type RetryPolicy,
  type Verdict,
} from './verdict.js'

export interface DeliverContext {
  sql: Sql
  metrics: Metrics
  log: Logger
  post: Poster['post']
  policy: RetryPolicy
  /** Aborted when stop() stops waiting; cuts posts and record retries. */
  stopSignal: AbortSignal
  delivered: (item: {
    event: ClaimedEvent
    statusCode: number
  }) => Promise<boolean>
}

export function createDeliverContext(
  base: Omit<DeliverContext, 'delivered'>,
): DeliverContext {
  const delivered = createBatcher(
    (items: { event: ClaimedEvent; statusCode: number }[]) =>
      recordDelivered(base.sql, items),
  )
  return { ...base, delivered }
}

export interface Attempt {
  result: AttemptResult
  durationMs: number
}

/** The POST alone; it is what the concurrency limit is about. */
export async function attempt(
  ctx: DeliverContext,
  event: ClaimedEvent,
): Promise<Attempt> {
  const started = performance.now()
  const result = await ctx.post(event, ctx.stopSignal)
  return { result, durationMs: performance.now() - started }
}

/** `delivered`: 2xx. `retry`: a retryable status. `error`: no response. */
type Outcome = 'delivered' | 'retry' | 'dead' | 'error'

/**
 * Judges an attempt, records it and counts it. Returns false when the
 * claim is still ours to hand back: stop() cut the attempt short.
 */
export async function settle(
  ctx: DeliverContext,
  event: ClaimedEvent,
  { result, durationMs }: Attempt,
): Promise<boolean> {
  // Cut short by stop(): not a real attempt, the claim goes back as it was.
  if (ctx.stopSignal.aborted && result.statusCode === undefined) return false

  const attempts = event.attempts + 1
  const verdict = judge(result, attempts, ctx.policy)
  const outcome = outcomeOf(verdict, result)
  ctx.metrics.deliveries.inc({ outcome })
  ctx.metrics.deliverySeconds.observe({ outcome }, durationMs / 1000)

  const applied = await persist(ctx, event, () =>
    record(ctx, event, verdict, result),
  )
  // Not written: stop() hands the claim back, or else its lease runs out.
  if (applied === undefined) return !ctx.stopSignal.aborted
  logAttempt(ctx.log, event, verdict, result, applied, durationMs)
  return true
}

function outcomeOf(verdict: Verdict, result: AttemptResult): Outcome {
  if (verdict.kind !== 'retry') return verdict.kind
  return result.statusCode === undefined ? 'error' : 'retry'
}

function record(
  ctx: DeliverContext,
  event: ClaimedEvent,
  verdict: Verdict,
  result: AttemptResult,
): Promise<boolean> {
  if (verdict.kind === 'delivered') {
    return ctx.delivered({ event, statusCode: result.statusCode ?? 0 })
  }
  if (verdict.kind === 'retry') {
    return recordRetry(ctx.sql, event, result, verdict.delayMs)
  }
  return recordDead(ctx.sql, event, result)
}

function logAttempt(
  log: Logger,
  event: ClaimedEvent,
  verdict: Verdict,
  result: AttemptResult,
  applied: boolean,
  durationMs: number,
): void {
  const fields = {
    event_id: event.id,
    deposit_id: event.depositId,
    attempt: event.attempts + 1,
    status_code: result.statusCode,
    duration: Math.round(durationMs),
  }
  if (!applied) {
    log.debug(fields, 'Skipped stale delivery result')
  } else if (verdict.kind === 'delivered') {
    log.info(fields, 'Delivered webhook')
  } else if (verdict.kind === 'retry') {
    const retry = { ...fields, error: result.error, retry_in: verdict.delayMs }
    log.warn(retry, 'Scheduled event retry')
  } else {
    const dead = { ...fields, error: result.error, reason: verdict.reason }
    log.error(dead, 'Dead-lettered event')
  }
}

/**
 * Retries the write of a result through a short database outage, so a
 * delivery that happened is not sent again. It stops before the lease
 * runs out: past that, another dispatcher may take the event, and the
 * duplicate that follows is the at-least-once promise, not a loss.
 * Returns undefined when it gave up.
 */
async function persist(
  ctx: DeliverContext,
  event: ClaimedEvent,
  write: () => Promise<boolean>,
): Promise<boolean | undefined> {
  for (let failures = 0; ; failures++) {
    try {
      return await write()
    } catch (error) {
      const wait = Math.min(100 * 2 ** failures, 5_000)
      const fields = { err: error, event_id: event.id, retry_in: wait }
      if (Date.now() + wait >= event.leaseEndsAt) {
        ctx.log.warn(fields, 'Failed to record delivery result, gave up')
        return undefined
      }
      ctx.log.warn(fields, 'Failed to record delivery result')
      const slept = await sleep(wait, true, { signal: ctx.stopSignal })
        .then(() => true)
        .catch(() => false)
      if (!slept) return undefined
    }
  }
}
