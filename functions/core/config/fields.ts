/**
 * Reading one mapping of the config document. A field that is wrong is recorded, with its path, in a
 * `ProblemSink` shared by the whole document, and reading goes on: validation reports every problem at once.
 */
import type { ConfigProblem } from './problems.js';

export type Json = Record<string, unknown>;

/** An http:// or https:// URL with a host. */
export const HTTP_URL = /^https?:\/\/[^/]+/;

export function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Every problem found in one document, in the order the checks ran. */
export class ProblemSink {
  readonly problems: ConfigProblem[] = [];

  error(path: string, message: string): void {
    this.problems.push({ severity: 'error', path, message });
  }

  warn(path: string, message: string): void {
    this.problems.push({ severity: 'warning', path, message });
  }

  get errorCount(): number {
    return this.problems.filter((p) => p.severity === 'error').length;
  }
}

/**
 * Reads fields off one config object. A read that fails records the problem and gives `undefined` (a
 * required or wrongly typed field) or the fallback (a flag), so the caller checks the fields it can.
 */
export class Fields {
  private constructor(
    private readonly node: Json,
    /** The object's own path, `backends[0]`; `''` for the document. */
    readonly path: string,
    readonly sink: ProblemSink,
  ) {}

  /** The fields of `value`, or `undefined` (recorded) when it is not a mapping. */
  static of(value: unknown, path: string, sink: ProblemSink): Fields | undefined {
    if (!isObject(value)) {
      sink.error(path, 'must be a mapping');
      return undefined;
    }
    return new Fields(value, path, sink);
  }

  at(name: string): string {
    return this.path ? `${this.path}.${name}` : name;
  }

  /** Records a problem with the field `name`. */
  error(name: string, message: string): void {
    this.sink.error(this.at(name), message);
  }

  /** Records every field not in `allowed`. */
  only(allowed: string[]): void {
    for (const name of Object.keys(this.node)) {
      if (!allowed.includes(name)) this.error(name, `unknown field (expected one of: ${allowed.join(', ')})`);
    }
  }

  /** True when the field is given (YAML's empty value, `null`, counts as not given). */
  has(name: string): boolean {
    const value = this.node[name];
    return value !== undefined && value !== null;
  }

  /** A non-empty string; `undefined` when it is missing (recorded unless `optional`) or not a string. */
  string(name: string, optional = false): string | undefined {
    const value = this.node[name];
    if (value === undefined || value === null) {
      if (!optional) this.error(name, 'is required');
      return undefined;
    }
    if (typeof value !== 'string' || value === '') {
      this.error(name, 'must be a non-empty string');
      return undefined;
    }
    return value;
  }

  /** A flag; `fallback` when it is missing, and also (recorded) when it is not a boolean. */
  boolean(name: string, fallback: boolean): boolean {
    const value = this.node[name];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'boolean') {
      this.error(name, 'must be true or false');
      return fallback;
    }
    return value;
  }

  /**
   * A whole number from `min` to `max`; `fallback` when it is missing, and also (recorded) when it is not
   * one in that span.
   */
  wholeNumber(name: string, fallback: number, min: number, max: number): number {
    const value = this.node[name];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.error(name, `must be a whole number from ${min} to ${max}`);
      return fallback;
    }
    return value;
  }

  /** A list, `[]` when missing; `undefined` (recorded) when it is not a list. */
  list(name: string): unknown[] | undefined {
    const value = this.node[name];
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) {
      this.error(name, 'must be a list');
      return undefined;
    }
    return value as unknown[];
  }

  raw(name: string): unknown {
    return this.node[name];
  }
}
