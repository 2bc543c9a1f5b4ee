/** What one POST attempt came back with; `statusCode` is absent when none. */
export interface AttemptResult {
  statusCode: number | undefined
  retryAfter: string | undefined
  /** The first bytes of the response body, for the dead-letter record. */
  response: string | undefined
  /** Why there was no response: a timeout or a connection error. */
  error: string | undefined
}

export interface RetryPolicy {
  maxAttempts: number
  backoffBaseMs: number
  backoffMaxMs: number
}

export type Verdict =
  | { kind: 'delivered' }
  | { kind: 'retry'; delayMs: number }
  | { kind: 'dead'; reason: string }

/**
 * Decides what an attempt means, per the webhook contract in DESIGN.md:
 * 2xx is done; 408, 429, 5xx and no response at all are retried; any other
 * 4xx is the receiver refusing the event, which no retry will change.
 * `attempts` counts this attempt too.
 */
export function judge(
  result: AttemptResult,
  attempts: number,
  policy: RetryPolicy,
  nowMs = Date.now(),
): Verdict {
  const code = result.statusCode
  if (code !== undefined && code >= 200 && code < 300) {
    return { kind: 'delivered' }
  }
  if (code !== undefined && !isRetryableStatus(code)) {
    return { kind: 'dead', reason: `refused with HTTP ${code}` }
  }
  if (attempts >= policy.maxAttempts) {
    return { kind: 'dead', reason: `gave up after ${attempts} attempts` }
  }
  const backoff = backoffMs(attempts, policy)
  const asked = parseRetryAfter(result.retryAfter, nowMs) ?? 0
  // The receiver's wish is a floor, never a reason to retry sooner than
  // the backoff: a server answering `Retry-After: 0` must not drive a hot
  // loop. Neither may push the retry beyond the configured ceiling.
  const delayMs = Math.min(Math.max(asked, backoff), policy.backoffMaxMs)
  return { kind: 'retry', delayMs }
}

/**
 * 1xx and 3xx are retried too: they are not a refusal of the event, and a
 * redirect usually means a URL someone will correct.
 */
export function isRetryableStatus(code: number): boolean {
  if (code === 408 || code === 429) return true
  return code < 400 || code >= 500
}

/**
 * Exponential backoff with equal jitter: half the step is kept, half is
 * random, so retries of many events spread out but none comes back at once.
 */
export function backoffMs(
  attempts: number,
  policy: Pick<RetryPolicy, 'backoffBaseMs' | 'backoffMaxMs'>,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(attempts - 1, 0), 40)
  const step = Math.min(
    policy.backoffMaxMs,
    policy.backoffBaseMs * 2 ** exponent,
  )
  return Math.round(step / 2 + (random() * step) / 2)
}

/**
 * `Retry-After` is either whole seconds or an HTTP date (RFC 9110 10.2.3).
 * Returns milliseconds from now, or undefined when absent or unreadable.
 */
export function parseRetryAfter(
  value: string | undefined,
  nowMs: number,
): number | undefined {
  const text = value?.trim()
  if (!text) return undefined
  if (/^[0-9]+$/.test(text)) return Number(text) * 1000
  // Every HTTP date form starts with a day name; Date.parse alone would
  // take "-5" or "1.5" for years.
  if (!/^[A-Za-z]{3}/.test(text)) return undefined
  const at = Date.parse(text)
  if (Number.isNaN(at)) return undefined
  return Math.max(0, at - nowMs)
}
