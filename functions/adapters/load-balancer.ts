/**
 * The gateway behind an Application Load Balancer (the container data plane). The load balancer ends TLS
 * and forwards plain HTTP, so what the socket says about the request is about the load balancer. The
 * client's view is in the headers it adds: `X-Forwarded-Proto` (the listener's protocol) and
 * `X-Forwarded-For` (which it ends with the client's address). These are trusted because only the load
 * balancer can reach the container: its security group admits no one else.
 */
import type { Gateway } from '../core/gateway.js';
import type { RequestContext } from '../core/request-context.js';

/**
 * The load balancer's health check path. Every S3 request must be signed, and an anonymous one is refused,
 * so the check gets a path of its own. No bucket name can start with `_`, so no S3 request uses it. It
 * answers 200 with no body: a task is healthy once it has started with a config, and saying more to an
 * unauthenticated caller would be saying it to anyone.
 */
export const HEALTH_CHECK_PATH = '/_sealgate/ping';

/**
 * How long the load balancer keeps a connection that carries no bytes. As long as the gateway function's
 * timeout, because some requests send nothing until they are done (a CopyObject re-encrypts the whole
 * object first), so whatever completes on the function URL completes here too.
 */
export const IDLE_TIMEOUT_SECONDS = 15 * 60;

/**
 * How long the server keeps an idle keep-alive connection: longer than the load balancer does, so that the
 * load balancer never sends a request on a connection the server is just closing (a 502 to the client).
 */
export const KEEP_ALIVE_TIMEOUT_MS = (IDLE_TIMEOUT_SECONDS + 5) * 1000;

/** The last entry of a comma-separated forwarding header: the one the load balancer itself added. */
function lastEntry(value: string | null): string | undefined {
  const entry = value?.split(',').at(-1)?.trim();
  return entry === '' ? undefined : entry;
}

/**
 * The request as the client made it. The scheme decides whether SSE-C is allowed, since S3 refuses
 * customer keys over plain HTTP. Without the headers (a request that did not come through a load balancer),
 * the socket's view stands.
 */
function forwardedContext(headers: Headers, ctx: RequestContext): RequestContext {
  const proto = lastEntry(headers.get('x-forwarded-proto'));
  const client = lastEntry(headers.get('x-forwarded-for'));
  return {
    ...ctx,
    secure: proto === undefined ? ctx.secure : proto.toLowerCase() === 'https',
    sourceIp: client ?? ctx.sourceIp,
  };
}

/** The gateway with the health check answered in front of it and the forwarded view of each request. */
export function behindLoadBalancer(gateway: Gateway): Gateway {
  return {
    async handle(request, ctx) {
      if (ctx.rawPath === HEALTH_CHECK_PATH && (request.method === 'GET' || request.method === 'HEAD')) {
        return new Response(null, { status: 200, headers: { 'cache-control': 'no-store' } });
      }
      return gateway.handle(request, forwardedContext(request.headers, ctx));
    },
  };
}
