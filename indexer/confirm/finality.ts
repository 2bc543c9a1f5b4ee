import type { Logger } from '../../lib/logger.js'
import type { Metrics } from '../../lib/metrics.js'
import type { BlockFetcher } from '../fetch/block-fetcher.js'
import type { Hex } from '../rpc/types.js'

export interface FinalityTarget {
  number: bigint
  /** Known when the number came with the `finalized` block itself. */
  hash: Hex | undefined
  source: 'tag' | 'depth'
}

/**
 * Decides which block is final. BSC serves the `finalized` tag (fast
 * finality puts it about two blocks behind the head); when a node does not
 * serve it, or it has not moved for `stallSeconds` while the head has, the
 * configured depth stands in, and a metric and a warning say so.
 */
export function createFinalityTracker(opts: {
  fetcher: BlockFetcher
  confirmations: number
  stallSeconds: number
  chainId: number
  metrics: Metrics
  log: Logger
}) {
  const log = opts.log.child({ component: 'finality' })
  const labels = { chain_id: String(opts.chainId) }
  const depth = BigInt(opts.confirmations)
  let lastTag: bigint | undefined
  let lastMoveAt = Date.now()
  let usingDepth: boolean | undefined

  function setSource(depthMode: boolean, reason: string) {
    if (usingDepth === depthMode) return
    usingDepth = depthMode
    opts.metrics.finalityFallback.set(labels, depthMode ? 1 : 0)
    if (depthMode) {
      log.warn(
        { reason, confirmations: opts.confirmations },
        'Switched finality to confirmation depth',
      )
    } else if (reason !== 'start') {
      log.info('Switched finality to the finalized tag')
    }
  }

  async function target(head: bigint): Promise<FinalityTarget> {
    const tagged = await opts.fetcher.headerByTag('finalized').catch(() => null)
    const now = Date.now()
    if (tagged && (lastTag === undefined || tagged.number > lastTag)) {
      lastTag = tagged.number
      lastMoveAt = now
    }
    // A block has head - number + 1 confirmations (DESIGN.md), so the
    // newest block with `confirmations` of them is head - confirmations + 1.
    const byDepth = head - depth + 1n
    const stalled =
      tagged !== null &&
      now - lastMoveAt > opts.stallSeconds * 1000 &&
      byDepth > tagged.number
    if (!tagged || stalled) {
      setSource(
        true,
        tagged ? 'finalized tag stalled' : 'finalized tag unavailable',
      )
      const number = tagged && tagged.number > byDepth ? tagged.number : byDepth
      return { number, hash: undefined, source: 'depth' }
    }
    setSource(false, usingDepth === undefined ? 'start' : 'recovered')
    return { number: tagged.number, hash: tagged.hash, source: 'tag' }
  }

  return { target }
}

export type FinalityTracker = ReturnType<typeof createFinalityTracker>
