import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApiApp } from '../../api/app.js'
import { createMetrics } from '../../lib/metrics.js'
import { call, createTestApi, SECRET, type TestApi } from './support.js'

describe('health, readiness and metrics', () => {
  let api: TestApi
  beforeAll(async () => {
    api = await createTestApi({ readyMaxLagBlocks: 5 })
  })
  afterAll(async () => {
    await api?.close()
  })

  async function setCheckpoint(lag: number, ageSeconds: number) {
    await api.db.sql`
      insert into checkpoints (chain_id, block_number, block_hash,
        finalized_number, head_number, updated_at)
      values (56, 1000, '0x00', 990, ${1000 + lag},
        now() - make_interval(secs => ${ageSeconds}))
      on conflict (chain_id) do update set
        head_number = excluded.head_number,
        updated_at = excluded.updated_at`
  }

  it('behavior: answers /health', async () => {
    expect(await call(api.app, 'GET', '/health')).toEqual({
      status: 200,
      body: { status: 'ok' },
    })
  })

  it('behavior: is ready with a database and no checkpoint yet', async () => {
    const res = await call(api.app, 'GET', '/ready')
    expect(res).toEqual({ status: 200, body: { status: 'ready' } })
  })

  it('behavior: is ready while the indexer is within its lag bound', async () => {
    await setCheckpoint(5, 1)
    const res = await call(api.app, 'GET', '/ready')
    expect(res).toEqual({
      status: 200,
      body: { status: 'ready', lagBlocks: 5 },
    })
  })

  it('error: 503 while the indexer lags too far', async () => {
    await setCheckpoint(6, 1)
    const res = await call(api.app, 'GET', '/ready')
    expect(res.status).toBe(503)
    expect(res.body.error.code).toBe('not_ready')
    expect(res.body.error.message).toMatch(/6 blocks behind/)
  })

  it('error: 503 when the checkpoint has not moved for a minute', async () => {
    await setCheckpoint(0, 120)
    const res = await call(api.app, 'GET', '/ready')
    expect(res.status).toBe(503)
    expect(res.body.error.message).toMatch(/checkpoint is 120 s old/)
  })

  it('error: 404 not_found JSON for an unknown route', async () => {
    const res = await call(api.app, 'GET', '/nowhere')
    expect(res.status).toBe(404)
    expect(res.body.error.code).toBe('not_found')
  })

  it('behavior: exports request metrics labelled by route pattern', async () => {
    const id = '00000000-0000-4000-8000-000000000000'
    await call(api.app, 'GET', `/api/v1/users/${id}`)
    await call(api.app, 'GET', '/nowhere/else')
    const res = await api.app.request('/metrics')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    const text = await res.text()
    expect(text).toContain('api_http_requests_total')
    expect(text).toContain(
      'api_http_requests_total{route="/api/v1/users/:id",method="GET",status_class="4xx"} 1',
    )
    expect(text).toContain('route="unmatched"')
    expect(text).toContain('route="/health",method="GET",status_class="2xx"')
    expect(text).not.toContain(id)
  })

  it('behavior: logs one line per request with its route pattern', async () => {
    const lines: Record<string, unknown>[] = []
    const log = pino(
      { level: 'info' },
      { write: (line: string) => lines.push(JSON.parse(line)) },
    )
    const app = createApiApp({
      db: api.db.db,
      sql: api.db.sql,
      metrics: createMetrics(),
      log,
      config: {
        bodyLimitBytes: 4096,
        adminToken: undefined,
        readyMaxLagBlocks: 5,
        webhookSecret: SECRET,
        chainId: 56,
      },
    })
    await app.request('/api/v1/users/00000000-0000-4000-8000-000000000000')
    const served = lines.filter((line) => line.msg === 'Served request')
    expect(served).toHaveLength(1)
    expect(served[0]).toMatchObject({
      method: 'GET',
      route: '/api/v1/users/:id',
      status: 403,
      duration_ms: expect.any(Number),
    })
  })
})
