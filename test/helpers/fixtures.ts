import { readFileSync } from 'node:fs'

/**
 * Real BSC data, copied from the project's shared fixtures with their
 * provenance (test/fixtures/bsc/README.md), so the suite runs anywhere.
 */
export function readFixture<T>(name: string): T {
  const url = new URL(`../fixtures/bsc/${name}`, import.meta.url)
  return JSON.parse(readFileSync(url, 'utf8')) as T
}
