import { AppError, ConfigError } from './errors.js'
import type { Logger } from './logger.js'

/**
 * Ends the process on an error nobody can retry past. A configuration
 * problem is printed as plain lines naming the variable; anything else is
 * logged with its details and cause.
 */
export function reportFatal(log: Logger, error: unknown): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`)
  } else if (error instanceof AppError) {
    log.fatal({ err: error, ...error.details }, error.message)
  } else {
    log.fatal({ err: error }, 'Stopped on an unexpected error')
  }
  process.exit(1)
}
