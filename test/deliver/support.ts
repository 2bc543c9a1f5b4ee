import { randomBytes, randomUUID } from 'node:crypto'
import {
  createServer,
  type IncomingHttpHeaders,
  type ServerResponse,
} from 'node:http'
import {
  type AddressInfo,
  connect,
  createServer as createNetServer,
  type Server,
  type Socket,
} from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Sql } from '../../db/client.js'
import {
  createDispatcher,
  type Dispatcher,
  type DispatcherDeps,
} from '../../indexer/deliver/dispatcher.js'
import { createLogger } from '../../lib/logger.js'
import { createMetrics, type Metrics } from '../../lib/metrics.js'

export interface Receipt {
  id: string
  headers: IncomingHttpHeaders
  body: Buffer
  /** performance.now() when the whole body had arrived. */
  at: number
}

/** What the receiver answers; `hang` never answers at all. */
export type Reply =
  | {
      status: number
      headers?: Record<string, string>
      body?: string
      delayMs?: number
    }
  | { hang: true }

export type Responder = (receipt: Receipt, nth: number) => Reply

export interface Receiver {
  url: string
  receipts: Receipt[]
  respond: Responder
  /** Receipts of one event id, in arrival order. */
  of(id: string): Receipt[]
  waitFor(count: number, timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

/** A real HTTP server on 127.0.0.1 that records every request. */
export async function startReceiver(
  respond: Responder = () => ({ status: 200 }),
  port = 0,
): Promise<Receiver> {
  const receipts: Receipt[] = []
  const perId = new Map<string, number>()
  const receiver: Receiver = {
    url: '',
    receipts,
    respond,
    of: (id) => receipts.filter((r) => r.id === id),
    waitFor: (count, timeoutMs = 10_000) =>
      until(() => receipts.length >= count, timeoutMs),
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const id = String(req.headers['webhook-id'] ?? '')
      const body = Buffer.concat(chunks)
      const receipt = { id, headers: req.headers, body, at: performance.now() }
      receipts.push(receipt)
      const nth = (perId.get(id) ?? 0) + 1
      perId.set(id, nth)
      answer(res, receiver.respond(receipt, nth))
    })
  })
  await new Promise<void>((resolve) =>
    server.listen(port, '127.0.0.1', resolve),
  )
  const bound = (server.address() as AddressInfo).port
  receiver.url = `http://127.0.0.1:${bound}/hooks`
  return receiver
}

function answer(res: ServerResponse, reply: Reply): void {
  if ('hang' in reply) return
  if (reply.delayMs) {
    const { delayMs, ...rest } = reply
    setTimeout(() => answer(res, rest), delayMs)
    return
  }
  res.writeHead(reply.status, {
    'content-type': 'application/json',
    ...reply.headers,
  })
  res.end(reply.body ?? '{"status":"ok"}')
}

export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('Timed out waiting')
    await sleep(2)
  }
}

export const SECRET = `whsec_${randomBytes(32).toString('base64')}`

/** Small numbers so retries take milliseconds, not hours. */
export function webhookConfig(url: string) {
  return {
    url,
    secret: SECRET,
    concurrency: 4,
    timeoutMs: 2_000,
    maxAttempts: 5,
    backoffBaseMs: 10,
    backoffMaxMs: 50,
  }
}

export interface Harness {
  dispatcher: Dispatcher
  metrics: Metrics
}

/** A dispatcher with its own metrics, quiet logs and fast polling. */
export function dispatcherFor(
  sql: Sql,
  webhook: DispatcherDeps['webhook'],
  extra: Partial<DispatcherDeps> = {},
): Harness {
  const metrics = createMetrics()
  const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent')
  const dispatcher = createDispatcher({
    sql,
    metrics,
    log,
    webhook,
    pollIntervalMs: 50,
    ...extra,
  })
  return { dispatcher, metrics }
}

export interface NewEvent {
  id?: string
  depositId?: string
  type?: string
  body?: string
  nextAttemptAt?: Date
  lockedUntil?: Date | null
}

// drizzle turns the shared client's timestamp handling off (raw strings
// both ways), so timestamps cross as ISO text with explicit casts.

/** Writes one outbox row as the indexer would; returns its id. */
export async function insertEvent(sql: Sql, e: NewEvent = {}) {
  const id = e.id ?? `evt_${randomUUID().replaceAll('-', '')}`
  const depositId = e.depositId ?? `56:0x${randomBytes(32).toString('hex')}:0`
  const type = e.type ?? 'deposit.detected'
  const body = e.body ?? JSON.stringify({ id, type, data: { depositId } })
  await sql`
    insert into outbox_events
      (id, deposit_id, type, block_number, body, next_attempt_at,
       locked_until)
    values (${id}, ${depositId}, ${type}, 1, ${body},
      ${(e.nextAttemptAt ?? new Date()).toISOString()}::timestamptz,
      ${e.lockedUntil?.toISOString() ?? null}::timestamptz)
  `
  return id
}

export interface OutboxState {
  status: string
  attempts: number
  /** Milliseconds from now; negative when past. */
  next_attempt_in: number
  locked: boolean
  last_status_code: number | null
  last_error: string | null
  last_response: string | null
  delivered: boolean
}

export async function outboxRow(sql: Sql, id: string): Promise<OutboxState> {
  const [row] = await sql<OutboxState[]>`
    select status, attempts,
      (extract(epoch from next_attempt_at - now()) * 1000)::float8
        as next_attempt_in,
      locked_until is not null as locked,
      last_status_code, last_error, last_response,
      delivered_at is not null as delivered
    from outbox_events where id = ${id}
  `
  if (!row) throw new Error(`No outbox row ${id}`)
  return row
}

/** Reads one labelled value of a counter or gauge from a registry. */
export async function metricValue(
  metrics: Metrics,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name)
  if (!metric) return 0
  const { values } = await metric.get()
  const match = values.find((v) =>
    Object.entries(labels).every(([k, want]) => v.labels[k] === want),
  )
  return match?.value ?? 0
}

export interface TcpProxy {
  url: string
  /** Drops every connection and refuses new ones: the database is away. */
  cut(): Promise<void>
  /** Accepts connections again on the same port. */
  restore(): Promise<void>
  close(): Promise<void>
}

/**
 * A TCP relay in front of PostgreSQL, so a test can take the database
 * away from one client and give it back, while the server itself runs on.
 */
export async function startTcpProxy(databaseUrl: string): Promise<TcpProxy> {
  const target = new URL(databaseUrl)
  const sockets = new Set<Socket>()
  let server: Server | undefined
  let port = 0
  const track = (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => socket.destroy())
  }
  const open = async () => {
    const s = createNetServer((client) => {
      const upstream = connect(Number(target.port), target.hostname)
      track(client)
      track(upstream)
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
      client.pipe(upstream).pipe(client)
    })
    await new Promise<void>((resolve) => s.listen(port, '127.0.0.1', resolve))
    port = (s.address() as AddressInfo).port
    server = s
  }
  const cut = async () => {
    const s = server
    server = undefined
    for (const socket of sockets) socket.destroy()
    if (s) await new Promise((resolve) => s.close(resolve))
  }
  await open()
  const url = new URL(databaseUrl)
  url.hostname = '127.0.0.1'
  url.port = String(port)
  return { url: url.toString(), cut, restore: open, close: cut }
}
