import type { TransactionSql } from 'postgres'
import type { DepositEvent } from '../../lib/deposit-event.js'
import type { CreditStatus } from './claim.js'
import { credit, reverse, revisions, setStatus } from './ledger.js'

export type WebhookStatus = CreditStatus | 'duplicate'

/** What one event did; `unknown_user` is answered 422, the rest 200. */
export interface Outcome {
  status: WebhookStatus | 'unknown_user'
  credited?: boolean
  /** A credit taken back, or a credit the ledger could not repeat. */
  incident?: 'reversed' | 'reconfirmed'
}

interface Deposit {
  status: CreditStatus
  created: boolean
}

export const REVERSED_REASON = 'reverted after credit'
export const RECONFIRMED_REASON =
  'confirmed again after a reversal; credit by hand'

/**
 * Moves a claimed deposit by one event. The answer is the deposit's state
 * afterwards, or `duplicate` when a confirmation finds it credited.
 *
 * Revision rule: `data.revision` (0 when absent) grows each time a
 * reverted deposit's block becomes canonical again. A reverted deposit is
 * re-opened only by a detected or confirmed event whose revision is above
 * every reverted event processed for it; anything older is news from the
 * block's earlier life and changes nothing. Likewise a reverted event is
 * ignored once a detected or confirmed of a higher revision was processed.
 */
export function applyEvent(
  tx: TransactionSql,
  event: DepositEvent,
  deposit: Deposit,
): Promise<Outcome> {
  switch (event.type) {
    case 'deposit.detected':
      return onDetected(tx, event, deposit)
    case 'deposit.confirmed':
      return onConfirmed(tx, event, deposit)
    case 'deposit.reverted':
      return onReverted(tx, event, deposit)
  }
}

const revisionOf = (event: DepositEvent) => event.data.revision ?? 0

async function reopens(tx: TransactionSql, event: DepositEvent) {
  const { reverted } = await revisions(tx, event.data.depositId)
  return revisionOf(event) > reverted
}

async function onDetected(
  tx: TransactionSql,
  event: DepositEvent,
  deposit: Deposit,
): Promise<Outcome> {
  if (deposit.status !== 'reverted') return { status: deposit.status }
  if (deposit.created || !(await reopens(tx, event))) {
    return { status: 'reverted' }
  }
  await setStatus(tx, event.data.depositId, 'pending')
  return { status: 'pending' }
}

async function onConfirmed(
  tx: TransactionSql,
  event: DepositEvent,
  deposit: Deposit,
): Promise<Outcome> {
  const { depositId } = event.data
  if (deposit.status === 'credited' && !deposit.created) {
    return { status: 'duplicate' }
  }
  if (deposit.status === 'reverted') {
    if (deposit.created || !(await reopens(tx, event))) {
      return { status: 'reverted' }
    }
  }
  if (await credit(tx, depositId, event.id)) {
    return { status: 'credited', credited: true }
  }
  if (deposit.status !== 'reverted') return { status: 'duplicate' }
  // The ledger holds one credit per deposit, and this one was spent.
  await setStatus(tx, depositId, 'reverted', RECONFIRMED_REASON)
  return { status: 'reverted', incident: 'reconfirmed' }
}

async function onReverted(
  tx: TransactionSql,
  event: DepositEvent,
  deposit: Deposit,
): Promise<Outcome> {
  const { depositId } = event.data
  if (deposit.created || deposit.status === 'reverted') {
    return { status: 'reverted' }
  }
  const { live } = await revisions(tx, depositId)
  if (live > revisionOf(event)) return { status: deposit.status }
  if (deposit.status === 'pending') {
    await setStatus(tx, depositId, 'reverted')
    return { status: 'reverted' }
  }
  const reversed = await reverse(tx, depositId, event.id, REVERSED_REASON)
  return reversed
    ? { status: 'reverted', incident: 'reversed' }
    : { status: 'reverted' }
}
