import { setTimeout as sleep } from 'node:timers/promises'
import PQueue from 'p-queue'
import type { Sql } from '../../db/client.js'
import type { Config } from '../../lib/config.js'
import { redactUrl } from '../../lib/errors.js'
import type { Logger } from '../../lib/logger.js'
import type { Metrics } from '../../lib/metrics.js'
import { OUTBOX_CHANNEL } from '../store/events.js'
import {
  attempt,
  createDeliverContext,
  type DeliverContext,
  settle,
} from './deliver.js'
import {
  type ClaimedEvent,
  claimDue,
  hasDueEvents,
  readOutboxStats,
  releaseClaims,
} from './outbox.js'
import { createPoster, type Poster } from './post.js'

// The indexer announces new outbox rows on this channel (NOTIFY inside the
// writing transaction, delivered on commit), so a dispatcher in any process
// wakes at once; the poll interval is only the backstop.
export { OUTBOX_CHANNEL }

export interface DispatcherDeps {
  sql: Sql
  metrics: Metrics
  log: Logger
  webhook: Config['webhook'] & { url: string; secret: string }
  /** How often to look for due events without being woken. */
  pollIntervalMs?: number
  /** How long a claim holds; past it, another dispatcher may retake it. */
  leaseMs?: number
  /** How long stop() waits for posts in flight before cutting them. */
  stopTimeoutMs?: number
  /** How often the outbox gauges are refreshed. */
  gaugeIntervalMs?: number
}

export interface Dispatcher {
  start(): void
  /** Stops claiming, waits for posts in flight, hands back the rest. */
  stop(): Promise<void>
  /** Looks for due events now; the indexer calls it after each commit. */
  wake(): void
  /**
   * Resolves once no due event is left, counting those leased by other
   * dispatchers; events waiting for a later retry are not due. Needs
   * start(); rejects if the database cannot be asked. For tests.
   */
  drain(): Promise<void>
}

/** Delivers outbox events as signed webhooks; see outbox.ts for claims. */
export function createDispatcher(deps: DispatcherDeps): Dispatcher {
  const loop = new DispatchLoop(deps)
  return {
    start: () => loop.start(),
    stop: () => loop.stop(),
    wake: () => loop.wake(),
    drain: () => loop.drain(),
  }
}

const ERROR_PAUSE_MIN_MS = 250
const ERROR_PAUSE_MAX_MS = 10_000

class DispatchLoop {
  private readonly log: Logger
  private readonly queue: PQueue
  private readonly ctx: DeliverContext
  private readonly poster: Poster
  private readonly stopper = new AbortController()
  /** Claimed and not yet recorded; what stop() hands back. */
  private readonly held = new Map<string, ClaimedEvent>()
  /** Each held event's way through the queue, post and record. */
  private readonly flights = new Set<Promise<void>>()
  private readonly maxHeld: number
  private readonly leaseMs: number
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new'
  private pumping: Promise<void> | undefined
  private again = false
  private pausedUntil = 0
  private failures = 0
  private listening: 'no' | 'pending' | 'yes' = 'no'
  private unlisten: (() => Promise<void>) | undefined
  private timers: NodeJS.Timeout[] = []
  private pauseTimer: NodeJS.Timeout | undefined

  constructor(private readonly deps: DispatcherDeps) {
    const { webhook } = deps
    this.log = deps.log.child({ component: 'dispatcher' })
    this.queue = new PQueue({ concurrency: webhook.concurrency })
    // Up to two rounds of posts wait in the queue, so the posts go on while
    // the next claim is out; yet no claimed event waits long to start.
    this.maxHeld = webhook.concurrency * 3
    // A claimed event waits for at most two rounds of posts, then its own.
    this.leaseMs = deps.leaseMs ?? 3 * webhook.timeoutMs + 30_000
    this.poster = createPoster(webhook)
    this.ctx = createDeliverContext({
      sql: deps.sql,
      metrics: deps.metrics,
      log: this.log,
      post: this.poster.post,
      policy: webhook,
      stopSignal: this.stopper.signal,
    })
  }

  start(): void {
    if (this.state !== 'new') throw new Error('Dispatcher already started')
    this.state = 'running'
    const poll = this.deps.pollIntervalMs ?? 250
    const gauges = this.deps.gaugeIntervalMs ?? 5_000
    this.timers.push(setInterval(() => this.wake(), poll))
    this.timers.push(setInterval(() => void this.refreshGauges(), gauges))
    this.log.info(
      {
        url: redactUrl(this.deps.webhook.url),
        concurrency: this.deps.webhook.concurrency,
        poll_interval: poll,
      },
      'Started dispatcher',
    )
    void this.refreshGauges()
    this.wake()
  }

  wake(): void {
    if (this.state !== 'running' || Date.now() < this.pausedUntil) return
    if (this.pumping) {
      this.again = true
      return
    }
    this.pumping = this.pump().finally(() => {
      this.pumping = undefined
    })
  }

  /** Claims while there is room and work; wakes coalesce into one run. */
  private async pump(): Promise<void> {
    do {
      this.again = false
      this.listen()
      const room = this.maxHeld - this.held.size
      // A full round of posts waiting for a slot is work enough; below
      // that, claim what fits, so the queue never runs dry while a claim
      // is out. A finished post wakes the loop again.
      const fed = this.queue.size >= this.deps.webhook.concurrency
      if (room <= 0 || fed) return
      let events: ClaimedEvent[]
      try {
        events = await claimDue(this.deps.sql, room, this.leaseMs)
      } catch (error) {
        this.pause(error)
        return
      }
      this.failures = 0
      for (const event of events) this.dispatch(event)
      if (events.length === room) this.again = true
    } while (this.again && this.state === 'running')
  }

  private dispatch(event: ClaimedEvent): void {
    this.held.set(event.id, event)
    // Claimed while stop() began: keep it held, stop() releases it.
    if (this.state !== 'running') return
    const flight = this.queue
      // Queued when stop() began: never posted, released with the rest.
      .add(async () =>
        this.state === 'running' ? attempt(this.ctx, event) : null,
      )
      .then(async (done) => {
        if (!done) return
        if (await settle(this.ctx, event, done)) this.held.delete(event.id)
        this.wake()
      })
      .catch((error: unknown) => {
        // A bug, not an outcome: let the lease hand the event back later
        // rather than hold its place here for good.
        this.held.delete(event.id)
        const fields = { err: error, event_id: event.id }
        this.log.error(fields, 'Failed to deliver event')
      })
      .finally(() => this.flights.delete(flight))
    this.flights.add(flight)
  }

  /** The database is away: wait, longer each time, then look again. */
  private pause(error: unknown): void {
    this.failures += 1
    const wait = Math.min(
      ERROR_PAUSE_MIN_MS * 2 ** (this.failures - 1),
      ERROR_PAUSE_MAX_MS,
    )
    this.pausedUntil = Date.now() + wait
    this.log.warn(
      { err: error, failures: this.failures, retry_in: wait },
      'Failed to claim events',
    )
    clearTimeout(this.pauseTimer)
    this.pauseTimer = setTimeout(() => this.wake(), wait)
  }

  /**
   * LISTEN runs on a connection of its own, which postgres.js re-opens
   * after a drop. If the first LISTEN fails, the next pump tries again.
   */
  private listen(): void {
    if (this.listening !== 'no') return
    this.listening = 'pending'
    const woken = () => this.wake()
    this.deps.sql
      .listen(OUTBOX_CHANNEL, woken, woken)
      .then(async (request) => {
        this.listening = 'yes'
        this.unlisten = request.unlisten
        if (this.state !== 'running') await this.stopListening()
      })
      .catch((error: unknown) => {
        this.listening = 'no'
        this.log.warn({ err: error }, 'Failed to listen for outbox events')
      })
  }

  private async stopListening(): Promise<void> {
    const unlisten = this.unlisten
    this.unlisten = undefined
    await unlisten?.().catch((error: unknown) => {
      this.log.debug({ err: error }, 'Failed to unlisten')
    })
  }

  private async refreshGauges(): Promise<void> {
    try {
      const stats = await readOutboxStats(this.deps.sql)
      this.deps.metrics.outboxPending.set(stats.pending)
      this.deps.metrics.outboxOldestSeconds.set(stats.oldestSeconds)
      this.deps.metrics.deadLetters.set(stats.dead)
    } catch (error) {
      this.log.warn({ err: error }, 'Failed to read outbox gauges')
    }
  }

  async stop(): Promise<void> {
    if (this.state !== 'running') return
    this.state = 'stopping'
    for (const timer of this.timers) clearInterval(timer)
    clearTimeout(this.pauseTimer)
    await this.stopListening()
    await this.pumping
    const bound = this.deps.stopTimeoutMs ?? this.deps.webhook.timeoutMs + 1_000
    if (!(await settles(Promise.all(this.flights), bound))) {
      this.stopper.abort()
      await settles(Promise.all(this.flights), 1_000)
    }
    await this.release()
    this.poster.close()
    this.state = 'stopped'
    this.log.info('Stopped dispatcher')
  }

  private async release(): Promise<void> {
    const events = [...this.held.values()]
    this.held.clear()
    try {
      const released = await releaseClaims(this.deps.sql, events)
      if (released > 0) this.log.info({ released }, 'Released claims')
    } catch (error) {
      // Their leases expire on their own; nothing is lost, only delayed.
      this.log.warn({ err: error }, 'Failed to release claims')
    }
  }

  async drain(): Promise<void> {
    if (this.state !== 'running') {
      throw new Error('Dispatcher is not running; call start() first')
    }
    while (this.state === 'running') {
      this.wake()
      await this.pumping
      await Promise.all(this.flights)
      const idle = this.held.size === 0 && !this.pumping
      if (idle && !(await hasDueEvents(this.deps.sql))) return
      await sleep(5)
    }
  }
}

/** True if `promise` settled within `ms`. */
async function settles(promise: Promise<unknown>, ms: number) {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms)
  })
  const done = promise.then(
    () => true,
    () => true,
  )
  const result = await Promise.race([done, timeout])
  clearTimeout(timer)
  return result
}
