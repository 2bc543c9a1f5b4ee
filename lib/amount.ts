import { formatUnits } from 'viem'

/** Decimal string of a base-unit amount, e.g. 1500000000000000000000n -> "1500". */
export function toDecimalString(amount: bigint, decimals: number): string {
  return formatUnits(amount, decimals)
}
