/**
 * The gateway behind the container data plane's load balancer (functions/adapters/load-balancer.ts): the
 * health check answered in front of it, and the request context taken from the headers the load balancer adds.
 */
import { describe, expect, it } from 'vitest';
import { HEALTH_CHECK_PATH, behindLoadBalancer } from '../../../functions/adapters/load-balancer.js';
import type { Gateway } from '../../../functions/core/gateway.js';
import type { RequestContext } from '../../../functions/core/request-context.js';

const SOCKET: RequestContext = { rawPath: '/b/k', rawQuery: '', secure: false, sourceIp: '10.0.1.23' };

/** A gateway that records the context it was handed. */
function recording(): { gateway: Gateway; seen: RequestContext[] } {
  const seen: RequestContext[] = [];
  return {
    seen,
    gateway: {
      handle: async (_request, ctx) => {
        seen.push(ctx);
        return new Response('from the gateway', { status: 403 });
      },
    },
  };
}

describe('behindLoadBalancer', () => {
  it('answers GET and HEAD on the health path itself, with 200 and no body', async () => {
    const { gateway, seen } = recording();
    for (const method of ['GET', 'HEAD']) {
      const response = await behindLoadBalancer(gateway).handle(new Request('http://x/', { method }), {
        ...SOCKET,
        rawPath: HEALTH_CHECK_PATH,
      });
      expect(response.status).toBe(200);
      expect(response.body).toBeNull();
    }
    expect(seen).toHaveLength(0);
  });

  it('hands every other request on the health path to the gateway', async () => {
    const { gateway, seen } = recording();
    const response = await behindLoadBalancer(gateway).handle(
      new Request('http://x/', { method: 'DELETE' }),
      {
        ...SOCKET,
        rawPath: HEALTH_CHECK_PATH,
      },
    );
    expect(response.status).toBe(403);
    expect(seen).toHaveLength(1);
  });

  it('takes the scheme and the client from the entries the load balancer appended last', async () => {
    const { gateway, seen } = recording();
    const headers = { 'x-forwarded-proto': 'https', 'x-forwarded-for': '127.0.0.1, 198.51.100.4' };
    await behindLoadBalancer(gateway).handle(new Request('http://x/', { headers }), SOCKET);
    // The client may send its own X-Forwarded-For; the load balancer appends the address it saw.
    expect(seen[0]).toEqual({ ...SOCKET, secure: true, sourceIp: '198.51.100.4' });
  });

  it('counts a request forwarded from an HTTP listener as not secure', async () => {
    const { gateway, seen } = recording();
    const headers = { 'x-forwarded-proto': 'http', 'x-forwarded-for': '198.51.100.4' };
    await behindLoadBalancer(gateway).handle(new Request('http://x/', { headers }), {
      ...SOCKET,
      secure: true,
    });
    expect(seen[0].secure).toBe(false);
  });

  it("keeps the socket's view of a request that carries no forwarding headers", async () => {
    const { gateway, seen } = recording();
    await behindLoadBalancer(gateway).handle(new Request('http://x/'), SOCKET);
    expect(seen[0]).toEqual(SOCKET);
  });
});
