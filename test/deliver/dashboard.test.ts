import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { createMetrics } from '../../lib/metrics.js'

interface Panel {
  id?: number
  type: string
  title?: string
  datasource?: { uid?: string }
  targets?: { expr?: string }[]
  panels?: Panel[]
}

interface Dashboard {
  __inputs: { name: string; pluginId: string }[]
  schemaVersion: number
  panels: Panel[]
  templating: { list: { query?: string | { query?: string } }[] }
}

const dashboard = JSON.parse(
  readFileSync(
    new URL('../../grafana/dashboard.json', import.meta.url),
    'utf8',
  ),
) as Dashboard

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])])
}

/** Grafana's placeholder for the data source picked at import. */
const DS_INPUT = '$' + '{DS_PROMETHEUS}'

const PROMQL_WORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'inf',
  'nan',
])

/**
 * The metric names a PromQL expression selects: what is left once strings,
 * label matchers, ranges, grouping clauses and function calls are removed.
 */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(
      /\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g,
      ' ',
    )
  const names: string[] = []
  for (const match of bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const after = bare.slice((match.index ?? 0) + match[0].length)
    if (/^\s*\(/.test(after)) continue // a function
    if (PROMQL_WORDS.has(match[0].toLowerCase())) continue
    names.push(match[0])
  }
  return names
}

function dashboardMetricNames(): Set<string> {
  const exprs = allPanels(dashboard.panels).flatMap((p) =>
    (p.targets ?? []).map((t) => t.expr ?? ''),
  )
  const names = new Set(exprs.flatMap(metricNames))
  for (const variable of dashboard.templating.list) {
    const q = variable.query
    const text = typeof q === 'string' ? q : (q?.query ?? '')
    const metric = /label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*,/.exec(text)
    if (metric?.[1]) names.add(metric[1])
  }
  return names
}

async function registryNames(): Promise<Set<string>> {
  const { registry } = createMetrics()
  const names = new Set<string>()
  for (const metric of await registry.getMetricsAsJSON()) {
    names.add(metric.name)
    if (String(metric.type) === 'histogram') {
      for (const suffix of ['_bucket', '_sum', '_count']) {
        names.add(`${metric.name}${suffix}`)
      }
    }
  }
  return names
}

describe('grafana dashboard', () => {
  it('behavior: reads the names out of PromQL', () => {
    expect(
      metricNames(
        'histogram_quantile(0.95, sum by (le, route) ' +
          '(rate(api_http_request_seconds_bucket{route=~"a|b"}[$__rate_interval])))',
      ),
    ).toEqual(['api_http_request_seconds_bucket'])
    expect(metricNames('rate(a_sum[1h]) / on (x) rate(a_count[1h])')).toEqual([
      'a_sum',
      'a_count',
    ])
  })

  it('behavior: every metric it queries exists in the registry', async () => {
    const known = await registryNames()
    const used = dashboardMetricNames()
    expect(used.size).toBeGreaterThan(20)
    expect([...used].filter((name) => !known.has(name))).toEqual([])
  })

  it('behavior: shows the metrics DESIGN.md names', () => {
    const used = dashboardMetricNames()
    const histograms = [
      'indexer_block_processing_seconds',
      'indexer_rpc_request_seconds',
      'webhook_delivery_seconds',
      'api_http_request_seconds',
    ]
    const plain = [
      'indexer_lag_blocks',
      'indexer_head_block',
      'indexer_checkpoint_block',
      'indexer_finalized_block',
      'indexer_blocks_processed_total',
      'indexer_logs_processed_total',
      'indexer_deposits_total',
      'indexer_reorgs_total',
      'indexer_deep_reorg_halted',
      'indexer_finality_fallback',
      'indexer_rpc_requests_total',
      'indexer_rpc_endpoint_up',
      'webhook_outbox_pending',
      'webhook_outbox_oldest_seconds',
      'webhook_dead_letters',
      'webhook_deliveries_total',
      'api_http_requests_total',
      'api_credits_total',
      'api_webhooks_rejected_total',
    ]
    const missing = [
      ...plain.filter((name) => !used.has(name)),
      ...histograms.filter((name) => !used.has(`${name}_bucket`)),
      ...(used.has('indexer_reorg_depth_blocks_bucket')
        ? []
        : ['indexer_reorg_depth_blocks']),
    ]
    expect(missing).toEqual([])
  })

  it('behavior: imports with the datasource as an input', () => {
    expect(dashboard.schemaVersion).toBe(39)
    expect(dashboard.__inputs).toContainEqual(
      expect.objectContaining({
        name: 'DS_PROMETHEUS',
        pluginId: 'prometheus',
      }),
    )
    const panels = allPanels(dashboard.panels).filter((p) => p.type !== 'row')
    for (const panel of panels) {
      expect(panel.datasource?.uid, panel.title).toBe(DS_INPUT)
    }
    const ids = allPanels(dashboard.panels).map((p) => p.id)
    expect(new Set(ids).size).toBe(ids.length)
  })
})
