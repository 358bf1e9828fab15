/**
 * The control plane's reload rules, on the in-memory store with a hand-moved clock: one store check per
 * interval, a snapshot per config, bad versions never served (nor re-read every interval), rotated secrets
 * rebuilt after their TTL, seeding an empty store once.
 */
import { describe, expect, it } from 'vitest';
import {
  SecretResolver,
  envSecretSource,
  type SecretSource,
} from '../../../functions/core/config/secret-resolver.js';
import type { ConfigStore } from '../../../functions/core/control/config-store.js';
import { ControlPlane, InvalidConfigError } from '../../../functions/core/control/control-plane.js';
import { MemoryConfigStore } from '../../../functions/core/control/memory-config-store.js';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

function document(secretRef = '${env:ADMIN_SECRET}', extra: Record<string, unknown> = {}) {
  return {
    backends: [{ name: 'local', type: 'filesystem', path: '/srv/sealgate' }],
    credentials: [{ access_key_id: 'AKADMIN', secret_access_key: secretRef, admin: true }],
    ...extra,
  };
}

/** The in-memory store, counting the cheap stamp reads and the full reads. */
function counted(store: ConfigStore) {
  const calls = { stamp: 0, current: 0 };
  const wrapped = new Proxy(store, {
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (name === 'stamp') calls.stamp++;
        if (name === 'current') calls.current++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: wrapped, calls };
}

async function start(options: {
  store: ConfigStore;
  now: () => number;
  secrets?: SecretSource;
  ttlMs?: number;
}) {
  return ControlPlane.start({
    store: options.store,
    resolver: new SecretResolver({
      sources: {
        env: envSecretSource({ ADMIN_SECRET: 'admin-secret-000' }),
        ...(options.secrets && { secretsmanager: options.secrets }),
      },
      ttlMs: options.ttlMs ?? 60_000,
      now: options.now,
    }),
    backendFactory: () => ({ backends: new Map(), keyServices: new Map() }),
    logger: silent,
    reloadIntervalMs: 5_000,
    now: options.now,
  });
}

describe('ControlPlane', () => {
  it('reads the store stamp at most once per reload interval', async () => {
    let now = 1_000_000;
    const { store, calls } = counted(new MemoryConfigStore(document()));
    const plane = await start({ store, now: () => now });
    const atStart = calls.stamp;
    for (let i = 0; i < 50; i++) await plane.current();
    expect(calls.stamp).toBe(atStart);
    now += 5_000;
    await Promise.all([plane.current(), plane.current(), plane.current()]);
    expect(calls.stamp).toBe(atStart + 1);
    // Nothing moved: no full read.
    expect(calls.current).toBe(1);
  });

  it('serves an applied version from the first request after the interval, keeping the old snapshot for requests that hold it', async () => {
    let now = 0;
    const memory = new MemoryConfigStore(document());
    const plane = await start({ store: memory, now: () => now });
    const held = await plane.current();
    await memory.apply(document(undefined, { domains: ['s3.example.test'] }), {
      baseVersion: 1,
      appliedBy: 'other-instance',
    });
    expect((await plane.current()).version).toBe(1);
    now += 5_000;
    const next = await plane.current();
    expect(next.version).toBe(2);
    expect(next.domains).toContain('s3.example.test');
    expect(held.version).toBe(1);
    expect(held.domains).not.toContain('s3.example.test');
  });

  it('never serves a bad version, reports it once and does not re-read it every interval', async () => {
    let now = 0;
    const { store, calls } = counted(new MemoryConfigStore(document()));
    const plane = await start({ store, now: () => now });
    await store.apply({ ...document(), backends: [] }, { baseVersion: 1, appliedBy: 'hand' });
    now += 5_000;
    expect((await plane.current()).version).toBe(1);
    const health = plane.health();
    expect(health.status).toBe('degraded');
    expect(health.lastReloadError).toMatchObject({
      version: 2,
      problems: [expect.objectContaining({ path: 'backends' })],
    });
    const reads = calls.current;
    now += 5_000;
    await plane.current();
    expect(calls.current).toBe(reads);
    // A good version after it heals the instance.
    await store.apply(document(), { baseVersion: 2, appliedBy: 'hand' });
    now += 5_000;
    expect((await plane.current()).version).toBe(3);
    expect(plane.health()).toMatchObject({ status: 'ok', lastReloadError: null });
  });

  it('refuses to start on a store whose config does not load, with every problem', async () => {
    const store = new MemoryConfigStore({ backends: [{ name: 'x', type: 'ftp' }], colour: 'blue' });
    const error = await start({ store, now: () => 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect((error as InvalidConfigError).problems.map((p) => p.path)).toEqual(
      expect.arrayContaining(['colour', 'backends[0].type']),
    );
  });

  it('rebuilds the running config when a secret changes after its cache TTL, with the version unchanged', async () => {
    let now = 0;
    let secret = 'first-secret-value-01';
    let fetches = 0;
    const secrets: SecretSource = {
      async get() {
        fetches++;
        return secret;
      },
    };
    const plane = await start({
      store: new MemoryConfigStore(document('${secretsmanager:sealgate/admin}')),
      now: () => now,
      secrets,
      ttlMs: 30_000,
    });
    const before = await plane.current();
    expect(before.credentials.get('AKADMIN')!.secretAccessKey).toBe('first-secret-value-01');
    secret = 'second-secret-value-02';
    now += 10_000; // past the interval, within the TTL: the cached value still serves
    expect((await plane.current()).credentials.get('AKADMIN')!.secretAccessKey).toBe('first-secret-value-01');
    now += 25_000; // past the TTL
    const after = await plane.current();
    expect(after.version).toBe(before.version);
    expect(after.credentials.get('AKADMIN')!.secretAccessKey).toBe('second-secret-value-02');
    expect(after.fingerprints['credentials[0].secret_access_key']).not.toBe(
      before.fingerprints['credentials[0].secret_access_key'],
    );
    expect(fetches).toBe(2);
  });

  it('seeds an empty store with the initial document once', async () => {
    const memory = new MemoryConfigStore();
    const plane = await ControlPlane.start({
      store: memory,
      resolver: new SecretResolver({
        sources: { env: envSecretSource({ ADMIN_SECRET: 'admin-secret-000' }) },
        ttlMs: 1000,
      }),
      backendFactory: () => ({ backends: new Map(), keyServices: new Map() }),
      logger: silent,
      initialDocument: document(),
    });
    expect(plane.runtime.version).toBe(1);
    expect((await memory.current())!.appliedBy).toBe('initial-config');
    // A second instance finds it seeded and leaves it alone.
    const again = await ControlPlane.start({
      store: memory,
      resolver: new SecretResolver({
        sources: { env: envSecretSource({ ADMIN_SECRET: 'admin-secret-000' }) },
        ttlMs: 1000,
      }),
      backendFactory: () => ({ backends: new Map(), keyServices: new Map() }),
      logger: silent,
      initialDocument: document(undefined, { domains: ['other.example'] }),
    });
    expect(again.runtime.version).toBe(1);
    expect(again.runtime.domains).not.toContain('other.example');
  });

  it('refuses a change on a read-only store with the reason', async () => {
    const store = new MemoryConfigStore(document(), 'fixed config from SEALGATE_CONFIG');
    const plane = await start({ store, now: () => 0 });
    const error = await plane.apply(document(), { baseVersion: 1, appliedBy: 'x' }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('fixed config from SEALGATE_CONFIG');
  });
});
