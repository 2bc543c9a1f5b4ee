/**
 * `npm run seed -- --users N [--prefix NAME]`: creates N users, each with a
 * fresh random deposit address, in batches of 10,000 (unnest inserts), and
 * prints the rate. For load tests and for sizing the address look-up at a
 * million addresses. The private keys are not kept: never send real funds.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { parseArgs } from 'node:util'
import { openDatabase } from '../db/open.js'
import { loadConfigOrExit } from '../lib/config.js'
import { reportFatal } from '../lib/fatal.js'
import { createLogger } from '../lib/logger.js'

const BATCH = 10_000

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '1000' },
    prefix: { type: 'string', default: 'seed' },
  },
})
const total = Number(values.users)
if (!Number.isInteger(total) || total < 1) {
  process.stderr.write(
    `--users: expected a whole number >= 1, got "${values.users}"\n`,
  )
  process.exit(1)
}
const config = loadConfigOrExit('script')
const log = createLogger(config.logLevel)

try {
  const db = await openDatabase(config.database, log)
  const started = performance.now()
  for (let done = 0; done < total; done += BATCH) {
    const n = Math.min(BATCH, total - done)
    const ids = Array.from({ length: n }, () => randomUUID())
    const names = ids.map((_, i) => `${values.prefix}-${done + i}`)
    const addresses = ids.map(() => `0x${randomBytes(20).toString('hex')}`)
    await db.sql.begin(async (tx) => {
      await tx`
        insert into users (id, username)
        select * from unnest(${ids}::uuid[], ${names}::text[])`
      await tx`
        insert into deposit_addresses (address, user_id)
        select * from unnest(${addresses}::text[], ${ids}::uuid[])`
    })
    const seconds = (performance.now() - started) / 1000
    log.info(
      { users: done + n, of: total, per_s: Math.round((done + n) / seconds) },
      'Seeded users',
    )
  }
  await db.close()
} catch (error) {
  reportFatal(log, error)
}
