/** Reading one mapping of the config document, with every error naming the field's path. */
import { ConfigError } from './config-error.js';

export type Json = Record<string, unknown>;

/** An http:// or https:// URL with a host. */
export const HTTP_URL = /^https?:\/\/[^/]+/;

export function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Reads fields off one config object, naming the path of anything wrong. */
export class Fields {
  constructor(
    private readonly node: Json,
    private readonly path: string,
  ) {}

  static of(value: unknown, path: string): Fields {
    if (!isObject(value)) throw new ConfigError(path, 'must be a mapping');
    return new Fields(value, path);
  }

  at(name: string): string {
    return this.path ? `${this.path}.${name}` : name;
  }

  only(allowed: string[]): void {
    for (const name of Object.keys(this.node)) {
      if (!allowed.includes(name)) {
        throw new ConfigError(this.at(name), `unknown field (expected one of: ${allowed.join(', ')})`);
      }
    }
  }

  string(name: string): string;
  string(name: string, optional: true): string | undefined;
  string(name: string, optional = false): string | undefined {
    const value = this.node[name];
    if (value === undefined || value === null) {
      if (optional) return undefined;
      throw new ConfigError(this.at(name), 'is required');
    }
    if (typeof value !== 'string' || value === '')
      throw new ConfigError(this.at(name), 'must be a non-empty string');
    return value;
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.node[name];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'boolean') throw new ConfigError(this.at(name), 'must be true or false');
    return value;
  }

  list(name: string): unknown[] {
    const value = this.node[name];
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) throw new ConfigError(this.at(name), 'must be a list');
    return value;
  }

  raw(name: string): unknown {
    return this.node[name];
  }
}
