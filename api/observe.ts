import type { Context, MiddlewareHandler } from 'hono'
import { matchedRoutes } from 'hono/route'
import type { Logger } from '../lib/logger.js'
import type { Metrics } from '../lib/metrics.js'

/**
 * The pattern of the route that answered, like `/api/v1/users/:id`; never
 * the raw path, which would put ids into metric labels. Middleware is
 * registered for every method, so it is skipped.
 */
export function routeOf(c: Context): string {
  const routes = matchedRoutes(c)
  for (let i = routes.length - 1; i >= 0; i--) {
    const route = routes[i]
    if (route && route.method !== 'ALL') return route.path
  }
  return 'unmatched'
}

/** One log line and one observation per request. */
export function observe(log: Logger, metrics: Metrics): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now()
    await next()
    const seconds = (performance.now() - started) / 1000
    const status = c.res.status
    const labels = {
      route: routeOf(c),
      method: c.req.method,
      status_class: `${Math.floor(status / 100)}xx`,
    }
    metrics.httpRequests.inc(labels)
    metrics.httpRequestSeconds.observe(labels, seconds)
    log.info(
      {
        method: labels.method,
        route: labels.route,
        status,
        duration_ms: Math.round(seconds * 1e4) / 10,
      },
      'Served request',
    )
  }
}
