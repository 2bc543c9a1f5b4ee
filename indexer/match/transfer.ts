import type { Hex, RawLog } from '../rpc/types.js'

/** keccak256("Transfer(address,address,uint256)") */
export const TRANSFER_TOPIC: Hex =
  '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef'

export interface Transfer {
  token: Hex
  from: Hex
  to: Hex
  amount: bigint
  blockNumber: bigint
  blockHash: Hex
  txHash: Hex
  logIndex: number
}

const ZERO_PAD = '0x000000000000000000000000'

/**
 * Decodes a BEP20 Transfer by hand: generic ABI decoding is the slowest step
 * of the hot path. Anything that is not exactly (topic, from, to | value) is
 * not a BEP20 transfer and is skipped: ERC-721 Transfers carry a fourth
 * topic, and a malformed token could emit anything.
 */
export function decodeTransfer(log: RawLog): Transfer | null {
  const [topic, from, to] = log.topics
  if (log.topics.length !== 3 || topic !== TRANSFER_TOPIC) return null
  if (!from?.startsWith(ZERO_PAD) || !to?.startsWith(ZERO_PAD)) return null
  if (log.data.length !== 66) return null
  return {
    token: log.address,
    from: `0x${from.slice(26)}`,
    to: `0x${to.slice(26)}`,
    amount: BigInt(log.data),
    blockNumber: log.blockNumber,
    blockHash: log.blockHash,
    txHash: log.transactionHash,
    logIndex: log.logIndex,
  }
}
