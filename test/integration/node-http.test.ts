/**
 * The Node HTTP adapter on loopback, with a stand-in gateway: how it hands request bodies to the core and
 * writes responses back when either side fails part-way. It always targets the Node server it creates
 * here, never `startTestGateway`, so `SEALGATE_TEST_TARGET` does not change it; the function URL edge
 * has its own suite (function-url.test.ts).
 */
import type { AddressInfo } from 'node:net';
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createNodeServer } from '../../functions/adapters/node-http.js';
import { S3Error } from '../../functions/core/errors.js';
import type { Gateway } from '../../functions/core/gateway.js';
import { jsonLogger } from '../../functions/core/logger.js';
import { sendTruncated } from '../support/signed-request.js';

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

async function serve(gateway: Gateway): Promise<string> {
  const server = createNodeServer({ gateway, logger: jsonLogger('silent') });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('the Node HTTP adapter', () => {
  it('fails the body of a request whose client went away early with IncompleteBody', async () => {
    let failure: unknown;
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    const endpoint = await serve({
      async handle(req) {
        try {
          for await (const chunk of req.body!) void chunk;
        } catch (error) {
          failure = error;
        }
        settle();
        return new Response(null, { status: 200 });
      },
    });
    await sendTruncated(
      endpoint,
      { method: 'PUT', path: '/bucket/key', headers: { host: 'x', 'content-length': '1000' } },
      Buffer.alloc(400),
    );
    await settled;
    expect(failure).toBeInstanceOf(S3Error);
    expect({ code: (failure as S3Error).code, status: (failure as S3Error).status }).toEqual({
      code: 'IncompleteBody',
      status: 400,
    });
  });

  it('hands a complete body over whole', async () => {
    let received = 0;
    const endpoint = await serve({
      async handle(req) {
        for await (const chunk of req.body!) received += (chunk as Uint8Array).byteLength;
        return new Response('ok', { status: 200 });
      },
    });
    const res = await fetch(`${endpoint}/bucket/key`, { method: 'PUT', body: Buffer.alloc(300_000) });
    expect(res.status).toBe(200);
    expect(received).toBe(300_000);
  });

  it('breaks the connection when a response body fails after the headers went out', async () => {
    const endpoint = await serve({
      async handle() {
        let sent = false;
        const body = new ReadableStream<Uint8Array>({
          pull(controller) {
            if (sent) throw new Error('backend read failed');
            sent = true;
            controller.enqueue(new Uint8Array(1000));
          },
        });
        return new Response(body, { status: 200, headers: { 'content-length': '5000' } });
      },
    });
    // Either the status line never arrives (the first bytes were still queued) or the body stops short:
    // never a response that ends as if complete.
    const outcome = await new Promise<{ bytes: number; complete: boolean }>((resolve) => {
      let bytes = 0;
      const req = request(`${endpoint}/bucket/key`, (res) => {
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        res.on('end', () => resolve({ bytes, complete: res.complete }));
        res.on('error', () => resolve({ bytes, complete: false }));
      });
      req.on('error', () => resolve({ bytes, complete: false }));
      req.end();
    });
    expect(outcome.complete).toBe(false);
    expect(outcome.bytes).toBeLessThan(5000);
  });
});
