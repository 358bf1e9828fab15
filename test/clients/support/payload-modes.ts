import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/**
 * How a request's body was signed, as the gateway saw it: the value of `x-amz-content-sha256` with a
 * real hash shown as `<sha256>`, `<none>` when the header is absent (SigV2 and presigned requests), then
 * `+aws-chunked` when the body is aws-chunked, `+trailer:<name>` for a trailing checksum, and
 * `+header:<name>` for each whole-body checksum header (Content-MD5, x-amz-checksum-*).
 */
export type PayloadMode = string;

export interface PayloadObservation {
  method: string;
  /** The S3 operation, guessed from the method, path and query (enough to tell uploads apart). */
  operation: string;
  mode: PayloadMode;
  /**
   * The SSE-C customer keys the request carried: `target` for `x-amz-server-side-encryption-customer-key`
   * (the object's), `copy-source` for `x-amz-copy-source-server-side-encryption-customer-key`.
   */
  customerKeys: ('target' | 'copy-source')[];
}

/**
 * Records the payload mode (and the SSE-C keys) of every request a gateway on `port` receives, through
 * Node's `http.server.request.start` diagnostics channel (published by HTTP and HTTPS servers alike,
 * before the request reaches the gateway), so nothing in the gateway is changed or wrapped for the test.
 */
export function recordPayloadModes(port: number): {
  observations(): PayloadObservation[];
  stop(): void;
} {
  const seen: PayloadObservation[] = [];
  const onRequest = (message: unknown) => {
    const { request, socket } = message as { request: IncomingMessage; socket: Socket };
    if (socket.localPort !== port) return;
    seen.push({
      method: request.method ?? '',
      operation: operationOf(request),
      mode: payloadMode(request),
      customerKeys: [
        ...(request.headers['x-amz-server-side-encryption-customer-key'] === undefined
          ? []
          : ['target' as const]),
        ...(request.headers['x-amz-copy-source-server-side-encryption-customer-key'] === undefined
          ? []
          : ['copy-source' as const]),
      ],
    });
  };
  subscribe('http.server.request.start', onRequest);
  return {
    observations: () => [...seen],
    stop: () => void unsubscribe('http.server.request.start', onRequest),
  };
}

/** The object uploads among `observations`: PutObject and UploadPart, the requests with a real body. */
export function uploadModes(observations: PayloadObservation[]): PayloadMode[] {
  const uploads = observations.filter((o) => o.operation === 'PutObject' || o.operation === 'UploadPart');
  return [...new Set(uploads.map((o) => o.mode))].sort();
}

/** Every operation with the set of modes it was sent with, for reading in a failed assertion or a log. */
export function modesByOperation(observations: PayloadObservation[]): Record<string, PayloadMode[]> {
  const byOperation = new Map<string, Set<PayloadMode>>();
  for (const { operation, mode } of observations) {
    const modes = byOperation.get(operation) ?? new Set<PayloadMode>();
    modes.add(mode);
    byOperation.set(operation, modes);
  }
  return Object.fromEntries(
    [...byOperation].sort().map(([operation, modes]) => [operation, [...modes].sort()]),
  );
}

/** The headers that carry a checksum of the whole body, which the gateway must check too. */
const CHECKSUM_HEADER = /^(content-md5|x-amz-checksum-(crc32|crc32c|crc64nvme|sha1|sha256))$/;

function payloadMode(request: IncomingMessage): PayloadMode {
  const header = headerValue(request, 'x-amz-content-sha256');
  let mode = header === undefined ? '<none>' : /^[0-9a-f]{64}$/i.test(header) ? '<sha256>' : header;
  const encoding = headerValue(request, 'content-encoding') ?? '';
  if (encoding.split(',').some((part) => part.trim().toLowerCase() === 'aws-chunked')) mode += '+aws-chunked';
  const trailer = headerValue(request, 'x-amz-trailer');
  if (trailer !== undefined) mode += `+trailer:${trailer.toLowerCase()}`;
  const checksums = Object.keys(request.headers).filter((name) => CHECKSUM_HEADER.test(name));
  for (const name of checksums.sort()) mode += `+header:${name}`;
  return mode;
}

/** A header's value, repeated ones joined with commas as HTTP allows. */
function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function operationOf(request: IncomingMessage): string {
  const url = new URL(request.url ?? '/', 'http://gateway.invalid');
  const query = url.searchParams;
  // Path-style addressing: `/<bucket>` or `/<bucket>/<key>`.
  const hasKey = /^\/[^/]+\/./.test(url.pathname);
  const hasBucket = url.pathname !== '/';
  switch (request.method) {
    case 'PUT':
      if (!hasKey) return hasBucket ? 'CreateBucket' : 'PUT /';
      if (query.has('uploadId') && query.has('partNumber')) return 'UploadPart';
      return request.headers['x-amz-copy-source'] === undefined ? 'PutObject' : 'CopyObject';
    case 'POST':
      if (query.has('uploads')) return 'CreateMultipartUpload';
      if (query.has('uploadId')) return 'CompleteMultipartUpload';
      if (query.has('delete')) return 'DeleteObjects';
      return 'POST';
    case 'GET':
      if (!hasBucket) return 'ListBuckets';
      if (hasKey) return 'GetObject';
      return query.has('location') ? 'GetBucketLocation' : 'ListObjects';
    case 'HEAD':
      return hasKey ? 'HeadObject' : 'HeadBucket';
    case 'DELETE':
      if (!hasKey) return 'DeleteBucket';
      return query.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
    default:
      return request.method ?? 'unknown';
  }
}
