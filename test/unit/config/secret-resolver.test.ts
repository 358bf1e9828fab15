import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fingerprint } from '../../../functions/core/config/fingerprint.js';
import { findReferences, type SecretReference } from '../../../functions/core/config/references.js';
import {
  envSecretSource,
  SecretResolver,
  SecretSourceError,
  type SecretSource,
} from '../../../functions/core/config/secret-resolver.js';
import { rejected } from '../../support/thrown.js';

const TTL_MS = 60_000;

/** An in-memory source: values can change under it (a rotation), and it counts its reads by name. */
class FakeSource implements SecretSource {
  readonly reads = new Map<string, number>();
  /** When set, reads wait for `release()`: to hold several in flight at once. */
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;

  constructor(readonly values: Map<string, string>) {}

  async get(name: string): Promise<string> {
    this.reads.set(name, (this.reads.get(name) ?? 0) + 1);
    await this.gate;
    const value = this.values.get(name);
    if (value === undefined) throw new SecretSourceError(`secret ${name} was not found in the fake`);
    return value;
  }

  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.open?.();
    this.gate = undefined;
  }

  totalReads(): number {
    return [...this.reads.values()].reduce((a, b) => a + b, 0);
  }
}

function clock(): { now: () => number; advance(ms: number): void } {
  let at = 5_000_000;
  return { now: () => at, advance: (ms) => void (at += ms) };
}

/** The references of a document, which must have no problems. */
function referencesOf(document: unknown): SecretReference[] {
  const found = findReferences(document);
  expect(found.problems).toEqual([]);
  return found.references;
}

function referenceTo(text: string): SecretReference {
  const [reference] = referencesOf({ value: text });
  return reference;
}

describe('SecretResolver cache', () => {
  it('serves a fresh value from the cache without asking the source', async () => {
    const source = new FakeSource(new Map([['db', 'v1']]));
    const time = clock();
    const resolver = new SecretResolver({
      sources: { secretsmanager: source },
      ttlMs: TTL_MS,
      now: time.now,
    });
    const reference = referenceTo('${secretsmanager:db}');
    expect(await resolver.resolve(reference)).toBe('v1');
    source.values.set('db', 'v2');
    time.advance(TTL_MS - 1);
    expect(await resolver.resolve(reference)).toBe('v1');
    expect(source.reads.get('db')).toBe(1);
    expect(resolver.stale()).toBe(false);
  });

  it('fetches a new value once the TTL has passed, and is stale until then', async () => {
    const source = new FakeSource(new Map([['db', 'v1']]));
    const time = clock();
    const resolver = new SecretResolver({
      sources: { secretsmanager: source },
      ttlMs: TTL_MS,
      now: time.now,
    });
    const reference = referenceTo('${secretsmanager:db}');
    await resolver.resolve(reference);
    source.values.set('db', 'v2');
    time.advance(TTL_MS);
    expect(resolver.stale()).toBe(true);
    expect(await resolver.resolve(reference)).toBe('v2');
    expect(source.reads.get('db')).toBe(2);
    expect(resolver.stale()).toBe(false);
  });

  it('asks the source every time when the TTL is 0', async () => {
    const source = new FakeSource(new Map([['/p', 'v']]));
    const resolver = new SecretResolver({ sources: { ssm: source }, ttlMs: 0, now: clock().now });
    const reference = referenceTo('${ssm:/p}');
    await resolver.resolve(reference);
    await resolver.resolve(reference);
    expect(source.reads.get('/p')).toBe(2);
  });

  it('is not stale before anything was resolved', () => {
    expect(new SecretResolver({ sources: {}, ttlMs: TTL_MS }).stale()).toBe(false);
  });

  it('refuses a TTL that is negative or not finite', () => {
    for (const ttlMs of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new SecretResolver({ sources: {}, ttlMs })).toThrow(
        'the secrets TTL must be a finite number of milliseconds, 0 or more',
      );
    }
  });

  it('keeps a stale value when its refresh fails, so the next check tries again', async () => {
    const source = new FakeSource(new Map([['db', 'v1']]));
    const time = clock();
    const resolver = new SecretResolver({
      sources: { secretsmanager: source },
      ttlMs: TTL_MS,
      now: time.now,
    });
    const references = referencesOf({ key: '${secretsmanager:db}' });
    await resolver.resolveAll(references);
    source.values.delete('db');
    time.advance(TTL_MS);
    const { problems } = await resolver.resolveAll(references);
    expect(problems).toHaveLength(1);
    expect(resolver.stale()).toBe(true);
  });

  it('drops stale values of references no longer asked for, so stale() speaks of the config in use', async () => {
    const source = new FakeSource(
      new Map([
        ['old', 'o'],
        ['new', 'n'],
      ]),
    );
    const time = clock();
    const resolver = new SecretResolver({
      sources: { secretsmanager: source },
      ttlMs: TTL_MS,
      now: time.now,
    });
    await resolver.resolveAll(referencesOf({ key: '${secretsmanager:old}' }));
    time.advance(TTL_MS);
    await resolver.resolveAll(referencesOf({ key: '${secretsmanager:new}' }));
    expect(resolver.stale()).toBe(false);
  });

  it('keeps fresh values of references not asked for: validating another document costs the running one nothing', async () => {
    const source = new FakeSource(
      new Map([
        ['running', 'r'],
        ['candidate', 'c'],
      ]),
    );
    const resolver = new SecretResolver({
      sources: { secretsmanager: source },
      ttlMs: TTL_MS,
      now: clock().now,
    });
    const running = referencesOf({ key: '${secretsmanager:running}' });
    await resolver.resolveAll(running);
    await resolver.resolveAll(referencesOf({ key: '${secretsmanager:candidate}' }));
    await resolver.resolveAll(running);
    expect(source.reads.get('running')).toBe(1);
  });
});

describe('SecretResolver.resolveAll', () => {
  it('resolves each raw reference once, in parallel, and two fields of one secret with one read', async () => {
    const source = new FakeSource(
      new Map([
        ['db', JSON.stringify({ user: 'alice', password: 'pw' })],
        ['other', 'x'],
      ]),
    );
    const resolver = new SecretResolver({ sources: { secretsmanager: source }, ttlMs: TTL_MS });
    const references = referencesOf({
      a: '${secretsmanager:db#user}',
      b: '${secretsmanager:db#password}',
      c: '${secretsmanager:db#user}',
      d: '${secretsmanager:other}',
    });
    source.hold();
    const resolving = resolver.resolveAll(references);
    // Every read has started before any answered: they run in parallel.
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(Object.fromEntries(source.reads)).toEqual({ db: 1, other: 1 });
    source.release();
    const { values, problems } = await resolving;
    expect(problems).toEqual([]);
    expect(values).toEqual(
      new Map([
        ['${secretsmanager:db#user}', 'alice'],
        ['${secretsmanager:db#password}', 'pw'],
        ['${secretsmanager:other}', 'x'],
      ]),
    );
    expect(source.totalReads()).toBe(2);
  });

  it('shares one read between concurrent resolve() calls for the same secret', async () => {
    const source = new FakeSource(new Map([['/p', 'v']]));
    const resolver = new SecretResolver({ sources: { ssm: source }, ttlMs: TTL_MS });
    const reference = referenceTo('${ssm:/p}');
    source.hold();
    const both = Promise.all([resolver.resolve(reference), resolver.resolve(reference)]);
    source.release();
    expect(await both).toEqual(['v', 'v']);
    expect(source.reads.get('/p')).toBe(1);
  });

  it('turns each failure into an error at every path that uses the reference, and resolves the rest', async () => {
    const source = new FakeSource(new Map([['good', 'g']]));
    const resolver = new SecretResolver({ sources: { secretsmanager: source }, ttlMs: TTL_MS });
    const { values, problems } = await resolver.resolveAll(
      referencesOf({
        credentials: [
          { secret_access_key: '${secretsmanager:missing}' },
          { secret_access_key: '${secretsmanager:good}' },
        ],
        backends: [{ secret_access_key: '${secretsmanager:missing}' }],
      }),
    );
    expect(values).toEqual(new Map([['${secretsmanager:good}', 'g']]));
    expect(problems).toEqual([
      {
        severity: 'error',
        path: 'credentials[0].secret_access_key',
        message: 'cannot resolve ${secretsmanager:missing}: secret missing was not found in the fake',
      },
      {
        severity: 'error',
        path: 'backends[0].secret_access_key',
        message: 'cannot resolve ${secretsmanager:missing}: secret missing was not found in the fake',
      },
    ]);
  });

  it('never throws, even when a source throws synchronously or something other than SecretSourceError', async () => {
    const resolver = new SecretResolver({
      sources: {
        ssm: {
          get: () => {
            throw new TypeError('socket hang up');
          },
        },
        secretsmanager: { get: () => Promise.reject(new Error('throttled')) },
      },
      ttlMs: TTL_MS,
    });
    const { problems } = await resolver.resolveAll(
      referencesOf({ a: '${ssm:/p}', b: '${secretsmanager:s}' }),
    );
    expect(problems.map((p) => p.message)).toEqual([
      'cannot resolve ${ssm:/p}: socket hang up',
      'cannot resolve ${secretsmanager:s}: throttled',
    ]);
  });

  it('does not show an ${env:NAME:-default}’s default, which may be the secret, in a problem', async () => {
    const resolver = new SecretResolver({ sources: {}, ttlMs: TTL_MS });
    const { problems } = await resolver.resolveAll(referencesOf({ key: '${env:KEY:-hunter2}' }));
    expect(problems.map((p) => p.message)).toEqual([
      'cannot resolve ${env:KEY:-…}: no source is set up for env references',
    ]);
  });

  it('reports a scheme that has no source', async () => {
    const resolver = new SecretResolver({ sources: {}, ttlMs: TTL_MS });
    const { problems, placeholders } = await resolver.resolveAll(referencesOf({ key: '${ssm:/p}' }));
    expect(problems).toEqual([
      {
        severity: 'error',
        path: 'key',
        message: 'cannot resolve ${ssm:/p}: no source is set up for ssm references',
      },
    ]);
    expect(placeholders).toEqual([]);
  });
});

describe('SecretResolver #field', () => {
  async function fieldProblem(secret: string, field: string): Promise<string> {
    const resolver = new SecretResolver({
      sources: { secretsmanager: new FakeSource(new Map([['s', secret]])) },
      ttlMs: 0,
    });
    const { problems } = await resolver.resolveAll(referencesOf({ key: `\${secretsmanager:s#${field}}` }));
    expect(problems).toHaveLength(1);
    expect(problems[0].message).not.toContain(secret);
    return problems[0].message;
  }

  it('says a secret that is not JSON has no field, without quoting the secret', async () => {
    expect(await fieldProblem('hunter2-not-json', 'password')).toBe(
      'cannot resolve ${secretsmanager:s#password}: secret s is not JSON, so it has no field "password"',
    );
  });

  it('says a JSON secret that is not an object has no field', async () => {
    expect(await fieldProblem('["hunter2"]', 'password')).toBe(
      'cannot resolve ${secretsmanager:s#password}: secret s is not a JSON object, so it has no field "password"',
    );
  });

  it('names the field a JSON secret lacks', async () => {
    expect(await fieldProblem('{"user":"hunter2"}', 'password')).toBe(
      'cannot resolve ${secretsmanager:s#password}: secret s has no field "password"',
    );
  });

  it('refuses a field that holds an object', async () => {
    expect(await fieldProblem('{"password":{"v":"hunter2"}}', 'password')).toBe(
      'cannot resolve ${secretsmanager:s#password}: field "password" of secret s is not a string, a number or a boolean',
    );
  });

  it('gives a number or boolean field as its JSON text', async () => {
    const source = new FakeSource(new Map([['s', '{"port":5432,"tls":true}']]));
    const resolver = new SecretResolver({ sources: { secretsmanager: source }, ttlMs: 0 });
    const { values } = await resolver.resolveAll(
      referencesOf({ a: '${secretsmanager:s#port}', b: '${secretsmanager:s#tls}' }),
    );
    expect([...values.values()]).toEqual(['5432', 'true']);
  });
});

describe('envSecretSource', () => {
  it('reads a set variable', async () => {
    const resolver = new SecretResolver({ sources: { env: envSecretSource({ KEY: 'k' }) }, ttlMs: TTL_MS });
    expect(await resolver.resolve(referenceTo('${env:KEY}'))).toBe('k');
  });

  it('says an unset or empty variable without a default is not set', async () => {
    const source = envSecretSource({ EMPTY: '' });
    expect((await rejected(source.get('NOPE'), SecretSourceError)).message).toBe(
      'environment variable NOPE is not set',
    );
    expect((await rejected(source.get('EMPTY'), SecretSourceError)).message).toBe(
      'environment variable EMPTY is not set',
    );
    const resolver = new SecretResolver({ sources: { env: source }, ttlMs: TTL_MS });
    const { problems } = await resolver.resolveAll(referencesOf({ key: '${env:NOPE}' }));
    expect(problems).toEqual([
      {
        severity: 'error',
        path: 'key',
        message: 'cannot resolve ${env:NOPE}: environment variable NOPE is not set',
      },
    ]);
  });

  it('uses the default of ${env:NAME:-default} when the variable is unset or empty, and the variable when set', async () => {
    const resolver = new SecretResolver({
      sources: { env: envSecretSource({ EMPTY: '', SET: '9100' }) },
      ttlMs: TTL_MS,
    });
    const { values, problems } = await resolver.resolveAll(
      referencesOf({ a: '${env:UNSET:-9000}', b: '${env:EMPTY:-9000}', c: '${env:SET:-9000}' }),
    );
    expect(problems).toEqual([]);
    expect([...values.values()]).toEqual(['9000', '9000', '9100']);
  });
});

describe('SecretResolver placeholders', () => {
  it('resolves a scheme with no source to the sha-256 of the raw reference, and lists it', async () => {
    const resolver = new SecretResolver({ sources: {}, ttlMs: TTL_MS, placeholders: true });
    const raw = '${secretsmanager:sealgate/admin#secret}';
    const { values, problems, placeholders } = await resolver.resolveAll(referencesOf({ key: raw }));
    expect(problems).toEqual([]);
    expect(values.get(raw)).toBe(createHash('sha256').update(raw).digest('hex'));
    expect(values.get(raw)).toMatch(/^[0-9a-f]{64}$/);
    expect(placeholders).toEqual([raw]);
  });

  it('still reads, and reports, schemes that have a source', async () => {
    const resolver = new SecretResolver({
      sources: { env: envSecretSource({ SET: 's' }) },
      ttlMs: TTL_MS,
      placeholders: true,
    });
    const { values, problems, placeholders } = await resolver.resolveAll(
      referencesOf({ a: '${env:SET}', b: '${env:UNSET}', c: '${ssm:/p}' }),
    );
    expect(values.get('${env:SET}')).toBe('s');
    expect(problems.map((p) => p.path)).toEqual(['b']);
    expect(placeholders).toEqual(['${ssm:/p}']);
  });

  it('gives different references different placeholders', async () => {
    const resolver = new SecretResolver({ sources: {}, ttlMs: TTL_MS, placeholders: true });
    const { values } = await resolver.resolveAll(referencesOf({ a: '${ssm:/a}', b: '${ssm:/b}' }));
    expect(values.get('${ssm:/a}')).not.toBe(values.get('${ssm:/b}'));
  });
});

describe('fingerprint', () => {
  const key = new Uint8Array(32).fill(7);

  it('is fp: and the first 16 hex chars of HMAC-SHA-256 (RFC 4231 test case 1)', () => {
    expect(fingerprint(new Uint8Array(20).fill(0x0b), 'Hi There')).toBe('fp:b0344c61d8db3853');
  });

  it('is the same for the same key and value', () => {
    expect(fingerprint(key, 'secret')).toBe(fingerprint(Uint8Array.from(key), 'secret'));
  });

  it('differs for different values and for different keys', () => {
    expect(fingerprint(key, 'secret')).not.toBe(fingerprint(key, 'secret2'));
    expect(fingerprint(key, 'secret')).not.toBe(fingerprint(new Uint8Array(32).fill(8), 'secret'));
  });

  it('does not contain the value', () => {
    expect(fingerprint(key, 'abcdef')).toMatch(/^fp:[0-9a-f]{16}$/);
    expect(fingerprint(key, 'abcdef')).not.toContain('abcdef');
  });

  it('refuses a key shorter than 16 bytes', () => {
    expect(() => fingerprint(new Uint8Array(15), 'secret')).toThrow(
      'a fingerprint key must be at least 16 bytes',
    );
  });
});
