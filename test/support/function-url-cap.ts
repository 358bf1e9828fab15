/**
 * The one place where the two test targets are expected to differ: a request whose body is larger than a
 * function URL can carry (DESIGN.md section 3: the invoke event is capped at 6 MiB, so about 4.4 MiB of
 * object data fits). The plain server takes such a request; through the function URL emulator it gets the
 * function URL's own 413 (docs/DEPLOY.md, "What the 413 looks like") and the gateway never runs.
 */
import { expect } from 'vitest';
import {
  PAYLOAD_TOO_LARGE_BODY,
  PAYLOAD_TOO_LARGE_ERROR_TYPE,
  PAYLOAD_TOO_LARGE_STATUS,
  type FunctionUrlEmulator,
} from './function-url-emulator.js';
import type { TestGateway } from './gateway.js';

/** What {@link expectUploadOrCapError} returns when the function URL refused the upload, as it must. */
export const REFUSED_BY_CAP = Symbol('refused by the function URL payload cap');

/** The HTTP response an SDK v3 client attaches to an error it could not parse as S3 XML. */
interface RawSdkResponse {
  statusCode?: number;
  headers?: Record<string, string | undefined>;
  body?: unknown;
}

/** The emulator behind a `function-url` test gateway, to see which requests invoked the function. */
export function functionUrlEmulatorOf(gateway: TestGateway): FunctionUrlEmulator {
  const emulator = (gateway as TestGateway & { emulator?: FunctionUrlEmulator }).emulator;
  if (emulator === undefined)
    throw new Error(`a ${gateway.target} test gateway has no function URL emulator`);
  return emulator;
}

function text(body: unknown): string | undefined {
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return Buffer.from(body).toString('utf8');
  return undefined;
}

/**
 * Sends `upload`, an SDK v3 request whose body is above the function URL's cap, and states what each
 * target must do with it:
 *
 * - `server`: the upload succeeds, and its result is returned for the test's usual assertions;
 * - `function-url`: the upload fails with the function URL's 413 — status {@link PAYLOAD_TOO_LARGE_STATUS},
 *   `x-amzn-ErrorType` {@link PAYLOAD_TOO_LARGE_ERROR_TYPE} and the body {@link PAYLOAD_TOO_LARGE_BODY}
 *   exactly — and the handler is never invoked, so the gateway saw and stored nothing. Returns
 *   {@link REFUSED_BY_CAP}; the caller then checks through the S3 API that nothing was stored, and adjusts
 *   the steps that depended on the upload.
 *
 * `upload` is a function so that the invocation count is read before the request starts.
 */
export async function expectUploadOrCapError<T>(
  gateway: TestGateway,
  upload: () => Promise<T>,
): Promise<T | typeof REFUSED_BY_CAP> {
  if (gateway.target === 'server') return upload();
  const emulator = functionUrlEmulatorOf(gateway);
  const invocationsBefore = emulator.invocations.length;
  let failure: unknown;
  try {
    await upload();
  } catch (error) {
    failure = error;
  }
  expect(failure, 'an upload above the function URL cap must fail through the function URL').toBeDefined();
  const response = (failure as { $response?: RawSdkResponse }).$response;
  expect({
    status: response?.statusCode,
    errorType: response?.headers?.['x-amzn-errortype'],
    body: text(response?.body),
  }).toEqual({
    status: PAYLOAD_TOO_LARGE_STATUS,
    errorType: PAYLOAD_TOO_LARGE_ERROR_TYPE,
    body: PAYLOAD_TOO_LARGE_BODY,
  });
  expect(emulator.invocations.length, 'the function must not run for a request above the cap').toBe(
    invocationsBefore,
  );
  return REFUSED_BY_CAP;
}
