import type { Hono } from 'hono'
import { canonicalAddress, checksumAddress } from '../../lib/address.js'
import type { ApiDeps } from '../deps.js'
import { ApiError } from '../errors.js'
import { limitParam, uuidParam } from '../params.js'
import { readJson } from '../read-body.js'
import { validate } from '../validate.js'
import { balanceJson, depositJson, userJson } from './json.js'
import { addAddressSchema, createUserSchema } from './schemas.js'
import { createUserStore } from './store.js'

/** User, deposit-address, balance and deposit routes (admin token). */
export function registerUserRoutes(app: Hono, deps: ApiDeps): void {
  const store = createUserStore(deps.db)
  const limit = deps.config.bodyLimitBytes

  app.post('/api/v1/users', async (c) => {
    const body = await readJson(c.req.raw, limit)
    const user = await store.insertUser(validate(createUserSchema, body))
    return c.json(userJson(user, []), 201)
  })

  app.get('/api/v1/users/:id', async (c) => {
    const user = await store.findUser(uuidParam(c.req.param('id')))
    return c.json(userJson(user, await store.listAddresses(user.id)))
  })

  app.post('/api/v1/users/:id/addresses', async (c) => {
    const userId = uuidParam(c.req.param('id'))
    const body = await readJson(c.req.raw, limit)
    const address = parseAddress(validate(addAddressSchema, body).address)
    await store.findUser(userId)
    const { created, owner } = await store.claimAddress(userId, address)
    if (owner !== userId) {
      throw new ApiError(
        409,
        'address_taken',
        `Address ${checksumAddress(address)} belongs to another user.`,
      )
    }
    const answer = { userId, address: checksumAddress(address) }
    return c.json(answer, created ? 201 : 200)
  })

  app.get('/api/v1/users/:id/balances', async (c) => {
    const user = await store.findUser(uuidParam(c.req.param('id')))
    const rows = await store.listBalances(user.id)
    return c.json(rows.map(balanceJson))
  })

  app.get('/api/v1/users/:id/deposits', async (c) => {
    const user = await store.findUser(uuidParam(c.req.param('id')))
    const { page, nextCursor } = await store.listDeposits(
      user.id,
      limitParam(c.req.query('limit'), 50, 200),
      c.req.query('cursor'),
    )
    return c.json({ deposits: page.map(depositJson), nextCursor })
  })
}

function parseAddress(value: string): string {
  try {
    return canonicalAddress(value)
  } catch (error) {
    const reason = error instanceof Error ? error.message : 'invalid'
    throw new ApiError(400, 'invalid_address', reason)
  }
}
