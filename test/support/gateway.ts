import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonLogger } from '../../functions/core/logger.js';
import {
  startLocalServer,
  type LocalServer,
  type LocalServerOptions,
} from '../../functions/handlers/local-server.js';
import { capture, headersText, registerConfigSecrets, registerSecret } from './leak-scan.js';
import { createTestCertificate } from './tls.js';

/** The credentials every test gateway is started with. */
export const TEST_CREDENTIALS = {
  accessKeyId: 'SGTESTADMIN',
  secretAccessKey: 'test-secret-key-for-sealgate-0001',
};
registerSecret('the admin secret key', TEST_CREDENTIALS.secretAccessKey);

/**
 * Has an SDK client register the SSE-C keys it sends as secrets, and keep every answer's headers and every
 * error's message for the leak scan (test/support/leak-scan.ts).
 */
export function watchForLeaks(client: S3Client): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      registerSecret('an SSE-C key', request.headers?.['x-amz-server-side-encryption-customer-key']);
      registerSecret(
        'an SSE-C copy-source key',
        request.headers?.['x-amz-copy-source-server-side-encryption-customer-key'],
      );
      try {
        const out = await next(args);
        const response = out.response as { headers?: Record<string, string> };
        if (response.headers) capture("an answer's headers", headersText(response.headers));
        return out;
      } catch (error) {
        const failed = error as { message?: string; $response?: { headers?: Record<string, string> } };
        capture('an error answer', failed.message);
        if (failed.$response?.headers)
          capture("an error answer's headers", headersText(failed.$response.headers));
        throw error;
      }
    },
    { step: 'finalizeRequest', name: 'sealgateLeakScan', priority: 'low' },
  );
}

export type BackendKind = 'filesystem' | 's3';

/** Where a test gateway's requests go: the plain Node server, or the function URL emulator running the Lambda handler. */
export type GatewayTarget = 'server' | 'function-url';

export interface TestGateway {
  target: GatewayTarget;
  endpoint: string;
  dataDir: string;
  /** The local server (through the emulator: what of it a function URL has). */
  server: Pick<LocalServer, 'config' | 'credentialsFile' | 'endpoint' | 'close'>;
  /** With `tls`: the PEM file of the gateway's self-signed certificate, for clients to trust as their CA. */
  caFile?: string;
  /** An SDK v3 client with default settings (checksums on: aws-chunked uploads with trailers). */
  client(overrides?: Partial<S3ClientConfig>): S3Client;
  close(): Promise<void>;
}

export interface TestGatewayOptions {
  backend?: BackendKind;
  /** Required for the s3 backend: moto's endpoint. */
  s3Endpoint?: string;
  /** Extra YAML appended to the generated config (e.g. more credentials, bucket routes). */
  extraYaml?: string;
  /** YAML for the `main` backend's `encryption:` mapping (indented by the caller for 4 spaces). */
  encryptionYaml?: string;
  /**
   * More backends: YAML list items (each starting `  - name: ...`) appended to `backends:`; a function gets
   * the test's data folder (for filesystem backend paths).
   */
  backendsYaml?: string | ((dataDir: string) => string);
  /** Default: `SEALGATE_TEST_TARGET` from the environment, else `server`. */
  target?: GatewayTarget;
  /**
   * Serve HTTPS with a throwaway self-signed certificate for 127.0.0.1 and localhost (the `server` target
   * only). `client()` trusts it; other clients are given `caFile`.
   */
  tls?: boolean;
  /** Wraps each backend (the `server` target only): fault-injection tests fail or stall its calls. */
  wrapBackend?: LocalServerOptions['wrapBackend'];
  /** How the in-process job runner retries (the `server` target only). */
  jobRunner?: LocalServerOptions['jobRunner'];
  /** How often the server checks its config store (the `server` target only; jobs settle over it). */
  reloadIntervalMs?: number;
  /** More of the server's environment (the `server` target only), e.g. SEALGATE_JOB_WRITE_BOUND_MS. */
  serverEnv?: Record<string, string>;
}

/** The target named by `SEALGATE_TEST_TARGET` (default `server`), so a whole suite can run through either edge. */
export function defaultTarget(): GatewayTarget {
  const value = process.env.SEALGATE_TEST_TARGET ?? 'server';
  if (value !== 'server' && value !== 'function-url') {
    throw new Error(`SEALGATE_TEST_TARGET must be "server" or "function-url", not "${value}"`);
  }
  return value;
}

/** Builds the YAML config for a test gateway (one backend named `main`). */
export function testConfigYaml(dataDir: string, options: TestGatewayOptions): string {
  const backend =
    options.backend === 's3'
      ? `  - name: main\n    type: s3\n    endpoint: ${options.s3Endpoint}\n    region: us-east-1\n` +
        `    access_key_id: testing\n    secret_access_key: testing\n    force_path_style: true\n`
      : `  - name: main\n    type: filesystem\n    path: ${join(dataDir, 'store')}\n`;
  const encryption = options.encryptionYaml ? `    encryption:\n${options.encryptionYaml}` : '';
  const more =
    typeof options.backendsYaml === 'function' ? options.backendsYaml(dataDir) : (options.backendsYaml ?? '');
  return (
    `backends:\n${backend}${encryption}${more}default_backend: main\ncredentials:\n` +
    `  - access_key_id: ${TEST_CREDENTIALS.accessKeyId}\n    secret_access_key: "\${env:TEST_SECRET}"\n    admin: true\n` +
    (options.extraYaml ?? '')
  );
}

/**
 * Starts the local server in-process on a free loopback port with a fresh data folder, or, with target
 * `function-url`, the function URL emulator running the Lambda handler on the same config.
 */
export async function startTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  if ((options.target ?? defaultTarget()) === 'function-url') {
    if (options.tls)
      throw new Error('the function URL emulator serves plain HTTP only: tls needs the server target');
    const { startFunctionUrlGateway } = await import('./function-url-emulator.js');
    return startFunctionUrlGateway(options);
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'sealgate-test-'));
  const configFile = join(dataDir, 'sealgate.yaml');
  const configText = testConfigYaml(dataDir, options);
  writeFileSync(configFile, configText);
  registerConfigSecrets(configText);
  const certificate = options.tls ? createTestCertificate(join(dataDir, 'tls')) : undefined;
  const server = await startLocalServer({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    configFile,
    env: { TEST_SECRET: TEST_CREDENTIALS.secretAccessKey, ...options.serverEnv },
    // Every line is kept for the leak scan; SEALGATE_TEST_LOG=1 prints them too.
    logger: jsonLogger('info', (line) => {
      capture('the gateway log', line);
      if (process.env.SEALGATE_TEST_LOG === '1') process.stderr.write(line);
    }),
    tls: certificate && { cert: certificate.cert, key: certificate.key },
    wrapBackend: options.wrapBackend,
    jobRunner: options.jobRunner,
    reloadIntervalMs: options.reloadIntervalMs,
  });
  const clients: S3Client[] = [];
  return {
    target: 'server',
    endpoint: server.endpoint,
    dataDir,
    server,
    caFile: certificate?.certFile,
    client(overrides = {}) {
      const client = new S3Client({
        endpoint: server.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: TEST_CREDENTIALS,
        maxAttempts: 1,
        // An agent of the client's own that trusts only this certificate: the process's trust stays alone.
        ...(certificate && { requestHandler: { httpsAgent: new HttpsAgent({ ca: certificate.cert }) } }),
        ...overrides,
      });
      watchForLeaks(client);
      clients.push(client);
      return client;
    },
    async close() {
      for (const c of clients) c.destroy();
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
