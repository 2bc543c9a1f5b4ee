import type { Context } from 'hono'
import type { DepositEvent } from '../../lib/deposit-event.js'
import type { ApiDeps } from '../deps.js'
import {
  ApiError,
  errorResponse,
  isDatabaseUnavailable,
  isDataException,
  unavailable,
} from '../errors.js'
import { readBody } from '../read-body.js'
import type { Outcome } from './apply.js'
import { parseEvent } from './parse.js'
import { receiveEvent } from './receive.js'
import { createSignatureCheck } from './verify.js'

export const WEBHOOK_PATH = '/api/v1/webhooks/bep20'

/**
 * `POST /api/v1/webhooks/bep20`: size limit, signature, schema, then one
 * transaction. Every refusal is answered here with its own code, so bad
 * input never reaches the global error handler.
 */
export function createWebhookHandler(deps: ApiDeps) {
  const { config, metrics } = deps
  const log = deps.log.child({ component: 'webhook' })
  const checkSignature = createSignatureCheck(config.webhookSecret)

  return async (c: Context): Promise<Response> => {
    let event: DepositEvent | undefined
    try {
      const body = await readBody(c.req.raw, config.bodyLimitBytes)
      const webhookId = checkSignature(body, c.req.raw.headers)
      const parsed = parseEvent(body, webhookId, config.chainId)
      event = parsed.event
      const outcome = await store(parsed.event, parsed.text)
      report(event, outcome)
      if (outcome.status === 'unknown_user') throw unknownUser(event)
      return c.json({ status: outcome.status })
    } catch (error) {
      if (!(error instanceof ApiError)) throw error
      metrics.webhooksRejected.inc({ code: error.code })
      log.warn(
        { code: error.code, event_id: event?.id, reason: error.message },
        'Refused webhook',
      )
      return errorResponse(c, error)
    }
  }

  async function store(event: DepositEvent, text: string) {
    try {
      return await receiveEvent(deps.sql, event, text)
    } catch (error) {
      if (isDatabaseUnavailable(error)) throw unavailable(error)
      // e.g. a \u0000 in an extra field, which jsonb cannot hold.
      if (isDataException(error)) {
        throw new ApiError(
          400,
          'invalid_payload',
          'The body holds a value the database cannot store.',
          { cause: error },
        )
      }
      throw error
    }
  }

  function report(event: DepositEvent, outcome: Outcome) {
    const fields = {
      event_id: event.id,
      deposit_id: event.data.depositId,
      user_id: event.data.userId,
      token: event.data.token.symbol,
    }
    if (outcome.credited) {
      metrics.credits.inc({ token: event.data.token.symbol })
      log.info({ ...fields, amount: event.data.amount }, 'Credited deposit')
    } else if (outcome.incident === 'reversed') {
      log.error(fields, 'Reversed credited deposit')
    } else if (outcome.incident === 'reconfirmed') {
      log.error(fields, 'Flagged deposit confirmed after its reversal')
    } else {
      log.debug({ ...fields, status: outcome.status }, 'Recorded event')
    }
  }
}

const unknownUser = (event: DepositEvent) =>
  new ApiError(
    422,
    'unknown_user',
    `User ${event.data.userId} does not exist; the event is kept as ` +
      'rejected and is applied when it is sent again after the user exists.',
  )
