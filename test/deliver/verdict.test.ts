import { describe, expect, it } from 'vitest'
import {
  type AttemptResult,
  backoffMs,
  judge,
  parseRetryAfter,
} from '../../indexer/deliver/verdict.js'

const policy = { maxAttempts: 5, backoffBaseMs: 1_000, backoffMaxMs: 60_000 }
const NOW = Date.parse('2026-01-14T02:30:00.000Z')

function answered(statusCode: number, retryAfter?: string): AttemptResult {
  return { statusCode, retryAfter, response: '', error: undefined }
}
const noAnswer: AttemptResult = {
  statusCode: undefined,
  retryAfter: undefined,
  response: undefined,
  error: 'ECONNRESET: socket hang up',
}

describe('judge', () => {
  it('behavior: any 2xx is delivered', () => {
    for (const code of [200, 201, 202, 204, 299]) {
      expect(judge(answered(code), 1, policy, NOW).kind).toBe('delivered')
    }
  })

  it('behavior: 408, 429, 5xx, 3xx and no answer are retried', () => {
    for (const result of [408, 429, 500, 502, 503, 599, 301, 307].map((c) =>
      answered(c),
    )) {
      expect(judge(result, 1, policy, NOW).kind).toBe('retry')
    }
    expect(judge(noAnswer, 1, policy, NOW).kind).toBe('retry')
  })

  it('behavior: any other 4xx is dead at once, on the first attempt', () => {
    for (const code of [400, 401, 403, 404, 409, 410, 413, 422]) {
      expect(judge(answered(code), 1, policy, NOW)).toEqual({
        kind: 'dead',
        reason: `refused with HTTP ${code}`,
      })
    }
  })

  it('behavior: a retryable failure on the last attempt is dead', () => {
    expect(judge(answered(503), 5, policy, NOW).kind).toBe('dead')
    expect(judge(noAnswer, 5, policy, NOW).kind).toBe('dead')
    expect(judge(answered(503), 4, policy, NOW).kind).toBe('retry')
  })

  it('behavior: waits at least as long as Retry-After asks', () => {
    const verdict = judge(answered(429, '30'), 1, policy, NOW)
    expect(verdict).toEqual({ kind: 'retry', delayMs: 30_000 })
  })

  it('behavior: a Retry-After of 0 does not undercut the backoff', () => {
    const verdict = judge(answered(503, '0'), 3, policy, NOW)
    expect(verdict.kind === 'retry' && verdict.delayMs).toBeGreaterThanOrEqual(
      2_000,
    )
  })

  it('behavior: caps Retry-After at backoffMaxMs', () => {
    const verdict = judge(answered(503, '86400'), 1, policy, NOW)
    expect(verdict).toEqual({ kind: 'retry', delayMs: 60_000 })
  })
})

describe('backoffMs', () => {
  it('behavior: doubles per attempt with equal jitter, up to the cap', () => {
    const low = (n: number) => backoffMs(n, policy, () => 0)
    const high = (n: number) => backoffMs(n, policy, () => 1)
    expect([low(1), high(1)]).toEqual([500, 1_000])
    expect([low(2), high(2)]).toEqual([1_000, 2_000])
    expect([low(4), high(4)]).toEqual([4_000, 8_000])
    expect([low(30), high(30)]).toEqual([30_000, 60_000])
    expect(high(10_000)).toBe(60_000)
  })
})

describe('parseRetryAfter', () => {
  it('args: reads delay-seconds', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120_000)
    expect(parseRetryAfter(' 0 ', NOW)).toBe(0)
  })

  it('args: reads an HTTP date relative to now', () => {
    const at = new Date(NOW + 90_000).toUTCString()
    expect(parseRetryAfter(at, NOW)).toBe(90_000)
    expect(parseRetryAfter('Wed, 14 Jan 2026 02:29:00 GMT', NOW)).toBe(0)
  })

  it('error: ignores what it cannot read', () => {
    expect(parseRetryAfter(undefined, NOW)).toBeUndefined()
    expect(parseRetryAfter('', NOW)).toBeUndefined()
    expect(parseRetryAfter('soon', NOW)).toBeUndefined()
    expect(parseRetryAfter('-5', NOW)).toBeUndefined()
  })
})
