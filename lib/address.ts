import { getAddress, isAddress } from 'viem'

/**
 * Addresses are stored and compared in one form: lowercase hex with `0x`.
 * They are printed checksummed.
 */
export type CanonicalAddress = `0x${string}`

const HEX_ADDRESS = /^0x[0-9a-fA-F]{40}$/

export function isHexAddress(value: string): boolean {
  return HEX_ADDRESS.test(value)
}

export function canonicalAddress(value: string): CanonicalAddress {
  if (!isHexAddress(value)) {
    throw new TypeError(`Not a 20-byte hex address: "${value}"`)
  }
  // A mixed-case address must carry a valid checksum, or it is a typo.
  if (value !== value.toLowerCase() && value !== value.toUpperCase()) {
    if (!isAddress(value, { strict: true })) {
      throw new TypeError(`Address has a bad checksum: "${value}"`)
    }
  }
  return value.toLowerCase() as CanonicalAddress
}

export function checksumAddress(value: string): `0x${string}` {
  return getAddress(value)
}
