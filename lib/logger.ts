import pino from 'pino'

export type Logger = pino.Logger

/**
 * One root logger per process; components take a child with their name.
 * Lines are JSON so they can be shipped and queried as they are.
 */
export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    serializers: { err: pino.stdSerializers.err },
  })
}
