/**
 * What a command prints, and where: data on stdout (one JSON document with `--json`, readable text
 * otherwise), messages for the operator on stderr. Every command writes through a {@link CliIo}, so
 * tests run the CLI in-process and read what it printed.
 */

/** The CLI's contact with its process: output streams, environment, and (for `serve`) signals. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
  /**
   * The terminal behind stderr, when it is one: live progress bars draw on it (the binary sets it).
   * Without it, progress is a plain line per change on stderr.
   */
  terminal?: NodeJS.WritableStream;
  /**
   * Where `serve` listens for SIGINT, SIGTERM and SIGHUP (default: the process). Tests pass an
   * EventEmitter and emit the signals themselves.
   */
  signals?: SignalSource;
}

/** The part of `process` that `serve` needs for signals. */
export interface SignalSource {
  on(event: NodeJS.Signals, listener: () => void): unknown;
  off(event: NodeJS.Signals, listener: () => void): unknown;
}

/** Sets the exit code a command's action decided (commander's actions return nothing). */
export type SetExitCode = (code: number) => void;

/** Exit codes scripts can rely on. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/**
 * A failure the command already knows how to say: printed as `sealgate: <message>`, with its exit code
 * (1 by default; 2 for a usage error the parser could not catch, such as a bad environment value).
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
    /** More lines printed after the message (problems, hints). */
    readonly details: string[] = [],
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** One invocation's output: `json` decides between the data as JSON and the readable rendering. */
export class Output {
  constructor(
    private readonly io: CliIo,
    readonly json: boolean,
  ) {}

  /** Prints a command's result: `data` as one JSON document with `--json`, else `human()`'s text. */
  result(data: unknown, human: () => string): void {
    if (this.json) this.io.stdout(`${JSON.stringify(data, null, 2)}\n`);
    else this.io.stdout(ensureNewline(human()));
  }

  /** A message for the operator (stderr), in both modes: warnings, reminders, progress. */
  note(text: string): void {
    this.io.stderr(ensureNewline(text));
  }
}

function ensureNewline(text: string): string {
  return text === '' || text.endsWith('\n') ? text : `${text}\n`;
}

/** Renders rows as a plain text table with a header, columns padded to their widest cell. */
export function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** A scalar as one table cell or value: `-` for null/undefined, JSON for anything nested. */
export function cell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}
