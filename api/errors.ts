import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'

/**
 * A refusal the API means to give: it becomes the response
 * `{ "error": { "code", "message" } }` with its status, and never a 500.
 */
export class ApiError extends Error {
  override name = 'ApiError'

  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options)
  }
}

export function errorResponse(c: Context, error: ApiError): Response {
  return c.json(
    { error: { code: error.code, message: error.message } },
    error.status,
  )
}

// postgres.js reports lost connections with these codes; the others are
// SQLSTATEs a retry can cure (shutdown, overload, deadlock, serialization).
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '53400',
  '40001',
  '40P01',
])

/** The code of an error or of its causes: drizzle wraps driver errors. */
export function errorCode(error: unknown): string | undefined {
  let current = error
  for (let depth = 0; depth < 4; depth++) {
    if (typeof current !== 'object' || current === null) return undefined
    const { code, cause } = current as { code?: unknown; cause?: unknown }
    if (typeof code === 'string') return code
    current = cause
  }
  return undefined
}

/** True when the database is out of reach or asks us to try again. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const code = errorCode(error)
  if (code === undefined) return false
  return TRANSIENT_CODES.has(code) || code.startsWith('08')
}

/** SQLSTATE class 22: the database refused a value, so the input was bad. */
export function isDataException(error: unknown): boolean {
  const code = errorCode(error)
  return code !== undefined && /^22[0-9A-Z]{3}$/.test(code)
}

export const unavailable = (cause: unknown) =>
  new ApiError(503, 'unavailable', 'The database is unavailable; retry.', {
    cause,
  })
