import http from 'node:http'
import https from 'node:https'
import { Webhook } from 'standardwebhooks'
import { redactText } from '../../lib/errors.js'
import type { AttemptResult } from './verdict.js'

/** Enough of a response to tell a person why the receiver refused. */
export const RESPONSE_KEEP_BYTES = 2048

export interface PostTarget {
  url: string
  secret: string
  timeoutMs: number
  concurrency: number
}

export interface Poster {
  post(
    event: { id: string; body: string },
    signal: AbortSignal,
  ): Promise<AttemptResult>
  /** Closes the idle keep-alive connections. */
  close(): void
}

/**
 * Signs and POSTs events. The body is the stored text, sent as it is: the
 * signature covers exactly these bytes. `webhook-id` is the event id, so a
 * receiver sees the same id on every retry; the timestamp is fresh on each
 * attempt, since receivers refuse ones older than five minutes.
 *
 * node:http with a keep-alive agent, not fetch: measured here, undici spent
 * about three times the CPU per request (~550 µs against ~180 µs), which
 * at thousands of events a second is the dispatcher's whole budget.
 * Redirects are not followed: one would resend the body to a host nobody
 * configured; a 3xx is reported and retried instead.
 */
export function createPoster(target: PostTarget): Poster {
  const webhook = new Webhook(target.secret)
  const url = new URL(target.url)
  const client = url.protocol === 'https:' ? https : http
  const agent = new client.Agent({
    keepAlive: true,
    maxSockets: target.concurrency,
  })
  const post: Poster['post'] = async (event, signal) => {
    const body = Buffer.from(event.body, 'utf8')
    const now = new Date()
    const headers = {
      'content-type': 'application/json',
      'content-length': String(body.byteLength),
      'webhook-id': event.id,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': webhook.sign(event.id, now, body),
      'idempotency-key': event.id,
    }
    const timeout = AbortSignal.timeout(target.timeoutMs)
    const options = {
      method: 'POST',
      agent,
      headers,
      signal: AbortSignal.any([timeout, signal]),
    }
    try {
      return await send(client, url, options, body)
    } catch (error) {
      return {
        statusCode: undefined,
        retryAfter: undefined,
        response: undefined,
        error: describe(error, timeout.aborted, target.timeoutMs),
      }
    }
  }
  return { post, close: () => agent.destroy() }
}

/**
 * One request. Resolves once the response has ended, keeping its first
 * RESPONSE_KEEP_BYTES; reading a body to its end lets the connection be
 * reused. A body cut off half-way (the timeout, a reset) still resolves:
 * the status line has already said what happened.
 */
function send(
  client: typeof http | typeof https,
  url: URL,
  options: http.RequestOptions,
  body: Buffer,
): Promise<AttemptResult> {
  return new Promise((resolve, reject) => {
    let responded = false
    const req = client.request(url, options, (res) => {
      responded = true
      const chunks: Buffer[] = []
      let kept = 0
      res.on('data', (chunk: Buffer) => {
        if (kept >= RESPONSE_KEEP_BYTES) return
        chunks.push(chunk)
        kept += chunk.byteLength
      })
      res.on('error', () => {})
      res.on('close', () =>
        resolve({
          statusCode: res.statusCode,
          retryAfter: header(res.headers['retry-after']),
          response: text(chunks),
          error: undefined,
        }),
      )
    })
    // After the status line, an error ends the body; `close` resolves.
    req.on('error', (error) => {
      if (!responded) reject(error)
    })
    req.end(body)
  })
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

function text(chunks: Buffer[]): string {
  return (
    Buffer.concat(chunks)
      .subarray(0, RESPONSE_KEEP_BYTES)
      .toString('utf8')
      // PostgreSQL text cannot hold NUL characters.
      .replaceAll('\u0000', '')
  )
}

function describe(error: unknown, timedOut: boolean, timeoutMs: number) {
  if (timedOut) return `timed out after ${timeoutMs} ms`
  if (!(error instanceof Error)) return String(error)
  const code = (error as NodeJS.ErrnoException).code
  const message = code ? `${code}: ${error.message}` : error.message
  return redactText(message)
}
