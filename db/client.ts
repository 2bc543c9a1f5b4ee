import { drizzle } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import * as schema from './schema/index.js'

export type Sql = postgres.Sql
export type Db = ReturnType<typeof createDb>['db']

/**
 * One postgres.js pool per process, its size set explicitly. `bigint`
 * columns come back as bigint (type 20), never as a lossy number.
 */
export function createDb(url: string, poolSize: number) {
  const sql = postgres(url, {
    max: poolSize,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: () => {},
    types: {
      bigint: postgres.BigInt,
    },
    connection: { application_name: 'bsc-deposit-indexer' },
  })
  const db = drizzle(sql, { schema })
  return { sql, db }
}
