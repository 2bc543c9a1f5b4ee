import { ConfigError } from '../../lib/errors.js'
import { InvalidRpcAnswerError } from './errors.js'
import type { RpcClient } from './rpc-client.js'

/** Refuses to index a chain other than the configured one. */
export async function checkChainId(
  rpc: RpcClient,
  expected: number,
): Promise<void> {
  const actual = await rpc.request('eth_chainId', [], {
    parse: (raw) => {
      if (typeof raw !== 'string' || !/^0x[0-9a-f]+$/i.test(raw)) {
        throw new InvalidRpcAnswerError('eth_chainId is malformed')
      }
      return Number(BigInt(raw))
    },
  })
  if (actual !== expected) {
    throw new ConfigError([
      `CHAIN_ID: the RPC serves chain ${actual}, but ${expected} is configured`,
    ])
  }
}
