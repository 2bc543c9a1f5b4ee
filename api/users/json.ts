import { checksumAddress } from '../../lib/address.js'

interface UserRow {
  id: string
  telegramId: bigint | null
  username: string | null
  status: string
  createdAt: Date
}

/** Users as the API prints them: bigints as decimal strings. */
export function userJson(user: UserRow, addresses: string[]) {
  return {
    id: user.id,
    telegramId: user.telegramId === null ? null : String(user.telegramId),
    username: user.username,
    status: user.status,
    createdAt: user.createdAt.toISOString(),
    addresses: addresses.map(checksumAddress),
  }
}

interface DepositRow {
  depositId: string
  chainId: number
  token: string
  symbol: string
  amount: bigint
  txHash: string
  blockNumber: string
  status: string
  flagged: string | null
  createdAt: Date
  updatedAt: Date
}

export function depositJson(row: DepositRow) {
  return {
    depositId: row.depositId,
    chainId: row.chainId,
    token: checksumAddress(row.token),
    symbol: row.symbol,
    amount: String(row.amount),
    txHash: row.txHash,
    blockNumber: row.blockNumber,
    status: row.status,
    flagged: row.flagged,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  }
}

interface BalanceRow {
  chainId: number
  token: string
  symbol: string
  amount: bigint
}

export function balanceJson(row: BalanceRow) {
  return {
    chainId: row.chainId,
    token: checksumAddress(row.token),
    symbol: row.symbol,
    amount: String(row.amount),
  }
}
