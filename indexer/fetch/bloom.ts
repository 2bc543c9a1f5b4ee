import { hexToBytes, keccak256 } from 'viem'
import type { Hex } from '../rpc/types.js'

/** The three bloom bits (byte index, mask) of one address or topic. */
export type BloomKey = [number, number][]

export function bloomKey(value: Hex): BloomKey {
  const hash = hexToBytes(keccak256(value))
  const key: BloomKey = []
  for (let i = 0; i < 6; i += 2) {
    const bit = ((hash[i]! << 8) | hash[i + 1]!) & 2047
    key.push([255 - (bit >> 3), 1 << (bit & 7)])
  }
  return key
}

/** Whether the block's logsBloom may contain the value (no false negatives). */
export function bloomMayContain(bloom: Uint8Array, key: BloomKey): boolean {
  return key.every(([byte, mask]) => (bloom[byte]! & mask) !== 0)
}
