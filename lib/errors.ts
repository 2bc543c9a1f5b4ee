/**
 * Base of every error this service throws on purpose. The message is one
 * sentence a person can act on; `details` carries the values behind it and
 * `cause` the error we caught, so nothing is lost when it is logged.
 */
export class AppError extends Error {
  override name = 'AppError'
  readonly details: Record<string, unknown>

  constructor(
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, { cause: options.cause })
    this.details = options.details ?? {}
  }
}

export class ConfigError extends AppError {
  override name = 'ConfigError'
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`)
  }
}

/** Removes credentials and API keys from a URL before it reaches a log. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw)
    if (url.username) url.username = '***'
    if (url.password) url.password = '***'
    // Providers put keys in the path (`/v1/<key>`) or the query string.
    url.search = url.search ? '?***' : ''
    const parts = url.pathname
      .split('/')
      .map((part) =>
        part.length >= 16 && /[0-9a-zA-Z_-]{16,}/.test(part) ? '***' : part,
      )
    url.pathname = parts.join('/')
    return url.toString()
  } catch {
    return '<unparseable url>'
  }
}

/** The host of a URL alone, for low-cardinality metric labels. */
export function urlHost(raw: string): string {
  try {
    return new URL(raw).host
  } catch {
    return 'unknown'
  }
}

/** Strips any URL from an error text, since RPC errors often echo them. */
export function redactText(text: string): string {
  return text.replace(/\b(?:https?|wss?):\/\/[^\s"'<>]+/g, (m) => redactUrl(m))
}
