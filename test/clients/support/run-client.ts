import { spawn } from 'node:child_process';

export interface RunOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** The child is killed (SIGKILL, by its PID) when it runs longer than this. */
  timeoutMs?: number;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** A client command that did not exit with status 0; the message holds the tail of its output. */
export class ClientError extends Error {
  constructor(
    message: string,
    /** The exit code, or null when the process was killed. */
    readonly exitCode: number | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'ClientError';
  }
}

const DEFAULT_TIMEOUT_MS = 180_000;
/** How much of a failed client's output goes into the assertion message. */
const OUTPUT_TAIL_CHARS = 8_000;

/**
 * Runs one S3 client command as a child process and resolves with its output, or rejects with a
 * {@link ClientError} whose message holds the command line, the exit status and the tail of the client's stderr and stdout.
 */
export function runClient(command: string, args: string[], options: RunOptions): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${command}: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) {
        resolve({ stdout, stderr });
        return;
      }
      const status = timedOut
        ? `was killed after ${timeoutMs} ms`
        : signal !== null
          ? `was killed by ${signal}`
          : `exited with code ${code}`;
      reject(
        new ClientError(
          `${[command, ...args].join(' ')} ${status}\n` +
            `--- stderr (tail) ---\n${stderr.slice(-OUTPUT_TAIL_CHARS)}\n` +
            `--- stdout (tail) ---\n${stdout.slice(-OUTPUT_TAIL_CHARS)}`,
          timedOut ? null : code,
          stdout,
          stderr,
        ),
      );
    });
  });
}

/**
 * The environment a client runs in: the test process's, minus everything that could point a client at
 * another configuration (AWS_*, RCLONE_*, S3CMD_*, proxies), with HOME and the XDG folders moved into the
 * test's temporary folder so that no client reads or writes the user's own config.
 */
export function isolatedEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    const upper = name.toUpperCase();
    if (/^(AWS_|RCLONE_|S3CMD)/.test(upper) || /^(HTTPS?|ALL|NO)_PROXY$/.test(upper)) continue;
    env[name] = value;
  }
  return {
    ...env,
    HOME: home,
    XDG_CONFIG_HOME: `${home}/.config`,
    XDG_CACHE_HOME: `${home}/.cache`,
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
    ...extra,
  };
}

/** A client's output as lines, without the empty ones. */
export function nonEmptyLines(output: string): string[] {
  return output.split('\n').filter((line) => line.trim() !== '');
}
