import { webSocket } from 'viem'
import { redactText } from '../../lib/errors.js'
import type { Logger } from '../../lib/logger.js'
import type { Metrics } from '../../lib/metrics.js'
import type { BlockFetcher } from '../fetch/block-fetcher.js'
import { describeError } from '../rpc/errors.js'

export interface HeadTracker {
  current(): bigint
  /** Resolves when the head passes `after`, or after `timeoutMs`. */
  waitAbove(after: bigint, timeoutMs: number): Promise<void>
  /** True while WebSocket notifications arrive on time. */
  wsHealthy(): boolean
  stop(): void
}

/**
 * Knows the newest block number. Polling always runs; a WebSocket
 * `newHeads` subscription, when configured, makes new heads arrive at once
 * and slows polling down. When notifications stop while the socket stays
 * open, polling takes over at full speed until they come back.
 */
export function createHeadTracker(opts: {
  fetcher: BlockFetcher
  pollIntervalMs: number
  wsUrl: string | undefined
  wsStallMs: number
  chainId: number
  metrics: Metrics
  log: Logger
}): HeadTracker {
  const log = opts.log.child({ component: 'head' })
  const labels = { chain_id: String(opts.chainId) }
  let head = -1n
  let lastWsAt = 0
  let stopped = false
  let wasHealthy = false
  const waiters = new Set<() => void>()
  let unwatch: (() => void) | undefined

  function update(n: bigint) {
    if (n <= head) return
    head = n
    opts.metrics.headBlock.set(labels, Number(n))
    for (const wake of waiters) wake()
  }

  const wsHealthy = () =>
    opts.wsUrl !== undefined && Date.now() - lastWsAt < opts.wsStallMs

  /**
   * (Re)subscribes whenever notifications have stopped for the stall time:
   * a socket can stay open and go quiet, and reconnect logic alone does not
   * notice that.
   */
  async function subscribeLoop(url: string) {
    while (!stopped) {
      if (!wsHealthy()) {
        unwatch?.()
        unwatch = await subscribe(url).catch((error) => {
          log.warn({ error: describeError(error) }, 'Failed to subscribe')
          return undefined
        })
      }
      await new Promise((resolve) => setTimeout(resolve, opts.wsStallMs))
    }
    unwatch?.()
  }

  async function subscribe(url: string) {
    const transport = webSocket(url, { reconnect: false, retryCount: 0 })({})
    // viem shares one socket per url. Closing it also drops it from that
    // cache, so the next subscribe opens a fresh socket instead of reusing
    // one that is closing or already dead (a dropped socket stays cached).
    const client = await transport.value!.getRpcClient()
    try {
      const { unsubscribe } = await transport.value!.subscribe({
        params: ['newHeads'],
        onData: (data: { result?: { number?: string } }) => {
          const n = data.result?.number
          if (typeof n !== 'string') return
          lastWsAt = Date.now()
          update(BigInt(n))
        },
        onError: (error: Error) =>
          log.warn(
            { error: redactText(describeError(error)) },
            'WebSocket failed',
          ),
      })
      return () => {
        unsubscribe().catch(() => {})
        client.close()
      }
    } catch (error) {
      client.close()
      throw error
    }
  }

  async function poll() {
    while (!stopped) {
      try {
        update(await opts.fetcher.blockNumber())
      } catch (error) {
        log.warn({ error: describeError(error) }, 'Failed to poll head')
      }
      const healthy = wsHealthy()
      if (opts.wsUrl && healthy !== wasHealthy) {
        wasHealthy = healthy
        if (healthy) log.info('Following heads over WebSocket')
        else log.warn('Fell back to polling: WebSocket heads stopped')
      }
      const wait = healthy ? opts.pollIntervalMs * 10 : opts.pollIntervalMs
      await new Promise((resolve) => setTimeout(resolve, wait))
    }
  }

  if (opts.wsUrl) void subscribeLoop(opts.wsUrl)
  void poll()

  return {
    current: () => head,
    wsHealthy,
    waitAbove: (after, timeoutMs) =>
      new Promise<void>((resolve) => {
        if (head > after) return resolve()
        const done = () => {
          clearTimeout(timer)
          waiters.delete(done)
          resolve()
        }
        const timer = setTimeout(done, timeoutMs)
        waiters.add(done)
      }),
    stop: () => {
      stopped = true
      unwatch?.()
      for (const wake of waiters) wake()
    },
  }
}
