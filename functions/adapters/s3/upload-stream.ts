/**
 * The request body of PutObject and UploadPart: the caller's body as a Node stream of exactly the declared
 * size. The request goes out with that Content-Length, so the SDK never buffers the body (and never retries
 * a streaming request).
 */
import { Readable } from 'node:stream';

import type { Body } from '../../core/backend.js';
import { errors } from '../../core/errors.js';
import { translateSdkError, type ErrorContext } from './sdk-errors.js';

/**
 * Sends a request with `body` as a stream of exactly `size` bytes. If the body fails or yields another length,
 * the request is aborted (S3 then stores nothing) and that failure is what the caller sees; S3's own errors
 * are translated as `context` says. `ended` runs once the body has ended whole; if it throws, that aborts the
 * request too.
 *
 * The last chunk is held back until the body has ended and `ended` has run: once S3 holds all `size` bytes
 * it stores the object whatever the client does next, so a failure at the very end (a trailing checksum
 * that does not match) must come before the last byte is sent. For the same reason an empty body is read
 * to its end before the request goes out.
 * The stream never emits 'error': the SDK does not listen for it, and an unhandled one would crash the process.
 */
export async function sendStreaming<Output>(
  context: ErrorContext,
  body: Body,
  size: number,
  send: (stream: Readable, abortSignal: AbortSignal) => Promise<Output>,
  ended?: () => void,
): Promise<Output> {
  const abort = new AbortController();
  const outcome: { failure?: unknown } = {};
  async function* exactly(): AsyncGenerator<Uint8Array> {
    try {
      let sent = 0;
      let held: Uint8Array | undefined;
      for await (const chunk of body) {
        if (chunk.byteLength === 0) continue;
        sent += chunk.byteLength;
        if (sent > size) throw errors.incompleteBody();
        if (held) yield held;
        held = chunk;
      }
      if (sent !== size) throw errors.incompleteBody();
      ended?.();
      if (held) yield held;
    } catch (error) {
      outcome.failure = error;
      abort.abort();
    }
  }
  if (size === 0) {
    // Nothing to stream, so nothing to hold back: read the body (and run `ended`) first, failing before S3
    // sees a request it would complete at once. The generator yields nothing here: one step runs it out.
    await exactly().next();
    if ('failure' in outcome) throw outcome.failure;
  }
  const stream = Readable.from(size === 0 ? [] : exactly(), { objectMode: false });
  try {
    return await send(stream, abort.signal);
  } catch (error) {
    if ('failure' in outcome) throw outcome.failure;
    throw translateSdkError(error, context);
  } finally {
    stream.destroy(); // releases the caller's body if the request failed before reading all of it
  }
}
