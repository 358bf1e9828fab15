/**
 * What an adapter knows about a request that a Web `Request` cannot carry faithfully. The URL of a Web
 * `Request` is normalised (dot segments resolved, escapes rewritten), but SigV4 signs the path exactly as
 * sent and S3 keys may contain `..`, so the adapter passes the raw path and query through untouched.
 */
export interface RequestContext {
  /** The request path exactly as sent, still percent-encoded (`/bucket/a%20b/../c`). */
  rawPath: string;
  /** The query string exactly as sent, without the `?`. */
  rawQuery: string;
  /** The client's address, when the adapter knows it. */
  sourceIp?: string;
  /** True when the request arrived over TLS. */
  secure: boolean;
}
