import { Webhook } from 'standardwebhooks'
import { ApiError } from '../errors.js'

const invalid = (message: string) =>
  new ApiError(401, 'invalid_signature', message)

/**
 * Verifies the Standard Webhooks signature over the exact bytes received,
 * before anything in them is trusted. The library also refuses timestamps
 * more than five minutes away from our clock. Returns the `webhook-id`.
 */
export function createSignatureCheck(secret: string) {
  const webhook = new Webhook(secret)
  return (body: Uint8Array, headers: Headers): string => {
    const id = headers.get('webhook-id')
    const timestamp = headers.get('webhook-timestamp')
    const signature = headers.get('webhook-signature')
    if (!id || !timestamp || !signature) {
      throw invalid(
        'Expected webhook-id, webhook-timestamp and webhook-signature headers.',
      )
    }
    try {
      webhook.verify(
        body,
        {
          'webhook-id': id,
          'webhook-timestamp': timestamp,
          'webhook-signature': signature,
        },
        { jsonParse: false },
      )
    } catch (error) {
      const reason = error instanceof Error ? error.message : 'unknown'
      throw invalid(`The signature did not verify: ${reason}.`)
    }
    return id
  }
}
