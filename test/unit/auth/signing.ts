// Test helpers: a real SigV4 signer (@smithy/signature-v4, the one AWS SDK v3 uses) and the glue that turns
// what it signs into the Web Request + RequestContext the gateway sees.
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { StaticCredentialStore, type Credential } from '../../../functions/core/auth/credentials.js';
import type { RequestContext } from '../../../functions/core/request-context.js';

/** The example credentials of AWS's SigV4 documentation. */
export const AWS_EXAMPLE_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
export const AWS_EXAMPLE_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

export const credential: Credential = {
  accessKeyId: AWS_EXAMPLE_KEY_ID,
  secretAccessKey: AWS_EXAMPLE_SECRET,
  admin: false,
  grants: [{ bucket: '*', access: ['read', 'write'] }],
};
export const store = new StaticCredentialStore([credential]);

/** node:crypto in the shape @smithy/signature-v4 wants (hash, or HMAC when constructed with a key). */
class NodeSha256 {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: string | Uint8Array | ArrayBuffer | ArrayBufferView) {
    this.hash = this.fresh();
  }
  update(data: string | Uint8Array): void {
    this.hash.update(data);
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
  reset(): void {
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    if (this.secret === undefined) return createHash('sha256');
    const key =
      typeof this.secret === 'string'
        ? this.secret
        : this.secret instanceof ArrayBuffer
          ? new Uint8Array(this.secret)
          : new Uint8Array(this.secret.buffer, this.secret.byteOffset, this.secret.byteLength);
    return createHmac('sha256', key);
  }
}

/** A signer configured as the S3 client configures it: no path escaping, no automatic payload hash. */
export function smithySigner(
  secretAccessKey = AWS_EXAMPLE_SECRET,
  accessKeyId = AWS_EXAMPLE_KEY_ID,
): SignatureV4 {
  return new SignatureV4({
    service: 's3',
    region: 'us-east-1',
    credentials: { accessKeyId, secretAccessKey },
    sha256: NodeSha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
}

/** The request as a signer sees it (the shape of smithy's HttpRequest). */
export interface SignableRequest {
  method: string;
  protocol: string;
  hostname: string;
  port?: number;
  path: string;
  query: Record<string, string | string[] | null>;
  headers: Record<string, string>;
}

/** encodeURIComponent plus the characters it leaves alone but RFC 3986 reserves (the SDKs' escaping). */
export function escapeUri(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** The path an S3 client sends for a key: every segment escaped, the slashes kept. */
export function s3Path(bucket: string, key: string): string {
  return `/${bucket}/${key.split('/').map(escapeUri).join('/')}`;
}

/** The query string as the SDK serialises it. */
export function rawQueryOf(query: SignableRequest['query']): string {
  const parts: string[] = [];
  for (const name of Object.keys(query).sort()) {
    const value = query[name];
    if (Array.isArray(value)) for (const v of value) parts.push(`${escapeUri(name)}=${escapeUri(v)}`);
    else
      parts.push(
        value === null || value === undefined ? escapeUri(name) : `${escapeUri(name)}=${escapeUri(value)}`,
      );
  }
  return parts.join('&');
}

/** What the gateway would receive for a signed request: a Web Request and the raw path and query. */
export function received(
  signed: SignableRequest,
  override: { rawPath?: string; rawQuery?: string } = {},
): { request: Request; ctx: RequestContext } {
  const rawPath = override.rawPath ?? signed.path;
  const rawQuery = override.rawQuery ?? rawQueryOf(signed.query);
  const port = signed.port === undefined ? '' : `:${signed.port}`;
  const url = `${signed.protocol}//${signed.hostname}${port}${rawPath}${rawQuery ? `?${rawQuery}` : ''}`;
  return {
    request: new Request(url, { method: signed.method, headers: signed.headers }),
    ctx: { rawPath, rawQuery, secure: false },
  };
}

/** A request head for the gateway at localhost:9000. */
export function unsigned(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  query: SignableRequest['query'] = {},
): SignableRequest {
  return {
    method,
    protocol: 'http:',
    hostname: 'localhost',
    port: 9000,
    path,
    query,
    headers: { host: 'localhost:9000', ...headers },
  };
}
