import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { Logger } from '../lib/logger.js'
import { type Anvil, startAnvil } from './anvil.js'
import { createDevClient } from './token.js'

export interface LocalChain {
  url: string
  wsUrl: string
  /** True when this is a new chain, not the one the stored data is from. */
  fresh: boolean
  stop(): Promise<void>
}

/**
 * The local anvil chain of `npm start`. An anvil left running by a killed
 * earlier run is reused, so the stored data still matches its chain; a new
 * anvil is a new chain, which the caller must not mix with old data.
 */
export async function startLocalChain(opts: {
  port: number
  chainId: number
  blockTime: number
  stateFile: string
  log: Logger
}): Promise<LocalChain> {
  const url = `http://127.0.0.1:${opts.port}`
  let anvil: Anvil | undefined
  if (!(await answers(url))) {
    anvil = await startAnvil({
      port: opts.port,
      chainId: opts.chainId,
      blockTime: opts.blockTime,
      // finalized = head - 2, as BSC's fast finality gives.
      slotsInAnEpoch: 1,
    })
    opts.log.info(
      { url, block_time: opts.blockTime },
      'Started local anvil chain',
    )
  }
  const known = existsSync(opts.stateFile)
    ? (JSON.parse(readFileSync(opts.stateFile, 'utf8')) as {
        genesis?: string
        pid?: number
      })
    : {}
  // Left by a run that was killed: stopped on exit as if we started it.
  const adopted = anvil ? undefined : known.pid
  if (!anvil) {
    opts.log.warn(
      { url, anvil_pid: adopted },
      'Reused running local anvil chain',
    )
  }
  const client = createDevClient(url, opts.chainId)
  const genesis = (await client.getBlock({ blockNumber: 0n })).hash
  const pid = anvil?.process.pid ?? adopted
  mkdirSync(path.dirname(opts.stateFile), { recursive: true })
  writeFileSync(opts.stateFile, `${JSON.stringify({ genesis, pid })}\n`)
  return {
    url,
    wsUrl: `ws://127.0.0.1:${opts.port}`,
    fresh: known.genesis !== genesis,
    stop: async () => {
      if (anvil) await anvil.stop()
      else if (adopted && isAnvil(adopted)) process.kill(adopted, 'SIGTERM')
    },
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}',
      signal: AbortSignal.timeout(1_000),
    })
    return res.ok
  } catch {
    return false
  }
}

/** The pid in the state file may have been reused by another program. */
function isAnvil(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('anvil')
  } catch {
    return false
  }
}
