import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { errors } from '../core/errors.js';
import type { Gateway } from '../core/gateway.js';
import type { Logger } from '../core/logger.js';
import type { RequestContext } from '../core/request-context.js';

export interface NodeServerOptions {
  gateway: Gateway;
  logger: Logger;
  tls?: { cert: Buffer; key: Buffer };
}

/**
 * A request body as a Web stream that pulls from the Node stream only when read (highWaterMark 0), so an
 * upload moves at the pace the backend takes it. (`Readable.toWeb` counts its buffer in chunks, not
 * bytes, and would read far ahead of a slow consumer.)
 *
 * A client that goes away before its body is complete makes Node fail the read with a bare "aborted"
 * error; the stream fails with S3's `IncompleteBody` instead, so the core treats it as the client's
 * mistake it is (a 400, nothing stored) rather than as an internal error.
 */
function bodyStream(req: IncomingMessage): ReadableStream<Uint8Array> {
  const iterator = req[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let next: IteratorResult<Buffer>;
        try {
          next = await iterator.next();
        } catch (error) {
          throw req.complete ? error : errors.incompleteBody();
        }
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      },
      async cancel() {
        await iterator.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}

/** Turns a Node request into the core's Web `Request` plus the raw path and query SigV4 needs. */
export function toWebRequest(req: IncomingMessage): { request: Request; ctx: RequestContext } {
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  const rawQuery = q < 0 ? '' : target.slice(q + 1);
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  const method = req.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  const secure = (req.socket as TLSSocket).encrypted === true;
  // The URL is a placeholder: a Web URL is normalised, so the core reads ctx.rawPath/rawQuery instead.
  const request = new Request('http://gateway.invalid/', {
    method,
    headers,
    body: hasBody ? bodyStream(req) : undefined,
    duplex: 'half',
  });
  return { request, ctx: { rawPath, rawQuery, secure, sourceIp: req.socket.remoteAddress } };
}

/**
 * Writes a Web `Response` to a Node response with backpressure. If the body fails after the headers went
 * out, the connection is destroyed rather than ended, so the client sees a broken transfer, never a
 * short object that looks complete.
 */
export async function writeWebResponse(
  response: Response,
  res: ServerResponse,
  method: string,
): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  if (response.body === null && method !== 'HEAD' && headers['content-length'] === undefined) {
    headers['content-length'] = '0';
  }
  res.writeHead(response.status, headers);
  if (response.body === null || method === 'HEAD') {
    await response.body?.cancel();
    res.end();
    return;
  }
  const reader: ReadableStreamDefaultReader<Uint8Array> = response.body.getReader();
  let finished = false;
  res.on('close', () => {
    if (!finished) reader.cancel().catch(() => undefined);
  });
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (!res.write(value)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
        if (res.destroyed) return;
      }
    }
    finished = true;
    res.end();
  } catch (error) {
    finished = true;
    res.destroy(error instanceof Error ? error : new Error(String(error)));
    throw error;
  }
}

/** An HTTP (or HTTPS) server that hands every request to the gateway. */
export function createNodeServer(options: NodeServerOptions): Server {
  const { gateway, logger } = options;
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      try {
        const { request, ctx } = toWebRequest(req);
        const response = await gateway.handle(request, ctx);
        await writeWebResponse(response, res, request.method);
      } catch (error) {
        logger.warn('response aborted', { error: error instanceof Error ? error.message : String(error) });
        if (!res.headersSent) {
          res.writeHead(500, { 'content-length': '0' });
          res.end();
        } else res.destroy();
      }
    })();
  };
  // No request timeout: a multi-GiB upload on a slow link legitimately takes longer than Node's default.
  const serverOptions = { requestTimeout: 0, keepAliveTimeout: 65_000 };
  return options.tls
    ? createHttpsServer({ ...serverOptions, cert: options.tls.cert, key: options.tls.key }, listener)
    : createHttpServer(serverOptions, listener);
}
