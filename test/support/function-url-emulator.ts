/**
 * A local stand-in for a Lambda function URL in RESPONSE_STREAM mode, for tests and benchmarks. It serves
 * HTTP on a free loopback port and invokes the REAL handler module the way Lambda does:
 *
 * - each request becomes a payload format 2.0 event (raw path and query kept percent-encoded, lower-cased
 *   headers with repeated values joined by commas, cookies split out, the body base64-encoded unless it is
 *   UTF-8 text);
 * - an event whose JSON is 6 MiB or more is refused with the function URL's own 413, before any invocation
 *   (so base64 growth counts against the cap);
 * - the handler runs in a "container": a fresh import of the module with the function's environment set,
 *   serving one invocation at a time; concurrent requests start more containers (cold starts), so state
 *   kept between requests in module scope shows up as a bug;
 * - `globalThis.awslambda` provides `streamifyResponse` and `HttpResponseStream.from` with the runtime's
 *   behaviour: the JSON prelude and an 8-byte NUL separator are written before the first `write()`, and
 *   `end()` without a write never sends them (the status and headers are then lost: a bare 200, or a 502
 *   when `end(chunk)` sent body bytes without a prelude);
 * - the streamed response is written back chunked; a handler that fails after the status went out breaks
 *   the connection, one that fails before gets a 502; a body above 200 MB is cut off.
 *
 * Not emulated: the 2 MB/s throttle after the first 6 MB, the 15-minute timeout, TLS.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { S3Client } from '@aws-sdk/client-s3';
import { parse as parseYaml } from 'yaml';
import type {
  AwsLambdaStreamingGlobals,
  HttpResponseMetadata,
  LambdaContext,
  LambdaResponseStream,
  StreamingHandler,
} from '../../functions/adapters/awslambda.js';
import type { FunctionUrlEvent } from '../../functions/adapters/function-url.js';
import { interpolateTree } from '../../functions/core/config/interpolate.js';
import { parseConfig } from '../../functions/core/config/schema.js';
import {
  TEST_CREDENTIALS,
  testConfigYaml,
  watchForLeaks,
  type TestGateway,
  type TestGatewayOptions,
} from './gateway.js';
import { registerConfigSecrets } from './leak-scan.js';

/** The invoke payload cap: the function URL refuses an event of this many bytes (JSON) or more. */
export const EVENT_LIMIT_BYTES = 6 * 1024 * 1024;
/** The most a streamed response may carry. */
export const STREAMED_RESPONSE_LIMIT_BYTES = 200 * 1024 * 1024;
/** What the function URL answers a request too large for the invoke payload (the function never runs). */
export const PAYLOAD_TOO_LARGE_MESSAGE = `Request must be smaller than ${EVENT_LIMIT_BYTES} bytes for the InvokeFunction operation`;
/** That answer's status, `x-amzn-ErrorType` and JSON body, as docs/DEPLOY.md shows them: not an S3 error document. */
export const PAYLOAD_TOO_LARGE_STATUS = 413;
export const PAYLOAD_TOO_LARGE_ERROR_TYPE = 'RequestEntityTooLargeException';
export const PAYLOAD_TOO_LARGE_BODY = JSON.stringify({ Message: PAYLOAD_TOO_LARGE_MESSAGE });

const PRELUDE_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
const SEPARATOR = Buffer.alloc(8);
const STREAMIFIED = Symbol.for('sealgate.emulator.streamified');
const DEFAULT_HANDLER = resolve(import.meta.dirname, '../../functions/handlers/lambda.ts');

export interface FunctionUrlEmulatorOptions {
  /** The function's environment variables, set while a container initialises. */
  environment: Record<string, string>;
  /** The handler module (default: functions/handlers/lambda.ts) and its export (default: `handler`). */
  handlerModule?: string;
  handlerExport?: string;
  /** A handler to use instead of importing a module (adapter tests with a stand-in gateway). */
  handler?: StreamingHandler<FunctionUrlEvent>;
  /**
   * What the function URL does with a `Content-Length` in the prelude. `remapped` (default) is what AWS is
   * reported to do with streamed responses: rename it to `x-amzn-Remapped-Content-Length` and send the body
   * chunked. `kept` passes it through.
   */
  contentLength?: 'remapped' | 'kept';
}

export interface Invocation {
  event: FunctionUrlEvent;
  /** Which container served it (1, 2, ...). */
  container: number;
  /** True when the container was started for this invocation. */
  coldStart: boolean;
}

export interface FunctionUrlEmulator {
  /** `http://127.0.0.1:PORT`, for a client's endpoint. */
  endpoint: string;
  /** Every invocation so far, oldest first (oversize requests never invoke). */
  invocations: Invocation[];
  /** How long each container took to import the handler module (its cold init), in milliseconds. */
  initDurations: number[];
  close(): Promise<void>;
}

interface Container {
  id: number;
  handler: StreamingHandler<FunctionUrlEvent>;
  busy: boolean;
}

// ---- the runtime's streaming globals ---------------------------------------------------------------

/** A response stream as the Node.js runtime builds it: `_onBeforeFirstWrite` runs on the first `write()` only. */
class EmulatedResponseStream extends Writable {
  contentType = 'application/octet-stream';
  _onBeforeFirstWrite?: (write: (chunk: string | Uint8Array) => void) => void;
  private writeCalled = false;

  constructor(sink: (chunk: Buffer, done: (error?: Error | null) => void) => void) {
    super({
      write(chunk: Buffer, _encoding, callback) {
        sink(chunk, callback);
      },
    });
    const originalWrite = this.write.bind(this) as (chunk: unknown, ...rest: unknown[]) => boolean;
    // Like the runtime, only `write` is hooked: `end(chunk)` reaches the sink without the prelude.
    this.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (!this.writeCalled && this._onBeforeFirstWrite) this._onBeforeFirstWrite((c) => originalWrite(c));
      this.writeCalled = true;
      return originalWrite(chunk, ...rest);
    }) as Writable['write'];
  }

  setContentType(contentType: string): void {
    if (this.writeCalled) throw new Error('Cannot set content-type, too late.');
    this.contentType = contentType;
  }
}

const emulatedGlobals: AwsLambdaStreamingGlobals = {
  streamifyResponse(handler) {
    return Object.assign(handler, { [STREAMIFIED]: true });
  },
  HttpResponseStream: {
    from(stream: LambdaResponseStream, metadata: HttpResponseMetadata) {
      stream.setContentType(PRELUDE_CONTENT_TYPE);
      const prelude = JSON.stringify(metadata);
      (stream as EmulatedResponseStream)._onBeforeFirstWrite = (write) => {
        write(prelude);
        write(new Uint8Array(SEPARATOR.length));
      };
      return stream;
    },
  },
};

/**
 * Installs the emulated streaming globals (once per process). The AWS SDK creates an empty `awslambda`
 * object of its own (for its invoke store), so the functions are added to whatever object is there.
 */
export function installAwsLambdaGlobals(): void {
  const existing = globalThis.awslambda as Partial<AwsLambdaStreamingGlobals> | undefined;
  if (existing === undefined) globalThis.awslambda = { ...emulatedGlobals };
  else if (typeof existing.streamifyResponse !== 'function') Object.assign(existing, emulatedGlobals);
}

/** A stream that records what a handler writes, as Lambda would receive it (prelude included). */
export function recordingResponseStream(): {
  stream: LambdaResponseStream;
  bytes(): Buffer;
  contentType(): string;
} {
  const chunks: Buffer[] = [];
  const stream = new EmulatedResponseStream((chunk, done) => {
    chunks.push(chunk);
    done();
  });
  return { stream, bytes: () => Buffer.concat(chunks), contentType: () => stream.contentType };
}

function checkStreamified(handler: unknown): StreamingHandler<FunctionUrlEvent> {
  if (typeof handler !== 'function' || !(STREAMIFIED in handler)) {
    throw new Error(
      'the handler is not wrapped in awslambda.streamifyResponse, so it cannot serve RESPONSE_STREAM',
    );
  }
  return handler as unknown as StreamingHandler<FunctionUrlEvent>;
}

// ---- containers ---------------------------------------------------------------------------------------

let importQueue: Promise<unknown> = Promise.resolve();
let containerSerial = 0;

/**
 * Imports a fresh instance of the handler module with `environment` in `process.env` for the duration of
 * its init (module scope), one import at a time so two cold starts never see each other's environment.
 */
function coldStart(
  options: FunctionUrlEmulatorOptions,
): Promise<{ handler: StreamingHandler<FunctionUrlEvent>; ms: number }> {
  const given = options.handler;
  if (given !== undefined) return Promise.resolve({ handler: checkStreamified(given), ms: 0 });
  const run = async () => {
    const saved = new Map(Object.keys(options.environment).map((k) => [k, process.env[k]]));
    Object.assign(process.env, options.environment);
    const started = performance.now();
    try {
      const url = `${pathToFileURL(options.handlerModule ?? DEFAULT_HANDLER).href}?container=${++containerSerial}`;
      const module = (await import(url)) as Record<string, unknown>;
      const handler = checkStreamified(module[options.handlerExport ?? 'handler']);
      return { handler, ms: performance.now() - started };
    } finally {
      for (const [k, v] of saved) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  };
  const result = importQueue.then(run, run);
  importQueue = result.catch(() => undefined);
  return result;
}

// ---- the function URL front end ------------------------------------------------------------------------

const TEXT_TYPE = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded)|[^;]*\+(json|xml))/i;

/** Lambda sends a body as text when it is textual and valid UTF-8, and base64 otherwise. */
function encodeBody(
  body: Buffer,
  headers: Record<string, string>,
): { body?: string; isBase64Encoded: boolean } {
  if (body.length === 0) return { isBase64Encoded: false };
  if (TEXT_TYPE.test(headers['content-type'] ?? '') && headers['content-encoding'] === undefined) {
    try {
      return { body: new TextDecoder('utf-8', { fatal: true }).decode(body), isBase64Encoded: false };
    } catch {
      // not UTF-8: fall through to base64
    }
  }
  return { body: body.toString('base64'), isBase64Encoded: true };
}

function decodedQuery(raw: string): Record<string, string> | undefined {
  if (raw === '') return undefined;
  const params: Record<string, string> = {};
  for (const pair of raw.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const decode = (s: string) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    };
    const name = decode(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : decode(pair.slice(eq + 1));
    params[name] = name in params ? `${params[name]},${value}` : value;
  }
  return params;
}

/** Node reads header bytes as latin1; the event carries them as UTF-8 text (where they are valid UTF-8). */
function utf8Text(latin1: string): string {
  if (!/[^\x00-\x7f]/.test(latin1)) return latin1;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(latin1, 'latin1'));
  } catch {
    return latin1;
  }
}

/** The prelude's header values are text; they go on the wire as UTF-8 (Node writes header strings as latin1). */
function utf8Bytes(text: string): string {
  return /[^\x00-\x7f]/.test(text) ? Buffer.from(text, 'utf8').toString('latin1') : text;
}

/** Builds the payload format 2.0 event for a request, as a function URL does. */
export function buildEvent(req: IncomingMessage, body: Buffer, requestId: string): FunctionUrlEvent {
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  const rawQueryString = q < 0 ? '' : target.slice(q + 1);
  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i].toLowerCase();
    const value = utf8Text(req.rawHeaders[i + 1]);
    if (name === 'connection' || name === 'keep-alive') continue;
    if (name === 'cookie') {
      cookies = [...(cookies ?? []), ...value.split(/;\s*/).filter((c) => c !== '')];
      continue;
    }
    headers[name] = name in headers ? `${headers[name]},${value}` : value;
  }
  const sourceIp = req.socket.remoteAddress ?? '127.0.0.1';
  headers['x-forwarded-for'] = sourceIp;
  headers['x-forwarded-proto'] = 'http';
  headers['x-forwarded-port'] = String(req.socket.localPort ?? 80);
  headers['x-amzn-trace-id'] =
    `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomUUID().replace(/-/g, '').slice(0, 24)}`;
  const now = new Date();
  const requestContext = {
    accountId: 'anonymous',
    apiId: 'emulated',
    domainName: headers.host ?? '127.0.0.1',
    domainPrefix: 'emulated',
    http: {
      method: req.method ?? 'GET',
      path: rawPath,
      protocol: `HTTP/${req.httpVersion}`,
      sourceIp,
      userAgent: headers['user-agent'] ?? '',
    },
    requestId,
    routeKey: '$default',
    stage: '$default',
    time: now.toUTCString(),
    timeEpoch: now.getTime(),
  };
  const event: FunctionUrlEvent & Record<string, unknown> = {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    headers,
    queryStringParameters: decodedQuery(rawQueryString),
    requestContext,
    ...encodeBody(body, headers),
  };
  if (cookies !== undefined) event.cookies = cookies;
  return event;
}

/** Reads a request body, keeping at most `limit` bytes; `overflow` says whether more arrived. */
async function readBody(req: IncomingMessage, limit: number): Promise<{ body: Buffer; overflow: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let overflow = false;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    if (overflow) continue; // drain the rest, so the client reads our answer instead of a reset
    size += chunk.length;
    if (size > limit) overflow = true;
    else chunks.push(chunk);
  }
  return { body: Buffer.concat(chunks), overflow };
}

function sendJsonError(res: ServerResponse, status: number, errorType: string, message: string): void {
  const body = JSON.stringify({ Message: message });
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-amzn-errortype': errorType,
  });
  res.end(body);
}

/**
 * Turns the bytes a handler streams into the HTTP response: the prelude (when the handler used
 * `HttpResponseStream.from`) becomes the status and headers, the rest is the body.
 */
class FrontEnd {
  private pending: Buffer[] = [];
  private pendingSize = 0;
  private state: 'waiting' | 'body' | 'failed' = 'waiting';
  private bodyBytes = 0;

  constructor(
    private readonly res: ServerResponse,
    private readonly stream: EmulatedResponseStream,
    private readonly requestId: string,
    private readonly contentLength: 'remapped' | 'kept',
  ) {}

  get headersSent(): boolean {
    return this.res.headersSent;
  }

  /** Takes bytes from the handler; `done` is called once the client has taken them (backpressure). */
  accept(chunk: Buffer, done: (error?: Error | null) => void): void {
    if (this.state === 'failed') return done();
    if (this.state === 'waiting') {
      this.pending.push(chunk);
      this.pendingSize += chunk.length;
      if (this.stream.contentType !== PRELUDE_CONTENT_TYPE) {
        this.start(200, { 'content-type': this.stream.contentType }, []);
        return this.forward(this.takePending(), done);
      }
      const buffered = Buffer.concat(this.pending);
      const at = buffered.indexOf(SEPARATOR);
      if (at < 0) return done();
      let metadata: HttpResponseMetadata;
      try {
        metadata = JSON.parse(buffered.subarray(0, at).toString('utf8')) as HttpResponseMetadata;
      } catch {
        this.fail502('the response prelude is not JSON');
        return done();
      }
      this.pending = [];
      this.pendingSize = 0;
      this.start(metadata.statusCode, metadata.headers ?? {}, metadata.cookies ?? []);
      return this.forward(buffered.subarray(at + SEPARATOR.length), done);
    }
    this.forward(chunk, done);
  }

  /** The handler ended its stream. */
  finish(): void {
    if (this.state === 'failed') return;
    if (this.state === 'waiting') {
      if (this.stream.contentType === PRELUDE_CONTENT_TYPE && this.pendingSize > 0) {
        // `end(chunk)` without a `write()`: body bytes arrived where the prelude should be.
        return this.fail502('the response stream ended without a prelude separator');
      }
      // `end()` without a `write()`: the prelude never went out, so the status and headers are lost.
      this.start(
        200,
        this.stream.contentType === PRELUDE_CONTENT_TYPE ? {} : { 'content-type': this.stream.contentType },
        [],
      );
      if (this.pendingSize > 0) this.res.write(this.takePending());
    }
    this.res.end();
  }

  /** The handler failed (or returned without ending its stream). */
  abort(): void {
    if (this.state === 'failed') return;
    if (this.res.headersSent) {
      this.state = 'failed';
      this.res.destroy(); // a chunked response without its last chunk: the client sees a broken transfer
    } else {
      this.fail502('the function failed');
    }
  }

  private takePending(): Buffer {
    const all = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingSize = 0;
    return all;
  }

  private start(status: number, headers: Record<string, string>, cookies: string[]): void {
    const out: Record<string, string | string[]> = {};
    for (const [rawName, text] of Object.entries(headers)) {
      const name = rawName.toLowerCase();
      const value = utf8Bytes(text);
      if (name === 'transfer-encoding') continue;
      if ((name === 'content-length' && this.contentLength === 'remapped') || name === 'connection') {
        out[`x-amzn-remapped-${name}`] = value;
      } else out[name] = value;
    }
    if (cookies.length > 0) out['set-cookie'] = cookies.map(utf8Bytes);
    out['x-amzn-requestid'] = this.requestId;
    this.state = 'body';
    this.res.writeHead(status, out);
    // Without a Content-Length, Node sends the body chunked, as the function URL does.
  }

  private forward(chunk: Buffer, done: (error?: Error | null) => void): void {
    this.bodyBytes += chunk.length;
    if (this.bodyBytes > STREAMED_RESPONSE_LIMIT_BYTES) {
      this.abort();
      return done(new Error('the response passed the 200 MB streaming limit'));
    }
    if (chunk.length === 0 || this.res.write(chunk)) return done();
    const resume = () => {
      this.res.off('drain', resume);
      this.res.off('close', resume);
      done();
    };
    this.res.on('drain', resume);
    this.res.on('close', resume);
  }

  private fail502(reason: string): void {
    this.state = 'failed';
    if (this.res.headersSent) {
      this.res.destroy();
      return;
    }
    sendJsonError(this.res, 502, 'Function.ResponseError', `Internal Server Error (emulator: ${reason})`);
  }
}

/** Starts the emulator on a free loopback port. */
export async function startFunctionUrlEmulator(
  options: FunctionUrlEmulatorOptions,
): Promise<FunctionUrlEmulator> {
  installAwsLambdaGlobals();
  const containers: Container[] = [];
  const invocations: Invocation[] = [];
  const initDurations: number[] = [];
  const contentLength = options.contentLength ?? 'remapped';

  async function acquire(): Promise<{ container: Container; coldStart: boolean }> {
    const idle = containers.find((c) => !c.busy);
    if (idle) {
      idle.busy = true;
      return { container: idle, coldStart: false };
    }
    const { handler, ms } = await coldStart(options);
    initDurations.push(ms);
    const container = { id: containers.length + 1, handler, busy: true };
    containers.push(container);
    return { container, coldStart: true };
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const { body, overflow } = await readBody(req, EVENT_LIMIT_BYTES);
    const event = overflow ? undefined : buildEvent(req, body, requestId);
    if (event === undefined || Buffer.byteLength(JSON.stringify(event)) >= EVENT_LIMIT_BYTES) {
      return sendJsonError(
        res,
        PAYLOAD_TOO_LARGE_STATUS,
        PAYLOAD_TOO_LARGE_ERROR_TYPE,
        PAYLOAD_TOO_LARGE_MESSAGE,
      );
    }
    let acquired: { container: Container; coldStart: boolean };
    try {
      acquired = await acquire();
    } catch (error) {
      // An init failure: Lambda answers 502 and the next request tries a new container.
      process.stderr.write(
        `function URL emulator: init failed: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      return sendJsonError(res, 502, 'Runtime.InitError', 'Internal Server Error');
    }
    const { container, coldStart } = acquired;
    invocations.push({ event, container: container.id, coldStart });
    // The sink runs only once the handler writes, by which time `front` exists.
    const stream = new EmulatedResponseStream((chunk, done) => front.accept(chunk, done));
    const front = new FrontEnd(res, stream, requestId, contentLength);
    res.on('close', () => {
      if (!stream.writableFinished) stream.destroy(new Error('the client closed the connection'));
    });
    stream.on('error', () => undefined); // failures surface through the handler's promise
    const context: LambdaContext = {
      awsRequestId: requestId,
      functionName: 'sealgate-emulated',
      getRemainingTimeInMillis: () => 900_000,
    };
    try {
      await container.handler(event, stream, context);
      if (!stream.writableEnded) throw new Error('the handler returned without ending its response stream');
      if (!stream.writableFinished) {
        await new Promise((done) => stream.once('finish', done).once('close', done));
      }
      front.finish();
    } catch (error) {
      if (process.env.SEALGATE_TEST_LOG === '1') {
        process.stderr.write(
          `function URL emulator: invocation failed: ${error instanceof Error ? error.message : String(error)}\n`,
        );
      }
      front.abort();
    } finally {
      container.busy = false;
    }
  }

  const server = createServer({ requestTimeout: 0, keepAliveTimeout: 65_000 }, (req, res) => {
    serve(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJsonError(res, 500, 'EmulatorError', String(error));
      else res.destroy();
    });
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', fail);
      done();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    invocations,
    initDurations,
    close: () =>
      new Promise<void>((done, fail) => {
        server.close((error) => (error ? fail(error) : done()));
        server.closeAllConnections();
      }),
  };
}

// ---- the test gateway through the emulator ------------------------------------------------------------------

/** `SEALGATE_EMULATOR_CONTENT_LENGTH=kept` runs a suite as if the function URL passed Content-Length through. */
function contentLengthFromEnvironment(): 'remapped' | 'kept' {
  const value = process.env.SEALGATE_EMULATOR_CONTENT_LENGTH ?? 'remapped';
  if (value !== 'remapped' && value !== 'kept') {
    throw new Error(`SEALGATE_EMULATOR_CONTENT_LENGTH must be "remapped" or "kept", not "${value}"`);
  }
  return value;
}

/**
 * Like `startTestGateway`, but clients reach the gateway through the function URL emulator running the real
 * Lambda handler (`functions/handlers/lambda.ts`) with the same generated config.
 */
export async function startFunctionUrlGateway(
  options: TestGatewayOptions &
    Pick<FunctionUrlEmulatorOptions, 'contentLength'> & {
      /** More of the function's environment (it wins over the defaults). */
      environment?: Record<string, string>;
    } = {},
): Promise<TestGateway & { emulator: FunctionUrlEmulator }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sealgate-test-'));
  const yaml = testConfigYaml(dataDir, options);
  registerConfigSecrets(yaml);
  const environment = {
    SEALGATE_CONFIG: yaml,
    TEST_SECRET: TEST_CREDENTIALS.secretAccessKey,
    SEALGATE_LOG_LEVEL: process.env.SEALGATE_TEST_LOG === '1' ? 'info' : 'silent',
    ...options.environment,
  };
  const emulator = await startFunctionUrlEmulator({
    environment,
    contentLength: options.contentLength ?? contentLengthFromEnvironment(),
  });
  const config = parseConfig(interpolateTree(parseYaml(yaml), environment));
  const clients: S3Client[] = [];
  return {
    target: 'function-url',
    endpoint: emulator.endpoint,
    dataDir,
    emulator,
    server: {
      config,
      credentialsFile: join(dataDir, '.sealgate', 'credentials.json'),
      endpoint: emulator.endpoint,
      close: () => emulator.close(),
    },
    client(overrides = {}) {
      const client = new S3Client({
        endpoint: emulator.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: TEST_CREDENTIALS,
        maxAttempts: 1,
        ...overrides,
      });
      watchForLeaks(client);
      clients.push(client);
      return client;
    },
    async close() {
      for (const c of clients) c.destroy();
      await emulator.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
