import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { SigningCredentials } from './sigv4-signer.js';

/** A `sealgate serve` child process. */
export interface GatewayProcess {
  pid: number;
  /** `http://127.0.0.1:<port>`, as the server printed it. */
  endpoint: string;
  /** The last lines the server wrote to stderr (its JSON log), for error reports. */
  logTail(): string;
  /** Stops the server by its PID: SIGTERM, then SIGKILL if it has not exited after a grace period. */
  stop(): Promise<void>;
}

/** How to start the server. */
export interface GatewayProcessOptions {
  /** The repository root: the CLI is started from there. */
  repoRoot: string;
  /** The data folder: the filesystem backend stores objects under it. */
  dataDir: string;
  credentials: SigningCredentials;
  /**
   * A config file (`--config`): backends and their encryption. Without one the server has one filesystem
   * backend under `dataDir`, encryption `none`.
   */
  configFile?: string;
  /** More environment for the server, e.g. AWS credentials for the KMS calls of aws-kms-envelope. */
  env?: Record<string, string>;
  /** How long the server may take to print its endpoint. */
  startTimeoutMs?: number;
  /**
   * Node's arguments before `serve`: the compiled CLI unless given (tests that must run the current
   * source pass `['--import', 'tsx', 'functions/handlers/cli.ts']`).
   */
  entry?: string[];
}

const READY = /Sealgate is serving S3 on (\S+)/;
const LOG_TAIL_BYTES = 16 * 1024;

async function exited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  const timer = new Promise<false>((resolve) => setTimeout(resolve, timeoutMs, false).unref());
  return Promise.race([once(child, 'exit').then(() => true), timer]);
}

/**
 * Starts the compiled server, `node dist/functions/handlers/cli.js serve`, as `npm start` runs it, in a
 * separate process (so its memory can be read on its own), with `configFile` if given, else with none: one
 * filesystem backend under `dataDir`, encryption `none`. The credentials are the admin credential from the
 * environment either way. Port 0 lets the server pick a free port, which it prints; that avoids racing
 * another process for one.
 */
export async function startGatewayProcess(options: GatewayProcessOptions): Promise<GatewayProcess> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...options.env,
    SEALGATE_ACCESS_KEY_ID: options.credentials.accessKeyId,
    SEALGATE_SECRET_ACCESS_KEY: options.credentials.secretAccessKey,
  };
  // An inherited config would swap the backend under the bench.
  delete env.SEALGATE_CONFIG;
  // BENCH_CPU_PROF_DIR: each server writes a V8 CPU profile there when it stops (for flame graphs by stage).
  const profile = process.env.BENCH_CPU_PROF_DIR;
  const args = [
    ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []),
    ...(options.entry ?? ['dist/functions/handlers/cli.js']),
    'serve',
    '--port',
    '0',
    '--data',
    options.dataDir,
  ];
  if (options.configFile !== undefined) args.push('--config', options.configFile);
  const child = spawn(process.execPath, args, {
    cwd: options.repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-LOG_TAIL_BYTES);
  });
  const stop = async () => {
    if (child.pid === undefined || (await exited(child, 0))) return;
    child.kill('SIGTERM');
    if (await exited(child, 10_000)) return;
    child.kill('SIGKILL');
    await exited(child, 5_000);
  };
  const endpoint = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the server printed no endpoint within ${options.startTimeoutMs ?? 60_000} ms`)),
      options.startTimeoutMs ?? 60_000,
    );
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout = (stdout + text).slice(-LOG_TAIL_BYTES);
      const match = READY.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(`the server exited (${signal ?? `code ${code}`}) before serving:\n${stderr}${stdout}`),
      );
    });
  }).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  return { pid: child.pid!, endpoint, logTail: () => stderr, stop };
}
