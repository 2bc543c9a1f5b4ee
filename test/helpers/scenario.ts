import type { Address } from 'viem'
import { encodeFunctionData } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import {
  ANVIL_ACCOUNT,
  placeToken,
  send,
  tokenAbi,
} from '../../devchain/token.js'
import type { TestChain } from './chain.js'
import type { TestDatabase } from './database.js'
import { USDC, USDT } from './indexer.js'

/** Places both default tokens and funds the anvil account; mines once. */
export async function setupTokens(chain: TestChain, supply = 10n ** 30n) {
  await placeToken(chain.client, USDT, 'USDT')
  await placeToken(chain.client, USDC, 'USDC')
  await send(chain.client, ANVIL_ACCOUNT, USDT, 'mint', [ANVIL_ACCOUNT, supply])
  await send(chain.client, ANVIL_ACCOUNT, USDC, 'mint', [ANVIL_ACCOUNT, supply])
  await chain.client.mine({ blocks: 1 })
}

/** A user with a fresh deposit address, written straight to the database. */
export async function createUser(db: TestDatabase, address?: Address) {
  const to = address ?? privateKeyToAccount(generatePrivateKey()).address
  const [user] = await db.sql<{ id: string }[]>`
    insert into users (username) values ('test') returning id`
  await db.sql`
    insert into deposit_addresses (address, user_id)
    values (${to.toLowerCase()}, ${user!.id})`
  return { userId: user!.id, address: to }
}

export function randomAddress(): Address {
  return privateKeyToAccount(generatePrivateKey()).address
}

export interface DepositRow {
  id: string
  status: string
  amount: string
  to_address: string
  tx_hash: string
  block_number: bigint
  revision: number
}

export async function depositsOf(db: TestDatabase) {
  return db.sql<DepositRow[]>`
    select id, status, amount::text, to_address, tx_hash, block_number, revision
    from deposits order by block_number, id`
}

export async function eventsOf(db: TestDatabase) {
  return db.sql<
    { id: string; type: string; deposit_id: string; body: string }[]
  >`
    select id, type, deposit_id, body from outbox_events order by seq`
}

/** anvil_reorg: replaces the newest `depth` blocks; txs go at block offsets. */
export async function reorg(
  chain: TestChain,
  depth: number,
  txs: [{ from: Address; to: Address; data: `0x${string}` }, number][] = [],
) {
  // anvil does not estimate gas for these; without a limit they run out.
  const withGas = txs.map(([tx, offset]) => [{ ...tx, gas: '0x80000' }, offset])
  await chain.client.request({
    method: 'anvil_reorg' as never,
    params: [depth, withGas] as never,
  })
}

export function transferCall(to: Address, amount: bigint) {
  return encodeFunctionData({
    abi: tokenAbi,
    functionName: 'transfer',
    args: [to, amount],
  })
}
