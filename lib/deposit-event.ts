import { z } from 'zod'

/**
 * The webhook body, as DESIGN.md fixes it. The indexer builds it; the API
 * validates it with the same schema, so the two cannot drift apart.
 */
export const depositEventTypes = [
  'deposit.detected',
  'deposit.confirmed',
  'deposit.reverted',
] as const
export type DepositEventType = (typeof depositEventTypes)[number]

const hex = (bytes: number) =>
  z.string().regex(new RegExp(`^0x[0-9a-fA-F]{${bytes * 2}}$`), {
    message: `expected 0x and ${bytes * 2} hex digits`,
  })
const decimalInteger = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,77})$/, 'expected a non-negative integer string')

const MAX_UINT256 = 2n ** 256n - 1n

export const depositEventSchema = z.object({
  id: z.string().regex(/^evt_[0-9a-zA-Z_]{8,64}$/, 'expected evt_<id>'),
  type: z.enum(depositEventTypes),
  createdAt: z.iso.datetime({ offset: true }),
  data: z.object({
    depositId: z.string().regex(/^[0-9]{1,10}:0x[0-9a-f]{64}:[0-9]{1,10}$/, {
      message: 'expected <chainId>:<blockHash>:<logIndex>',
    }),
    chainId: z.number().int().positive(),
    userId: z.uuid(),
    address: hex(20),
    from: hex(20),
    token: z.object({
      address: hex(20),
      symbol: z.string().min(1).max(32),
      decimals: z.number().int().min(0).max(36),
    }),
    // A uint256, and not zero: a zero transfer is never a deposit.
    amount: decimalInteger.refine(
      // Runs even when the pattern failed: check before BigInt throws.
      (value) => /^[1-9][0-9]*$/.test(value) && BigInt(value) <= MAX_UINT256,
      'expected an amount from 1 to 2^256-1',
    ),
    amountDecimal: z.string().regex(/^[0-9]+(\.[0-9]+)?$/),
    txHash: hex(32),
    logIndex: z.number().int().min(0),
    blockNumber: decimalInteger,
    blockHash: hex(32),
    blockTimestamp: z.iso.datetime({ offset: true }),
    confirmations: z.number().int().min(0),
    // Added beyond DESIGN.md, backward compatible: bumped when a reverted
    // deposit's block becomes canonical again.
    revision: z.number().int().min(0).optional(),
  }),
})

export type DepositEvent = z.infer<typeof depositEventSchema>
