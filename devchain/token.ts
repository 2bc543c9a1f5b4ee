import { readFileSync } from 'node:fs'
import {
  type Abi,
  type Address,
  createPublicClient,
  createTestClient,
  defineChain,
  type Hash,
  type Hex,
  http,
  publicActions,
  walletActions,
} from 'viem'

const artifact = JSON.parse(
  readFileSync(new URL('../contracts/TestBEP20.json', import.meta.url), 'utf8'),
) as { abi: Abi; deployedBytecode: Hex }

export const tokenAbi = artifact.abi

/** anvil's first default account; funded with 10,000 native coins. */
export const ANVIL_ACCOUNT: Address =
  '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266'

export function localChain(id: number, url: string) {
  return defineChain({
    id,
    name: `local-${id}`,
    nativeCurrency: { name: 'BNB', symbol: 'BNB', decimals: 18 },
    rpcUrls: { default: { http: [url] } },
  })
}

/** A viem client with anvil's test, wallet and public actions. */
export function createDevClient(url: string, chainId = 56) {
  return createTestClient({
    chain: localChain(chainId, url),
    mode: 'anvil',
    transport: http(url),
  })
    .extend(publicActions)
    .extend(walletActions)
}

export type DevClient = ReturnType<typeof createDevClient>

/**
 * Places our TestBEP20 runtime code at `address` (a real token's address on
 * the local chain) and names it.
 */
export async function placeToken(
  client: DevClient,
  address: Address,
  symbol: string,
): Promise<void> {
  await client.setCode({ address, bytecode: artifact.deployedBytecode })
  const code = await client.getCode({ address })
  if (!code || code === '0x') throw new Error(`No code at ${address}`)
  const name = (await client.readContract({
    address,
    abi: tokenAbi,
    functionName: 'name',
  })) as string
  if (name === '') {
    await send(client, ANVIL_ACCOUNT, address, 'initialize', [
      `Test ${symbol}`,
      symbol,
    ])
  }
}

/** Sends a token call from any account (impersonated) and waits for it. */
export async function send(
  client: DevClient,
  from: Address,
  token: Address,
  functionName: string,
  args: readonly unknown[],
): Promise<Hash> {
  await client.impersonateAccount({ address: from })
  const hash = await client.writeContract({
    account: from,
    chain: client.chain,
    address: token,
    abi: tokenAbi,
    functionName,
    args,
  })
  return hash
}

/** Sends a token call and waits for its receipt (needs a mining chain). */
export async function sendAndWait(
  client: DevClient,
  from: Address,
  token: Address,
  functionName: string,
  args: readonly unknown[],
) {
  const hash = await send(client, from, token, functionName, args)
  const receipt = await client.waitForTransactionReceipt({
    hash,
    pollingInterval: 50,
  })
  if (receipt.status !== 'success') {
    throw new Error(`${functionName} reverted in ${hash}`)
  }
  return receipt
}

export function publicClientFor(url: string, chainId = 56) {
  return createPublicClient({
    chain: localChain(chainId, url),
    transport: http(url),
  })
}
