/**
 * Starts moto's S3/KMS/DynamoDB server (`python3 -m moto.server`) on a free loopback port for a test file,
 * and stops it by its PID. A machine without moto fails loudly with the command that installs it: tests
 * that need moto never skip silently.
 */
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, beforeAll } from 'vitest';

export interface MotoServer {
  /** `http://127.0.0.1:PORT`, for an SDK client's `endpoint`. */
  endpoint: string;
  /** Kills the server by its PID and resolves once it has exited. */
  stop(): Promise<void>;
}

const INSTALL_HINT = "moto is required for these tests: install it with `pip install 'moto[server]'`";
const STARTUP_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;

export async function startMoto(): Promise<MotoServer> {
  assertMotoInstalled();
  // A port picked by the kernel can be taken again before moto binds it; a second try makes that race harmless.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await launch(await freeLoopbackPort());
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

function assertMotoInstalled(): void {
  // `moto.server` imports flask/werkzeug, so this also catches a moto installed without the `[server]` extra.
  const probe = spawnSync('python3', ['-c', 'import moto.server'], { encoding: 'utf8' });
  if (probe.error) {
    throw new Error(`${INSTALL_HINT} (python3 could not be run: ${probe.error.message})`);
  }
  if (probe.status !== 0) {
    throw new Error(`${INSTALL_HINT}\n${probe.stderr.trim()}`);
  }
}

async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string')
    throw new Error('could not read the port of a loopback socket');
  return address.port;
}

async function launch(port: number): Promise<MotoServer> {
  const child = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // moto logs every request to stderr: drain it (a full pipe would block the server) and keep the tail for errors.
  let stderrTail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    stderrTail = (stderrTail + text).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const spawnFailed = new Promise<never>((_, reject) => child.once('error', reject));
  spawnFailed.catch(() => undefined);

  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await Promise.race([
      waitForHttp(endpoint, () => child.exitCode !== null),
      spawnFailed,
      exited.then(() => {
        throw new Error(`moto exited during startup (code ${child.exitCode}):\n${stderrTail}`);
      }),
    ]);
  } catch (error) {
    await kill(child, exited);
    throw error;
  }
  return { endpoint, stop: () => kill(child, exited) };
}

async function waitForHttp(endpoint: string, hasExited: () => boolean): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline && !hasExited()) {
    try {
      // Any HTTP answer means the server is accepting requests; the status does not matter.
      const response = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(1_000) });
      await response.body?.cancel();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  if (!hasExited())
    throw new Error(`moto did not answer HTTP on ${endpoint} within ${STARTUP_TIMEOUT_MS} ms`);
}

async function kill(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  process.kill(child.pid, 'SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), STOP_TIMEOUT_MS);
  });
  const timedOutFirst = await Promise.race([exited.then(() => false), timedOut]);
  clearTimeout(timer);
  if (timedOutFirst && child.exitCode === null && child.signalCode === null) {
    process.kill(child.pid, 'SIGKILL');
    await exited;
  }
}

/**
 * moto for one test file: started before its tests (beforeAll) and stopped by its PID after them
 * (afterAll). The returned server's `endpoint` may be read from any test or hook.
 */
export function useMoto(): MotoServer {
  let moto: MotoServer | undefined;
  beforeAll(async () => {
    moto = await startMoto();
  });
  afterAll(async () => {
    await moto?.stop();
  });
  return {
    get endpoint() {
      if (!moto) throw new Error('moto starts in beforeAll: read its endpoint inside a test or hook');
      return moto.endpoint;
    },
    stop: async () => {
      await moto?.stop();
    },
  };
}

/** Client settings for moto: any region and credentials do; these are the ones the tests use. */
export const MOTO_CLIENT = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
};

/** Creates Secrets Manager secrets in moto, by name. */
export async function createMotoSecrets(moto: MotoServer, secrets: Record<string, string>): Promise<void> {
  const client = new SecretsManagerClient({ endpoint: moto.endpoint, ...MOTO_CLIENT });
  try {
    for (const [Name, SecretString] of Object.entries(secrets)) {
      await client.send(new CreateSecretCommand({ Name, SecretString }));
    }
  } finally {
    client.destroy();
  }
}
