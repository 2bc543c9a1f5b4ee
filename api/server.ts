import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import type { Hono } from 'hono'

export interface ApiServer {
  url: string
  close(): Promise<void>
}

/**
 * Serves the app on `host:port`; port 0 takes any free port, and `url`
 * names the one bound. `close` stops accepting, lets requests in flight
 * finish, then drops idle keep-alive connections.
 */
export function startApiServer(
  app: Hono,
  opts: { host: string; port: number },
): Promise<ApiServer> {
  return new Promise((resolve, reject) => {
    const server = serve(
      { fetch: app.fetch, hostname: opts.host, port: opts.port },
      (info: AddressInfo) => {
        server.off('error', reject)
        const host = info.family === 'IPv6' ? `[${info.address}]` : info.address
        resolve({
          url: `http://${host}:${info.port}`,
          close: () => closeServer(server),
        })
      },
    )
    server.once('error', reject)
  })
}

type Closable = ReturnType<typeof serve> & {
  closeIdleConnections?: () => void
}

function closeServer(server: Closable): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()))
    server.closeIdleConnections?.()
  })
}
