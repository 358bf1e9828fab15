/**
 * A loopback HTTP proxy in front of a real peer (moto), recording what passes: for tests and benchmarks
 * that count the backend requests an operation costs, or hold and answer some of them.
 */
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
}

export interface ProxyOptions {
  /** Answers a request itself instead of forwarding it (true when it did); may rewrite `req.url` instead. */
  intercept?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** Milliseconds to hold a request before forwarding it. */
  delay?: (req: IncomingMessage) => number;
}

/**
 * A loopback HTTP proxy that records each request's method and path (and whether it is a copy) in
 * `requests`, everything about it in `seen`, and how many were in flight at most.
 */
export async function countingProxy(
  target: string,
  options: ProxyOptions = {},
): Promise<{
  endpoint: string;
  requests: string[];
  seen: SeenRequest[];
  maxInFlight(): number;
  close(): Promise<void>;
}> {
  const upstream = new URL(target);
  const requests: string[] = [];
  const seen: SeenRequest[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const server = createServer((req, res) => {
    const [path, query = ''] = (req.url ?? '').split('?');
    requests.push(`${req.method} ${path}${req.headers['x-amz-copy-source'] ? ' copy-source' : ''}`);
    seen.push({ method: req.method ?? '', path, query: new URLSearchParams(query), headers: req.headers });
    if (options.intercept?.(req, res)) return;
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.on('close', () => inFlight--);
    const forward = () => {
      const request = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      request.on('error', () => res.destroy());
      req.pipe(request);
    };
    const wait = options.delay?.(req) ?? 0;
    if (wait > 0) setTimeout(forward, wait);
    else forward();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    seen,
    maxInFlight: () => maxInFlight,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
