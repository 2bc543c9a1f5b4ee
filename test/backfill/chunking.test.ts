import type { Address } from 'viem'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ANVIL_ACCOUNT, send } from '../../devchain/token.js'
import { runBackfill } from '../../indexer/backfill/run-backfill.js'
import {
  createRangeFetcher,
  type RangeFetcherOptions,
} from '../../indexer/fetch/range-fetcher.js'
import { createRpcClient } from '../../indexer/rpc/rpc-client.js'
import { parseLogs, type RawLog, toQuantity } from '../../indexer/rpc/types.js'
import { DEFAULT_TOKENS, loadConfig } from '../../lib/config.js'
import { createLogger } from '../../lib/logger.js'
import { createMetrics } from '../../lib/metrics.js'
import { startTestChain, type TestChain } from '../helpers/chain.js'
import { createTestDatabase, type TestDatabase } from '../helpers/database.js'
import { USDC, USDT } from '../helpers/indexer.js'
import {
  bscErrors,
  error,
  mutate,
  type RpcCall,
  truncate,
} from '../helpers/rpc-faults.js'
import { type RpcProxy, startRpcProxy } from '../helpers/rpc-proxy.js'
import {
  createUser,
  depositsOf,
  eventsOf,
  randomAddress,
  setupTokens,
} from '../helpers/scenario.js'

const TRANSFER =
  '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef'

/** Blocks spanned by an eth_getLogs call. */
function span(call: RpcCall): number {
  const f = call.params[0] as { fromBlock: string; toBlock: string }
  return Number(BigInt(f.toBlock) - BigInt(f.fromBlock) + 1n)
}

describe('backfill: adaptive chunking against refusing and truncating nodes', () => {
  let chain: TestChain
  let db: TestDatabase
  let proxy: RpcProxy
  let first: bigint
  let last: bigint
  /** Every watched Transfer of the range, from one plain eth_getLogs. */
  let reference: RawLog[]
  /** Deposit ids the range must yield. */
  let expected: string[]
  const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent')

  beforeAll(async () => {
    ;[chain, db] = await Promise.all([startTestChain(), createTestDatabase()])
    await setupTokens(chain)
    proxy = await startRpcProxy({ upstream: chain.url })
    const users = []
    for (let i = 0; i < 8; i++) users.push(await createUser(db))
    first = (await chain.client.getBlockNumber({ cacheTime: 0 })) + 1n
    // 24 blocks, each with 1 to 4 transfers over both tokens, a stranger's
    // among them now and then, so no block reaches the cap of 5 below.
    for (let b = 0; b < 24; b++) {
      const to: Address[] = []
      for (let i = 0; i <= b % 4; i++) {
        to.push(i === 2 ? randomAddress() : users[(b + i) % 8]!.address)
      }
      const token = b % 3 === 0 ? USDC : USDT
      await send(chain.client, ANVIL_ACCOUNT, token, 'batchTransfer', [
        to,
        to.map((_, i) => BigInt(1_000 * b + i + 1)),
      ])
      await chain.client.mine({ blocks: 1 })
    }
    last = first + 23n
    await chain.client.mine({ blocks: 3 })
    reference = parseLogs(
      await chain.client.request({
        method: 'eth_getLogs' as never,
        params: [
          {
            fromBlock: toQuantity(first),
            toBlock: toQuantity(last),
            address: [USDT, USDC],
            topics: [TRANSFER],
          },
        ] as never,
      }),
    )
    const known = new Set(users.map((u) => u.address.toLowerCase()))
    expected = reference
      .filter((l) => known.has(`0x${l.topics[2]!.slice(26)}`))
      .map((l) => `56:${l.blockHash}:${l.logIndex}`)
      .sort()
  })
  afterEach(() => {
    proxy.clear()
    proxy.requests.clear()
  })
  afterAll(async () => {
    await proxy?.stop()
    await Promise.all([chain?.stop(), db?.drop()])
  })

  function fetcher(over: Partial<RangeFetcherOptions> = {}) {
    const rpc = createRpcClient({
      urls: [proxy.url],
      timeoutMs: 5_000,
      metrics: createMetrics(),
      log,
    })
    return createRangeFetcher({
      rpc,
      tokens: DEFAULT_TOKENS,
      log,
      maxChunk: 100,
      ...over,
    })
  }

  const passedSpans = () =>
    proxy.requests.entries
      .filter((e) => e.method === 'eth_getLogs' && e.outcome === 'passthrough')
      .map((e) => span({ method: e.method, params: e.params }))

  it('behavior: halves the range on the BSC range-limit text until the node answers, and finds every log once, in order', async () => {
    proxy.on(
      { method: 'eth_getLogs', when: (call) => span(call) > 3 },
      error(bscErrors.rangeLimit),
    )
    const logs = await fetcher().transferLogs(first, last)
    expect(logs).toEqual(reference)
    expect(proxy.requests.entries.some((e) => e.outcome === 'error')).toBe(true)
    expect(Math.max(...passedSpans())).toBeLessThanOrEqual(3)
  })

  it('behavior: narrows on the public endpoints\u2019 "limit exceeded" (-32005) too', async () => {
    proxy.on(
      { method: 'eth_getLogs', when: (call) => span(call) > 2 },
      error(bscErrors.limitExceeded),
    )
    const logs = await fetcher({ concurrency: 2 }).transferLogs(first, last)
    expect(logs).toEqual(reference)
  })

  it('behavior: splits a range whose answer is exactly the provider cap, since it may be truncated', async () => {
    proxy.on({ method: 'eth_getLogs' }, truncate(5))
    const f = fetcher({ resultCaps: [5] })
    const logs = await f.transferLogs(first, last)
    expect(logs).toEqual(reference)
    // Without the cap known, the same node silently loses logs.
    const lossy = await fetcher().transferLogs(first, last)
    expect(lossy.length).toBeLessThan(reference.length)
  })

  it('behavior: drops a log the node repeats', async () => {
    proxy.on(
      { method: 'eth_getLogs' },
      mutate((r) => (Array.isArray(r) ? [...r, ...r] : r)),
    )
    expect(await fetcher().transferLogs(first, last)).toEqual(reference)
  })

  it('error: gives up with a clear error when even one block is refused', async () => {
    proxy.on({ method: 'eth_getLogs' }, error(bscErrors.limitExceeded))
    await expect(fetcher().transferLogs(first, first + 3n)).rejects.toThrow(
      /even for a single block/,
    )
  })

  it('behavior: a backfill through a refusing, truncating node stores every deposit exactly once', async () => {
    proxy.on(
      { method: 'eth_getLogs', when: (call) => span(call) > 4 },
      error(bscErrors.rangeLimit),
    )
    proxy.on({ method: 'eth_getLogs' }, truncate(5))
    const config = loadConfig('script', {
      RPC_URL: proxy.url,
      BACKFILL_CHUNK_BLOCKS: '50',
    })
    const metrics = createMetrics()
    const summary = await runBackfill({
      sql: db.sql,
      rpc: createRpcClient({
        urls: [proxy.url],
        timeoutMs: 5_000,
        metrics,
        log,
      }),
      metrics,
      log,
      chain: config.chain,
      from: first,
      to: last,
      resultCaps: [5],
    })
    expect(summary).toMatchObject({ status: 'done', deposits: expected.length })
    expect(summary.logs).toBe(reference.length)
    const rows = await depositsOf(db)
    expect(rows.map((r) => r.id).sort()).toEqual(expected)
    const events = await eventsOf(db)
    expect(events).toHaveLength(2 * expected.length)
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length)
  })
})
