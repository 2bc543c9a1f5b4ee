import { type ChildProcess, spawn } from 'node:child_process'

/**
 * The indexer daemon (indexer/main.ts) as a real child process, so a test
 * can kill it with SIGKILL at any instruction.
 */
export function spawnIndexer(env: Record<string, string>) {
  let output = ''
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'indexer/main.ts'],
    {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        LOG_LEVEL: 'warn',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  const keep = (chunk: unknown) => {
    output = (output + String(chunk)).slice(-20_000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => resolve(code)),
  )
  return {
    child,
    output: () => output,
    exited,
    kill: async (signal: NodeJS.Signals = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal)
      }
      return exited
    },
  }
}
