interface Waiting<T, R> {
  item: T
  resolve(result: R): void
  reject(error: unknown): void
}

/**
 * Coalesces calls into batches: the first call runs at once; calls made
 * while a batch is running wait and go together in the next. Under light
 * load nothing waits; under heavy load one statement and one commit serve
 * many events, which is what keeps the database from being the limit.
 * `run` returns one result per item, in order.
 */
export function createBatcher<T, R>(
  run: (items: T[]) => Promise<R[]>,
  maxBatch = 500,
): (item: T) => Promise<R> {
  let waiting: Waiting<T, R>[] = []
  let running = false

  const flush = () => {
    if (running || waiting.length === 0) return
    running = true
    const batch = waiting.slice(0, maxBatch)
    waiting = waiting.slice(batch.length)
    run(batch.map((w) => w.item))
      .then(
        (results) => {
          for (const [i, w] of batch.entries()) w.resolve(results[i] as R)
        },
        (error: unknown) => {
          for (const w of batch) w.reject(error)
        },
      )
      .finally(() => {
        running = false
        flush()
      })
  }

  return (item) =>
    new Promise<R>((resolve, reject) => {
      waiting.push({ item, resolve, reject })
      flush()
    })
}
