import { afterEach, describe, expect, it } from 'vitest'
import { createRpcClient } from '../../indexer/rpc/rpc-client.js'
import { createMetrics } from '../../lib/metrics.js'
import { eventually, startTestIndexer } from '../helpers/indexer.js'
import * as fault from '../helpers/rpc-faults.js'
import type { RpcProxy } from '../helpers/rpc-proxy.js'
import {
  expectIndexedExactly,
  memoryLogger,
  mineToFinality,
  type Rig,
  sendTransfers,
  settle,
  startRig,
} from './harness.js'

const PASSWORD = 's3cret'
const KEY = '0123456789abcdef0123456789abcdef'
/** What viem sends instead of the URL's user info. */
const BASIC = Buffer.from(`alice:${PASSWORD}`).toString('base64')

/** The proxy's url as a provider hands it out: user info and a key. */
const withSecrets = (proxy: RpcProxy) => {
  const url = new URL(`/v1/${KEY}`, proxy.url)
  url.username = 'alice'
  url.password = PASSWORD
  return url.toString()
}

/** Fails every method, each its own way, some echoing the url it was sent. */
function failEverything(proxy: RpcProxy, url: string) {
  const echo = { code: -32000, message: `request to ${url} failed` }
  proxy.on({ method: 'eth_chainId' }, fault.error(echo))
  proxy.on({ method: 'eth_blockNumber' }, fault.httpStatus(503))
  proxy.on({ method: 'eth_getBlockByNumber' }, fault.delay(700))
  proxy.on({ method: 'eth_getLogs', probability: 0.5 }, fault.drop())
  proxy.on(
    { method: 'eth_getLogs' },
    fault.httpStatus(502, `<html><body>upstream ${url} failed</body></html>`),
  )
}

function expectNoSecret(text: string, where: string) {
  for (const secret of [PASSWORD, KEY, BASIC]) {
    expect(text.includes(secret), `${where} holds ${secret}`).toBe(false)
  }
}

/** Everything a person could see of an error: message, details, causes. */
function everythingOf(error: unknown): string {
  const parts: string[] = []
  let e: unknown = error
  for (let depth = 0; e && depth < 10; depth++) {
    const err = e as Error & { details?: unknown; cause?: unknown }
    parts.push(String(err), err.message, err.stack ?? '')
    parts.push(JSON.stringify(err.details ?? null, (_k, v) => String(v)))
    e = err.cause
  }
  return parts.join('\n')
}

describe('faults: credentials in RPC urls', () => {
  let rig: Rig | undefined

  afterEach(async () => {
    await rig?.stop()
    rig = undefined
  })

  it('error: a failing endpoint with a password and an API key never puts them in logs', async () => {
    rig = await startRig({ proxies: 2 })
    const [a, b] = rig.proxies as [RpcProxy, RpcProxy]
    const secretUrl = withSecrets(a)
    failEverything(a, secretUrl)
    const logs = memoryLogger('trace')
    rig.indexer = await startTestIndexer({
      rpcUrl: `${secretUrl},${b.url}`,
      db: rig.db,
      env: { RPC_TIMEOUT_MS: '300' },
      log: logs.log,
    })
    await sendTransfers(rig, 4)
    await mineToFinality(rig)
    await settle(rig)
    await expectIndexedExactly(rig)

    // The proxy takes any path, so every method reached it and failed.
    const methods = new Set(a.requests.entries.map((e) => e.method))
    for (const m of ['eth_chainId', 'eth_blockNumber', 'eth_getLogs']) {
      expect(methods).toContain(m)
    }
    expect(logs.text()).toContain('Failed RPC request')
    expectNoSecret(logs.text(), 'the log')
    const metrics = await rig.indexer.metrics.registry.metrics()
    expectNoSecret(metrics, 'the metrics')
  })

  it('error: the errors thrown when no endpoint answers carry no credentials', async () => {
    rig = await startRig()
    const [proxy] = rig.proxies as [RpcProxy]
    const secretUrl = withSecrets(proxy)
    failEverything(proxy, secretUrl)
    const logs = memoryLogger('trace')
    const rpc = createRpcClient({
      urls: [secretUrl],
      timeoutMs: 300,
      metrics: createMetrics(),
      log: logs.log,
    })
    const thrown: unknown[] = []
    for (const method of ['eth_chainId', 'eth_blockNumber', 'eth_getLogs']) {
      for (let i = 0; i < 4; i++) {
        await rpc.request(method, [], { parse: (raw) => raw }).then(
          () => expect.fail(`${method} should have failed`),
          (error: unknown) => thrown.push(error),
        )
      }
    }
    await rpc
      .request('eth_getBlockByNumber', ['0x1', false], { parse: (r) => r })
      .catch((error: unknown) => thrown.push(error))
    expect(thrown).toHaveLength(13)
    for (const error of thrown) expectNoSecret(everythingOf(error), 'an error')

    // Start-up waits for such an endpoint, logging why; once told to give
    // up, it throws what reaches the fatal log.
    const abort = new AbortController()
    const starting = startTestIndexer({
      rpcUrl: secretUrl,
      db: rig.db,
      log: logs.log,
      signal: abort.signal,
    }).then(
      (indexer) => indexer.stop().then(() => null),
      (error: unknown) => error,
    )
    await eventually(async () =>
      logs.text().includes('Waiting for the RPC at start-up'),
    )
    abort.abort()
    const started = await starting
    expect(started).toBeInstanceOf(Error)
    expectNoSecret(everythingOf(started), 'the start-up error')
    const err = started as Error & { details?: Record<string, unknown> }
    logs.log.fatal({ err, ...err.details }, err.message)
    expectNoSecret(logs.text(), 'the log')
  })
})
