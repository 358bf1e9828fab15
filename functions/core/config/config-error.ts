import type { ConfigProblem } from './problems.js';

/** A configuration problem: says where (`backends[1].encryption.mode`) and what is wrong. */
export class ConfigError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`config error at ${path}: ${problem}`);
    this.name = 'ConfigError';
  }
}

/**
 * Every problem validation found in a document that has at least one error. `path` and `problem` are the
 * first error's, so code that handles one `ConfigError` still works; the message lists every error, one
 * per line, each as a `ConfigError` would say it.
 */
export class ConfigErrors extends ConfigError {
  /** Every problem found, warnings included, in the order the checks ran. */
  readonly problems: ConfigProblem[];

  constructor(problems: ConfigProblem[]) {
    const errors = problems.filter((p) => p.severity === 'error');
    const [first] = errors;
    if (first === undefined) throw new RangeError('ConfigErrors needs at least one error-severity problem');
    super(first.path, first.message);
    this.message = errors.map((e) => `config error at ${e.path}: ${e.message}`).join('\n');
    this.name = 'ConfigErrors';
    this.problems = problems;
  }
}
