import { describe, expect, it } from 'vitest'
import { DEFAULT_TOKENS, loadConfig } from '../../lib/config.js'
import { ConfigError } from '../../lib/errors.js'
import { runScript } from '../helpers/spawn.js'

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`

function problemsOf(
  env: Record<string, string>,
  role: 'indexer' | 'all' = 'all',
) {
  try {
    loadConfig(role, env)
    return []
  } catch (error) {
    if (error instanceof ConfigError) return error.problems
    throw error
  }
}

describe('config', () => {
  it('behavior: defaults watch BSC-USD and USDC with 18 decimals on chain 56', () => {
    const config = loadConfig('all', {})
    expect(config.chain.tokens).toEqual(DEFAULT_TOKENS)
    expect(config.chain.tokens.every((t) => t.decimals === 18)).toBe(true)
    expect(config.demo).toBe(true)
  })

  it('args: TOKENS overrides the tokens and lowercases addresses', () => {
    const config = loadConfig('all', {
      TOKENS: '0xe9e7CEA3DedcA5984780Bafc599bD69ADd087D56:BUSD:18',
    })
    expect(config.chain.tokens).toEqual([
      {
        address: '0xe9e7cea3dedca5984780bafc599bd69add087d56',
        symbol: 'BUSD',
        decimals: 18,
      },
    ])
  })

  it('error: names every bad variable, one line each', () => {
    const problems = problemsOf({
      POLL_INTERVAL_MS: 'fast',
      RPC_URL: 'ftp://node',
      TOKENS: 'nonsense',
      WEBHOOK_SECRET: 'hunter2',
      DATABASE_URL: 'mysql://x',
    })
    const named = problems.map((p) => p.split(':')[0])
    expect(named.sort()).toEqual(
      [
        'DATABASE_URL',
        'POLL_INTERVAL_MS',
        'RPC_URL',
        'TOKENS',
        'WEBHOOK_SECRET',
      ].sort(),
    )
  })

  it('error: the indexer alone requires RPC_URL, WEBHOOK_URL and WEBHOOK_SECRET', () => {
    const named = problemsOf({}, 'indexer').map((p) => p.split(':')[0])
    expect(named).toEqual(['RPC_URL', 'WEBHOOK_URL', 'WEBHOOK_SECRET'])
  })

  it('error: TOKENS is required off chain 56', () => {
    expect(problemsOf({ CHAIN_ID: '97' })[0]).toMatch(/^TOKENS:/)
  })

  it('error: the indexer process exits 1 naming the variable, with no stack trace', async () => {
    const result = await runScript('indexer/main.ts', {
      RPC_URL: 'http://127.0.0.1:1',
      WEBHOOK_URL: 'http://127.0.0.1:1/hook',
      WEBHOOK_SECRET: SECRET,
      CONFIRMATIONS: '-3',
    })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(
      'CONFIRMATIONS: expected a whole number >= 1',
    )
    expect(result.stderr).not.toMatch(/\bat .*\.ts:\d+/)
  })

  it('error: npm start exits 1 on a malformed variable', async () => {
    const result = await runScript('scripts/start.ts', { API_PORT: '99999' })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('API_PORT')
  })
})

describe('config: TOKENS checks', () => {
  it('error: the same token address twice is refused', () => {
    const env = {
      TOKENS:
        '0x55d398326f99059ff775485246999027b3197955:USDT:18,' +
        '0x55d398326f99059ff775485246999027b3197955:USDC:18',
    }
    expect(() => loadConfig('all', env)).toThrow(/TOKENS: names .* twice/)
  })

  it('error: a bad checksum is a config error, not a crash', () => {
    const env = { TOKENS: '0x55D398326f99059fF775485246999027B3197955:USDT:18' }
    expect(() => loadConfig('all', env)).toThrow(ConfigError)
  })
})

describe('config: numbers', () => {
  it('error: exponent and hex forms are typos, not numbers', () => {
    for (const value of ['1e3', '0x10', '12abc', '']) {
      const env = value === '' ? { START_BLOCK: ' ' } : { START_BLOCK: value }
      expect(() => loadConfig('all', env), value).toThrow(/START_BLOCK/)
    }
    expect(loadConfig('all', { START_BLOCK: '1000' }).chain.startBlock).toBe(
      1000n,
    )
  })
})
