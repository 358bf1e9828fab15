/** GetObject's response body as the core's {@link Body}. */
import type { GetObjectCommandOutput } from '@aws-sdk/client-s3';

import type { Body } from '../../core/backend.js';

/** The response stream itself, never buffered (in Node the SDK returns an IncomingMessage, an async iterable). */
export function responseBody(out: GetObjectCommandOutput): Body {
  const body = out.Body as unknown;
  if (body === undefined) return emptyBody();
  if (typeof (body as Partial<AsyncIterable<Uint8Array>>)[Symbol.asyncIterator] === 'function') {
    return body as AsyncIterable<Uint8Array>;
  }
  throw new Error('the S3 response body is not a stream');
}

/** Drops a response whose body will not be read, so its connection is not held open until the stream times out. */
export function destroyBody(out: GetObjectCommandOutput): void {
  (out.Body as { destroy?: () => void } | undefined)?.destroy?.();
}

/** A body of no bytes. */
export async function* emptyBody(): AsyncGenerator<Uint8Array> {}
