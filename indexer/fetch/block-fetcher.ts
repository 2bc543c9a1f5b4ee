import { hexToBytes } from 'viem'
import type { WatchedToken } from '../../lib/config.js'
import type { Logger } from '../../lib/logger.js'
import { TRANSFER_TOPIC } from '../match/transfer.js'
import type { Endpoint } from '../rpc/endpoint.js'
import { InvalidRpcAnswerError, RpcUnavailableError } from '../rpc/errors.js'
import type { RpcClient } from '../rpc/rpc-client.js'
import {
  type BlockHeader,
  type Hex,
  parseBlock,
  parseLogs,
  type RawLog,
  toQuantity,
} from '../rpc/types.js'
import { type BloomKey, bloomKey, bloomMayContain } from './bloom.js'

export interface BlockFetcher {
  /**
   * The block at `number`. A node answering `null` for it is behind, so the
   * next endpoint is asked, and all again a few times over a few hundred
   * milliseconds; RpcUnavailableError when none has it yet.
   */
  header(number: bigint): Promise<BlockHeader>
  headerByTag(tag: 'latest' | 'finalized' | 'safe'): Promise<BlockHeader | null>
  blockNumber(): Promise<bigint>
  /** Transfer logs of the watched tokens in this exact block. */
  transferLogs(header: BlockHeader): Promise<RawLog[]>
}

/**
 * Pauses between tries of a request every endpoint failed. A node may lack
 * a block it just announced, time out or drop a connection once: a few
 * quick tries keep that from failing the whole step, whose retry backs off
 * for far longer.
 */
const RETRY_PAUSES_MS = [20, 60, 150]

async function retrying<T>(ask: () => Promise<T>): Promise<T> {
  for (const pause of RETRY_PAUSES_MS) {
    try {
      return await ask()
    } catch (error) {
      if (!(error instanceof RpcUnavailableError)) throw error
      await new Promise((resolve) => setTimeout(resolve, pause))
    }
  }
  return ask()
}

/**
 * Fetches headers and logs and refuses answers that cannot be true for the
 * block asked about. A node behind a load balancer may answer for a block it
 * does not have yet: with an error (`unknown block`), with `null`, or with an
 * empty list. The first two fail over and are asked again; the third is
 * caught by the block's logsBloom, which says whether watched Transfers can
 * be in the block, and settled by a node that proves it has the block.
 */
export function createBlockFetcher(opts: {
  rpc: RpcClient
  tokens: WatchedToken[]
  crossCheck: boolean
  log: Logger
}): BlockFetcher {
  const { rpc } = opts
  const log = opts.log.child({ component: 'fetch' })
  const addresses = opts.tokens.map((t) => t.address as Hex)
  const tokenKeys = new Map<Hex, BloomKey>(
    addresses.map((a) => [a, bloomKey(a)]),
  )
  const transferKey = bloomKey(TRANSFER_TOPIC)

  const header = (number: bigint) =>
    retrying(() =>
      rpc.request('eth_getBlockByNumber', [toQuantity(number), false], {
        parse: (raw) => {
          const block = parseBlock(raw)
          if (!block) {
            throw new InvalidRpcAnswerError('Node has no such block yet', {
              details: { block_number: number },
            })
          }
          if (block.number !== number) {
            throw new InvalidRpcAnswerError('Block number differs from asked', {
              details: { asked: number, got: block.number },
            })
          }
          return block
        },
      }),
    )

  const headerByTag = (tag: 'latest' | 'finalized' | 'safe') =>
    rpc.request('eth_getBlockByNumber', [tag, false], { parse: parseBlock })

  const blockNumber = () =>
    rpc.request('eth_blockNumber', [], {
      parse: (raw) => {
        if (typeof raw !== 'string' || !/^0x[0-9a-f]+$/i.test(raw)) {
          throw new InvalidRpcAnswerError('eth_blockNumber is malformed')
        }
        return BigInt(raw)
      },
    })

  function validate(block: BlockHeader, logs: RawLog[]): RawLog[] {
    const bloom = hexToBytes(block.logsBloom)
    const seen = new Set<number>()
    for (const l of logs) {
      if (l.blockHash !== block.hash || l.blockNumber !== block.number) {
        throw new InvalidRpcAnswerError('Log belongs to another block', {
          details: { block: block.hash, log_block: l.blockHash },
        })
      }
      const key = tokenKeys.get(l.address)
      if (!key || l.topics[0] !== TRANSFER_TOPIC || l.removed) {
        throw new InvalidRpcAnswerError('Log does not match the filter')
      }
      if (
        !bloomMayContain(bloom, key) ||
        !bloomMayContain(bloom, transferKey)
      ) {
        throw new InvalidRpcAnswerError('Log is not in the block bloom')
      }
      if (seen.has(l.logIndex)) {
        throw new InvalidRpcAnswerError('Log index repeats')
      }
      seen.add(l.logIndex)
    }
    return logs.sort((a, b) => a.logIndex - b.logIndex)
  }

  /** The bloom says a watched Transfer may be here. */
  function bloomExpectsLogs(block: BlockHeader): boolean {
    const bloom = hexToBytes(block.logsBloom)
    if (!bloomMayContain(bloom, transferKey)) return false
    return [...tokenKeys.values()].some((k) => bloomMayContain(bloom, k))
  }

  async function fetchOnce(block: BlockHeader, exclude?: Endpoint) {
    const filter = {
      blockHash: block.hash,
      address: addresses,
      topics: [TRANSFER_TOPIC],
    }
    return rpc.requestFrom('eth_getLogs', [filter], {
      parse: (raw) => validate(block, parseLogs(raw)),
      ...(exclude ? { exclude } : {}),
    })
  }

  /**
   * Asks an endpoint other than `not` first, for an independent answer.
   * When no other one answers (its eth_getLogs is disabled, or it is down),
   * any will do, `not` included: a repeat still catches a truncation or a
   * lagging backend that does not answer the same twice.
   */
  async function elsewhereFirst<T>(
    not: Endpoint,
    ask: (exclude?: Endpoint) => Promise<T>,
  ): Promise<T> {
    try {
      return await ask(not)
    } catch (error) {
      if (!(error instanceof RpcUnavailableError)) throw error
      return retrying(() => ask())
    }
  }

  const isWatchedTransfer = (l: RawLog) =>
    tokenKeys.has(l.address) && l.topics[0] === TRANSFER_TOPIC && !l.removed

  /**
   * Every log of the block, filtered here. A non-zero bloom means the block
   * has logs, so a node that has the block never answers this with `[]`.
   */
  function fetchWholeBlock(block: BlockHeader, exclude?: Endpoint) {
    return rpc.requestFrom('eth_getLogs', [{ blockHash: block.hash }], {
      parse: (raw) => {
        const all = parseLogs(raw)
        if (all.length === 0) {
          throw new InvalidRpcAnswerError('No logs in a block with a bloom', {
            details: { block_number: block.number },
          })
        }
        return validate(block, all.filter(isWatchedTransfer))
      },
      ...(exclude ? { exclude } : {}),
    })
  }

  async function transferLogs(block: BlockHeader): Promise<RawLog[]> {
    let first = await retrying(() => fetchOnce(block))
    // An empty list where the bloom expects watched Transfers is a bloom
    // false positive, or a lagging node's answer for a block it lacks:
    // only a node that proves it has the block may settle which.
    if (first.value.length === 0 && bloomExpectsLogs(block)) {
      log.debug({ block_number: block.number }, 'Got no logs the bloom expects')
      first = await elsewhereFirst(first.endpoint, (ex) =>
        fetchWholeBlock(block, ex),
      )
    }
    if (!opts.crossCheck) return first.value
    const second = await elsewhereFirst(first.endpoint, (ex) =>
      fetchOnce(block, ex),
    )
    if (sameLogs(first.value, second.value)) return first.value
    // Answers only ever lose logs (truncation, lag), never invent ones that
    // pass validation, so the union of validated answers is the full list.
    const third = await retrying(() => fetchOnce(block))
    const union = mergeLogs([first.value, second.value, third.value])
    log.warn(
      {
        block_number: block.number,
        block_hash: block.hash,
        counts: [first.value.length, second.value.length, third.value.length],
      },
      'Merged differing log lists',
    )
    return union
  }

  return { header, headerByTag, blockNumber, transferLogs }
}

function sameLogs(a: RawLog[], b: RawLog[]): boolean {
  return (
    a.length === b.length && a.every((l, i) => l.logIndex === b[i]?.logIndex)
  )
}

function mergeLogs(lists: RawLog[][]): RawLog[] {
  const byIndex = new Map<number, RawLog>()
  for (const list of lists) for (const l of list) byIndex.set(l.logIndex, l)
  return [...byIndex.values()].sort((a, b) => a.logIndex - b.logIndex)
}
