import { afterEach, describe, expect, it } from 'vitest'
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** What BSC nodes answer for a tag they cannot serve (eth/filters). */
const finalizedNotFound = {
  code: -32000,
  message: 'finalized header not found',
}
const isFinalizedTag = (call: fault.RpcCall) => call.params[0] === 'finalized'

describe('faults: following the head and finality', () => {
  let rig: Rig | undefined

  afterEach(async () => {
    await rig?.stop()
    rig = undefined
  })

  /** Mines a block every `ms` until the returned stop is called. */
  function keepMining(ms: number) {
    let on = true
    const done = (async () => {
      while (on) {
        await rig!.chain.client.mine({ blocks: 1 })
        await sleep(ms)
      }
    })()
    return async () => {
      on = false
      await done
    }
  }

  /** eth_blockNumber polls over HTTP during `ms`, per second. */
  async function pollRate(proxy: RpcProxy, ms: number): Promise<number> {
    const polls = () =>
      proxy.requests.entries.filter(
        (e) => e.method === 'eth_blockNumber' && e.transport === 'http',
      ).length
    const before = polls()
    await sleep(ms)
    return ((polls() - before) * 1000) / ms
  }

  /** Starts with heads over the proxy's WebSocket; logs kept in memory. */
  async function startFollowing() {
    rig = await startRig()
    const [proxy] = rig.proxies as [RpcProxy]
    const logs = memoryLogger()
    rig.indexer = await startTestIndexer({
      rpcUrl: proxy.url,
      wsUrl: proxy.wsUrl,
      db: rig.db,
      tuning: { wsStallMs: 500 },
      log: logs.log,
    })
    // The head tracker's own account of where heads come from.
    const switches = () =>
      logs.lines
        .map((l) => JSON.parse(l).msg as string)
        .filter((m) => /WebSocket/.test(m) && !/failed/i.test(m))
    return { rig, proxy, switches }
  }

  const following = 'Following heads over WebSocket'
  const polling = 'Fell back to polling: WebSocket heads stopped'

  it('behavior: when WebSocket heads go silent, polling takes over; when they resume, heads come over WebSocket again', async () => {
    const { rig, proxy, switches } = await startFollowing()
    let stopMining = keepMining(100)
    await eventually(async () => switches().length === 1, 5_000)
    const followingRate = await pollRate(proxy, 500)

    proxy.ws.silence()
    await stopMining()
    await sendTransfers(rig, 4)
    await eventually(async () => switches().length === 2, 5_000)
    const pollingRate = await pollRate(proxy, 500)

    proxy.ws.resume()
    stopMining = keepMining(100)
    await eventually(async () => switches().length === 3, 5_000)
    const resumedRate = await pollRate(proxy, 500)
    await stopMining()

    expect(switches()).toEqual([following, polling, following])
    // Polling runs ten times slower while heads arrive over the socket.
    expect(pollingRate).toBeGreaterThan(3 * followingRate)
    expect(pollingRate).toBeGreaterThan(3 * resumedRate)
    await mineToFinality(rig)
    await settle(rig)
    await expectIndexedExactly(rig)
  })

  it('behavior: when the WebSocket is dropped without a close frame, polling takes over and the indexer subscribes again', async () => {
    const { rig, proxy, switches } = await startFollowing()
    let stopMining = keepMining(100)
    await eventually(async () => switches().length === 1, 5_000)
    await stopMining()

    proxy.ws.dropAll()
    await eventually(async () => switches().length === 2, 5_000)
    await sendTransfers(rig, 4)
    stopMining = keepMining(100)
    await eventually(async () => switches().length === 3, 5_000)
    await stopMining()

    expect(switches()).toEqual([following, polling, following])
    expect(proxy.ws.clients).toBeGreaterThan(0)
    await mineToFinality(rig)
    await settle(rig)
    await expectIndexedExactly(rig)
  })

  it('behavior: the node cannot serve the finalized tag; deposits confirm at CONFIRMATIONS=3 and the fallback metric says so', async () => {
    rig = await startRig()
    const [proxy] = rig.proxies as [RpcProxy]
    const refused = proxy.on(
      { method: 'eth_getBlockByNumber', when: isFinalizedTag },
      fault.error(finalizedNotFound),
    )
    const logs = memoryLogger()
    rig.indexer = await startTestIndexer({
      rpcUrl: proxy.url,
      db: rig.db,
      env: { CONFIRMATIONS: '3' },
      log: logs.log,
    })
    await sendTransfers(rig, 4)
    const last = await rig.chain.client.getBlockNumber({ cacheTime: 0 })

    // Two confirmations: the newest deposits stay detected.
    await rig.chain.client.mine({ blocks: 1 })
    await storedAndIdle(rig)
    expect(await statusesAt(rig, last)).toEqual(['detected'])
    // Three: they are final by depth.
    await rig.chain.client.mine({ blocks: 1 })
    await eventually(
      async () => (await statusesAt(rig!, last)).join() === 'confirmed',
      5_000,
      'the newest deposits confirmed at 3 confirmations',
    )
    const confirmations = await rig.db.sql<{ n: number }[]>`
      select distinct (body::jsonb->'data'->>'confirmations')::int as n
      from outbox_events
      where type = 'deposit.confirmed'
        and block_number = ${last.toString()}::bigint`
    expect(confirmations).toEqual([{ n: 3 }])

    await mineToFinality(rig)
    await settle(rig)
    expect(refused.hits).toBeGreaterThan(0)
    await expectIndexedExactly(rig)
    const fallback = await rig.indexer.metrics.finalityFallback.get()
    expect(fallback.values.map((v) => v.value)).toEqual([1])
    expect(logs.text()).toContain('finalized tag unavailable')
  })

  it('behavior: a finalized tag stuck on an old block falls back to CONFIRMATIONS after FINALITY_STALL_SECONDS', async () => {
    rig = await startRig()
    const [proxy] = rig.proxies as [RpcProxy]
    // The node's own answer for block 1, raw, to be served as `finalized`.
    const res = await fetch(rig.chain.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'eth_getBlockByNumber',
        params: ['0x1', false],
      }),
    })
    const { result: stuck } = (await res.json()) as { result: unknown }
    const frozen = proxy.on(
      { method: 'eth_getBlockByNumber', when: isFinalizedTag },
      fault.mutate(() => stuck),
    )
    const logs = memoryLogger()
    rig.indexer = await startTestIndexer({
      rpcUrl: proxy.url,
      db: rig.db,
      env: { CONFIRMATIONS: '3', FINALITY_STALL_SECONDS: '1' },
      log: logs.log,
    })
    await sendTransfers(rig, 4)
    await mineToFinality(rig)
    await settle(rig)
    expect(frozen.hits).toBeGreaterThan(0)
    await expectIndexedExactly(rig)
    const fallback = await rig.indexer.metrics.finalityFallback.get()
    expect(fallback.values.map((v) => v.value)).toEqual([1])
    expect(logs.text()).toContain('finalized tag stalled')
  })
})

/** Waits until the head is stored, then a few confirmation rounds more. */
async function storedAndIdle(rig: Rig): Promise<void> {
  const head = await rig.chain.client.getBlockNumber({ cacheTime: 0 })
  await eventually(async () => {
    const [cp] = await rig.db.sql<{ n: string }[]>`
      select block_number::text as n from checkpoints`
    return cp?.n === head.toString()
  }, 5_000)
  await sleep(300)
}

async function statusesAt(rig: Rig, block: bigint): Promise<string[]> {
  const rows = await rig.db.sql<{ status: string }[]>`
    select distinct status from deposits
    where block_number = ${block.toString()}::bigint`
  return rows.map((r) => r.status)
}
