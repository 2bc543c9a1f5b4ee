/**
 * Measures the backfill against what the node itself serves.
 *
 *   npx tsx bench/backfill.ts [--blocks 200] [--per-block 500]
 *     [--users 5000] [--known-share 0.5] [--chunk 10] [--runs 3]
 *
 * Starts anvil (no mining) and fills `--blocks` blocks with one
 * batchTransfer of `--per-block` USDT transfers each, `--known-share` of
 * them to the deposit addresses of `--users` users. Then, over the range:
 * (a) raw: eth_getLogs in chunks of `--chunk` blocks, 4 in flight, with
 *     fetch and JSON.parse alone; also the whole range in one call;
 * (b) pipeline: runBackfill end to end into a fresh job each run.
 * Prints logs/s of both and their ratio; the target is at least 0.5.
 * Uses BENCH_DATABASE_URL or DATABASE_URL (a database is created in it and
 * dropped) or an embedded PostgreSQL in a temporary folder.
 */
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import type postgres from 'postgres'
import { encodeFunctionData } from 'viem'
import { createDb } from '../db/client.js'
import { startAnvil } from '../devchain/anvil.js'
import {
  ANVIL_ACCOUNT,
  createDevClient,
  type DevClient,
  placeToken,
  send,
  tokenAbi,
} from '../devchain/token.js'
import { runBackfill } from '../indexer/backfill/run-backfill.js'
import { TRANSFER_TOPIC } from '../indexer/match/transfer.js'
import { createRpcClient } from '../indexer/rpc/rpc-client.js'
import { toQuantity } from '../indexer/rpc/types.js'
import { DEFAULT_TOKENS, loadConfig } from '../lib/config.js'
import { freePort } from '../lib/free-port.js'
import { createLogger } from '../lib/logger.js'
import { createMetrics } from '../lib/metrics.js'
import { scratchDatabase } from './scratch-database.js'

const { values: args } = parseArgs({
  options: {
    blocks: { type: 'string', default: '200' },
    'per-block': { type: 'string', default: '500' },
    users: { type: 'string', default: '5000' },
    chunk: { type: 'string', default: '10' },
    runs: { type: 'string', default: '3' },
    'known-share': { type: 'string', default: '0.5' },
  },
})
const BLOCKS = Number(args.blocks)
const PER_BLOCK = Number(args['per-block'])
const USERS = Number(args.users)
const CHUNK = Number(args.chunk)
const RUNS = Number(args.runs)
const KNOWN_SHARE = Number(args['known-share'])
const USDT = DEFAULT_TOKENS[0]!.address
const CONCURRENCY = 4

const hexAddress = () => `0x${randomBytes(20).toString('hex')}` as const

/** Users and their deposit addresses, written in one statement each. */
async function createUsers(sql: postgres.Sql, count: number) {
  const ids = Array.from({ length: count }, () => crypto.randomUUID())
  const addresses = ids.map(hexAddress)
  await sql`
    insert into users (id, username)
    select id::uuid, 'bench' from unnest(${ids}::text[]) as t(id)`
  await sql`
    insert into deposit_addresses (address, user_id)
    select a, u::uuid from unnest(${addresses}::text[], ${ids}::text[])
      as t(a, u)`
  return addresses
}

/** One block per loop: a batchTransfer of PER_BLOCK transfers, mined. */
async function fillChain(client: DevClient, known: `0x${string}`[]) {
  await placeToken(client, USDT, 'USDT')
  await send(client, ANVIL_ACCOUNT, USDT, 'mint', [ANVIL_ACCOUNT, 10n ** 40n])
  await client.mine({ blocks: 1 })
  const first = (await client.getBlockNumber({ cacheTime: 0 })) + 1n
  for (let b = 0; b < BLOCKS; b++) {
    const to = Array.from({ length: PER_BLOCK }, (_, i) => {
      // Spread KNOWN_SHARE of the transfers evenly over the block.
      const isKnown =
        Math.floor((i + 1) * KNOWN_SHARE) > Math.floor(i * KNOWN_SHARE)
      const n = b * PER_BLOCK + i
      return isKnown ? known[n % known.length]! : hexAddress()
    })
    const amounts = to.map((_, i) => BigInt(b * PER_BLOCK + i + 1) * 10n ** 15n)
    const data = encodeFunctionData({
      abi: tokenAbi,
      functionName: 'batchTransfer',
      args: [to, amounts],
    })
    // An explicit gas limit skips estimation, which costs as much as the tx.
    await client.request({
      method: 'eth_sendTransaction' as never,
      params: [
        { from: ANVIL_ACCOUNT, to: USDT, data, gas: toQuantity(29_000_000n) },
      ],
    })
    await client.mine({ blocks: 1 })
  }
  const last = first + BigInt(BLOCKS) - 1n
  // anvil serves `finalized` two blocks behind the head (one-slot epochs).
  await client.mine({ blocks: 3 })
  return { first, last }
}

/** eth_getLogs over [from, to] in chunks, fetch and JSON.parse alone. */
async function rawGetLogs(
  url: string,
  from: bigint,
  to: bigint,
  chunk: number,
) {
  let next = from
  let logs = 0
  const worker = async () => {
    while (next <= to) {
      const a = next
      const b = a + BigInt(chunk) - 1n < to ? a + BigInt(chunk) - 1n : to
      next = b + 1n
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'eth_getLogs',
          params: [
            {
              fromBlock: toQuantity(a),
              toBlock: toQuantity(b),
              address: [USDT],
              topics: [TRANSFER_TOPIC],
            },
          ],
        }),
      })
      const body = (await res.json()) as { result: unknown[] }
      logs += body.result.length
    }
  }
  const started = performance.now()
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  return { logs, seconds: (performance.now() - started) / 1000 }
}

const rate = (n: number, s: number) => Math.round(n / s)

async function main() {
  const anvil = await startAnvil({
    port: await freePort(),
    chainId: 56,
    noMining: true,
  })
  const db = await scratchDatabase()
  const { sql } = createDb(db.url, 10)
  try {
    const client = createDevClient(anvil.url, 56)
    const known = await createUsers(sql, USERS)
    const t0 = performance.now()
    const { first, last } = await fillChain(client, known)
    console.log(
      `chain: ${BLOCKS} blocks x ${PER_BLOCK} transfers (${KNOWN_SHARE * 100}% to ${USERS} ` +
        `users' addresses) mined in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    )

    let rawBest = 0
    for (let i = 0; i < RUNS; i++) {
      const r = await rawGetLogs(anvil.url, first, last, CHUNK)
      rawBest = Math.max(rawBest, rate(r.logs, r.seconds))
      console.log(
        `raw eth_getLogs, ${CHUNK}-block chunks, ${CONCURRENCY} in flight: ` +
          `${r.logs} logs in ${r.seconds.toFixed(2)} s = ${rate(r.logs, r.seconds)} logs/s`,
      )
    }
    const whole = await rawGetLogs(anvil.url, first, last, BLOCKS)
    rawBest = Math.max(rawBest, rate(whole.logs, whole.seconds))
    console.log(
      `raw eth_getLogs, the whole range in one call: ${whole.logs} logs in ` +
        `${whole.seconds.toFixed(2)} s = ${rate(whole.logs, whole.seconds)} logs/s`,
    )

    const config = loadConfig('script', {
      RPC_URL: anvil.url,
      BACKFILL_CHUNK_BLOCKS: String(CHUNK),
    })
    const log = createLogger('warn')
    let pipeBest = 0
    for (let i = 0; i < RUNS; i++) {
      // A fresh start each run: every deposit and event is written again.
      await sql`truncate deposits, outbox_events, backfill_jobs`
      const metrics = createMetrics()
      const rpc = createRpcClient({
        urls: [anvil.url],
        timeoutMs: 60_000,
        metrics,
        log,
      })
      const started = performance.now()
      const s = await runBackfill({
        sql,
        rpc,
        metrics,
        log,
        chain: config.chain,
        from: first,
        to: last,
        progressIntervalMs: 60_000,
      })
      const seconds = (performance.now() - started) / 1000
      pipeBest = Math.max(pipeBest, rate(s.logs, seconds))
      console.log(
        `pipeline (runBackfill, ${CHUNK}-block chunks): ${s.logs} logs, ` +
          `${s.deposits} deposits, ${2 * s.deposits} events in ` +
          `${seconds.toFixed(2)} s = ${rate(s.logs, seconds)} logs/s`,
      )
    }
    console.log(
      `best: raw ${rawBest} logs/s, pipeline ${pipeBest} logs/s, ratio ` +
        `${(pipeBest / rawBest).toFixed(2)} (target >= 0.50)`,
    )
  } finally {
    await sql.end({ timeout: 5 })
    await db.drop()
    await anvil.stop()
  }
}

await main()
