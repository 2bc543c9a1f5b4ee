import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocket, WebSocketServer } from 'ws'
import { AppError } from '../../lib/errors.js'
import {
  type Action,
  type Answer,
  isObject,
  type Matcher,
  type Reply,
  type RpcCall,
  type RuleHandle,
  RuleSet,
  seededRandom,
} from './rpc-faults.js'

export interface RpcProxyOptions {
  /** HTTP JSON-RPC url of the node, e.g. anvil's. */
  upstream: string
  /** Its WebSocket url; by default the same host and port as `upstream`. */
  upstreamWs?: string
  /**
   * Seed for rules with a `probability`. The same seed replays a run as
   * long as calls reach the proxy in the same order (one client, awaited).
   */
  seed?: number
}

export interface LoggedRequest {
  method: string
  params: readonly unknown[]
  /** `Date.now()` when the proxy picked a rule for it. */
  at: number
  /** The action's name (`passthrough`, `error`, ...) or `invalid`. */
  outcome: string
  transport: 'http' | 'ws'
}

export interface RequestLog {
  readonly entries: readonly LoggedRequest[]
  count(method?: string | RegExp): number
  clear(): void
}

export interface RpcProxy {
  url: string
  wsUrl: string
  seed: number
  requests: RequestLog
  /** Adds a rule after the existing ones; the first match answers. */
  on(matcher: Matcher, action: Action): RuleHandle
  clear(): void
  ws: {
    /** Keeps sockets open but drops subscription notifications. */
    silence(): void
    resume(): void
    /** Closes every client socket abruptly, without a close frame. */
    dropAll(): void
    readonly clients: number
  }
  stop(): Promise<void>
}

/**
 * A JSON-RPC proxy in front of a node that answers the way misbehaving
 * providers do, as scripted by rules. HTTP and WebSocket share one port
 * and one rule list.
 *
 * Each element of a batch is matched on its own; an element whose rule
 * fails the connection (httpStatus, drop, hang) fails the whole batch, as
 * a balancer in front of a node would. Subscription notifications do not
 * go through rules; `ws.silence()` is their only fault.
 */
export async function startRpcProxy(opts: RpcProxyOptions): Promise<RpcProxy> {
  const seed = opts.seed ?? 1
  const rules = new RuleSet(seededRandom(seed))
  const log = new Log()
  const engine = new Engine(rules, log, opts.upstream)
  const server = createServer((req, res) => {
    serveHttp(engine, req, res).catch(() => res.destroy())
  })
  server.on('clientError', (_err, socket) => socket.destroy())
  const ws = new WsFront(
    server,
    engine,
    opts.upstreamWs ?? opts.upstream.replace(/^http/, 'ws'),
  )
  const port = await listen(server)
  return {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    seed,
    requests: log,
    on: (matcher, action) => rules.add(matcher, action),
    clear: () => rules.clear(),
    ws,
    stop: async () => {
      ws.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      resolve((server.address() as AddressInfo).port)
    })
  })
}

class Log implements RequestLog {
  readonly entries: LoggedRequest[] = []

  count(method?: string | RegExp): number {
    return this.entries.filter((e) => methodIs(e.method, method)).length
  }

  clear(): void {
    this.entries.length = 0
  }
}

function methodIs(method: string, want?: string | RegExp): boolean {
  if (want === undefined) return true
  return typeof want === 'string' ? method === want : method.search(want) >= 0
}

// ---- the engine: one text in, one response out -----------------------------

/** What goes back to the client for one HTTP body or WS message. */
type Outgoing = { kind: 'json'; body: string } | Exclude<Reply, Answered>
type Answered = { kind: 'answer' }
type Forward = (call: RpcCall) => Promise<Answer>

const parseError = { code: -32700, message: 'parse error' }
const invalidRequest = { code: -32600, message: 'invalid request' }

class Engine {
  constructor(
    private readonly rules: RuleSet,
    private readonly log: Log,
    private readonly upstreamUrl: string,
  ) {}

  /** Never throws: a malformed message gets a JSON-RPC error back. */
  async respond(
    text: string,
    transport: LoggedRequest['transport'],
    forward: Forward,
  ): Promise<Outgoing> {
    const message = parseJson(text)
    if (message === undefined) return json(envelope(null, parseError))
    if (!Array.isArray(message)) {
      const [one] = await this.answerAll([message], transport, forward)
      return one!.kind === 'json' ? json(one!.value) : one!
    }
    if (message.length === 0) return json(envelope(null, invalidRequest))
    const all = await this.answerAll(message, transport, forward)
    // A connection-level fault on any element takes the whole batch down.
    const fault = all.find((r) => r.kind !== 'json')
    if (fault) return fault
    return json(all.map((r) => (r.kind === 'json' ? r.value : null)))
  }

  /** Asks the node itself over HTTP, for facts such as the real head. */
  async upstream(method: string, params: readonly unknown[]) {
    const answer = await postRpc(this.upstreamUrl, { method, params })
    if ('error' in answer) {
      throw new AppError(`Upstream refused ${method}`, {
        details: { error: answer.error },
      })
    }
    return answer.result
  }

  forwardHttp: Forward = (call) => postRpc(this.upstreamUrl, call)

  private answerAll(
    elements: unknown[],
    transport: LoggedRequest['transport'],
    forward: Forward,
  ) {
    return Promise.all(
      elements.map((el) => this.answerOne(el, transport, forward)),
    )
  }

  private async answerOne(
    element: unknown,
    transport: LoggedRequest['transport'],
    forward: Forward,
  ): Promise<{ kind: 'json'; value: unknown } | Exclude<Reply, Answered>> {
    const id = isObject(element) ? (element.id ?? null) : null
    const call = toCall(element)
    if (!call) {
      this.record({ method: '', params: [] }, 'invalid', transport)
      return { kind: 'json', value: envelope(id, invalidRequest) }
    }
    const reply = await this.run(call, transport, forward)
    if (reply.kind !== 'answer') return reply
    return { kind: 'json', value: { jsonrpc: '2.0', id, ...reply.answer } }
  }

  private async run(
    call: RpcCall,
    transport: LoggedRequest['transport'],
    forward: Forward,
  ): Promise<Reply> {
    let action: Action | undefined
    try {
      action = this.rules.pick(call)
      this.record(call, action.name, transport)
      const upstream = this.upstream.bind(this)
      return await action.run({ call, forward, upstream })
    } catch (err) {
      if (!action) this.record(call, 'failed', transport)
      // A bug in a rule or a dead node must reach the test, not crash us.
      const message = `rpc-proxy: ${err instanceof Error ? err.message : err}`
      return { kind: 'answer', answer: { error: { code: -32603, message } } }
    }
  }

  private record(
    call: RpcCall,
    outcome: string,
    transport: LoggedRequest['transport'],
  ): void {
    const { method, params } = call
    this.log.entries.push({
      method,
      params,
      at: Date.now(),
      outcome,
      transport,
    })
  }
}

function toCall(element: unknown): RpcCall | undefined {
  if (!isObject(element) || typeof element.method !== 'string') return
  const params = element.params ?? []
  if (!Array.isArray(params)) return
  return { method: element.method, params }
}

function envelope(id: unknown, error: { code: number; message: string }) {
  return { jsonrpc: '2.0', id, error }
}

function json(value: unknown): Outgoing {
  return { kind: 'json', body: JSON.stringify(value) }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

async function postRpc(url: string, call: RpcCall): Promise<Answer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, ...call }),
  })
  return toAnswer(parseJson(await res.text()))
}

function toAnswer(message: unknown): Answer {
  if (isObject(message) && 'error' in message) return { error: message.error }
  if (isObject(message) && 'result' in message) {
    return { result: message.result }
  }
  throw new AppError('Upstream answered neither result nor error', {
    details: { message },
  })
}

// ---- HTTP ------------------------------------------------------------------

const maxBody = 16 * 1024 * 1024

async function serveHttp(
  engine: Engine,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (req.method !== 'POST') {
    res.writeHead(405, { allow: 'POST' }).end()
    return
  }
  const text = await readBody(req)
  if (text === undefined) {
    res.writeHead(413).end()
    return
  }
  const response = await engine.respond(text, 'http', engine.forwardHttp)
  if (res.destroyed) return
  switch (response.kind) {
    case 'json':
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(response.body)
      return
    case 'http':
      res.writeHead(response.status, { 'content-type': 'text/html' })
      res.end(response.body)
      return
    case 'drop':
      req.socket.destroy()
      return
    case 'hang':
      return
  }
}

/** The body as text, or undefined when it is larger than we accept. */
async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    const buf = chunk as Buffer
    size += buf.length
    if (size > maxBody) return undefined
    chunks.push(buf)
  }
  return Buffer.concat(chunks).toString('utf8')
}

// ---- WebSocket -------------------------------------------------------------

const OPEN = 1

class WsFront {
  private readonly server: WebSocketServer
  private readonly sessions = new Set<WsSession>()
  private silenced = false

  constructor(
    http: Server,
    private readonly engine: Engine,
    private readonly upstreamUrl: string,
  ) {
    this.server = new WebSocketServer({ server: http })
    this.server.on('error', () => {})
    this.server.on('connection', (client) => this.accept(client))
  }

  get clients(): number {
    return this.sessions.size
  }

  silence(): void {
    this.silenced = true
  }

  resume(): void {
    this.silenced = false
  }

  dropAll(): void {
    for (const session of this.sessions) session.terminate()
  }

  close(): void {
    this.dropAll()
    this.server.close()
  }

  private accept(client: WebSocket): void {
    const session = new WsSession(client, this.upstreamUrl, {
      respond: (text, forward) => this.engine.respond(text, 'ws', forward),
      isSilenced: () => this.silenced,
      onClose: () => this.sessions.delete(session),
    })
    this.sessions.add(session)
  }
}

interface SessionHooks {
  respond(text: string, forward: Forward): Promise<Outgoing>
  isSilenced(): boolean
  onClose(): void
}

interface Pending {
  resolve(answer: Answer): void
  reject(err: Error): void
}

/**
 * One client socket and its own socket to the node, so subscriptions live
 * and die with the client's connection, as they would on a real node.
 */
class WsSession {
  private readonly upstream: WebSocket
  private readonly opened: Promise<void>
  private readonly pending = new Map<number, Pending>()
  // Our own ids upstream: a client may reuse ids, the node must not see it.
  private nextId = 1

  constructor(
    private readonly client: WebSocket,
    upstreamUrl: string,
    private readonly hooks: SessionHooks,
  ) {
    this.upstream = new WebSocket(upstreamUrl)
    this.opened = new Promise((resolve, reject) => {
      this.upstream.on('open', resolve)
      this.upstream.on('error', reject)
    })
    this.opened.catch(() => {})
    this.upstream.on('message', (data) => this.fromUpstream(String(data)))
    this.upstream.on('close', () => this.closed())
    client.on('error', () => {})
    client.on('close', () => this.closed())
    client.on('message', (data) => {
      this.fromClient(String(data)).catch(() => client.terminate())
    })
  }

  terminate(): void {
    this.client.terminate()
    this.upstream.terminate()
  }

  private async fromClient(text: string): Promise<void> {
    const response = await this.hooks.respond(text, this.forward)
    if (response.kind === 'json' && this.client.readyState === OPEN) {
      this.client.send(response.body)
    }
    if (response.kind === 'drop') this.client.terminate()
    // No status line on a socket: a balancer failing mid-stream closes it.
    if (response.kind === 'http') this.client.close(1011, `${response.status}`)
  }

  private forward: Forward = async (call) => {
    await this.opened
    const id = this.nextId++
    const answer = new Promise<Answer>((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
    })
    this.upstream.send(JSON.stringify({ jsonrpc: '2.0', id, ...call }))
    return answer
  }

  private fromUpstream(text: string): void {
    const message = parseJson(text)
    const pending = isObject(message) ? this.takePending(message.id) : null
    if (pending) {
      try {
        pending.resolve(toAnswer(message))
      } catch (err) {
        pending.reject(err as Error)
      }
      return
    }
    // Anything else is a subscription notification.
    if (this.hooks.isSilenced() || this.client.readyState !== OPEN) return
    this.client.send(text)
  }

  private takePending(id: unknown): Pending | null {
    if (typeof id !== 'number') return null
    const pending = this.pending.get(id)
    this.pending.delete(id)
    return pending ?? null
  }

  private closed(): void {
    this.client.terminate()
    this.upstream.terminate()
    const err = new AppError('Upstream WebSocket closed')
    for (const p of this.pending.values()) p.reject(err)
    this.pending.clear()
    this.hooks.onClose()
  }
}
