import client from 'prom-client'

const SECONDS_FAST = [
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
]
const SECONDS_SLOW = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

/**
 * Every metric this service exports, in one registry per process. Label sets
 * are fixed here; no label ever holds an address, a hash or a full URL.
 */
export function createMetrics() {
  const registry = new client.Registry()
  client.collectDefaultMetrics({ register: registry })
  const r = [registry]

  const chain = ['chain_id'] as const
  return {
    registry,

    headBlock: new client.Gauge({
      name: 'indexer_head_block',
      help: 'Newest block number the RPC reports',
      labelNames: chain,
      registers: r,
    }),
    checkpointBlock: new client.Gauge({
      name: 'indexer_checkpoint_block',
      help: 'Last block fully stored by the indexer',
      labelNames: chain,
      registers: r,
    }),
    finalizedBlock: new client.Gauge({
      name: 'indexer_finalized_block',
      help: 'Block the indexer treats as final',
      labelNames: chain,
      registers: r,
    }),
    finalityFallback: new client.Gauge({
      name: 'indexer_finality_fallback',
      help: '1 while finality comes from CONFIRMATIONS depth, not the finalized tag',
      labelNames: chain,
      registers: r,
    }),
    lagBlocks: new client.Gauge({
      name: 'indexer_lag_blocks',
      help: 'Head block minus checkpoint block',
      labelNames: chain,
      registers: r,
    }),
    blocksProcessed: new client.Counter({
      name: 'indexer_blocks_processed_total',
      help: 'Blocks stored',
      labelNames: chain,
      registers: r,
    }),
    logsProcessed: new client.Counter({
      name: 'indexer_logs_processed_total',
      help: 'Transfer logs of watched tokens examined',
      labelNames: chain,
      registers: r,
    }),
    deposits: new client.Counter({
      name: 'indexer_deposits_total',
      help: 'Deposit state changes written',
      labelNames: ['chain_id', 'token', 'status'] as const,
      registers: r,
    }),
    blockProcessingSeconds: new client.Histogram({
      name: 'indexer_block_processing_seconds',
      help: 'Time from fetching a block to committing it',
      labelNames: chain,
      buckets: SECONDS_FAST,
      registers: r,
    }),
    reorgs: new client.Counter({
      name: 'indexer_reorgs_total',
      help: 'Chain reorganisations handled',
      labelNames: chain,
      registers: r,
    }),
    reorgDepth: new client.Histogram({
      name: 'indexer_reorg_depth_blocks',
      help: 'Blocks orphaned per reorganisation',
      labelNames: chain,
      buckets: [1, 2, 3, 5, 8, 13, 21, 34, 64, 128],
      registers: r,
    }),
    deepReorgHalted: new client.Gauge({
      name: 'indexer_deep_reorg_halted',
      help: '1 when a reorg below the finalized block stopped the indexer',
      labelNames: chain,
      registers: r,
    }),
    rpcRequests: new client.Counter({
      name: 'indexer_rpc_requests_total',
      help: 'JSON-RPC requests by method, endpoint host and outcome',
      labelNames: ['method', 'endpoint', 'outcome'] as const,
      registers: r,
    }),
    rpcRequestSeconds: new client.Histogram({
      name: 'indexer_rpc_request_seconds',
      help: 'JSON-RPC request duration',
      labelNames: ['method', 'endpoint', 'outcome'] as const,
      buckets: SECONDS_SLOW,
      registers: r,
    }),
    rpcEndpointUp: new client.Gauge({
      name: 'indexer_rpc_endpoint_up',
      help: '0 while a method of the endpoint failed within the last minute and has not succeeded since',
      labelNames: ['endpoint'] as const,
      registers: r,
    }),

    outboxPending: new client.Gauge({
      name: 'webhook_outbox_pending',
      help: 'Outbox events not yet delivered',
      registers: r,
    }),
    outboxOldestSeconds: new client.Gauge({
      name: 'webhook_outbox_oldest_seconds',
      help: 'Age of the oldest undelivered outbox event',
      registers: r,
    }),
    deadLetters: new client.Gauge({
      name: 'webhook_dead_letters',
      help: 'Outbox events that gave up and wait for a replay',
      registers: r,
    }),
    deliveries: new client.Counter({
      name: 'webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome',
      labelNames: ['outcome'] as const,
      registers: r,
    }),
    deliverySeconds: new client.Histogram({
      name: 'webhook_delivery_seconds',
      help: 'Webhook delivery attempt duration',
      labelNames: ['outcome'] as const,
      buckets: SECONDS_FAST,
      registers: r,
    }),

    httpRequests: new client.Counter({
      name: 'api_http_requests_total',
      help: 'API requests by route pattern, method and status class',
      labelNames: ['route', 'method', 'status_class'] as const,
      registers: r,
    }),
    httpRequestSeconds: new client.Histogram({
      name: 'api_http_request_seconds',
      help: 'API request duration',
      labelNames: ['route', 'method', 'status_class'] as const,
      buckets: SECONDS_FAST,
      registers: r,
    }),
    credits: new client.Counter({
      name: 'api_credits_total',
      help: 'Deposits credited to a ledger',
      labelNames: ['token'] as const,
      registers: r,
    }),
    webhooksRejected: new client.Counter({
      name: 'api_webhooks_rejected_total',
      help: 'Webhook requests refused, by error code',
      labelNames: ['code'] as const,
      registers: r,
    }),
  }
}

export type Metrics = ReturnType<typeof createMetrics>
