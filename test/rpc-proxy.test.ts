import { existsSync, readFileSync } from 'node:fs'
import {
  BlockNotFoundError,
  createPublicClient,
  type Hash,
  HttpRequestError,
  http,
  InvalidInputRpcError,
  LimitExceededRpcError,
  type Log,
  TimeoutError,
  webSocket,
} from 'viem'
import {
  afterAll,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
  vi,
} from 'vitest'
import { ANVIL_ACCOUNT, placeToken, send } from '../devchain/token.js'
import { startTestChain, type TestChain } from './helpers/chain.js'
import * as fault from './helpers/rpc-faults.js'
import { type RpcProxy, startRpcProxy } from './helpers/rpc-proxy.js'

const USDT = '0x55d398326f99059fF775485246999027B3197955'
const FIXTURE = '/work/shared/fixtures/bsc/getlogs-error-texts.json'
const { bscErrors } = fault

/** The rejection of `promise`; fails the test when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise
  } catch (err) {
    return err as Error
  }
  throw new Error('Expected the call to fail, it succeeded')
}

/**
 * Every error text in the fixture: the node's bare texts, and the code and
 * message of each verbatim response.
 */
function fixtureErrors(text: string): { code?: number; message: string }[] {
  const found: { code?: number; message: string }[] = []
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(visit)
    else if (typeof v === 'object' && v !== null) {
      Object.values(v).forEach(visit)
    } else if (typeof v === 'string') {
      found.push({ message: v })
      const error = parseVerbatim(v)
      if (error) found.push(error)
    }
  }
  visit(JSON.parse(text))
  return found
}

function parseVerbatim(v: string): { code: number; message: string } | null {
  try {
    const { error } = JSON.parse(v) as { error?: unknown }
    if (typeof error !== 'object' || error === null) return null
    const { code, message } = error as Record<string, unknown>
    if (typeof code !== 'number' || typeof message !== 'string') return null
    return { code, message }
  } catch {
    return null
  }
}

async function rawPost(url: string, body: string): Promise<unknown> {
  const res = await fetch(url, { method: 'POST', body })
  return res.json()
}

describe('rpc proxy', () => {
  let chain: TestChain
  let proxy: RpcProxy
  let logs: Log<bigint, number, false>[]

  const viaProxy = (opts: { timeout?: number; retryCount?: number } = {}) =>
    createPublicClient({
      transport: http(proxy.url, {
        retryCount: opts.retryCount ?? 0,
        retryDelay: 10,
        timeout: opts.timeout ?? 10_000,
      }),
    })

  beforeAll(async () => {
    chain = await startTestChain({ blockTime: undefined })
    proxy = await startRpcProxy({ upstream: chain.url })
    await placeToken(chain.client, USDT, 'USDT')
    await chain.client.mine({ blocks: 1 })
    // One Transfer per block, so lagging can hide some of them.
    for (let i = 1n; i <= 5n; i++) {
      await send(chain.client, ANVIL_ACCOUNT, USDT, 'mint', [ANVIL_ACCOUNT, i])
      await chain.client.mine({ blocks: 1 })
    }
    logs = await chain.client.getLogs({ address: USDT, fromBlock: 0n })
  })
  afterAll(async () => {
    await proxy?.stop()
    await chain?.stop()
  })
  beforeEach(() => {
    proxy.clear()
    proxy.requests.clear()
  })

  it('behavior: passes calls through unchanged and logs them', async () => {
    const client = viaProxy()
    expect(await client.getLogs({ address: USDT, fromBlock: 0n })).toEqual(logs)
    expect(proxy.requests.count('eth_getLogs')).toBe(1)
    expect(proxy.requests.entries[0]?.outcome).toBe('passthrough')
  })

  it.skipIf(!existsSync(FIXTURE))('args: uses the fixture texts', () => {
    const known = fixtureErrors(readFileSync(FIXTURE, 'utf8'))
    for (const err of Object.values(bscErrors)) {
      expect(known.map((e) => e.message)).toContain(err.message)
    }
    expect(known).toContainEqual(bscErrors.limitExceeded)
  })

  it('error: reaches viem as an RPC error with code and text', async () => {
    const client = viaProxy()
    const cases = [
      [bscErrors.limitExceeded, LimitExceededRpcError],
      [bscErrors.rangeLimit, InvalidInputRpcError],
      [bscErrors.unknownBlock, InvalidInputRpcError],
      [bscErrors.headerNotFound, InvalidInputRpcError],
    ] as const
    for (const [rpcError, errorClass] of cases) {
      proxy.on({ method: 'eth_getLogs', times: 1 }, fault.error(rpcError))
      const err = await rejection(client.getLogs({ fromBlock: 0n }))
      expect(err).toBeInstanceOf(errorClass)
      expect(err).toMatchObject({
        code: rpcError.code,
        details: rpcError.message,
      })
    }
  })

  it('error: answers an HTTP status with an HTML page', async () => {
    proxy.on({ method: 'eth_blockNumber' }, fault.httpStatus(503))
    const err = await rejection(viaProxy().getBlockNumber({ cacheTime: 0 }))
    expect(err).toBeInstanceOf(HttpRequestError)
    expect(err).toMatchObject({ status: 503 })
    expect((err as HttpRequestError).details).toContain('<h1>503')
  })

  it('behavior: expires a rule after `times` matches', async () => {
    const rule = proxy.on(
      { method: 'eth_blockNumber', times: 2 },
      fault.error(bscErrors.limitExceeded),
    )
    // viem retries -32005, so the third attempt gets through.
    const n = await viaProxy({ retryCount: 3 }).getBlockNumber({ cacheTime: 0 })
    expect(n).toBe(await chain.client.getBlockNumber({ cacheTime: 0 }))
    expect(rule.hits).toBe(2)
    expect(proxy.requests.entries.map((e) => e.outcome)).toEqual([
      'error',
      'error',
      'passthrough',
    ])
  })

  it('behavior: matches by regexp and `when`, first rule wins', async () => {
    proxy.on(
      {
        method: /^eth_getBlockBy/,
        when: (call) => call.params[0] === '0x1',
      },
      fault.nullResult(),
    )
    proxy.on({ method: 'eth_getBlockByNumber' }, fault.passthrough())
    const client = viaProxy()
    expect(
      await rejection(client.getBlock({ blockNumber: 1n })),
    ).toBeInstanceOf(BlockNotFoundError)
    expect((await client.getBlock({ blockNumber: 2n })).number).toBe(2n)
  })

  it('behavior: replays `probability` draws for the same seed', async () => {
    const outcomes = async (seed: number) => {
      const p = await startRpcProxy({ upstream: chain.url, seed })
      p.on({ probability: 0.5 }, fault.nullResult())
      const client = createPublicClient({ transport: http(p.url) })
      for (let i = 0; i < 16; i++)
        await client.request({ method: 'eth_chainId' })
      await p.stop()
      return p.requests.entries.map((e) => e.outcome)
    }
    const first = await outcomes(7)
    expect(await outcomes(7)).toEqual(first)
    expect(first).toContain('nullResult')
    expect(first).toContain('passthrough')
  })

  it('behavior: truncates eth_getLogs results silently', async () => {
    expect(logs.length).toBe(5)
    proxy.on({ method: 'eth_getLogs' }, fault.truncate(2))
    const client = viaProxy()
    expect(await client.getLogs({ address: USDT, fromBlock: 0n })).toEqual(
      logs.slice(0, 2),
    )
    proxy.clear()
    proxy.on(
      { method: 'eth_getLogs' },
      fault.truncate((l) => l.slice(-1)),
    )
    expect(await client.getLogs({ address: USDT, fromBlock: 0n })).toEqual(
      logs.slice(-1),
    )
  })

  it('behavior: mutates a forwarded result', async () => {
    proxy.on(
      { method: 'eth_blockNumber' },
      fault.mutate(() => '0x3e8'),
    )
    expect(await viaProxy().getBlockNumber({ cacheTime: 0 })).toBe(1000n)
  })

  it('behavior: answers null for a block the head announced', async () => {
    const head = await chain.client.getBlockNumber({ cacheTime: 0 })
    proxy.on({ method: 'eth_getBlockByNumber' }, fault.nullResult())
    const client = viaProxy()
    expect(await client.getBlockNumber({ cacheTime: 0 })).toBe(head)
    const err = await rejection(client.getBlock({ blockNumber: head }))
    expect(err).toBeInstanceOf(BlockNotFoundError)
  })

  describe('lagging', () => {
    let head: bigint
    let lagHead: bigint
    let hidden: Log<bigint, number, false>[]

    beforeAll(async () => {
      head = await chain.client.getBlockNumber({ cacheTime: 0 })
      // Hide the last two blocks that carry a Transfer.
      lagHead = logs.at(-2)!.blockNumber - 1n
      hidden = logs.filter((l) => l.blockNumber > lagHead)
      expect(hidden.length).toBe(2)
    })
    const lag = () => Number(head - lagHead)

    it('behavior: answers an older head and block', async () => {
      proxy.on({}, fault.lagging(lag()))
      const client = viaProxy()
      expect(await client.getBlockNumber({ cacheTime: 0 })).toBe(lagHead)
      expect((await client.getBlock()).number).toBe(lagHead)
      const real = await chain.client.getBlock({ blockTag: 'finalized' })
      const finalized = await client.getBlock({ blockTag: 'finalized' })
      expect(finalized.number).toBe(real.number - BigInt(lag()))
    })

    it('behavior: does not know newer blocks by number or hash', async () => {
      proxy.on({}, fault.lagging(lag()))
      const client = viaProxy()
      const newer = await chain.client.getBlock({ blockNumber: lagHead + 1n })
      expect(
        await rejection(client.getBlock({ blockNumber: lagHead + 1n })),
      ).toBeInstanceOf(BlockNotFoundError)
      expect(
        await rejection(client.getBlock({ blockHash: newer.hash })),
      ).toBeInstanceOf(BlockNotFoundError)
      expect((await client.getBlock({ blockNumber: lagHead })).number).toBe(
        lagHead,
      )
      const receipt = client.getTransactionReceipt({
        hash: hidden[0]!.transactionHash,
      })
      expect(await rejection(receipt)).toMatchObject({
        name: 'TransactionReceiptNotFoundError',
      })
    })

    it('error: answers unknown block for logs of a newer hash', async () => {
      proxy.on({}, fault.lagging(lag()))
      const blockHash = hidden[0]!.blockHash as Hash
      const err = await rejection(viaProxy().getLogs({ blockHash }))
      expect(err).toBeInstanceOf(InvalidInputRpcError)
      expect(err).toMatchObject({ details: 'unknown block' })
    })

    it('behavior: can answer [] for logs of a newer hash', async () => {
      proxy.on({}, fault.lagging(lag(), { emptyLogs: true }))
      const blockHash = hidden[0]!.blockHash as Hash
      expect(await viaProxy().getLogs({ blockHash })).toEqual([])
      const seen = logs[0]!.blockHash as Hash
      expect(await viaProxy().getLogs({ blockHash: seen })).toEqual([logs[0]])
    })

    it('behavior: clips or empties a range past its head', async () => {
      const range = { address: USDT, fromBlock: 0n, toBlock: head } as const
      proxy.on({}, fault.lagging(lag()))
      expect(await viaProxy().getLogs(range)).toEqual(logs.slice(0, -2))
      proxy.clear()
      proxy.on({}, fault.lagging(lag(), { rangeBeyondHead: 'empty' }))
      expect(await viaProxy().getLogs(range)).toEqual([])
    })
  })

  it('error: times out when the answer is delayed', async () => {
    proxy.on({ method: 'eth_blockNumber', times: 1 }, fault.delay(1_000))
    const client = viaProxy({ timeout: 200 })
    const err = await rejection(client.getBlockNumber({ cacheTime: 0 }))
    expect(err).toBeInstanceOf(TimeoutError)
    proxy.on({ method: 'eth_chainId', times: 1 }, fault.delay(50))
    const started = Date.now()
    expect(await client.getChainId()).toBe(56)
    expect(Date.now() - started).toBeGreaterThanOrEqual(45)
  })

  it('error: times out when the proxy never answers', async () => {
    proxy.on({ method: 'eth_blockNumber' }, fault.hang())
    const err = await rejection(
      viaProxy({ timeout: 200 }).getBlockNumber({ cacheTime: 0 }),
    )
    expect(err).toBeInstanceOf(TimeoutError)
    expect(proxy.requests.entries[0]?.outcome).toBe('hang')
  })

  it('error: fails at the network level when the socket drops', async () => {
    proxy.on({ method: 'eth_blockNumber' }, fault.drop())
    const err = await rejection(viaProxy().getBlockNumber({ cacheTime: 0 }))
    expect(err).toBeInstanceOf(HttpRequestError)
    expect(err).toMatchObject({ status: undefined })
  })

  describe('batches', () => {
    it('behavior: applies rules per element and keeps ids', async () => {
      proxy.on({ method: 'eth_getLogs' }, fault.error(bscErrors.rangeLimit))
      const body = JSON.stringify([
        { jsonrpc: '2.0', id: 'a', method: 'eth_chainId', params: [] },
        { jsonrpc: '2.0', id: 'b', method: 'eth_getLogs', params: [{}] },
        { jsonrpc: '2.0', id: 'c', method: 'net_version' },
      ])
      expect(await rawPost(proxy.url, body)).toEqual([
        { jsonrpc: '2.0', id: 'a', result: '0x38' },
        { jsonrpc: '2.0', id: 'b', error: bscErrors.rangeLimit },
        { jsonrpc: '2.0', id: 'c', result: '56' },
      ])
    })

    it('behavior: fails only the faulty call of a viem batch', async () => {
      proxy.on({ method: 'eth_chainId' }, fault.error(bscErrors.limitExceeded))
      const client = createPublicClient({
        transport: http(proxy.url, { batch: true, retryCount: 0 }),
      })
      const [n, id] = await Promise.allSettled([
        client.getBlockNumber({ cacheTime: 0 }),
        client.getChainId(),
      ])
      expect(n).toMatchObject({ status: 'fulfilled' })
      expect(id).toMatchObject({ status: 'rejected' })
      expect(proxy.requests.count()).toBe(2)
    })

    it('behavior: fails the whole batch on an HTTP-level fault', async () => {
      proxy.on({ method: 'eth_chainId' }, fault.httpStatus(429))
      const body = JSON.stringify([
        { jsonrpc: '2.0', id: 1, method: 'eth_blockNumber' },
        { jsonrpc: '2.0', id: 2, method: 'eth_chainId' },
      ])
      const res = await fetch(proxy.url, { method: 'POST', body })
      expect(res.status).toBe(429)
      expect(await res.text()).toContain('Too Many Requests')
    })
  })

  it('behavior: survives malformed requests and broken rules', async () => {
    const invalid = { code: -32600, message: 'invalid request' }
    expect(await rawPost(proxy.url, '{"jsonrpc":')).toMatchObject({
      id: null,
      error: { code: -32700 },
    })
    expect(await rawPost(proxy.url, '[]')).toMatchObject({ error: invalid })
    expect(await rawPost(proxy.url, '[1,{"id":2,"method":5}]')).toEqual([
      { jsonrpc: '2.0', id: null, error: invalid },
      { jsonrpc: '2.0', id: 2, error: invalid },
    ])
    const badParams = '{"id":3,"method":"eth_chainId","params":"x"}'
    expect(await rawPost(proxy.url, badParams)).toMatchObject({ id: 3 })
    proxy.on(
      {
        when: () => {
          throw new Error('bug in a rule')
        },
      },
      fault.passthrough(),
    )
    const err = await rejection(viaProxy().getChainId())
    expect(err.message).toContain('rpc-proxy: bug in a rule')
    proxy.clear()
    expect(await viaProxy().getChainId()).toBe(56)
  })

  describe('WebSocket', () => {
    const patience = { timeout: 5_000, interval: 50 }
    const viaWs = () =>
      createPublicClient({
        transport: webSocket(proxy.wsUrl, {
          retryCount: 0,
          reconnect: false,
          keepAlive: false,
        }),
      })

    it('behavior: forwards newHeads; silence stops them, resume restores', async () => {
      const client = viaWs()
      const heads: bigint[] = []
      const unwatch = client.watchBlocks({
        onBlock: (block) => heads.push(block.number),
        onError: () => {},
      })
      // The subscription is live once a mined block reaches us; the
      // proxy logs eth_subscribe before the node has taken it.
      await vi.waitFor(async () => {
        await chain.client.mine({ blocks: 1 })
        expect(heads.length).toBeGreaterThan(0)
      }, patience)
      const first = await chain.client.getBlockNumber({ cacheTime: 0 })
      await vi.waitFor(() => expect(heads.at(-1)).toBe(first), patience)

      proxy.ws.silence()
      await chain.client.mine({ blocks: 2 })
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(heads.at(-1)).toBe(first)
      // The socket is still open and still answers requests.
      expect(await client.getBlockNumber({ cacheTime: 0 })).toBe(first + 2n)
      expect(proxy.ws.clients).toBe(1)

      proxy.ws.resume()
      await chain.client.mine({ blocks: 1 })
      await vi.waitFor(() => expect(heads.at(-1)).toBe(first + 3n), patience)
      unwatch()
      await client.transport.getRpcClient().then((rpc) => rpc.close())
    })

    it('behavior: runs requests through the same rules', async () => {
      const client = viaWs()
      proxy.on(
        { method: 'eth_blockNumber', times: 1 },
        fault.error(bscErrors.limitExceeded),
      )
      const err = await rejection(client.getBlockNumber({ cacheTime: 0 }))
      expect(err).toBeInstanceOf(LimitExceededRpcError)
      expect(await client.getBlockNumber({ cacheTime: 0 })).toBe(
        await chain.client.getBlockNumber({ cacheTime: 0 }),
      )
      expect(proxy.requests.entries.map((e) => e.transport)).toContain('ws')
      // Garbage on the socket gets an error back and closes nothing.
      const rpc = await client.transport.getRpcClient()
      rpc.socket.send('{"jsonrpc":')
      rpc.socket.send('[1]')
      expect(await client.getChainId()).toBe(56)
      expect(proxy.ws.clients).toBe(1)
      await client.transport.getRpcClient().then((rpc) => rpc.close())
    })

    it('behavior: dropAll closes every client socket', async () => {
      const client = viaWs()
      await client.getChainId()
      expect(proxy.ws.clients).toBeGreaterThan(0)
      proxy.ws.dropAll()
      await vi.waitFor(() => expect(proxy.ws.clients).toBe(0), patience)
      expect(
        await rejection(client.getBlockNumber({ cacheTime: 0 })),
      ).toBeInstanceOf(Error)
    })
  })
})
