import { Hono } from 'hono'
import { registerAdminRoutes } from './admin/routes.js'
import { adminAuth } from './admin-auth.js'
import type { ApiDeps } from './deps.js'
import {
  ApiError,
  errorResponse,
  isDatabaseUnavailable,
  isDataException,
  unavailable,
} from './errors.js'
import { registerHealthRoutes } from './health.js'
import { observe } from './observe.js'
import { registerUserRoutes } from './users/routes.js'
import { createWebhookHandler, WEBHOOK_PATH } from './webhook/route.js'

export type { ApiConfig, ApiDeps } from './deps.js'

/**
 * The whole HTTP API as one Hono app, with no socket of its own: tests
 * drive it with `app.request()`, `startApiServer` puts it on a port.
 */
export function createApiApp(deps: ApiDeps): Hono {
  const log = deps.log.child({ component: 'api' })
  const app = new Hono()

  app.use('*', observe(log, deps.metrics))
  const guard = adminAuth(deps.config.adminToken)
  // `/x/*` covers `/x` itself too.
  app.use('/api/v1/users/*', guard)
  app.use('/api/v1/admin/*', guard)

  app.post(WEBHOOK_PATH, createWebhookHandler(deps))
  registerUserRoutes(app, deps)
  registerAdminRoutes(app, deps)
  registerHealthRoutes(app, deps)

  app.notFound((c) => {
    const path = JSON.stringify(c.req.path.slice(0, 100))
    const message = `No route for ${c.req.method} ${path}.`
    return errorResponse(c, new ApiError(404, 'not_found', message))
  })
  app.onError((error, c) => {
    if (error instanceof ApiError) return errorResponse(c, error)
    if (isDatabaseUnavailable(error)) {
      log.warn({ err: error }, 'Lost the database')
      return errorResponse(c, unavailable(error))
    }
    // A value the database refuses (a NUL byte, an overflow) is bad input
    // on any route, not a fault of ours.
    if (isDataException(error)) {
      return errorResponse(
        c,
        new ApiError(
          400,
          'invalid_payload',
          'The request holds a value that cannot be stored.',
        ),
      )
    }
    log.error({ err: error }, 'Failed request')
    const internal = new ApiError(500, 'internal_error', 'Internal error.')
    return errorResponse(c, internal)
  })
  return app
}
