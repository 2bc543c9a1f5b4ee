import type { Logger } from '../../lib/logger.js'
import type { Metrics } from '../../lib/metrics.js'
import { Endpoint } from './endpoint.js'
import {
  describeError,
  InvalidRpcAnswerError,
  RpcUnavailableError,
} from './errors.js'

export interface RequestOptions<T> {
  /** Turns the raw result into T, or throws InvalidRpcAnswerError. */
  parse: (raw: unknown, endpoint: Endpoint) => T
  /** Endpoints to skip, e.g. the one whose answer is being cross-checked. */
  exclude?: Endpoint
}

export interface RpcClient {
  endpoints: Endpoint[]
  request<T>(
    method: string,
    params: unknown[],
    opts: RequestOptions<T>,
  ): Promise<T>
  /** Same as request, also saying which endpoint answered. */
  requestFrom<T>(
    method: string,
    params: unknown[],
    opts: RequestOptions<T>,
  ): Promise<{ value: T; endpoint: Endpoint }>
}

/**
 * Sends each request to the first endpoint that is not cooling down for that
 * method, in configured order, and fails over on errors and on answers that
 * do not parse. Only when every endpoint failed does the caller see an error;
 * it then waits and retries the whole step.
 */
export function createRpcClient(opts: {
  urls: string[]
  timeoutMs: number
  metrics: Metrics
  log: Logger
}): RpcClient {
  const endpoints = opts.urls.map(
    (url) => new Endpoint(url, opts.timeoutMs, opts.metrics),
  )
  const log = opts.log.child({ component: 'rpc' })

  function order(method: string, exclude?: Endpoint): Endpoint[] {
    const now = Date.now()
    const usable = endpoints.filter((e) => e !== exclude)
    const ready = usable.filter((e) => !e.isCooling(method, now))
    const cooling = usable.filter((e) => e.isCooling(method, now))
    // Cooling endpoints are still tried last: one may have recovered.
    const list = [...ready, ...cooling]
    return list.length > 0 ? list : endpoints
  }

  async function requestFrom<T>(
    method: string,
    params: unknown[],
    ro: RequestOptions<T>,
  ) {
    const causes: { endpoint: string; error: string }[] = []
    for (const endpoint of order(method, ro.exclude)) {
      try {
        const raw = await endpoint.request(method, params)
        const value = ro.parse(raw, endpoint)
        endpoint.succeeded(method)
        return { value, endpoint }
      } catch (error) {
        const invalid = error instanceof InvalidRpcAnswerError
        endpoint.failed(method, invalid ? 'invalid' : 'error')
        const text = describeError(error)
        causes.push({ endpoint: endpoint.host, error: text })
        log.warn(
          { method, endpoint: endpoint.host, error: text },
          invalid ? 'Rejected RPC answer' : 'Failed RPC request',
        )
      }
    }
    throw new RpcUnavailableError(method, causes)
  }

  return {
    endpoints,
    requestFrom,
    request: async (method, params, ro) =>
      (await requestFrom(method, params, ro)).value,
  }
}
