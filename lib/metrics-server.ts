import { createServer } from 'node:http'
import type { Metrics } from './metrics.js'

/** Serves GET /metrics for a process that has no API of its own. */
export async function serveMetrics(
  metrics: Metrics,
  host: string,
  port: number,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer(async (req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') {
      res.writeHead(404, { 'content-type': 'application/json' })
      res.end('{"error":{"code":"not_found","message":"Only GET /metrics"}}')
      return
    }
    const body = await metrics.registry.metrics()
    res.writeHead(200, { 'content-type': metrics.registry.contentType })
    res.end(body)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, resolve)
  })
  const address = server.address()
  const bound = typeof address === 'object' && address ? address.port : port
  return {
    url: `http://${host}:${bound}/metrics`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}
