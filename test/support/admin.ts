/**
 * Signed JSON calls to a gateway's admin API (docs/ADMIN_API.md), and a log sink that keeps every line, so
 * tests can assert what was answered and logged and scan all of it for secrets.
 */
import { TEST_CREDENTIALS } from './gateway.js';
import { capture } from './leak-scan.js';
import { signedRequest, type Credentials } from './signed-request.js';

export interface AdminAnswer {
  status: number;
  /** The parsed JSON body (null for an empty one). */
  json: Record<string, unknown> | null;
  text: string;
}

/** Every answer any admin call in this process got: suites scan them for secrets. */
export const answered: string[] = [];

export async function admin(
  endpoint: string,
  method: string,
  path: string,
  body?: unknown,
  options: { credentials?: Credentials; rawBody?: string; query?: Record<string, string> } = {},
): Promise<AdminAnswer> {
  const payload = options.rawBody ?? (body === undefined ? undefined : JSON.stringify(body));
  const response = await signedRequest(
    endpoint,
    {
      method,
      path: `/_sealgate/admin/${path}`,
      query: options.query,
      headers: payload === undefined ? {} : { 'content-type': 'application/json' },
      body: payload,
    },
    { credentials: options.credentials ?? TEST_CREDENTIALS },
  );
  const text = response.body.toString('utf8');
  answered.push(text);
  capture('an admin answer', text);
  return {
    status: response.status,
    json: text === '' ? null : (JSON.parse(text) as Record<string, unknown>),
    text,
  };
}

/** A logger that keeps every line it is given (and prints them with SEALGATE_TEST_LOG=1). */
export function capturingLogger() {
  const lines: string[] = [];
  const emit = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    const line = JSON.stringify({ level, message, ...fields });
    lines.push(line);
    capture('a server log', line);
    if (process.env.SEALGATE_TEST_LOG === '1') process.stderr.write(line + '\n');
  };
  return { lines, logger: { info: emit('info'), warn: emit('warn'), error: emit('error') } };
}

/** Waits until `check` passes (returns without throwing), polling; rethrows its last failure after `ms`. */
export async function eventually<T>(check: () => Promise<T>, ms = 10_000, every = 100): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, every));
    }
  }
}
