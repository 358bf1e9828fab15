/**
 * What validation found in a config document: every problem at once, each with the path of the field it
 * is about (`backends[1].encryption.key`). Errors refuse the config; warnings are shown and let it through.
 */
export type Severity = 'error' | 'warning';

export interface ConfigProblem {
  severity: Severity;
  /** The field's path in the document, `backends[0].type`; `''` for the document itself. */
  path: string;
  /** What is wrong, safe to show (never a secret's value). */
  message: string;
}

/** Renders a problem as one line: `error at backends[1].type: unknown backend type "ftp"`. */
export function formatProblem(problem: ConfigProblem): string {
  return `${problem.severity} at ${problem.path || '(document)'}: ${problem.message}`;
}
