import { AppError } from '../../lib/errors.js'

/** One JSON-RPC call as a rule sees it (one element of a batch, too). */
export interface RpcCall {
  method: string
  params: readonly unknown[]
}

export interface RpcErrorObject {
  code: number
  message: string
  data?: unknown
}

/** What the upstream node or a rule answered, without id and version. */
export type Answer = { result: unknown } | { error: unknown }

/** How the proxy replies to one call. */
export type Reply =
  | { kind: 'answer'; answer: Answer }
  | { kind: 'http'; status: number; body: string }
  | { kind: 'drop' }
  | { kind: 'hang' }

/** What an action may do besides answering on its own. */
export interface ActionContext {
  call: RpcCall
  /** Sends the call (or a rewritten one) to the node on the client's path. */
  forward(call: RpcCall): Promise<Answer>
  /** Asks the node over HTTP, for facts an action needs (the head). */
  upstream(method: string, params: readonly unknown[]): Promise<unknown>
}

export interface Action {
  /** Recorded as the request's `outcome` in the proxy's log. */
  name: string
  run(ctx: ActionContext): Promise<Reply>
}

export interface Matcher {
  method?: string | RegExp
  when?: (call: RpcCall) => boolean
  /** Applies this many times, then the rule removes itself. */
  times?: number
  /** Chance to apply, drawn from the proxy's seeded generator. */
  probability?: number
}

export interface RuleHandle {
  /** How many calls this rule has answered so far. */
  readonly hits: number
  remove(): void
}

/**
 * The texts BSC nodes and providers really answer (fixtures/bsc/
 * getlogs-error-texts.json). A node's own errors carry geth's default
 * code -32000; the public endpoints' refusal carries -32005.
 */
export const bscErrors = {
  rangeLimit: { code: -32000, message: 'exceed maximum block range: 5000' },
  limitExceeded: { code: -32005, message: 'limit exceeded' },
  unknownBlock: { code: -32000, message: 'unknown block' },
  headerNotFound: { code: -32000, message: 'header not found' },
  invalidBlockRange: { code: -32000, message: 'invalid block range params' },
} as const satisfies Record<string, RpcErrorObject>

// ---- actions ---------------------------------------------------------------

const answer = (a: Answer): Reply => ({ kind: 'answer', answer: a })

async function forwardAnswer(ctx: ActionContext): Promise<Reply> {
  return answer(await ctx.forward(ctx.call))
}

export function passthrough(): Action {
  return { name: 'passthrough', run: forwardAnswer }
}

export function error(err: RpcErrorObject): Action {
  return { name: 'error', run: async () => answer({ error: { ...err } }) }
}

/** The page nginx shows; load balancers answer 429/502/503 this way. */
function htmlPage(status: number): string {
  const title = `${status} ${httpReason[status] ?? 'Error'}`
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`
}

const httpReason: Record<number, string> = {
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Temporarily Unavailable',
  504: 'Gateway Time-out',
}

/** An HTTP-level failure; the whole batch gets it, as a balancer would. */
export function httpStatus(status: number, body = htmlPage(status)): Action {
  return {
    name: 'httpStatus',
    run: async () => ({ kind: 'http', status, body }),
  }
}

export function delay(ms: number): Action {
  return {
    name: 'delay',
    run: async (ctx) => {
      await new Promise((resolve) => setTimeout(resolve, ms))
      return forwardAnswer(ctx)
    },
  }
}

/** Resets the connection without a byte of answer. */
export function drop(): Action {
  return { name: 'drop', run: async () => ({ kind: 'drop' }) }
}

export function hang(): Action {
  return { name: 'hang', run: async () => ({ kind: 'hang' }) }
}

export function nullResult(): Action {
  return { name: 'nullResult', run: async () => answer({ result: null }) }
}

/** Forwards, then hands a successful result to `fn`; errors pass as is. */
export function mutate(
  fn: (result: unknown, call: RpcCall) => unknown,
  name = 'mutate',
): Action {
  return {
    name,
    run: async (ctx) => {
      const upstream = await ctx.forward(ctx.call)
      if (!('result' in upstream)) return answer(upstream)
      return answer({ result: fn(upstream.result, ctx.call) })
    },
  }
}

/** Silently cuts an array result (eth_getLogs) to `n` items or by `fn`. */
export function truncate(n: number | ((list: unknown[]) => unknown[])): Action {
  const cut = typeof n === 'number' ? (l: unknown[]) => l.slice(0, n) : n
  return mutate((r) => (Array.isArray(r) ? cut(r) : r), 'truncate')
}

export interface LaggingOptions {
  /** Answer `[]` to eth_getLogs by an unseen blockHash, not an error. */
  emptyLogs?: boolean
  /** eth_getLogs whose toBlock is past the lagging head: clip or `[]`. */
  rangeBeyondHead?: 'clip' | 'empty'
}

/**
 * A backend `blocks` behind the head, as one node behind a load balancer
 * is: it has not seen the newest blocks, so it answers as if they do not
 * exist yet. Methods it does not know about pass through unchanged.
 */
export function lagging(blocks: number, opts: LaggingOptions = {}): Action {
  return {
    name: 'lagging',
    run: async (ctx) => {
      const real = quantity(await ctx.upstream('eth_blockNumber', []))
      if (real === undefined) return forwardAnswer(ctx)
      const view = new LaggingView(ctx, real, BigInt(blocks), opts)
      return answer(await view.answer())
    },
  }
}

class LaggingView {
  private readonly head: bigint

  constructor(
    private readonly ctx: ActionContext,
    realHead: bigint,
    private readonly lag: bigint,
    private readonly opts: LaggingOptions,
  ) {
    this.head = atLeastZero(realHead - lag)
  }

  async answer(): Promise<Answer> {
    const { method, params } = this.ctx.call
    switch (method) {
      case 'eth_blockNumber':
        return { result: hex(this.head) }
      case 'eth_getBlockByNumber':
        return this.blockByNumber(params)
      case 'eth_getLogs':
        return this.logs(params)
      case 'eth_getBlockByHash':
      case 'eth_getTransactionByHash':
      case 'eth_getTransactionReceipt':
        return this.hideIfNewer(this.ctx.call)
      default:
        return this.ctx.forward(this.ctx.call)
    }
  }

  private async blockByNumber(params: readonly unknown[]): Promise<Answer> {
    const n = await this.resolve(params[0])
    if (n === undefined) return this.ctx.forward(this.ctx.call)
    if (n > this.head) return { result: null }
    const rewritten = [hex(n), ...params.slice(1)]
    return this.ctx.forward({ method: this.ctx.call.method, params: rewritten })
  }

  /** Anything whose `blockNumber`/`number` is past our head is unknown. */
  private async hideIfNewer(call: RpcCall): Promise<Answer> {
    const upstream = await this.ctx.forward(call)
    if (!('result' in upstream) || !isObject(upstream.result)) return upstream
    const n = quantity(upstream.result.number ?? upstream.result.blockNumber)
    return n !== undefined && n > this.head ? { result: null } : upstream
  }

  private async logs(params: readonly unknown[]): Promise<Answer> {
    const filter = params[0]
    if (!isObject(filter)) return this.ctx.forward(this.ctx.call)
    if (typeof filter.blockHash === 'string') {
      return this.logsByHash(filter.blockHash)
    }
    const from = await this.resolve(filter.fromBlock ?? 'latest')
    let to = await this.resolve(filter.toBlock ?? 'latest')
    if (from === undefined || to === undefined) {
      return this.ctx.forward(this.ctx.call)
    }
    if (to > this.head) {
      if (this.opts.rangeBeyondHead === 'empty') return { result: [] }
      to = this.head
    }
    if (from > to) return { result: [] }
    const rewritten = { ...filter, fromBlock: hex(from), toBlock: hex(to) }
    return this.ctx.forward({ method: 'eth_getLogs', params: [rewritten] })
  }

  private async logsByHash(hash: string): Promise<Answer> {
    const block = await this.ctx.upstream('eth_getBlockByHash', [hash, false])
    const n = isObject(block) ? quantity(block.number) : undefined
    if (n === undefined || n <= this.head)
      return this.ctx.forward(this.ctx.call)
    if (this.opts.emptyLogs) return { result: [] }
    return { error: { ...bscErrors.unknownBlock } }
  }

  /** A block tag or number, as this lagging node would read it. */
  private async resolve(tag: unknown): Promise<bigint | undefined> {
    if (tag === 'latest' || tag === 'pending') return this.head
    if (tag === 'earliest') return 0n
    if (tag === 'safe' || tag === 'finalized') {
      // The node saw this same chain `lag` blocks ago, so its finality
      // trails the real one by as much.
      const block = await this.ctx.upstream('eth_getBlockByNumber', [
        tag,
        false,
      ])
      const n = isObject(block) ? quantity(block.number) : undefined
      return n === undefined ? undefined : atLeastZero(n - this.lag)
    }
    return quantity(tag)
  }
}

// ---- rules -----------------------------------------------------------------

interface Rule {
  matcher: Matcher
  action: Action
  remaining: number
  hits: number
}

/** Ordered rules; the first one that matches a call answers it. */
export class RuleSet {
  private rules: Rule[] = []

  constructor(private readonly random: () => number) {}

  add(matcher: Matcher, action: Action): RuleHandle {
    checkMatcher(matcher)
    const rule: Rule = {
      matcher,
      action,
      remaining: matcher.times ?? Number.POSITIVE_INFINITY,
      hits: 0,
    }
    this.rules.push(rule)
    return {
      get hits() {
        return rule.hits
      },
      remove: () => this.remove(rule),
    }
  }

  clear(): void {
    this.rules = []
  }

  /** The action for `call`, using up one of its rule's `times`. */
  pick(call: RpcCall): Action {
    for (const rule of this.rules) {
      if (!matches(rule.matcher, call)) continue
      const p = rule.matcher.probability
      // Draw only for calls the rule matches, so a replay draws the same.
      if (p !== undefined && this.random() >= p) continue
      rule.hits++
      rule.remaining--
      if (rule.remaining <= 0) this.remove(rule)
      return rule.action
    }
    return passthrough()
  }

  private remove(rule: Rule): void {
    this.rules = this.rules.filter((r) => r !== rule)
  }
}

function matches(m: Matcher, call: RpcCall): boolean {
  if (typeof m.method === 'string' && m.method !== call.method) return false
  // `search` ignores a /g regexp's lastIndex, which `test` would advance.
  if (m.method instanceof RegExp && call.method.search(m.method) < 0) {
    return false
  }
  return m.when ? m.when(call) : true
}

function checkMatcher(m: Matcher): void {
  if (m.times !== undefined && !(Number.isInteger(m.times) && m.times > 0)) {
    throw new AppError(`Rule times must be a positive integer, got ${m.times}`)
  }
  const p = m.probability
  if (p !== undefined && !(p >= 0 && p <= 1)) {
    throw new AppError(`Rule probability must be within 0..1, got ${p}`)
  }
}

/** mulberry32: small, fast and the same sequence for the same seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// ---- JSON helpers ----------------------------------------------------------

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function quantity(v: unknown): bigint | undefined {
  if (typeof v !== 'string' || !/^0x[0-9a-fA-F]+$/.test(v)) return undefined
  return BigInt(v)
}

function atLeastZero(n: bigint): bigint {
  return n < 0n ? 0n : n
}

function hex(n: bigint): string {
  return `0x${n.toString(16)}`
}
