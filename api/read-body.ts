import { ApiError } from './errors.js'

const tooLarge = (limit: number) =>
  new ApiError(
    413,
    'payload_too_large',
    `The body exceeds the limit of ${limit} bytes.`,
  )

/** A client that hangs up mid-body gets the answer nobody will read. */
const unread = (cause: unknown): never => {
  throw new ApiError(400, 'invalid_payload', 'The body could not be read.', {
    cause,
  })
}

/**
 * Reads the raw body, refusing more than `limit` bytes. A declared
 * Content-Length is checked before anything is read; a body without one
 * (chunked) is counted as it streams and dropped once it passes the limit,
 * so an oversize upload is never held in memory.
 */
export async function readBody(
  request: Request,
  limit: number,
): Promise<Uint8Array> {
  const declared = request.headers.get('content-length')
  if (declared !== null) {
    if (!/^[0-9]{1,15}$/.test(declared) || Number(declared) > limit) {
      throw tooLarge(limit)
    }
    // The HTTP parser frames the body by Content-Length, so this read is
    // bounded; the length is checked again for in-process requests.
    const body = new Uint8Array(await request.arrayBuffer().catch(unread))
    if (body.byteLength > limit) throw tooLarge(limit)
    return body
  }
  return readCounted(request, limit)
}

async function readCounted(
  request: Request,
  limit: number,
): Promise<Uint8Array> {
  if (!request.body) return new Uint8Array(0)
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  while (true) {
    const { done, value } = await reader.read().catch(unread)
    if (done) break
    total += value.byteLength
    if (total > limit) {
      await reader.cancel().catch(() => {})
      throw tooLarge(limit)
    }
    chunks.push(value)
  }
  return concat(chunks, total)
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1 && chunks[0]) return chunks[0]
  const out = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}

const decoder = new TextDecoder()

/** Parses a JSON body, or refuses it as `invalid_payload`. */
export async function readJson(
  request: Request,
  limit: number,
): Promise<unknown> {
  const body = await readBody(request, limit)
  return parseJson(decoder.decode(body))
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    throw new ApiError(400, 'invalid_payload', 'The body is not valid JSON.')
  }
}
