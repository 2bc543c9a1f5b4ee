import { AppError, redactText } from '../../lib/errors.js'

/** Every endpoint was tried for one request and none gave a usable answer. */
export class RpcUnavailableError extends AppError {
  override name = 'RpcUnavailableError'
  constructor(method: string, causes: { endpoint: string; error: string }[]) {
    super(`No RPC endpoint answered ${method} usefully`, {
      details: { method, causes },
    })
  }
}

/**
 * An answer that is well-formed JSON-RPC but wrong for what was asked: a
 * block from another hash, a log from another block, a node that has not
 * seen the block yet. The next endpoint is tried.
 */
export class InvalidRpcAnswerError extends AppError {
  override name = 'InvalidRpcAnswerError'
}

/** Provider texts that mean "ask for fewer blocks or fewer logs". */
const RANGE_LIMIT = [
  /exceed maximum block range/i,
  /block range/i,
  /range (is )?too (large|wide|big)/i,
  /more than \d+ (results|logs)/i,
  /response (size|is too big)/i,
  /too many (results|logs|blocks)/i,
  /query timeout/i,
  /limit exceeded/i,
  /log response size/i,
]

export function isRangeLimitText(text: string): boolean {
  return RANGE_LIMIT.some((re) => re.test(text))
}

/** A short, credential-free description of any error, for logs. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const details = (error as { details?: unknown }).details
    const text =
      typeof details === 'string' && details
        ? `${error.name}: ${details}`
        : `${error.name}: ${(error as { shortMessage?: string }).shortMessage ?? error.message}`
    return redactText(text).slice(0, 500)
  }
  return redactText(String(error)).slice(0, 500)
}
