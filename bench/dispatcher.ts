/**
 * Measures the webhook dispatcher against a minimal receiver that answers
 * 200, run in a child process so it does not share the dispatcher's core.
 *
 *   npx tsx bench/dispatcher.ts [--events 20000] [--concurrency 16]
 *     [--rate 2000] [--batch 50] [--notify]
 *
 * Phase 1 (backlog): N events committed at once, then delivered; reports
 * deliveries/s. Phase 2 (live): N events committed in batches of --batch at
 * --rate events/s, the dispatcher woken after each commit (or only by
 * NOTIFY with --notify); reports latency from commit to receipt.
 * Uses BENCH_DATABASE_URL (a database is created in it and dropped) or an
 * embedded PostgreSQL in a temporary folder.
 */

import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { createDb, type Sql } from '../db/client.js'
import {
  createDispatcher,
  type Dispatcher,
  OUTBOX_CHANNEL,
} from '../indexer/deliver/dispatcher.js'
import { createLogger } from '../lib/logger.js'
import { createMetrics } from '../lib/metrics.js'
import { scratchDatabase } from './scratch-database.js'

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '16' },
    rate: { type: 'string', default: '2000' },
    batch: { type: 'string', default: '50' },
    notify: { type: 'boolean', default: false },
  },
})
const EVENTS = Number(args.events)
const CONCURRENCY = Number(args.concurrency)
const RATE = Number(args.rate)
const BATCH = Number(args.batch)

/** Epoch ms, sub-millisecond, comparable across processes. */
const clock = () => performance.timeOrigin + performance.now()

// Plain JS for `node -e`: answers 200 at once, keeps each arrival time and
// hands them over on request.
const RECEIVER = `
const http = require('node:http')
const seen = new Map()
const clock = () => performance.timeOrigin + performance.now()
const server = http.createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    seen.set(req.headers['webhook-id'], clock())
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"status":"credited"}')
  })
})
server.keepAliveTimeout = 60000
server.listen(0, '127.0.0.1', () =>
  process.send({ port: server.address().port }))
process.on('message', (m) => {
  if (m === 'count') process.send({ count: seen.size })
  if (m === 'cpu') {
    const { user, system } = process.cpuUsage()
    process.send({ cpu: user + system })
  }
  if (m === 'dump') { process.send({ seen: [...seen] }); seen.clear() }
})
`

interface Receiver {
  url: string
  count(): Promise<number>
  /** CPU the receiver process has used, in microseconds. */
  cpu(): Promise<number>
  dump(): Promise<Map<string, number>>
  stop(): void
}

async function startReceiver(): Promise<Receiver> {
  const child = spawn(process.execPath, ['-e', RECEIVER], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const ask = <T>(message: string | undefined, key: string) =>
    new Promise<T>((resolve) => {
      const on = (m: Record<string, T>) => {
        if (!(key in m)) return
        child.off('message', on)
        resolve(m[key] as T)
      }
      child.on('message', on)
      if (message) child.send(message)
    })
  const port = await ask<number>(undefined, 'port')
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    count: () => ask<number>('count', 'count'),
    cpu: () => ask<number>('cpu', 'cpu'),
    dump: async () => new Map(await ask<[string, number][]>('dump', 'seen')),
    stop: () => (child as ChildProcess).kill(),
  }
}

function body(id: string, depositId: string): string {
  const hex = (n: number) => `0x${randomBytes(n).toString('hex')}`
  return JSON.stringify({
    id,
    type: 'deposit.detected',
    createdAt: new Date().toISOString(),
    data: {
      depositId,
      chainId: 56,
      userId: 'a59b0893-0f43-43c8-83aa-87a0dff98338',
      address: hex(20),
      from: hex(20),
      token: { address: hex(20), symbol: 'USDT', decimals: 18 },
      amount: '1500000000000000000000',
      amountDecimal: '1500',
      txHash: hex(32),
      logIndex: 7,
      blockNumber: '75140593',
      blockHash: hex(32),
      blockTimestamp: new Date().toISOString(),
      confirmations: 0,
    },
  })
}

let serial = 0

interface Batch {
  ids: string[]
  deposits: string[]
  bodies: string[]
}

/** Rows are made before the clock starts, so only the dispatcher is timed. */
function makeBatch(count: number): Batch {
  const batch: Batch = { ids: [], deposits: [], bodies: [] }
  for (let i = 0; i < count; i++) {
    serial += 1
    const id = `evt_bench${String(serial).padStart(10, '0')}`
    const depositId = `56:0x${serial.toString(16).padStart(64, '0')}:0`
    batch.ids.push(id)
    batch.deposits.push(depositId)
    batch.bodies.push(body(id, depositId))
  }
  return batch
}

function makeBatches(total: number, size: number): Batch[] {
  const batches: Batch[] = []
  for (let done = 0; done < total; done += size) {
    batches.push(makeBatch(Math.min(size, total - done)))
  }
  return batches
}

/** One transaction, as the indexer's per-block commit would be. */
async function insertBatch(sql: Sql, batch: Batch, notify: boolean) {
  await sql.begin(async (tx) => {
    await tx`
      insert into outbox_events (id, deposit_id, type, block_number, body)
      select id, dep, 'deposit.detected', 75140593, b
      from unnest(
        ${batch.ids}::text[], ${batch.deposits}::text[], ${batch.bodies}::text[]
      ) as t(id, dep, b)
    `
    if (notify) await tx`select pg_notify(${OUTBOX_CHANNEL}, '')`
  })
  return { ids: batch.ids, committedAt: clock() }
}

async function waitForCount(receiver: Receiver, target: number) {
  while ((await receiver.count()) < target) await sleep(5)
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const index = Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)
  return sorted[Math.max(0, index)] ?? Number.NaN
}

function summary(latencies: number[]) {
  const sorted = [...latencies].sort((a, b) => a - b)
  const f = (p: number) => percentile(sorted, p).toFixed(1)
  return (
    `p50 ${f(0.5)} ms, p95 ${f(0.95)} ms, ` +
    `p99 ${f(0.99)} ms, max ${f(1)} ms`
  )
}

/**
 * CPU used so far by each party, in microseconds. PostgreSQL's share is
 * read from /proc for the children of its postmaster (Linux, same host);
 * on a remote database it is left out. CPU per delivery is the figure
 * that holds when other work shares the machine; wall-clock rates do not.
 */
async function cpuNow(sql: Sql, receiver: Receiver) {
  const { user, system } = process.cpuUsage()
  return {
    dispatcher: user + system,
    receiver: await receiver.cpu(),
    postgres: await postgresCpu(sql),
  }
}

async function postgresCpu(sql: Sql): Promise<number | undefined> {
  try {
    const [row] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`
    const postmaster = procStat(row?.pid ?? 0)?.ppid
    let ticks = 0
    for (const entry of await readdir('/proc')) {
      const stat = /^[0-9]+$/.test(entry) ? procStat(Number(entry)) : undefined
      if (stat && stat.ppid === postmaster) ticks += stat.ticks
    }
    return (ticks / CLOCK_TICKS) * 1e6
  } catch {
    return undefined
  }
}

/** Linux's USER_HZ; 100 on every mainstream distribution. */
const CLOCK_TICKS = 100

function procStat(pid: number) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name, which may itself hold spaces.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return {
      ppid: Number(fields[1]),
      ticks: Number(fields[11]) + Number(fields[12]),
    }
  } catch {
    return undefined
  }
}

type Cpu = Awaited<ReturnType<typeof cpuNow>>

function cpuReport(before: Cpu, after: Cpu, events: number): string {
  const per = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? undefined : (b - a) / events
  const parts = {
    dispatcher: per(before.dispatcher, after.dispatcher),
    receiver: per(before.receiver, after.receiver),
    postgres: per(before.postgres, after.postgres),
  }
  const known = Object.values(parts).filter((v) => v !== undefined)
  const total = known.reduce((a, b) => a + b, 0)
  const list = Object.entries(parts)
    .map(([k, v]) => `${k} ${v === undefined ? 'n/a' : v.toFixed(0)}`)
    .join(', ')
  return (
    `CPU per delivery (µs): ${list}; total ${total.toFixed(0)} ` +
    `= ${Math.round(1e6 / total)} deliveries/s per fully free core`
  )
}

async function backlog(sql: Sql, dispatcher: Dispatcher, r: Receiver) {
  for (const batch of makeBatches(EVENTS, 5_000)) {
    await insertBatch(sql, batch, false)
  }
  const cpuBefore = await cpuNow(sql, r)
  const committedAt = clock()
  dispatcher.wake()
  await waitForCount(r, EVENTS)
  await dispatcher.drain()
  const elapsed = clock() - committedAt
  const cpuAfter = await cpuNow(sql, r)
  const seen = await r.dump()
  const last = Math.max(...seen.values())
  const rate = (ms: number) => Math.round(EVENTS / (ms / 1000))
  console.log(
    `backlog: ${EVENTS} events committed at once, all delivered and ` +
      `recorded in ${(elapsed / 1000).toFixed(2)} s: ` +
      `${rate(last - committedAt)} deliveries/s to the last receipt, ` +
      `${rate(elapsed)}/s until recorded`,
  )
  console.log(`backlog: ${cpuReport(cpuBefore, cpuAfter, EVENTS)}`)
}

async function live(sql: Sql, dispatcher: Dispatcher, r: Receiver) {
  const batches = makeBatches(EVENTS, BATCH)
  const commits: { ids: string[]; committedAt: number }[] = []
  const intervalMs = (BATCH / RATE) * 1000
  const started = clock()
  for (const [i, batch] of batches.entries()) {
    const wait = started + i * intervalMs - clock()
    if (wait > 0) await sleep(wait)
    commits.push(await insertBatch(sql, batch, args.notify))
    if (!args.notify) dispatcher.wake()
  }
  await waitForCount(r, EVENTS)
  const elapsed = clock() - started
  const seen = await r.dump()
  const latencies = commits.flatMap((c) =>
    c.ids.map((id) => (seen.get(id) ?? Number.NaN) - c.committedAt),
  )
  console.log(
    `live: ${EVENTS} events, ${BATCH} per commit every ` +
      `${intervalMs.toFixed(1)} ms (${RATE}/s offered, ` +
      `${Math.round(EVENTS / (elapsed / 1000))}/s achieved, woken by ` +
      `${args.notify ? 'NOTIFY' : 'wake()'})`,
  )
  console.log(`live: commit to receipt ${summary(latencies)}`)
}

async function main() {
  const db = await scratchDatabase()
  const receiver = await startReceiver()
  const { sql } = createDb(db.url, 10)
  const writer = createDb(db.url, 2).sql
  const dispatcher = createDispatcher({
    sql,
    metrics: createMetrics(),
    log: createLogger('warn'),
    webhook: {
      url: receiver.url,
      secret: `whsec_${randomBytes(32).toString('base64')}`,
      concurrency: CONCURRENCY,
      timeoutMs: 10_000,
      maxAttempts: 30,
      backoffBaseMs: 1_000,
      backoffMaxMs: 3_600_000,
    },
  })
  console.log(
    `node ${process.version}, concurrency ${CONCURRENCY}, ${EVENTS} events`,
  )
  dispatcher.start()
  try {
    await backlog(writer, dispatcher, receiver)
    await live(writer, dispatcher, receiver)
  } finally {
    await dispatcher.stop()
    receiver.stop()
    await Promise.all([sql.end(), writer.end()])
    await db.drop()
  }
}

await main()
