/**
 * Resolves secret references to their values through one {@link SecretSource} per scheme, and keeps each
 * value for a TTL so a reloading gateway reads Secrets Manager or SSM once per TTL, not once per check. The
 * cache is this resolver's alone: sources are expected to fetch every time they are asked.
 */
import { createHash } from 'node:crypto';
import type { ConfigProblem } from './problems.js';
import type { ReferenceScheme, SecretReference } from './references.js';

/** Where the values of one scheme's references come from. */
export interface SecretSource {
  /** The value named `name`, fetched now; throws {@link SecretSourceError} (safe message, never the value). */
  get(name: string): Promise<string>;
}

/** A secret could not be read; the message names the secret and why, and never holds its value. */
export class SecretSourceError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SecretSourceError';
  }
}

export interface SecretResolverOptions {
  sources: Partial<Record<ReferenceScheme, SecretSource>>;
  /** How long a resolved value is served from the cache. */
  ttlMs: number;
  now?: () => number;
  /**
   * For offline validation: a scheme with no source resolves to a placeholder (64 hex chars: sha-256 of
   * the raw reference) instead of failing, so field checks still pass.
   */
  placeholders?: boolean;
}

interface Fetched {
  value: string;
  /** When the read that produced the value began: its age is counted from then, to err on the fresh side. */
  fetchedAt: number;
}

export class SecretResolver {
  readonly ttlMs: number;
  private readonly sources: Partial<Record<ReferenceScheme, SecretSource>>;
  private readonly now: () => number;
  private readonly placeholders: boolean;
  /** Resolved values by the reference as written. */
  private readonly cache = new Map<string, Fetched>();
  /** Reads under way, by scheme and name: references to one secret (two of its fields) share one read. */
  private readonly reading = new Map<string, Promise<Fetched>>();

  constructor(options: SecretResolverOptions) {
    if (!Number.isFinite(options.ttlMs) || options.ttlMs < 0) {
      throw new RangeError('the secrets TTL must be a finite number of milliseconds, 0 or more');
    }
    this.ttlMs = options.ttlMs;
    this.sources = { ...options.sources };
    this.now = options.now ?? Date.now;
    this.placeholders = options.placeholders ?? false;
  }

  /** The reference's value: from the cache while fresh, else from its scheme's source. */
  async resolve(reference: SecretReference): Promise<string> {
    const cached = this.cache.get(reference.raw);
    if (cached !== undefined && this.isFresh(cached)) return cached.value;
    const source = this.sources[reference.scheme];
    if (source === undefined) {
      if (this.placeholders) return placeholderFor(reference);
      throw new SecretSourceError(`no source is set up for ${reference.scheme} references`);
    }
    let fetched: Fetched;
    try {
      fetched = await this.read(source, reference);
    } catch (error) {
      // `${env:NAME:-default}`: the default stands in for an unset or empty variable, as it always has.
      if (reference.fallback === undefined || !(error instanceof SecretSourceError)) throw error;
      fetched = { value: reference.fallback, fetchedAt: this.now() };
    }
    const value =
      reference.field === undefined
        ? fetched.value
        : pickField(fetched.value, reference.name, reference.field);
    this.cache.set(reference.raw, { value, fetchedAt: fetched.fetchedAt });
    return value;
  }

  /**
   * Resolves all (in parallel, each raw once), from the cache while fresh. Failures become error problems
   * at the reference's path (`cannot resolve ${secretsmanager:x}: <reason>`), never throw. Cached values
   * that are stale and not among `references` are dropped: nothing refreshes them, so they would keep
   * {@link stale} true for a config no longer in use.
   */
  async resolveAll(
    references: SecretReference[],
  ): Promise<{ values: Map<string, string>; problems: ConfigProblem[]; placeholders: string[] }> {
    const byRaw = new Map<string, SecretReference[]>();
    for (const reference of references) {
      const same = byRaw.get(reference.raw);
      if (same) same.push(reference);
      else byRaw.set(reference.raw, [reference]);
    }
    for (const [raw, entry] of this.cache) {
      if (!byRaw.has(raw) && !this.isFresh(entry)) this.cache.delete(raw);
    }

    const groups = [...byRaw.values()];
    const outcomes = await Promise.allSettled(groups.map(([first]) => this.resolve(first)));
    const values = new Map<string, string>();
    const problems: ConfigProblem[] = [];
    const placeholders: string[] = [];
    outcomes.forEach((outcome, i) => {
      const group = groups[i];
      const { raw, scheme } = group[0];
      if (outcome.status === 'fulfilled') {
        values.set(raw, outcome.value);
        if (this.placeholders && this.sources[scheme] === undefined) placeholders.push(raw);
        return;
      }
      const reason = outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason);
      const shown = shownReference(group[0]);
      for (const { path } of group) {
        problems.push({ severity: 'error', path, message: `cannot resolve ${shown}: ${reason}` });
      }
    });
    return { values, problems, placeholders };
  }

  /** True when some cached value is older than the TTL (the reloader then re-resolves). */
  stale(): boolean {
    for (const entry of this.cache.values()) if (!this.isFresh(entry)) return true;
    return false;
  }

  private isFresh(entry: Fetched): boolean {
    return this.now() - entry.fetchedAt < this.ttlMs;
  }

  private read(source: SecretSource, reference: SecretReference): Promise<Fetched> {
    const key = `${reference.scheme}:${reference.name}`;
    const under = this.reading.get(key);
    if (under !== undefined) return under;
    const fetchedAt = this.now();
    const reading = (async () => ({ value: await source.get(reference.name), fetchedAt }))();
    this.reading.set(key, reading);
    const done = () => this.reading.delete(key);
    reading.then(done, done);
    return reading;
  }
}

/** A source of environment variables; unset and empty are the same (`environment variable NAME is not set`). */
export function envSecretSource(env: Record<string, string | undefined>): SecretSource {
  return {
    async get(name) {
      const value = env[name];
      if (value === undefined || value === '')
        throw new SecretSourceError(`environment variable ${name} is not set`);
      return value;
    },
  };
}

/** The reference for a message: an `${env:NAME:-default}`'s default may be the secret itself, so it is not shown. */
function shownReference(reference: SecretReference): string {
  return reference.fallback === undefined ? reference.raw : `\${env:${reference.name}:-…}`;
}

function placeholderFor(reference: SecretReference): string {
  return createHash('sha256').update(reference.raw).digest('hex');
}

/**
 * `#field` of a JSON secret. A parse error is not passed on: V8's quotes the text it could not read, and
 * that text is the secret.
 */
function pickField(secret: string, name: string, field: string): string {
  const named = `secret ${name}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(secret);
  } catch {
    throw new SecretSourceError(`${named} is not JSON, so it has no field "${field}"`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new SecretSourceError(`${named} is not a JSON object, so it has no field "${field}"`);
  }
  if (!Object.hasOwn(parsed, field)) throw new SecretSourceError(`${named} has no field "${field}"`);
  const value = (parsed as Record<string, unknown>)[field];
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new SecretSourceError(`field "${field}" of ${named} is not a string, a number or a boolean`);
}
