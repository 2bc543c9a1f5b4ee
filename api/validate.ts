import type { z } from 'zod'
import { ApiError } from './errors.js'

/**
 * Checks a value against a schema. The refusal names the first bad field,
 * so a sender can see what to fix without reading our code.
 */
export function validate<T extends z.ZodType>(
  schema: T,
  value: unknown,
  code = 'invalid_payload',
): z.output<T> {
  const result = schema.safeParse(value)
  if (result.success) return result.data
  const issue = result.error.issues[0]
  const path = issue?.path.join('.') || '(root)'
  throw new ApiError(400, code, `${path}: ${issue?.message ?? 'invalid'}`)
}
