import { afterEach, describe, expect, it } from 'vitest'
import { startTestIndexer } from '../helpers/indexer.js'
import * as fault from '../helpers/rpc-faults.js'
import type { RpcProxy } from '../helpers/rpc-proxy.js'
import {
  blockParam,
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

const { bscErrors } = fault

describe('faults: new blocks, timeouts and dead endpoints', () => {
  let rig: Rig | undefined

  afterEach(async () => {
    await rig?.stop()
    rig = undefined
  })

  it('error: the node answers "header not found" and "unknown block" to the first two requests for each new block', async () => {
    rig = await startRig()
    const [proxy] = rig.proxies as [RpcProxy]
    rig.indexer = await startTestIndexer({ rpcUrl: proxy.url, db: rig.db })
    // Armed once started: start-up does not retry (see the skipped test).
    const headers = proxy.on(
      { method: 'eth_getBlockByNumber', when: firstCalls(2, blockParam) },
      fault.error(bscErrors.headerNotFound),
    )
    const logs = proxy.on(
      { method: 'eth_getLogs', when: firstCalls(2, logsBlockHash) },
      fault.error(bscErrors.unknownBlock),
    )
    await sendTransfers(rig, 5)
    await mineToFinality(rig)
    await settle(rig)
    expect(headers.hits).toBeGreaterThanOrEqual(2 * 9)
    expect(logs.hits).toBeGreaterThanOrEqual(2 * 5)
    await expectIndexedExactly(rig)
  })

  it('behavior: eth_getBlockByNumber answers null for a block eth_blockNumber just announced; the indexer waits for it', async () => {
    rig = await startRig()
    const [proxy] = rig.proxies as [RpcProxy]
    const nulls = proxy.on(
      { method: 'eth_getBlockByNumber', when: firstCalls(3, blockParam) },
      fault.nullResult(),
    )
    rig.indexer = await startTestIndexer({ rpcUrl: proxy.url, db: rig.db })
    await sendTransfers(rig, 5, { atTip: true })
    await mineToFinality(rig)
    await settle(rig)
    expect(nulls.hits).toBeGreaterThanOrEqual(3 * 9)
    await expectIndexedExactly(rig)
  })

  it.each([4, 9])(
    'error: requests that outlive RPC_TIMEOUT_MS and dropped connections are retried (seed %i)',
    async (seed) => {
      rig = await startRig({ seed })
      const [proxy] = rig.proxies as [RpcProxy]
      rig.indexer = await startTestIndexer({
        rpcUrl: proxy.url,
        db: rig.db,
        env: { RPC_TIMEOUT_MS: '300' },
      })
      const slow = proxy.on({ probability: 0.15 }, fault.delay(700))
      const dropped = proxy.on({ probability: 0.1 }, fault.drop())
      await sendTransfers(rig, 5)
      await mineToFinality(rig)
      await settle(rig)
      expect(slow.hits, `seed ${seed}`).toBeGreaterThan(0)
      expect(dropped.hits, `seed ${seed}`).toBeGreaterThan(0)
      await expectIndexedExactly(rig)
      const host = new URL(proxy.url).host
      const timeouts = await counterSum(rig.indexer.metrics.rpcRequests, {
        endpoint: host,
        outcome: 'timeout',
      })
      expect(timeouts, `seed ${seed}`).toBeGreaterThan(0)
    },
  )

  it('error: endpoint A hangs on every request; B serves everything', async () => {
    rig = await startRig({ proxies: 2 })
    const [a, b] = rig.proxies as [RpcProxy, RpcProxy]
    a.on({}, fault.hang())
    rig.indexer = await startTestIndexer({
      rpcUrl: `${a.url},${b.url}`,
      db: rig.db,
      env: { RPC_TIMEOUT_MS: '300' },
    })
    await sendTransfers(rig, 5)
    await mineToFinality(rig)
    await settle(rig)
    await expectIndexedExactly(rig)
    const requests = rig.indexer.metrics.rpcRequests
    const host = (url: string) => new URL(url).host
    expect(
      await counterSum(requests, { endpoint: host(a.url), outcome: 'ok' }),
    ).toBe(0)
    expect(
      await counterSum(requests, { endpoint: host(a.url), outcome: 'timeout' }),
    ).toBeGreaterThan(0)
  })
  // Note: createIndexer (indexer/indexer.ts) asks for the chain id, the head
  // and the anchor block once, without a retry, so one failed request while
  // starting stops the process. Enable once start-up retries like a step.
  it('error: a failed request while starting does not stop the indexer', async () => {
    rig = await startRig()
    const [proxy] = rig.proxies as [RpcProxy]
    for (const method of ['eth_chainId', 'eth_blockNumber']) {
      proxy.on({ method, times: 1 }, fault.error(bscErrors.headerNotFound))
    }
    proxy.on(
      { method: 'eth_getBlockByNumber', times: 2 },
      fault.error(bscErrors.headerNotFound),
    )
    rig.indexer = await startTestIndexer({ rpcUrl: proxy.url, db: rig.db })
    await sendTransfers(rig, 2)
    await mineToFinality(rig)
    await settle(rig)
    await expectIndexedExactly(rig)
  })
})
