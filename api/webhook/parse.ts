import {
  type DepositEvent,
  depositEventSchema,
} from '../../lib/deposit-event.js'
import { ApiError } from '../errors.js'
import { parseJson } from '../read-body.js'
import { validate } from '../validate.js'

const decoder = new TextDecoder()

const invalid = (message: string) =>
  new ApiError(400, 'invalid_payload', message)

const quote = (value: string) =>
  JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)

/**
 * Parses a verified body into an event. Beyond the shared schema, the event
 * must be the one its headers name and belong to the chain this API serves.
 */
export function parseEvent(
  body: Uint8Array,
  webhookId: string,
  chainId: number,
): { event: DepositEvent; text: string } {
  const text = decoder.decode(body)
  const event = validate(depositEventSchema, parseJson(text))
  if (event.id !== webhookId) {
    throw invalid(
      `id: expected the webhook-id header ${quote(webhookId)}, ` +
        `got ${quote(event.id)}`,
    )
  }
  if (event.data.chainId !== chainId) {
    throw invalid(
      `data.chainId: expected ${chainId}, got ${event.data.chainId}`,
    )
  }
  if (!event.data.depositId.startsWith(`${chainId}:`)) {
    throw invalid(`data.depositId: expected it to start with "${chainId}:"`)
  }
  return { event, text }
}
