import { createHash } from 'node:crypto'
import type { Sql, TransactionSql } from 'postgres'
import { checksumAddress } from '../../lib/address.js'
import { toDecimalString } from '../../lib/amount.js'
import type { WatchedToken } from '../../lib/config.js'
import type { DepositEvent, DepositEventType } from '../../lib/deposit-event.js'
import type { Deposit } from './deposit.js'

/** Postgres channel the dispatcher listens on for new outbox rows. */
export const OUTBOX_CHANNEL = 'outbox'

/**
 * The event id depends only on the deposit, the change and the revision,
 * so storing the same block twice yields the same id and no second event.
 */
export function eventId(d: Deposit, type: DepositEventType): string {
  const digest = createHash('sha256')
    .update(`${d.id}|${type}|${d.revision}`)
    .digest('hex')
  return `evt_${digest.slice(0, 32)}`
}

const checksums = new Map<string, `0x${string}`>()

/** Checksumming hashes the address; deposit addresses repeat a lot. */
function checksummed(address: string): `0x${string}` {
  let value = checksums.get(address)
  if (!value) {
    if (checksums.size > 100_000) checksums.clear()
    value = checksumAddress(address)
    checksums.set(address, value)
  }
  return value
}

export function buildEvent(
  d: Deposit,
  type: DepositEventType,
  token: WatchedToken,
  headNumber: bigint,
  now = new Date(),
): DepositEvent {
  const confirmations =
    headNumber >= d.blockNumber ? headNumber - d.blockNumber + 1n : 0n
  return {
    id: eventId(d, type),
    type,
    createdAt: now.toISOString(),
    data: {
      depositId: d.id,
      chainId: d.chainId,
      userId: d.userId,
      address: checksummed(d.to),
      from: checksummed(d.from),
      token: {
        address: checksummed(token.address),
        symbol: token.symbol,
        decimals: token.decimals,
      },
      amount: d.amount.toString(),
      amountDecimal: toDecimalString(d.amount, token.decimals),
      txHash: d.txHash,
      logIndex: d.logIndex,
      blockNumber: d.blockNumber.toString(),
      blockHash: d.blockHash,
      blockTimestamp: new Date(Number(d.blockTimestampMs)).toISOString(),
      confirmations: Number(confirmations),
      revision: d.revision,
    },
  }
}

/**
 * Writes one outbox row per deposit, inside the caller's transaction, and
 * wakes dispatchers when it commits. Existing ids are left alone.
 *
 * The rows travel as one JSON parameter: escaping a text array of event
 * bodies cost more than building them, on ranges with many deposits.
 */
export async function insertEvents(
  tx: TransactionSql | Sql,
  deposits: Deposit[],
  type: DepositEventType,
  ctx: { tokens: Map<string, WatchedToken>; headNumber: bigint },
): Promise<number> {
  if (deposits.length === 0) return 0
  const now = new Date()
  const rows = deposits.map((d) => {
    const token = ctx.tokens.get(d.token)
    if (!token) throw new Error(`Deposit ${d.id} is of an unwatched token`)
    const event = buildEvent(d, type, token, ctx.headNumber, now)
    return {
      id: event.id,
      deposit_id: d.id,
      block_number: d.blockNumber.toString(),
      body: JSON.stringify(event),
    }
  })
  const result = await tx`
    insert into outbox_events (id, deposit_id, type, block_number, body)
    select id, deposit_id, ${type}, block_number::bigint, body
    from json_to_recordset(${JSON.stringify(rows)}::json)
      as t(id text, deposit_id text, block_number text, body text)
    on conflict (id) do nothing`
  await tx`select pg_notify(${OUTBOX_CHANNEL}, '')`
  return result.count
}
