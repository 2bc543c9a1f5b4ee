/**
 * Bounded load test of `POST /api/v1/webhooks/bep20`.
 *
 *   API_URL=http://127.0.0.1:3000 WEBHOOK_SECRET=whsec_… USER_ID=<uuid> \
 *     npm run loadtest            # against a running API (or ADMIN_TOKEN
 *                                 # instead of USER_ID to create a user)
 *   npm run loadtest              # starts a database and the API itself
 *
 * LOADTEST_SECONDS (10), LOADTEST_CLIENTS (50), LOADTEST_USERS (100),
 * LOADTEST_DUPLICATES (0.2): the share of requests that resend an event
 * already sent. USER_ID may list users (comma separated) instead. New deposits
 * arrive as `deposit.detected`, then their `deposit.confirmed` follows.
 * The clients run in a worker thread, so in-process they do not share an
 * event loop with the API they measure.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto'
import { Agent, request } from 'node:http'
import {
  isMainThread,
  parentPort,
  Worker,
  workerData,
} from 'node:worker_threads'
import pino from 'pino'
import { Webhook } from 'standardwebhooks'

interface Plan {
  url: string
  secret: string
  userIds: string[]
  seconds: number
  clients: number
  duplicates: number
}

interface Result {
  latencies: Float64Array
  statuses: Record<string, number>
  errors: number
  elapsed: number
}

const WEBHOOK = '/api/v1/webhooks/bep20'
/** Deposits spread over this many users; 1 makes one balance row hot. */
const USERS = Number(process.env.LOADTEST_USERS ?? 100)

if (isMainThread) {
  await main()
} else {
  parentPort?.postMessage(await runClients(workerData as Plan))
}

async function main(): Promise<void> {
  const seconds = Number(process.env.LOADTEST_SECONDS ?? 10)
  const clients = Number(process.env.LOADTEST_CLIENTS ?? 50)
  const duplicates = Number(process.env.LOADTEST_DUPLICATES ?? 0.2)
  const target = process.env.API_URL
    ? await remoteTarget(process.env.API_URL)
    : await localTarget()
  console.log(
    `Loading ${target.url}${WEBHOOK}: ${clients} clients, ${seconds} s, ` +
      `${target.userIds.length} users, ` +
      `${Math.round(duplicates * 100)}% duplicates`,
  )
  const { url, secret, userIds } = target
  const plan: Plan = { url, secret, userIds, seconds, clients, duplicates }
  // tsx hooks this thread only; the worker loads this file through it too.
  const self = JSON.stringify(import.meta.url)
  const boot = `import('tsx/esm/api').then((t) => t.tsImport(${self}, ${self}))`
  const worker = new Worker(boot, { eval: true, workerData: plan })
  const result = await new Promise<Result>((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  report(result)
  await target.stop()
}

type Target = Pick<Plan, 'url' | 'secret' | 'userIds'> & {
  stop(): Promise<void>
}

async function remoteTarget(url: string): Promise<Target> {
  const secret = process.env.WEBHOOK_SECRET
  if (!secret) throw new Error('WEBHOOK_SECRET: required with API_URL')
  const given = process.env.USER_ID?.split(',').filter(Boolean) ?? []
  const token = process.env.ADMIN_TOKEN
  if (given.length === 0 && !token) {
    throw new Error('USER_ID or ADMIN_TOKEN: required with API_URL')
  }
  const userIds = given.length > 0 ? given : []
  for (let i = userIds.length; i < USERS; i++) {
    userIds.push(await createRemoteUser(url, token ?? ''))
  }
  return { url, secret, userIds, stop: async () => {} }
}

async function createRemoteUser(url: string, token: string) {
  const res = await fetch(`${url}/api/v1/users`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({ username: 'loadtest' }),
  })
  if (res.status !== 201) throw new Error(`Creating a user: ${res.status}`)
  return ((await res.json()) as { id: string }).id
}

/**
 * Database (DATABASE_URL, or the embedded one with its own `bsc_loadtest`
 * database), migrations, users, and the API on a free port.
 */
async function localTarget(): Promise<Target> {
  const { loadConfigOrExit } = await import('../lib/config.js')
  const { createLogger } = await import('../lib/logger.js')
  const { openDatabase } = await import('../db/open.js')
  const { createMetrics } = await import('../lib/metrics.js')
  const { createApiApp } = await import('../api/app.js')
  const { startApiServer } = await import('../api/server.js')
  const config = loadConfigOrExit('script')
  const db = await openDatabase(config.database, createLogger('warn'), {
    database: 'bsc_loadtest',
  })
  const users = await db.sql<{ id: string }[]>`
    insert into users (username)
    select 'loadtest' from generate_series(1, ${USERS}) returning id`
  const secret =
    config.webhook.secret ?? `whsec_${randomBytes(32).toString('base64')}`
  const app = createApiApp({
    db: db.db,
    sql: db.sql,
    metrics: createMetrics(),
    // Logged at info, as in production, into a sink: the per-request line
    // is part of the cost measured, but not of the terminal output.
    log: pino({ level: 'info' }, pino.destination('/dev/null')),
    config: {
      bodyLimitBytes: config.api.bodyLimitBytes,
      adminToken: undefined,
      readyMaxLagBlocks: config.api.readyMaxLagBlocks,
      webhookSecret: secret,
      chainId: 56,
    },
  })
  const server = await startApiServer(app, { host: '127.0.0.1', port: 0 })
  return {
    url: server.url,
    secret,
    userIds: users.map((user) => user.id),
    stop: async () => {
      await server.close()
      await db.close()
    },
  }
}

/** Runs in the worker: `clients` loops until the deadline. */
async function runClients(plan: Plan): Promise<Result> {
  const agent = new Agent({ keepAlive: true, maxSockets: plan.clients })
  const source = eventSource(plan)
  const sign = createSigner(plan.secret)
  const latencies: number[] = []
  const statuses: Record<string, number> = {}
  let errors = 0
  const started = performance.now()
  const deadline = started + plan.seconds * 1000

  async function client() {
    while (performance.now() < deadline) {
      const { id, body } = source.next()
      const at = new Date()
      const headers = {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': sign(id, at, body),
      }
      const sent = performance.now()
      const answer = await post(agent, `${plan.url}${WEBHOOK}`, body, headers)
      latencies.push(performance.now() - sent)
      statuses[answer.label] = (statuses[answer.label] ?? 0) + 1
      if (!answer.ok) errors++
    }
  }

  await Promise.all(Array.from({ length: plan.clients }, client))
  const elapsed = (performance.now() - started) / 1000
  agent.destroy()
  return { latencies: Float64Array.from(latencies), statuses, errors, elapsed }
}

/**
 * Standard Webhooks signing with node's native HMAC: the package's pure-JS
 * SHA-256 would make the load generator, not the API, the bottleneck.
 * Checked once against the package, so the two cannot differ.
 */
function createSigner(secret: string) {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64')
  const sign = (id: string, at: Date, body: string) => {
    const seconds = Math.floor(at.getTime() / 1000)
    const mac = createHmac('sha256', key)
      .update(`${id}.${seconds}.${body}`)
      .digest('base64')
    return `v1,${mac}`
  }
  const at = new Date()
  if (
    sign('evt_check', at, '{}') !==
    new Webhook(secret).sign('evt_check', at, '{}')
  ) {
    throw new Error('The native signer disagrees with standardwebhooks')
  }
  return sign
}

function post(
  agent: Agent,
  url: string,
  body: string,
  headers: Record<string, string>,
): Promise<{ ok: boolean; label: string }> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', agent, headers }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        text += chunk
      })
      res.on('end', () => {
        const code = res.statusCode ?? 0
        const status = code === 200 ? JSON.parse(text).status : undefined
        resolve({ ok: code === 200, label: status ?? String(code) })
      })
    })
    req.on('error', (error) => resolve({ ok: false, label: error.message }))
    req.end(body)
  })
}

/**
 * New deposits first as detected, then confirmed; now and then an event
 * sent before, under its own id, as a retrying sender would.
 */
function eventSource(plan: Plan) {
  const toConfirm: Record<string, unknown>[] = []
  const sent: { id: string; body: string }[] = []
  const hex = (bytes: number) => `0x${randomBytes(bytes).toString('hex')}`

  function fresh(type: string, data: Record<string, unknown>) {
    const id = `evt_${randomUUID().replaceAll('-', '')}`
    const event = { id, type, createdAt: new Date().toISOString(), data }
    const item = { id, body: JSON.stringify(event) }
    if (sent.length < 5000) sent.push(item)
    else sent[Math.floor(Math.random() * sent.length)] = item
    return item
  }

  function detected() {
    const blockHash = hex(32)
    const data = {
      depositId: `56:${blockHash}:7`,
      chainId: 56,
      userId: plan.userIds[Math.floor(Math.random() * plan.userIds.length)],
      address: hex(20),
      from: hex(20),
      token: {
        address: '0x55d398326f99059fF775485246999027B3197955',
        symbol: 'USDT',
        decimals: 18,
      },
      amount: '1500000000000000000000',
      amountDecimal: '1500',
      txHash: hex(32),
      logIndex: 7,
      blockNumber: '75140593',
      blockHash,
      blockTimestamp: new Date().toISOString(),
      confirmations: 1,
    }
    toConfirm.push(data)
    return fresh('deposit.detected', data)
  }

  return {
    next(): { id: string; body: string } {
      const roll = Math.random()
      if (roll < plan.duplicates && sent.length > 0) {
        return sent[Math.floor(Math.random() * sent.length)] as {
          id: string
          body: string
        }
      }
      const data = toConfirm.length > 100 ? toConfirm.shift() : undefined
      return data ? fresh('deposit.confirmed', data) : detected()
    },
  }
}

function report(result: Result): void {
  const sorted = [...result.latencies].sort((a, b) => a - b)
  const at = (q: number) =>
    (
      sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
    ).toFixed(1)
  const total = sorted.length
  console.log(
    [
      `requests   ${total} in ${result.elapsed.toFixed(1)} s`,
      `rate       ${(total / result.elapsed).toFixed(0)} requests/s`,
      `latency    p50 ${at(0.5)} ms, p95 ${at(0.95)} ms, ` +
        `p99 ${at(0.99)} ms, max ${at(1)} ms`,
      `errors     ${result.errors}`,
      `answers    ${JSON.stringify(result.statuses)}`,
    ].join('\n'),
  )
}
