/**
 * A fresh `sealgate serve` for one bench mode: its only backend a filesystem backend in that mode, under a
 * folder of the run's that is removed when the server stops.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import type { BenchMode } from './encryption-modes.js';
import { startGatewayProcess, type GatewayProcess } from './gateway-process.js';
import type { S3Target } from './s3-client.js';
import type { SigningCredentials } from './sigv4-signer.js';

export interface ModeServerOptions {
  repoRoot: string;
  /** The mode's folder (config file and data) goes here, named after the mode, and is removed at the end. */
  workDir: string;
  credentials: SigningCredentials;
  /** Told of the server once it runs and (undefined) once it is stopped, so an interrupt can stop it. */
  track: (gateway: GatewayProcess | undefined) => void;
  /** How many requests the client's keep-alive agent sends at once. */
  sockets?: number;
}

export interface ModeServer {
  gateway: GatewayProcess;
  /** Where the filesystem backend stores objects. */
  dataDir: string;
  /** The server, as the bench's client reaches it. */
  target: S3Target;
  /** Stops the server (by PID) and removes the mode's folder. */
  close(): Promise<void>;
}

export async function startModeServer(mode: BenchMode, options: ModeServerOptions): Promise<ModeServer> {
  const dir = join(options.workDir, mode.label ?? mode.name);
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  // JSON is YAML: the config loader reads it as it is.
  const configFile = join(dir, 'sealgate.yaml');
  writeFileSync(
    configFile,
    JSON.stringify({
      backends: [{ name: 'local', type: 'filesystem', path: dataDir, encryption: mode.encryption }],
    }),
    { mode: 0o600 },
  );
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  let gateway: GatewayProcess;
  try {
    gateway = await startGatewayProcess({
      repoRoot: options.repoRoot,
      dataDir,
      configFile,
      env: mode.env,
      credentials: options.credentials,
    });
  } catch (error) {
    removeDir();
    throw error;
  }
  options.track(gateway);
  const agent = new Agent({ keepAlive: true, maxSockets: options.sockets ?? 1 });
  return {
    gateway,
    dataDir,
    target: { endpoint: gateway.endpoint, credentials: options.credentials, agent },
    close: async () => {
      agent.destroy();
      await gateway.stop();
      options.track(undefined);
      removeDir();
    },
  };
}

/**
 * Runs `run` on a fresh server for `mode`: if it fails, the server's last log lines go to `progress`
 * before the error does; whatever happens, the server is stopped and its folder removed.
 */
export async function withModeServer<T>(
  mode: BenchMode,
  options: ModeServerOptions & { progress: (message: string) => void },
  run: (server: ModeServer) => Promise<T>,
): Promise<T> {
  const server = await startModeServer(mode, options);
  try {
    return await run(server);
  } catch (error) {
    const log = server.gateway.logTail();
    if (log) options.progress(`[${mode.label ?? mode.name}] server log (last lines):\n${log}`);
    throw error;
  } finally {
    await server.close();
  }
}
