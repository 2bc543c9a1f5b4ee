import { Writable } from 'node:stream'
import pino from 'pino'
import { type Address, type Hex, parseAbiItem } from 'viem'
import { expect } from 'vitest'
import { ANVIL_ACCOUNT, send } from '../../devchain/token.js'
import type { Logger } from '../../lib/logger.js'
import { startTestChain, type TestChain } from '../helpers/chain.js'
import { createTestDatabase, type TestDatabase } from '../helpers/database.js'
import {
  eventually,
  type startTestIndexer,
  USDC,
  USDT,
} from '../helpers/indexer.js'
import { type RpcProxy, startRpcProxy } from '../helpers/rpc-proxy.js'
import { createUser, randomAddress, setupTokens } from '../helpers/scenario.js'

export type TestIndexer = Awaited<ReturnType<typeof startTestIndexer>>

/** One transfer the test sent, to a user's deposit address or a stranger. */
export interface Sent {
  to: Address
  amount: bigint
  owned: boolean
}

/**
 * A real anvil, a real database and fault proxies in front of the node.
 * The database records every insert into `blocks`, so a test can prove the
 * checkpoint moved through every block exactly once.
 */
export interface Rig {
  chain: TestChain
  db: TestDatabase
  proxies: RpcProxy[]
  users: Address[]
  sent: Sent[]
  indexer: TestIndexer | undefined
  stop(): Promise<void>
}

export async function startRig(
  opts: { proxies?: number; seed?: number } = {},
): Promise<Rig> {
  const [chain, db] = await Promise.all([
    startTestChain(),
    createTestDatabase(),
  ])
  await setupTokens(chain)
  await auditBlocks(db)
  const proxies: RpcProxy[] = []
  for (let i = 0; i < (opts.proxies ?? 1); i++) {
    const seed = (opts.seed ?? 1) + i
    proxies.push(await startRpcProxy({ upstream: chain.url, seed }))
  }
  const users: Address[] = []
  for (let i = 0; i < 3; i++) users.push((await createUser(db)).address)
  const rig: Rig = {
    chain,
    db,
    proxies,
    users,
    sent: [],
    indexer: undefined,
    stop: async () => {
      await rig.indexer?.stop()
      await Promise.all(proxies.map((p) => p.stop()))
      await Promise.all([chain.stop(), db.drop()])
    },
  }
  return rig
}

async function auditBlocks(db: TestDatabase): Promise<void> {
  await db.sql.unsafe(`
    create table block_audit (number bigint not null, hash text not null);
    create function audit_block() returns trigger language plpgsql as $$
    begin
      insert into block_audit (number, hash) values (new.number, new.hash);
      return new;
    end $$;
    create trigger audit_block after insert on blocks
      for each row execute function audit_block();`)
}

let nextAmount = 1_000n

/**
 * Mines `blocks` blocks, each with a three-recipient USDT batch (two users
 * and a stranger), a USDC transfer to the third user and a USDT transfer to
 * another stranger: several logs per block, owned and not. With `atTip`,
 * waits for the indexer to store each block before mining the next, so it
 * always fetches the newest block, where lagging nodes bite.
 */
export async function sendTransfers(
  rig: Rig,
  blocks: number,
  opts: { atTip?: boolean } = {},
): Promise<void> {
  const [a, b, c] = rig.users as [Address, Address, Address]
  for (let i = 0; i < blocks; i++) {
    const stranger = randomAddress()
    const batch = [a, stranger, b].map((to) => ({
      to,
      amount: nextAmount++ * 10n ** 15n,
      owned: to !== stranger,
    }))
    const single = { to: c, amount: nextAmount++ }
    const other = { to: randomAddress(), amount: nextAmount++ }
    await send(rig.chain.client, ANVIL_ACCOUNT, USDT, 'batchTransfer', [
      batch.map((t) => t.to),
      batch.map((t) => t.amount),
    ])
    await send(rig.chain.client, ANVIL_ACCOUNT, USDC, 'transfer', [
      single.to,
      single.amount,
    ])
    await send(rig.chain.client, ANVIL_ACCOUNT, USDT, 'transfer', [
      other.to,
      other.amount,
    ])
    await rig.chain.client.mine({ blocks: 1 })
    rig.sent.push(
      ...batch,
      { ...single, owned: true },
      { ...other, owned: false },
    )
    if (opts.atTip) await storedHead(rig)
  }
}

/** Waits (a while, not forever) for the checkpoint to reach the head. */
async function storedHead(rig: Rig): Promise<void> {
  const head = await rig.chain.client.getBlockNumber({ cacheTime: 0 })
  await eventually(async () => {
    const [cp] = await rig.db.sql<{ n: string }[]>`
      select block_number::text as n from checkpoints`
    return cp !== undefined && BigInt(cp.n) >= head
  }, 5_000).catch(() => {})
}

/** Mines enough empty blocks for the `finalized` tag to pass every deposit. */
export async function mineToFinality(rig: Rig, blocks = 3): Promise<void> {
  await rig.chain.client.mine({ blocks })
}

/**
 * Waits until the indexer stored the head and confirmed every deposit, or
 * the time runs out; the assertions that follow say what is missing.
 */
export async function settle(rig: Rig, timeoutMs = 15_000): Promise<void> {
  const owned = rig.sent.filter((s) => s.owned).length
  await eventually(async () => {
    const head = await rig.chain.client.getBlockNumber({ cacheTime: 0 })
    const [cp] = await rig.db.sql<{ block_number: string }[]>`
        select block_number::text from checkpoints`
    const [d] = await rig.db.sql<{ confirmed: number }[]>`
        select count(*)::int as confirmed from deposits
        where status = 'confirmed'`
    return cp?.block_number === head.toString() && d!.confirmed >= owned
  }, timeoutMs).catch(() => {})
}

const transferEvent = parseAbiItem(
  'event Transfer(address indexed from, address indexed to, uint256 value)',
)

/**
 * The invariants every fault test ends with: each transfer to a deposit
 * address is one deposit with the right amount, confirmed, with exactly a
 * detected and a confirmed event; nothing else was recorded; and every
 * block from the start to the head was stored once, with its canonical
 * hash, never reverted.
 */
export async function expectIndexedExactly(rig: Rig): Promise<void> {
  const { chain, db } = rig
  const head = await chain.client.getBlockNumber({ cacheTime: 0 })
  const owned = new Set(rig.users.map((u) => u.toLowerCase()))

  // The chain's own answer, asked directly, is the truth.
  const logs = await chain.client.getLogs({
    address: [USDT, USDC],
    event: transferEvent,
    fromBlock: 0n,
    toBlock: head,
  })
  const truth = logs
    .filter((l) => owned.has(l.args.to!.toLowerCase()) && l.args.value! > 0n)
    .map((l) => ({
      id: `56:${l.blockHash}:${l.logIndex}`,
      to: l.args.to!.toLowerCase(),
      amount: l.args.value!.toString(),
      token: l.address.toLowerCase(),
    }))
    .sort((x, y) => x.id.localeCompare(y.id))
  const sent = rig.sent
    .filter((s) => s.owned)
    .map((s) => `${s.to.toLowerCase()}:${s.amount}`)
  expect(truth.map((t) => `${t.to}:${t.amount}`).sort()).toEqual(sent.sort())

  const rows = await db.sql<
    { id: string; to: string; amount: string; token: string; status: string }[]
  >`select id, to_address as to, amount::text, token, status
    from deposits order by id`
  expect(rows.map(({ status, ...r }) => r)).toEqual(truth)
  expect(rows.filter((r) => r.status !== 'confirmed')).toEqual([])

  const events = await db.sql<{ deposit_id: string; types: string[] }[]>`
    select deposit_id, array_agg(type order by seq) as types
    from outbox_events group by deposit_id`
  expect(events).toHaveLength(truth.length)
  for (const e of events) {
    expect(e.types).toEqual(['deposit.detected', 'deposit.confirmed'])
  }

  await expectEveryBlockStoredOnce(rig, head)
  const reorgs = await rig.indexer!.metrics.reorgs.get()
  expect(reorgs.values.reduce((sum, v) => sum + v.value, 0)).toBe(0)
}

async function expectEveryBlockStoredOnce(rig: Rig, head: bigint) {
  const [cp] = await rig.db.sql<{ block_number: string; block_hash: string }[]>`
    select block_number::text, block_hash from checkpoints`
  expect(cp?.block_number).toBe(head.toString())
  const audit = await rig.db.sql<{ number: string; hash: string }[]>`
    select number::text, hash from block_audit order by block_audit.number`
  const canonical: string[] = []
  for (let n = 0n; n <= head; n++) {
    const block = await rig.chain.client.getBlock({ blockNumber: n })
    canonical.push(`${n}:${block.hash}`)
  }
  expect(audit.map((a) => `${a.number}:${a.hash}`)).toEqual(canonical)
  expect(cp?.block_hash).toBe(canonical.at(-1)?.split(':')[1])
}

/** Sums a counter's values whose labels match `labels`. */
export async function counterSum(
  metric: { get(): Promise<{ values: { labels: object; value: number }[] }> },
  labels: Record<string, string>,
): Promise<number> {
  const { values } = await metric.get()
  return values
    .filter((v) =>
      Object.entries(labels).every(
        ([k, want]) => (v.labels as Record<string, unknown>)[k] === want,
      ),
    )
    .reduce((sum, v) => sum + v.value, 0)
}

/**
 * A pino logger that keeps every line in memory, as text; with
 * TEST_LOG_LEVEL set, the lines also go to stdout.
 */
export function memoryLogger(level = 'debug'): {
  log: Logger
  lines: string[]
  text(): string
} {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk))
      if (process.env.TEST_LOG_LEVEL) process.stdout.write(String(chunk))
      done()
    },
  })
  const log = pino(
    { level, serializers: { err: pino.stdSerializers.err } },
    stream,
  )
  return { log, lines, text: () => lines.join('') }
}

/** The quantity a block-number param names, or undefined for a tag. */
export function blockParam(params: readonly unknown[]): bigint | undefined {
  const p = params[0]
  return typeof p === 'string' && /^0x[0-9a-f]+$/i.test(p)
    ? BigInt(p)
    : undefined
}

/** The blockHash of an `eth_getLogs` filter, if it asks by hash. */
export function logsBlockHash(params: readonly unknown[]): Hex | undefined {
  const f = params[0] as { blockHash?: Hex } | undefined
  return f?.blockHash
}

/** A `when` that is true for the first `n` calls of each key. */
export function firstCalls(
  n: number,
  keyOf: (params: readonly unknown[]) => unknown,
) {
  const seen = new Map<unknown, number>()
  return (call: { params: readonly unknown[] }) => {
    const key = keyOf(call.params)
    if (key === undefined) return false
    const count = seen.get(key) ?? 0
    seen.set(key, count + 1)
    return count < n
  }
}
