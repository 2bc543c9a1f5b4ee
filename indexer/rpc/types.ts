import { InvalidRpcAnswerError } from './errors.js'

export type Hex = `0x${string}`

/** The parts of a block header the indexer relies on, hashes lowercase. */
export interface BlockHeader {
  number: bigint
  hash: Hex
  parentHash: Hex
  /** Unix milliseconds; BSC carries the sub-second part in mixHash (BEP-520). */
  timestampMs: bigint
  logsBloom: Hex
}

/** A raw `eth_getLogs` entry, hashes and addresses lowercase. */
export interface RawLog {
  address: Hex
  topics: Hex[]
  data: Hex
  blockNumber: bigint
  blockHash: Hex
  transactionHash: Hex
  logIndex: number
  removed: boolean
}

const HASH = /^0x[0-9a-fA-F]{64}$/
const QUANTITY = /^0x[0-9a-fA-F]{1,64}$/

function field(obj: Record<string, unknown>, key: string, re: RegExp): string {
  const value = obj[key]
  if (typeof value !== 'string' || !re.test(value)) {
    throw new InvalidRpcAnswerError(`Field ${key} is malformed`, {
      details: { value: String(value).slice(0, 80) },
    })
  }
  return value
}

const lower = (value: string) => value.toLowerCase() as Hex

/** Parses a block object; `null` stays null (the node has no such block). */
export function parseBlock(raw: unknown): BlockHeader | null {
  if (raw === null || raw === undefined) return null
  if (typeof raw !== 'object') {
    throw new InvalidRpcAnswerError('Block is not an object')
  }
  const b = raw as Record<string, unknown>
  const seconds = BigInt(field(b, 'timestamp', QUANTITY))
  const mix =
    typeof b.mixHash === 'string' && HASH.test(b.mixHash)
      ? BigInt(b.mixHash)
      : 0n
  return {
    number: BigInt(field(b, 'number', QUANTITY)),
    hash: lower(field(b, 'hash', HASH)),
    parentHash: lower(field(b, 'parentHash', HASH)),
    timestampMs: seconds * 1000n + (mix > 0n && mix < 1000n ? mix : 0n),
    logsBloom: lower(field(b, 'logsBloom', /^0x[0-9a-fA-F]{512}$/)),
  }
}

export function parseLog(raw: unknown): RawLog {
  if (!raw || typeof raw !== 'object') {
    throw new InvalidRpcAnswerError('Log is not an object')
  }
  const l = raw as Record<string, unknown>
  const topics = l.topics
  if (
    !Array.isArray(topics) ||
    !topics.every((t) => typeof t === 'string' && HASH.test(t))
  ) {
    throw new InvalidRpcAnswerError('Log topics are malformed')
  }
  return {
    address: lower(field(l, 'address', /^0x[0-9a-fA-F]{40}$/)),
    topics: topics.map((t: string) => lower(t)),
    data: lower(field(l, 'data', /^0x([0-9a-fA-F]{2})*$/)),
    blockNumber: BigInt(field(l, 'blockNumber', QUANTITY)),
    blockHash: lower(field(l, 'blockHash', HASH)),
    transactionHash: lower(field(l, 'transactionHash', HASH)),
    logIndex: Number(BigInt(field(l, 'logIndex', QUANTITY))),
    removed: l.removed === true,
  }
}

export function parseLogs(raw: unknown): RawLog[] {
  if (!Array.isArray(raw)) {
    throw new InvalidRpcAnswerError('eth_getLogs did not return a list')
  }
  return raw.map(parseLog)
}

export function toQuantity(value: bigint): Hex {
  return `0x${value.toString(16)}`
}
