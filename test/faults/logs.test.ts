import { afterEach, describe, expect, it } from 'vitest'
import { readFixture } from '../helpers/fixtures.js'
import { startTestIndexer } from '../helpers/indexer.js'
import * as fault from '../helpers/rpc-faults.js'
import type { RpcProxy } from '../helpers/rpc-proxy.js'
import {
  counterSum,
  expectIndexedExactly,
  firstCalls,
  logsBlockHash,
  mineToFinality,
  type Rig,
  sendTransfers,
  settle,
  startRig,
} from './harness.js'

/** The public endpoints' refusal, exactly as recorded on bsc-dataseed. */
const limitExceeded = (() => {
  const fixture = readFixture<{ observed_responses: { verbatim?: string }[] }>(
    'getlogs-error-texts.json',
  )
  const { error } = JSON.parse(fixture.observed_responses[0]!.verbatim!)
  return error as { code: number; message: string }
})()

const hostOf = (url: string) => new URL(url).host

describe('faults: eth_getLogs answers', () => {
  let rig: Rig | undefined

  afterEach(async () => {
    await rig?.stop()
    rig = undefined
  })

  it('error: endpoint A refuses every eth_getLogs with "limit exceeded"; B serves them, metrics tell which', async () => {
    expect(limitExceeded).toEqual({ code: -32005, message: 'limit exceeded' })
    rig = await startRig({ proxies: 2 })
    const [a, b] = rig.proxies as [RpcProxy, RpcProxy]
    a.on({ method: 'eth_getLogs' }, fault.error(limitExceeded))
    rig.indexer = await startTestIndexer({
      rpcUrl: `${a.url},${b.url}`,
      db: rig.db,
    })
    await sendTransfers(rig, 5)
    await mineToFinality(rig)
    await settle(rig)
    await expectIndexedExactly(rig)

    const requests = rig.indexer.metrics.rpcRequests
    const logsFrom = (url: string, outcome: string) =>
      counterSum(requests, {
        method: 'eth_getLogs',
        endpoint: hostOf(url),
        outcome,
      })
    expect(await logsFrom(a.url, 'error')).toBeGreaterThan(0)
    expect(await logsFrom(a.url, 'ok')).toBe(0)
    expect(await logsFrom(b.url, 'ok')).toBeGreaterThanOrEqual(5)
    expect(await logsFrom(b.url, 'error')).toBe(0)
    const up = await rig.indexer.metrics.rpcEndpointUp.get()
    const upOf = (url: string) =>
      up.values.find((v) => v.labels.endpoint === hostOf(url))?.value
    expect(upOf(b.url)).toBe(1)
    // A still answers other methods, but one it fails keeps it down.
    expect(upOf(a.url)).toBe(0)
  })

  // Each block's logs run: user, stranger, user (one batch), user (USDC),
  // stranger; the cuts below drop deposits, not only strangers' transfers.
  it.each([3, 11])(
    'behavior: endpoint A silently drops the first log of some answers; nothing is lost (seed %i)',
    async (seed) => {
      rig = await startRig({ proxies: 2, seed })
      const [a, b] = rig.proxies as [RpcProxy, RpcProxy]
      const cut = a.on(
        { method: 'eth_getLogs', probability: 0.5 },
        fault.truncate((list) => list.slice(1)),
      )
      rig.indexer = await startTestIndexer({
        rpcUrl: `${a.url},${b.url}`,
        db: rig.db,
      })
      await sendTransfers(rig, 6)
      await mineToFinality(rig)
      await settle(rig)
      expect(cut.hits, `seed ${seed}`).toBeGreaterThan(0)
      await expectIndexedExactly(rig)
    },
  )

  it('behavior: a single endpoint cuts the last two logs from its first answer for each block; the cross-check recovers them', async () => {
    rig = await startRig()
    const [proxy] = rig.proxies as [RpcProxy]
    const cut = proxy.on(
      { method: 'eth_getLogs', when: firstCalls(1, logsBlockHash) },
      fault.truncate((list) => list.slice(0, -2)),
    )
    rig.indexer = await startTestIndexer({ rpcUrl: proxy.url, db: rig.db })
    await sendTransfers(rig, 5)
    await mineToFinality(rig)
    await settle(rig)
    expect(cut.hits).toBeGreaterThanOrEqual(5)
    await expectIndexedExactly(rig)
  })
  it('behavior: a balancer alternates between an honest node and one 3 blocks behind that answers [] for blocks it lacks', async () => {
    rig = await startRig()
    const [proxy] = rig.proxies as [RpcProxy]
    let turn = 0
    const lag = proxy.on(
      { when: () => turn++ % 2 === 1 },
      fault.lagging(3, { emptyLogs: true }),
    )
    rig.indexer = await startTestIndexer({ rpcUrl: proxy.url, db: rig.db })
    await sendTransfers(rig, 6, { atTip: true })
    await mineToFinality(rig)
    await settle(rig)
    expect(lag.hits).toBeGreaterThan(0)
    await expectIndexedExactly(rig)
  })

  it.each([5, 8, 21])(
    'behavior: a balancer picks by chance between an honest node and one 3 blocks behind; no block is stored without its logs (seed %i)',
    async (seed) => {
      rig = await startRig({ seed })
      const [proxy] = rig.proxies as [RpcProxy]
      const lag = proxy.on(
        { probability: 0.5 },
        fault.lagging(3, { emptyLogs: true }),
      )
      rig.indexer = await startTestIndexer({ rpcUrl: proxy.url, db: rig.db })
      await sendTransfers(rig, 6, { atTip: true })
      await mineToFinality(rig)
      await settle(rig)
      expect(lag.hits, `seed ${seed}`).toBeGreaterThan(0)
      await expectIndexedExactly(rig)
    },
  )
})
