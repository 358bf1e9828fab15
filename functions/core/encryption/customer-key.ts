/**
 * SSE-C: the customer's key arrives with each request in `x-amz-server-side-encryption-customer-*` headers
 * (or `x-amz-copy-source-server-side-encryption-customer-*` for a copy's source), is validated as S3
 * validates it, used for that request and never stored or logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { errors } from '../errors.js';
import type { RequestContext } from '../request-context.js';

export interface CustomerKey {
  /** The 32-byte key. */
  key: Buffer;
  /** Base64 MD5 of the key, echoed in responses as `...-customer-key-MD5`. */
  keyMd5: string;
}

const PREFIXES = {
  target: 'x-amz-server-side-encryption-customer-',
  source: 'x-amz-copy-source-server-side-encryption-customer-',
} as const;

/**
 * The customer key a request carries for its object (`target`) or for a copy's source (`source`), or
 * undefined when it carries none. Partial or malformed headers, and SSE-C over plain HTTP from anywhere
 * but loopback, are S3's 400s.
 */
export function customerKeyOf(
  headers: Headers,
  ctx: RequestContext,
  which: keyof typeof PREFIXES = 'target',
): CustomerKey | undefined {
  const prefix = PREFIXES[which];
  const algorithm = headers.get(`${prefix}algorithm`);
  const key = headers.get(`${prefix}key`);
  const keyMd5 = headers.get(`${prefix}key-md5`);
  if (algorithm === null && key === null && keyMd5 === null) return undefined;
  if (algorithm === null) throw errors.ssecMissingParameter('a valid encryption algorithm');
  if (algorithm !== 'AES256') throw errors.ssecInvalidAlgorithm(algorithm);
  if (key === null) throw errors.ssecMissingParameter('an appropriate secret key');
  if (keyMd5 === null) throw errors.ssecMissingParameter('the client calculated MD5 of the secret key');
  if (!ctx.secure && !isLoopback(ctx.sourceIp)) throw errors.ssecInsecure();
  const bytes = decodeBase64(key);
  if (bytes?.length !== 32) throw errors.ssecInvalidKey(`${prefix}key`);
  const digest = createHash('md5').update(bytes).digest();
  const given = decodeBase64(keyMd5);
  if (given?.length !== 16 || !timingSafeEqual(given, digest)) {
    bytes.fill(0);
    throw errors.ssecKeyMd5Mismatch(`${prefix}key-md5`);
  }
  return { key: bytes, keyMd5: digest.toString('base64') };
}

/** Strict base64 (what S3 accepts): undefined for anything that does not round-trip. */
function decodeBase64(text: string): Buffer | undefined {
  const trimmed = text.trim();
  const bytes = Buffer.from(trimmed, 'base64');
  return bytes.toString('base64') === trimmed ? bytes : undefined;
}

/** SSE-C over HTTP is refused as S3 does, except from this machine (local development and tests). */
function isLoopback(ip: string | undefined): boolean {
  if (ip === undefined) return false;
  return ip === '::1' || /^(::ffff:)?127\./.test(ip);
}

/** The response headers S3 echoes for an SSE-C object. */
export function customerKeyHeaders(key: CustomerKey): Record<string, string> {
  return {
    'x-amz-server-side-encryption-customer-algorithm': 'AES256',
    'x-amz-server-side-encryption-customer-key-md5': key.keyMd5,
  };
}
