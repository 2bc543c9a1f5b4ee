import { z } from 'zod'
import { ApiError } from './errors.js'
import { validate } from './validate.js'

// What PostgreSQL's uuid type accepts in its canonical spelling.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** A uuid path parameter, or 400 `invalid_id`. */
export function uuidParam(value: string | undefined): string {
  if (value === undefined || !UUID.test(value)) {
    throw new ApiError(
      400,
      'invalid_id',
      `Expected a uuid, got ${JSON.stringify(value ?? '')}.`,
    )
  }
  return value.toLowerCase()
}

/** `?limit=` between 1 and `max`, or 400 `invalid_query`. */
export function limitParam(
  value: string | undefined,
  fallback: number,
  max: number,
): number {
  if (value === undefined) return fallback
  const schema = z.object({
    limit: z.coerce
      .number()
      .int(`expected a whole number from 1 to ${max}`)
      .min(1, `expected a whole number from 1 to ${max}`)
      .max(max, `expected a whole number from 1 to ${max}`),
  })
  return validate(schema, { limit: value }, 'invalid_query').limit
}

export const notFound = (what: string) =>
  new ApiError(404, 'not_found', `${what} was not found.`)
