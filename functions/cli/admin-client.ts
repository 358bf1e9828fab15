/**
 * The admin API's client (docs/ADMIN_API.md): JSON requests to `/_sealgate/admin/...` on the gateway's
 * own endpoint, signed with SigV4 (service `s3`, as S3 clients sign) by an admin credential taken from the
 * usual AWS environment variables. Answers are JSON; an error answer becomes an {@link AdminApiError}
 * carrying its message and problems, and a failed connection a {@link CliError} naming the endpoint.
 */
import { SignatureV4 } from '@smithy/signature-v4';
import { createHash } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { formatProblem, type ConfigProblem } from '../core/config/problems.js';
import { NodeSha256 } from './node-sha256.js';
import { CliError, EXIT_FAILURE } from './output.js';

/** The admin API's routes live under this path on the gateway's endpoint. */
export const ADMIN_PREFIX = '/_sealgate/admin/';

/** An error answer of the admin API: `{"error": {"code", "message", ...}}` with its HTTP status. */
export class AdminApiError extends CliError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The whole `error` object as answered (problems, versions, request id). */
    readonly body: Record<string, unknown>,
  ) {
    // A refused config's message repeats its errors; the problems, warnings too, follow it one per line.
    super(
      problemsOf(body.problems).length > 0 ? message.split('\n', 1)[0] : message,
      EXIT_FAILURE,
      errorDetails(body),
    );
    this.name = 'AdminApiError';
  }

  get problems(): ConfigProblem[] {
    return problemsOf(this.body.problems);
  }
}

/** The lines printed under an error's message: its problems, a conflict's versions, a request id. */
function errorDetails(body: Record<string, unknown>): string[] {
  const details = problemsOf(body.problems).map(formatProblem);
  if (typeof body.base_version === 'number' && typeof body.current_version === 'number') {
    details.push(`base version ${body.base_version}, current version ${body.current_version}`);
  }
  if (typeof body.request_id === 'string') details.push(`request id: ${body.request_id}`);
  return details;
}

/** The problems in an answer, keeping only well-formed ones. */
export function problemsOf(value: unknown): ConfigProblem[] {
  if (!Array.isArray(value)) return [];
  return value.filter(
    (p): p is ConfigProblem =>
      p !== null &&
      typeof p === 'object' &&
      ((p as ConfigProblem).severity === 'error' || (p as ConfigProblem).severity === 'warning') &&
      typeof (p as ConfigProblem).path === 'string' &&
      typeof (p as ConfigProblem).message === 'string',
  );
}

export interface AdminCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface AdminClientOptions {
  endpoint: URL;
  credentials: AdminCredentials;
  region: string;
  /** PEM certificates to trust for HTTPS instead of the default roots (a private CA). */
  ca?: Buffer;
  timeoutMs?: number;
}

/** Answers larger than this are refused: the admin API's answers are small documents. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

const DEFAULT_TIMEOUT_MS = 30_000;

/** TLS verification failures, for which the hint is `--ca-bundle`. */
const TLS_TRUST_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_UNTRUSTED',
]);

export class AdminClient {
  private readonly signer: SignatureV4;
  private readonly agent: HttpAgent | HttpsAgent;

  constructor(private readonly options: AdminClientOptions) {
    this.signer = new SignatureV4({
      credentials: options.credentials,
      region: options.region,
      service: 's3',
      sha256: NodeSha256,
      // S3 signs the path as sent (already percent-encoded once), never encoded again.
      uriEscapePath: false,
    });
    // Keep-alive off: the CLI makes one or two requests and must not be held open by idle sockets.
    this.agent =
      options.endpoint.protocol === 'https:'
        ? new HttpsAgent({ keepAlive: false, ...(options.ca && { ca: options.ca }) })
        : new HttpAgent({ keepAlive: false });
  }

  /** The endpoint as the operator gave it, for messages. */
  get endpoint(): string {
    return this.options.endpoint.origin;
  }

  /** GET `/_sealgate/admin/<route>`; `route` is already percent-encoded. */
  get<T>(route: string, query: Record<string, string> = {}): Promise<T> {
    return this.send<T>('GET', route, query, undefined);
  }

  /**
   * POST a JSON body to `/_sealgate/admin/<route>`. `accept` lists error statuses whose JSON body is an
   * answer rather than an error (a re-encrypt start that started nothing: 409 with every refusal).
   */
  post<T>(route: string, body: unknown, accept: number[] = []): Promise<T> {
    return this.send<T>('POST', route, {}, Buffer.from(JSON.stringify(body), 'utf8'), accept);
  }

  private async send<T>(
    method: string,
    route: string,
    query: Record<string, string>,
    body: Buffer | undefined,
    accept: number[] = [],
  ): Promise<T> {
    const url = this.options.endpoint;
    const path = `${url.pathname.replace(/\/+$/, '')}${ADMIN_PREFIX}${route}`;
    const payload = body ?? Buffer.alloc(0);
    const headers: Record<string, string> = {
      host: url.host,
      accept: 'application/json',
      'x-amz-content-sha256': createHash('sha256').update(payload).digest('hex'),
    };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(body.length);
    }
    const signed = await this.signer.sign({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port === '' ? undefined : Number(url.port),
      path,
      query,
      headers,
    });
    const search = Object.entries(query)
      .map(([name, value]) => `${rfc3986(name)}=${rfc3986(value)}`)
      .join('&');
    const answer = await this.exchange(method, path + (search ? `?${search}` : ''), signed.headers, body);
    return this.interpret<T>(answer, accept);
  }

  private exchange(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: Buffer | undefined,
  ): Promise<{ status: number; contentType: string; body: Buffer }> {
    const url = this.options.endpoint;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const outgoing = send(
        {
          hostname: url.hostname.replace(/^\[|\]$/g, ''),
          port: url.port === '' ? undefined : Number(url.port),
          method,
          path,
          headers,
          agent: this.agent,
          timeout: timeoutMs,
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_ANSWER_BYTES) {
              res.destroy();
              reject(
                new CliError(
                  `the gateway at ${this.endpoint} sent an answer larger than ${MAX_ANSWER_BYTES} bytes`,
                ),
              );
              return;
            }
            chunks.push(chunk);
          });
          res.on('error', (error) => reject(this.connectionError(error)));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              contentType: String(res.headers['content-type'] ?? ''),
              body: Buffer.concat(chunks),
            }),
          );
        },
      );
      outgoing.on('timeout', () => {
        outgoing.destroy(new Error(`no answer within ${timeoutMs / 1000} s`));
      });
      outgoing.on('error', (error) => reject(this.connectionError(error)));
      outgoing.end(body);
    });
  }

  private connectionError(error: Error): CliError {
    const code = (error as NodeJS.ErrnoException).code;
    const hint =
      code !== undefined && TLS_TRUST_ERRORS.has(code)
        ? ['the certificate is not trusted: for a private CA, pass --ca-bundle FILE or set AWS_CA_BUNDLE']
        : [];
    return new CliError(`cannot reach the gateway at ${this.endpoint}: ${error.message}`, EXIT_FAILURE, hint);
  }

  private interpret<T>(answer: { status: number; contentType: string; body: Buffer }, accept: number[]): T {
    const text = answer.body.toString('utf8');
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const ok = answer.status >= 200 && answer.status < 300;
    if (ok && parsed !== undefined) return parsed as T;
    const error =
      parsed !== null && typeof parsed === 'object' ? (parsed as { error?: unknown }).error : undefined;
    if (accept.includes(answer.status) && parsed !== null && typeof parsed === 'object' && !error) {
      return parsed as T;
    }
    if (!ok && error !== null && typeof error === 'object') {
      const fields = error as Record<string, unknown>;
      const code = typeof fields.code === 'string' ? fields.code : `HTTP${answer.status}`;
      const message = typeof fields.message === 'string' ? fields.message : `the gateway answered ${code}`;
      throw new AdminApiError(answer.status, code, message, fields);
    }
    // Not the admin API's JSON: an S3 error document (an older gateway, or not a Sealgate endpoint).
    const s3Code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
    const s3Message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
    const what = s3Code ? `${s3Code}${s3Message ? `: ${s3Message}` : ''}` : 'a body that is not JSON';
    throw new CliError(
      `the gateway at ${this.endpoint} answered HTTP ${answer.status} with ${what}`,
      EXIT_FAILURE,
      ok ? [] : ['is this a Sealgate gateway with the admin API, and the credential an admin one?'],
    );
  }
}

/** Percent-encodes each `/`-separated segment of an object key (RFC 3986 unreserved characters kept). */
export function encodeKeyPath(key: string): string {
  return key.split('/').map(rfc3986).join('/');
}

/** RFC 3986 encoding, as SigV4 canonicalises paths and query parameters. */
function rfc3986(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}
