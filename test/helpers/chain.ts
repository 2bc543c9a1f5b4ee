import {
  type Anvil,
  type AnvilOptions,
  startAnvil,
} from '../../devchain/anvil.js'
import { createDevClient, type DevClient } from '../../devchain/token.js'
import { freePort } from '../../lib/free-port.js'

export interface TestChain {
  anvil: Anvil
  client: DevClient
  url: string
  stop(): Promise<void>
}

/**
 * A real anvil node for one test file. By default it mines only when told
 * (`client.mine`), so a test decides exactly which transfers share a block.
 */
export async function startTestChain(
  opts: Partial<AnvilOptions> = {},
): Promise<TestChain> {
  const anvil = await startAnvil({
    port: await freePort(),
    chainId: 56,
    noMining: opts.blockTime === undefined,
    ...opts,
  })
  const client = createDevClient(anvil.url, opts.chainId ?? 56)
  return { anvil, client, url: anvil.url, stop: anvil.stop }
}
