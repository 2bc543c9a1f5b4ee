import { type EIP1193RequestFn, http } from 'viem'
import { redactUrl, urlHost } from '../../lib/errors.js'
import type { Metrics } from '../../lib/metrics.js'

/**
 * How long a failed method keeps its endpoint marked down: twice the
 * longest cooldown, so a method that keeps failing is retried, and fails
 * again, before its mark expires.
 */
const DOWN_AFTER_FAILURE_MS = 60_000

/**
 * One JSON-RPC endpoint. viem's HTTP transport speaks the protocol; retries
 * and failover are ours, so that a bad answer from one node sends the next
 * request to another.
 */
export class Endpoint {
  readonly host: string
  readonly label: string
  private readonly send: EIP1193RequestFn
  private readonly cooldownUntil = new Map<string, number>()
  private readonly failures = new Map<string, number>()
  private readonly lastFailedAt = new Map<string, number>()

  constructor(
    url: string,
    timeoutMs: number,
    private readonly metrics: Metrics,
  ) {
    this.host = urlHost(url)
    this.label = redactUrl(url)
    this.send = http(url, { timeout: timeoutMs, retryCount: 0 })({
      retryCount: 0,
    }).request
    metrics.rpcEndpointUp.set({ endpoint: this.host }, 1)
  }

  async request(method: string, params: unknown[]): Promise<unknown> {
    const stop = this.metrics.rpcRequestSeconds.startTimer()
    try {
      const result = await this.send({ method, params } as never)
      stop({ method, endpoint: this.host, outcome: 'ok' })
      this.metrics.rpcRequests.inc({
        method,
        endpoint: this.host,
        outcome: 'ok',
      })
      return result
    } catch (error) {
      const outcome =
        (error as Error).name === 'TimeoutError' ? 'timeout' : 'error'
      stop({ method, endpoint: this.host, outcome })
      this.metrics.rpcRequests.inc({ method, endpoint: this.host, outcome })
      throw error
    }
  }

  /** Cooling down for this method after recent failures. */
  isCooling(method: string, now = Date.now()): boolean {
    return (this.cooldownUntil.get(method) ?? 0) > now
  }

  succeeded(method: string): void {
    if (this.failures.get(method)) {
      this.failures.delete(method)
      this.cooldownUntil.delete(method)
      this.lastFailedAt.delete(method)
    }
    this.updateUp()
  }

  /** Backs off exponentially, 250 ms doubling to 30 s, per method. */
  failed(method: string, outcome: 'error' | 'invalid'): void {
    const count = (this.failures.get(method) ?? 0) + 1
    this.failures.set(method, count)
    const delay = Math.min(250 * 2 ** (count - 1), 30_000)
    this.cooldownUntil.set(method, Date.now() + delay)
    this.lastFailedAt.set(method, Date.now())
    this.updateUp()
    if (outcome === 'invalid') {
      this.metrics.rpcRequests.inc({
        method,
        endpoint: this.host,
        outcome: 'invalid',
      })
    }
  }

  /**
   * Down while any method failed here recently and has not succeeded
   * since: an endpoint that answers eth_blockNumber but refuses every
   * eth_getLogs stays down, rather than flapping with each request.
   */
  private updateUp(now = Date.now()): void {
    let failing = false
    for (const at of this.lastFailedAt.values()) {
      if (now - at < DOWN_AFTER_FAILURE_MS) failing = true
    }
    this.metrics.rpcEndpointUp.set({ endpoint: this.host }, failing ? 0 : 1)
  }
}
