import { createHash, timingSafeEqual } from 'node:crypto'
import type { MiddlewareHandler } from 'hono'
import { ApiError } from './errors.js'

const digest = (value: string) => createHash('sha256').update(value).digest()

/**
 * Bearer-token guard for user and admin routes. Without a configured token
 * the routes are off. Tokens are compared as digests, in constant time.
 */
export function adminAuth(token: string | undefined): MiddlewareHandler {
  const expected = token === undefined ? undefined : digest(token)
  return async (c, next) => {
    if (!expected) {
      throw new ApiError(
        403,
        'admin_disabled',
        'Admin routes are off; set ADMIN_TOKEN to enable them.',
      )
    }
    const header = c.req.header('authorization') ?? ''
    const match = /^Bearer (.+)$/i.exec(header)
    if (!match?.[1] || !timingSafeEqual(digest(match[1]), expected)) {
      throw new ApiError(
        401,
        'unauthorized',
        'Expected the header "authorization: Bearer <ADMIN_TOKEN>".',
      )
    }
    await next()
  }
}
