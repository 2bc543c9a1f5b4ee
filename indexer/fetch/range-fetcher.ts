import type { WatchedToken } from '../../lib/config.js'
import { AppError } from '../../lib/errors.js'
import type { Logger } from '../../lib/logger.js'
import { TRANSFER_TOPIC } from '../match/transfer.js'
import {
  describeError,
  InvalidRpcAnswerError,
  isRangeLimitText,
  RpcUnavailableError,
} from '../rpc/errors.js'
import type { RpcClient } from '../rpc/rpc-client.js'
import {
  type Hex,
  parseBlock,
  parseLogs,
  type RawLog,
  toQuantity,
} from '../rpc/types.js'

/** The logs of one inclusive range of blocks, sorted. */
export interface LogChunk {
  from: bigint
  to: bigint
  logs: RawLog[]
}

export interface RangeFetcher {
  /** Transfer logs of the watched tokens in final blocks [from, to]. */
  transferLogs(from: bigint, to: bigint): Promise<RawLog[]>
  /**
   * The same, chunk by chunk, in block order. Up to `concurrency` chunks
   * are fetched ahead while the caller works on the one it was given.
   */
  chunks(from: bigint, to: bigint): AsyncGenerator<LogChunk>
  /** Timestamps (unix ms) of the blocks with these hashes. */
  blockTimestamps(hashes: Iterable<Hex>): Promise<Map<Hex, bigint>>
  /** The chunk size, in blocks, that the next request will use. */
  chunkBlocks(): number
}

export interface RangeFetcherOptions {
  rpc: RpcClient
  tokens: WatchedToken[]
  log: Logger
  /** The widest chunk ever asked for, in blocks. */
  maxChunk: number
  /** Chunks in flight at once; 4 by default. */
  concurrency?: number
  /** A result cap of the provider in use, besides the well-known ones. */
  resultCaps?: number[]
  /** Aim for about this many logs per chunk; 5,000 by default. */
  targetLogs?: number
  /** Tries per chunk on errors that are not range limits; 5 by default. */
  attempts?: number
}

/**
 * Providers that cap eth_getLogs answer with exactly this many logs and no
 * error, so an answer of that length may have lost the rest.
 */
const KNOWN_CAPS = [10_000, 20_000]
/** Refused spans are avoided until this many chunks in a row succeed. */
const CEILING_MEMORY = 50

/**
 * Fetches Transfer logs of final blocks by block range. The chunk size
 * adapts: a range-limit refusal from the node (any of the texts BSC nodes
 * and providers answer with) halves it, or takes the limit the text names;
 * an answer as long as a provider cap is split and asked again; dense
 * ranges shrink it toward `targetLogs`, and successes grow it back.
 */
export function createRangeFetcher(opts: RangeFetcherOptions): RangeFetcher {
  const { rpc } = opts
  const log = opts.log.child({ component: 'range-fetch' })
  const concurrency = opts.concurrency ?? 4
  const caps = new Set([...KNOWN_CAPS, ...(opts.resultCaps ?? [])])
  const addresses = opts.tokens.map((t) => t.address as Hex)
  const watched = new Set<string>(addresses)
  const sizing = createSizing(opts.maxChunk, opts.targetLogs ?? 5_000)
  const attempts = opts.attempts ?? 5

  function request(from: bigint, to: bigint): Promise<RawLog[]> {
    const filter = {
      fromBlock: toQuantity(from),
      toBlock: toQuantity(to),
      address: addresses,
      topics: [TRANSFER_TOPIC],
    }
    return rpc.request('eth_getLogs', [filter], {
      parse: (raw) => validate(parseLogs(raw), from, to, watched),
    })
  }

  /** One span, split as often as the node needs; logs in block order. */
  async function fetchSpan(from: bigint, to: bigint): Promise<RawLog[]> {
    const span = Number(to - from + 1n)
    for (let attempt = 1; ; attempt++) {
      let logs: RawLog[]
      try {
        logs = await request(from, to)
      } catch (error) {
        const limit = rangeLimitOf(error)
        if (limit === undefined && span > 1 && timedOut(error)) {
          // A wide range can take longer than the node lets a call run.
          sizing.truncated(span)
          return fetchPieces(from, to, Math.ceil(span / 2))
        }
        if (limit === undefined) {
          if (attempt >= attempts) throw error
          await retryPause(from, to, attempt, error)
          continue
        }
        if (span === 1) throw refusedOneBlock(from, error)
        sizing.refused(span, limit)
        log.warn(
          { from, to, chunk_blocks: sizing.current(), error: limit.text },
          'Narrowed log range',
        )
        return fetchPieces(from, to, sizing.current())
      }
      if (caps.has(logs.length)) {
        if (span === 1) throw cappedOneBlock(from, logs.length)
        sizing.truncated(span)
        log.warn(
          { from, to, logs: logs.length, chunk_blocks: sizing.current() },
          'Split a range whose answer may be truncated',
        )
        return fetchPieces(from, to, Math.ceil(span / 2))
      }
      sizing.succeeded(span, logs.length)
      log.debug({ from, to, logs: logs.length }, 'Fetched logs')
      return logs
    }
  }

  async function fetchPieces(from: bigint, to: bigint, size: number) {
    const parts: RawLog[][] = []
    for (let a = from; a <= to; a += BigInt(size)) {
      const b = a + BigInt(size) - 1n
      parts.push(await fetchSpan(a, b < to ? b : to))
    }
    return parts.flat()
  }

  async function retryPause(
    from: bigint,
    to: bigint,
    attempt: number,
    error: unknown,
  ) {
    const ms = Math.min(250 * 2 ** (attempt - 1), 5_000)
    log.warn(
      { from, to, attempt, retry_in_ms: ms, error: describeError(error) },
      'Failed to fetch logs',
    )
    await new Promise((resolve) => setTimeout(resolve, ms))
  }

  async function* chunks(from: bigint, to: bigint): AsyncGenerator<LogChunk> {
    let next = from
    const inFlight: Promise<LogChunk>[] = []
    const plan = () => {
      while (inFlight.length < concurrency && next <= to) {
        const a = next
        const b = a + BigInt(sizing.current()) - 1n
        const end = b < to ? b : to
        next = end + 1n
        const chunk = fetchSpan(a, end).then((logs) => ({
          from: a,
          to: end,
          logs,
        }))
        // Awaited in order below; this only keeps an early failure of a
        // later chunk from being reported as unhandled.
        chunk.catch(() => {})
        inFlight.push(chunk)
      }
    }
    plan()
    while (inFlight.length > 0) {
      const chunk = await inFlight.shift()!
      plan()
      yield chunk
    }
  }

  async function transferLogs(from: bigint, to: bigint): Promise<RawLog[]> {
    const parts: RawLog[][] = []
    for await (const chunk of chunks(from, to)) parts.push(chunk.logs)
    return parts.flat()
  }

  async function blockTimestamps(hashes: Iterable<Hex>) {
    const queue = [...new Set(hashes)]
    const found = new Map<Hex, bigint>()
    const worker = async () => {
      for (let hash = queue.pop(); hash; hash = queue.pop()) {
        found.set(hash, await timestampOf(hash))
      }
    }
    await Promise.all(Array.from({ length: concurrency * 2 }, worker))
    return found
  }

  const timestampOf = (hash: Hex) =>
    rpc.request('eth_getBlockByHash', [hash, false], {
      parse: (raw) => {
        const block = parseBlock(raw)
        if (!block || block.hash !== hash) {
          throw new InvalidRpcAnswerError('Node has no block by this hash', {
            details: { block_hash: hash },
          })
        }
        return block.timestampMs
      },
    })

  return {
    transferLogs,
    chunks,
    blockTimestamps,
    chunkBlocks: sizing.current,
  }
}

/**
 * Refuses logs that cannot be in the answer to this filter, drops repeats
 * and sorts by (block, log index). One number with two hashes means the
 * node mixed branches, which a range of final blocks cannot have.
 */
function validate(
  logs: RawLog[],
  from: bigint,
  to: bigint,
  watched: Set<string>,
): RawLog[] {
  const hashAt = new Map<bigint, Hex>()
  for (const l of logs) {
    if (l.blockNumber < from || l.blockNumber > to) {
      throw new InvalidRpcAnswerError('Log is outside the range asked for', {
        details: { from, to, log_block: l.blockNumber },
      })
    }
    if (!watched.has(l.address) || l.topics[0] !== TRANSFER_TOPIC) {
      throw new InvalidRpcAnswerError('Log does not match the filter')
    }
    if (l.removed) throw new InvalidRpcAnswerError('Log is marked removed')
    const hash = hashAt.get(l.blockNumber)
    if (hash === undefined) hashAt.set(l.blockNumber, l.blockHash)
    else if (hash !== l.blockHash) {
      throw new InvalidRpcAnswerError('Logs of one block carry two hashes', {
        details: { block_number: l.blockNumber },
      })
    }
  }
  logs.sort((a, b) =>
    a.blockNumber === b.blockNumber
      ? a.logIndex - b.logIndex
      : a.blockNumber < b.blockNumber
        ? -1
        : 1,
  )
  // One hash per number (checked above), so a repeat sorts next to its twin.
  return logs.filter(
    (l, i) =>
      i === 0 ||
      l.logIndex !== logs[i - 1]!.logIndex ||
      l.blockNumber !== logs[i - 1]!.blockNumber,
  )
}

/**
 * The chunk size and how it moves. A refused span becomes a ceiling that
 * growth stays under, until enough chunks in a row have succeeded that the
 * limit may have been one of load or density rather than a fixed one.
 */
function createSizing(maxChunk: number, targetLogs: number) {
  let size = maxChunk
  let ceiling = Number.POSITIVE_INFINITY
  let streak = 0

  return {
    current: () => size,
    refused(span: number, limit: { blocks: number | undefined }) {
      const named = limit.blocks
      const next = named && named < span ? named : Math.floor(span / 2)
      size = Math.max(1, Math.min(size, next))
      ceiling = Math.min(ceiling, span)
      streak = 0
    },
    truncated(span: number) {
      size = Math.max(1, Math.min(size, Math.floor(span / 2)))
      streak = 0
    },
    succeeded(span: number, logs: number) {
      if (++streak >= CEILING_MEMORY) ceiling = Number.POSITIVE_INFINITY
      const dense = logs > 0 ? Math.floor((span * targetLogs) / logs) : size
      if (dense < size) {
        size = Math.max(1, dense)
        return
      }
      // Grow by half at most, and only from a chunk that used the full size.
      if (span < size) return
      const grown = Math.min(
        maxChunk,
        ceiling - 1,
        dense,
        Math.ceil(size * 1.5),
      )
      if (grown > size) size = grown
    },
  }
}

/**
 * The range-limit refusal inside an RPC failure, if any endpoint gave one,
 * and the block limit its text names (`exceed maximum block range: 5000`
 * lets 5,001 blocks through; we take 5,000).
 */
function rangeLimitOf(
  error: unknown,
): { text: string; blocks: number | undefined } | undefined {
  if (!(error instanceof RpcUnavailableError)) return undefined
  const causes = (error.details.causes ?? []) as { error: string }[]
  const refusal = causes.find((c) => isRangeLimitText(c.error))
  if (!refusal) return undefined
  const named = /maximum block range: (\d+)/i.exec(refusal.error)?.[1]
  return { text: refusal.error, blocks: named ? Number(named) : undefined }
}

function timedOut(error: unknown): boolean {
  if (!(error instanceof RpcUnavailableError)) return false
  const causes = (error.details.causes ?? []) as { error: string }[]
  return causes.some((c) => c.error.startsWith('TimeoutError'))
}

function refusedOneBlock(block: bigint, cause: unknown) {
  return new AppError(
    'The RPC refuses eth_getLogs even for a single block; use an endpoint that serves logs',
    { cause, details: { block_number: block, error: describeError(cause) } },
  )
}

function cappedOneBlock(block: bigint, count: number) {
  return new AppError(
    'eth_getLogs for a single block returned exactly a provider cap of logs, so it may be truncated',
    { details: { block_number: block, logs: count } },
  )
}
