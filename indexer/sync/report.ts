import type { DepositStatus } from '../../db/schema/index.js'
import type { WatchedToken } from '../../lib/config.js'
import type { Logger } from '../../lib/logger.js'
import type { Metrics } from '../../lib/metrics.js'
import type { Deposit } from '../store/deposit.js'

const MESSAGES: Record<DepositStatus, string> = {
  detected: 'Detected deposit',
  confirmed: 'Confirmed deposit',
  reverted: 'Reverted deposit',
}

/**
 * One log line and one count per deposit state change, the same fields
 * whichever stage made it. A revert is a warning: money seen is unseen.
 */
export function createDepositReporter(opts: {
  chainId: number
  tokens: Map<string, WatchedToken>
  metrics: Metrics
  log: Logger
}) {
  const chainId = String(opts.chainId)
  return (
    status: DepositStatus,
    deposits: Deposit[],
    extra: Record<string, unknown> = {},
  ) => {
    for (const d of deposits) {
      const token = opts.tokens.get(d.token)?.symbol ?? 'unknown'
      opts.metrics.deposits.inc({ chain_id: chainId, token, status })
      const fields = {
        deposit_id: d.id,
        block_number: d.blockNumber,
        tx_hash: d.txHash,
        user_id: d.userId,
        token,
        amount: d.amount.toString(),
        revision: d.revision,
        ...extra,
      }
      if (status === 'reverted') opts.log.warn(fields, MESSAGES[status])
      else opts.log.info(fields, MESSAGES[status])
    }
  }
}
