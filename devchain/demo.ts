import type { Sql } from 'postgres'
import { type Address, parseUnits } from 'viem'
import type { WatchedToken } from '../lib/config.js'
import type { Logger } from '../lib/logger.js'
import { ANVIL_ACCOUNT, type DevClient, placeToken, send } from './token.js'

/** anvil's second default account: the demo user's deposit address. */
export const DEMO_ADDRESS: Address =
  '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'

/**
 * Demo traffic for `npm start` on the local chain: our token at each
 * watched address, a demo user owning a deposit address, and a transfer to
 * it now and then, so every stage of the pipeline shows in the log.
 */
export async function startDemo(opts: {
  client: DevClient
  sql: Sql
  tokens: WatchedToken[]
  intervalMs: number
  log: Logger
}) {
  const log = opts.log.child({ component: 'demo' })
  for (const token of opts.tokens) {
    await placeToken(opts.client, token.address, token.symbol)
    await send(opts.client, ANVIL_ACCOUNT, token.address, 'mint', [
      ANVIL_ACCOUNT,
      parseUnits('1000000000', token.decimals),
    ])
  }
  const { userId, created } = await ensureDemoUser(opts.sql)
  log.info(
    { user_id: userId, address: DEMO_ADDRESS },
    created ? 'Created demo user' : 'Found demo user',
  )

  let round = 0
  const transfer = async () => {
    const token = opts.tokens[round % opts.tokens.length]!
    const whole = round === 0 ? '1500' : String(10 + ((round * 37) % 490))
    round++
    const amount = parseUnits(whole, token.decimals)
    try {
      const hash = await send(
        opts.client,
        ANVIL_ACCOUNT,
        token.address,
        'transfer',
        [DEMO_ADDRESS, amount],
      )
      log.info(
        {
          tx_hash: hash,
          token: token.symbol,
          amount: amount.toString(),
          amount_decimal: whole,
        },
        'Sent demo transfer',
      )
    } catch (error) {
      log.warn({ err: error }, 'Failed to send demo transfer')
    }
  }
  await transfer()
  const timer = setInterval(() => void transfer(), opts.intervalMs)
  return { userId, stop: () => clearInterval(timer) }
}

async function ensureDemoUser(sql: Sql) {
  const address = DEMO_ADDRESS.toLowerCase()
  const [owned] = await sql<{ user_id: string }[]>`
    select user_id from deposit_addresses where address = ${address}`
  if (owned) return { userId: owned.user_id, created: false }
  const userId = await sql.begin(async (tx) => {
    const [user] = await tx<{ id: string }[]>`
      insert into users (username) values ('demo') returning id`
    await tx`
      insert into deposit_addresses (address, user_id)
      values (${address}, ${user!.id})`
    return user!.id
  })
  return { userId, created: true }
}
