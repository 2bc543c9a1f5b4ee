import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ANVIL_ACCOUNT, send } from '../../devchain/token.js'
import { parseCliArgs } from '../../scripts/backfill.js'
import { startTestChain, type TestChain } from '../helpers/chain.js'
import { createTestDatabase, type TestDatabase } from '../helpers/database.js'
import { USDT } from '../helpers/indexer.js'
import { delay } from '../helpers/rpc-faults.js'
import { startRpcProxy } from '../helpers/rpc-proxy.js'
import { createUser, depositsOf, setupTokens } from '../helpers/scenario.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * Starts the script with only the given variables: through `npx tsx` as a
 * person would, or through node itself when a signal must reach it.
 */
function start(
  args: string[],
  env: Record<string, string>,
  via: 'npx' | 'node' = 'npx',
): { child: ChildProcess; done: Promise<Run> } {
  const [cmd, pre] =
    via === 'npx' ? ['npx', ['tsx']] : [process.execPath, ['--import', 'tsx']]
  const child = spawn(cmd, [...pre, 'scripts/backfill.ts', ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      // Set empty, so a developer's .env cannot fill them in.
      RPC_URL: '',
      FROM_BLOCK: '',
      TO_BLOCK: '',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (c) => {
    stdout += String(c)
  })
  child.stderr?.on('data', (c) => {
    stderr += String(c)
  })
  const done = new Promise<Run>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`backfill did not exit:\n${stdout}\n${stderr}`))
    }, 45_000)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
  return { child, done }
}

const backfill = (args: string[], env: Record<string, string>) =>
  start(args, env).done

function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
}

describe('backfill: the command line', () => {
  let chain: TestChain
  let db: TestDatabase

  beforeAll(async () => {
    ;[chain, db] = await Promise.all([startTestChain(), createTestDatabase()])
    await setupTokens(chain)
    await chain.client.mine({ blocks: 5 })
  })
  afterAll(async () => {
    await Promise.all([chain?.stop(), db?.drop()])
  })

  const env = () => ({ RPC_URL: chain.url, DATABASE_URL: db.url })
  const head = () => chain.client.getBlockNumber({ cacheTime: 0 })

  it('error: exits 1 naming RPC_URL when it is missing', async () => {
    const run = await backfill(['--from', '1', '--to', '2'], {
      DATABASE_URL: db.url,
    })
    expect(run.code).toBe(1)
    expect(run.stderr.trim().split('\n')).toHaveLength(1)
    expect(run.stderr).toMatch(/^RPC_URL: required/)
  })

  it('error: exits 1 naming --from when it is not a block number', async () => {
    const run = await backfill(['--from', 'abc', '--to', '5'], env())
    expect(run.code).toBe(1)
    expect(run.stderr.trim()).toBe(
      '--from: expected a block number (a whole number >= 0), got "abc"',
    )
  })

  it('args: names the argument at fault in one line', () => {
    const fails = (argv: string[], env: Record<string, string> = {}) => {
      try {
        parseCliArgs(argv, env)
      } catch (error) {
        return (error as Error).message
      }
      throw new Error(`accepted ${argv.join(' ')}`)
    }
    expect(fails(['--from', '9', '--to', '5'])).toMatch(
      /^--to: expected a block at or above --from \(9\), got 5$/,
    )
    expect(fails(['--from', '9'])).toBe('--to: required with --from')
    expect(fails(['--from=-1', '--to', '5'])).toMatch(/^--from: expected/)
    expect(fails([], { TO_BLOCK: '0x10', FROM_BLOCK: '1' })).toMatch(
      /^--to: expected a block number/,
    )
    expect(fails([])).toMatch(/^--from and --to: required/)
    expect(fails(['--job', 'a b'])).toMatch(/^--job: expected/)
    expect(fails(['--job', 'x', '--result-cap', '0'])).toMatch(
      /^--result-cap: expected/,
    )
    expect(fails(['--form', '1'])).toMatch(
      /--form.*; usage: npm run backfill -- --from N --to M/,
    )
    expect(fails(['--from', '1', '--to', '2', 'extra'])).toMatch(/extra/)
    for (const m of [
      fails(['--from', '9', '--to', '5']),
      fails(['--form', '1']),
    ]) {
      expect(m.split('\n')).toHaveLength(1)
    }
  })

  it('args: takes the range from FROM_BLOCK and TO_BLOCK, flags first', () => {
    expect(parseCliArgs([], { FROM_BLOCK: '3', TO_BLOCK: '8' })).toEqual({
      from: 3n,
      to: 8n,
    })
    expect(
      parseCliArgs(['--to', '9', '--job', 'j1'], {
        FROM_BLOCK: '3',
        TO_BLOCK: '8',
      }),
    ).toEqual({ from: 3n, to: 9n, job: 'j1' })
    expect(parseCliArgs(['--job', 'j1', '--result-cap', '1000'], {})).toEqual({
      job: 'j1',
      resultCap: 1000,
    })
  })

  it('error: refuses a range that reaches past the finalized block', async () => {
    const h = await head()
    const run = await backfill(['--from', '1', '--to', String(h)], env())
    expect(run.code).toBe(1)
    expect(run.stderr.trim()).toMatch(
      new RegExp(
        `^Block ${h} is not final yet: the chain's finalized block is ${h - 2n} `,
      ),
    )
    const jobs = await db.sql`select id from backfill_jobs`
    expect(jobs).toHaveLength(0)
  })

  it('behavior: backfills FROM_BLOCK..TO_BLOCK with progress lines and a summary, and a re-run finds the job done', async () => {
    const user = await createUser(db)
    const from = (await head()) + 1n
    await send(chain.client, ANVIL_ACCOUNT, USDT, 'transfer', [
      user.address,
      77n,
    ])
    await chain.client.mine({ blocks: 4 })
    const range = { FROM_BLOCK: String(from), TO_BLOCK: String(from + 1n) }

    const run = await backfill([], { ...env(), ...range })
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const lines = jsonLines(run.stdout)
    const progress = lines.find((l) => l.msg === 'Backfilled blocks')
    expect(progress).toMatchObject({
      from: Number(from),
      to: Number(from + 1n),
      next_block: Number(from + 2n),
      percent: 100,
      deposits: 1,
    })
    for (const key of ['logs_per_s', 'blocks_per_s', 'eta_s']) {
      expect(progress).toHaveProperty(key)
    }
    expect(lines.find((l) => l.msg === 'Finished backfill')).toMatchObject({
      job: `56-${from}-${from + 1n}`,
      status: 'done',
    })
    const mine = async () =>
      (await depositsOf(db)).filter(
        (d) => d.to_address === user.address.toLowerCase(),
      )
    expect((await mine()).map((d) => [d.amount, d.status])).toEqual([
      ['77', 'confirmed'],
    ])

    const again = await backfill(['--job', `56-${from}-${from + 1n}`], env())
    expect(again.code).toBe(0)
    expect(jsonLines(again.stdout).map((l) => l.msg)).toContain(
      'Found the job already done',
    )
    expect(await mine()).toHaveLength(1)
  })

  it('behavior: Ctrl-C stops after the chunk being stored, and the job resumes from there', async () => {
    const user = await createUser(db)
    const from = (await head()) + 1n
    for (let i = 0; i < 30; i++) {
      await send(chain.client, ANVIL_ACCOUNT, USDT, 'transfer', [
        user.address,
        1_000n + BigInt(i),
      ])
      await chain.client.mine({ blocks: 1 })
    }
    const to = from + 29n
    await chain.client.mine({ blocks: 3 })
    // A slow node, so that the run is still going when the signal comes.
    const proxy = await startRpcProxy({ upstream: chain.url })
    proxy.on({ method: 'eth_getLogs' }, delay(150))
    const args = ['--from', String(from), '--to', String(to), '--job', 'sig']
    const vars = { ...env(), RPC_URL: proxy.url, BACKFILL_CHUNK_BLOCKS: '1' }
    try {
      const { child, done } = start(args, vars, 'node')
      await new Promise<void>((resolve) => {
        child.stdout?.on('data', (c) => {
          if (String(c).includes('Backfilled blocks')) resolve()
        })
      })
      child.kill('SIGINT')
      const run = await done
      expect(run.code).toBe(0)
      const stopped = jsonLines(run.stdout).find(
        (l) => l.msg === 'Stopped backfill',
      )
      expect(stopped).toMatchObject({ job: 'sig', status: 'running' })
      const [job] = await db.sql<{ status: string; next_block: bigint }[]>`
        select status, next_block from backfill_jobs where id = 'sig'`
      expect(job?.status).toBe('running')
      expect(job!.next_block).toBeGreaterThan(from)
      expect(job!.next_block).toBeLessThan(to)
      const stored = (await depositsOf(db)).filter(
        (d) => d.to_address === user.address.toLowerCase(),
      )
      expect(stored.map((d) => d.block_number)).toEqual(
        Array.from(
          { length: Number(job!.next_block - from) },
          (_, i) => from + BigInt(i),
        ),
      )

      proxy.clear()
      const resumed = await start(['--job', 'sig'], vars, 'node').done
      expect(resumed.code).toBe(0)
      const all = (await depositsOf(db)).filter(
        (d) => d.to_address === user.address.toLowerCase(),
      )
      expect(all.map((d) => d.amount)).toEqual(
        Array.from({ length: 30 }, (_, i) => String(1_000 + i)),
      )
    } finally {
      await proxy.stop()
    }
  })
})
