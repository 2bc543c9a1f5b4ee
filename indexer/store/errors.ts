import { AppError } from '../../lib/errors.js'

/**
 * The checkpoint moved under us: another indexer wrote this chain, or our
 * own view is stale. Nothing was written; reload and carry on.
 */
export class CheckpointConflictError extends AppError {
  override name = 'CheckpointConflictError'
}
