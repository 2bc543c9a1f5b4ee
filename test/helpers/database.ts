import { randomUUID } from 'node:crypto'
import postgres from 'postgres'
import { inject } from 'vitest'
import { createDb } from '../../db/client.js'
import { withDatabase } from './global-setup.js'

export type TestDatabase = ReturnType<typeof createDb> & {
  url: string
  drop(): Promise<void>
}

/** A fresh, migrated database cloned from the run's template. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('adminDatabaseUrl')
  const name = `t_${randomUUID().replaceAll('-', '').slice(0, 16)}`
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name} template bsc_template`)
  await admin.end()
  const url = withDatabase(adminUrl, name)
  const handle = createDb(url, 5)
  return {
    ...handle,
    url,
    drop: async () => {
      await handle.sql.end({ timeout: 5 })
      const a = postgres(adminUrl, { max: 1, onnotice: () => {} })
      await a.unsafe(`drop database if exists ${name} with (force)`)
      await a.end()
    },
  }
}
