import { hexToBytes } from 'viem'
import type { WatchedToken } from '../../lib/config.js'
import type { Logger } from '../../lib/logger.js'
import { TRANSFER_TOPIC } from '../match/transfer.js'
import type { Endpoint } from '../rpc/endpoint.js'
import { InvalidRpcAnswerError } from '../rpc/errors.js'
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
   * next endpoint is asked; RpcUnavailableError when none has it yet.
   */
  header(number: bigint): Promise<BlockHeader>
  headerByTag(tag: 'latest' | 'finalized' | 'safe'): Promise<BlockHeader | null>
  blockNumber(): Promise<bigint>
  /** Transfer logs of the watched tokens in this exact block. */
  transferLogs(header: BlockHeader): Promise<RawLog[]>
}

/**
 * Fetches headers and logs and refuses answers that cannot be true for the
 * block asked about. A node behind a load balancer may answer for a block it
 * does not have yet: with an error (`unknown block`), with `null`, or with an
 * empty list. The first two fail over; the third is caught by the block's
 * logsBloom, which says whether watched Transfers can be in the block.
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
    })

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

  async function transferLogs(block: BlockHeader): Promise<RawLog[]> {
    let first = await fetchOnce(block)
    // An empty list where the bloom expects logs is how a lagging node
    // answers for a block it lacks; ask again, elsewhere if we can.
    for (let i = 0; i < 2 && first.value.length === 0; i++) {
      if (!bloomExpectsLogs(block)) break
      log.debug({ block_number: block.number }, 'Refetched empty logs')
      first = await fetchOnce(block, first.endpoint)
    }
    if (!opts.crossCheck) return first.value
    const second = await fetchOnce(block, first.endpoint)
    if (sameLogs(first.value, second.value)) return first.value
    // Answers only ever lose logs (truncation, lag), never invent ones that
    // pass validation, so the union of validated answers is the full list.
    const third = await fetchOnce(block)
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
