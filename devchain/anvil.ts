import { type ChildProcess, spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import path from 'node:path'
import { AppError } from '../lib/errors.js'

export interface AnvilOptions {
  port: number
  chainId?: number
  /** Seconds between blocks; omitted means a block per transaction. */
  blockTime?: number
  /** No blocks until asked for with `anvil_mine` or `evm_mine`. */
  noMining?: boolean
  /** Blocks per epoch: anvil serves `finalized` as head - 2 epochs. */
  slotsInAnEpoch?: number
  /** Mempool order; `fifo` keeps a replay in the order it was sent. */
  order?: 'fees' | 'fifo'
}

export interface Anvil {
  url: string
  wsUrl: string
  process: ChildProcess
  stop(): Promise<void>
}

/** The binary shipped by `@foundry-rs/anvil`'s platform package. */
export function anvilBinary(): string {
  const require = createRequire(import.meta.url)
  const pkg = require.resolve(
    `@foundry-rs/anvil-${process.platform}-${process.arch === 'x64' ? 'amd64' : process.arch}/package.json`,
  )
  return path.join(path.dirname(pkg), 'bin', 'anvil')
}

/** Starts anvil as a child process and waits until it answers JSON-RPC. */
export async function startAnvil(opts: AnvilOptions): Promise<Anvil> {
  const args = [
    '--port',
    String(opts.port),
    '--host',
    '127.0.0.1',
    '--chain-id',
    String(opts.chainId ?? 56),
    '--slots-in-an-epoch',
    String(opts.slotsInAnEpoch ?? 1),
    '--silent',
  ]
  if (opts.blockTime) args.push('--block-time', String(opts.blockTime))
  if (opts.noMining) args.push('--no-mining')
  if (opts.order) args.push('--order', opts.order)

  // Its own process group: Ctrl-C in a terminal reaches the whole group,
  // and the chain must outlive the indexer's orderly shutdown.
  const child = spawn(anvilBinary(), args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  })
  let stderr = ''
  child.stderr?.on('data', (chunk) => {
    stderr += String(chunk)
  })
  const url = `http://127.0.0.1:${opts.port}`
  const deadline = Date.now() + 15_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}',
      })
      if (res.ok) {
        return {
          url,
          wsUrl: `ws://127.0.0.1:${opts.port}`,
          process: child,
          stop: () => stopChild(child),
        }
      }
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  child.kill('SIGKILL')
  throw new AppError(`Anvil did not start on port ${opts.port}`, {
    details: { stderr: stderr.slice(-2000) },
  })
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve()
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 3_000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}
