/**
 * A bounded cache of aws-kms-envelope data keys in front of a {@link KeyService}: the plaintext of a wrapped
 * data key KMS has already opened (or made) under the same encryption context, so that reading an object
 * again within `maxAgeMs` costs no KMS Decrypt.
 *
 * - An entry is the wrapped key (KMS's ciphertext blob) and the whole encryption context, as KMS binds them:
 *   the same blob under another context (a moved object) is not in the cache and goes to KMS, which refuses
 *   it.
 * - Entries live `maxAgeMs` from the moment KMS answered, however often they are read (a revoked key or
 *   grant stops reads within that time); at most `maxEntries` are held, the least recently used leaving
 *   first. A leaving entry's key bytes are overwritten with zeros.
 * - GenerateDataKey and Encrypt fill it too: the gateway holds that plaintext already, and a read right
 *   after a write is then free.
 * - Concurrent misses of one entry share one Decrypt; a failed Decrypt is not kept.
 * - Nothing is shared between backends or config generations: each backend's key service, and so its
 *   cache, is made anew when the config changes (a key removed from the config takes its cache with it).
 */
import type { KeyService } from './kms.js';

export interface DataKeyCacheLimits {
  /** How long an entry serves after KMS answered. */
  maxAgeMs: number;
  /** How many entries are held at most. */
  maxEntries: number;
}

interface Entry {
  expiresAt: number;
  opened: Promise<{ plaintext: Uint8Array; keyId: string }>;
  /** The cached key bytes, once known: zeroed when the entry leaves. */
  plaintext?: Uint8Array;
}

/** The entry's identity: the blob and the context, both exactly (context keys in sorted order). */
function entryName(ciphertext: Uint8Array, context: Record<string, string>): string {
  const pairs = Object.entries(context).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${Buffer.from(ciphertext).toString('base64')}\n${JSON.stringify(pairs)}`;
}

export class CachingKeyService implements KeyService {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly inner: KeyService,
    private readonly limits: DataKeyCacheLimits,
    private readonly now: () => number = Date.now,
  ) {
    if (!(limits.maxAgeMs > 0) || !(limits.maxEntries > 0)) {
      throw new Error('a data-key cache needs a positive age and size; leave it out to have none');
    }
  }

  /** How many entries the cache holds now (expired ones included until they are next looked at). */
  get size(): number {
    return this.entries.size;
  }

  async generateDataKey(keyId: string, context: Record<string, string>) {
    const out = await this.inner.generateDataKey(keyId, context);
    this.remember(out.ciphertext, context, out.plaintext, out.keyId);
    return out;
  }

  async encrypt(keyId: string, plaintext: Uint8Array, context: Record<string, string>) {
    const out = await this.inner.encrypt(keyId, plaintext, context);
    this.remember(out.ciphertext, context, plaintext, out.keyId);
    return out;
  }

  async decrypt(ciphertext: Uint8Array, context: Record<string, string>) {
    const name = entryName(ciphertext, context);
    const found = this.entries.get(name);
    if (found && found.expiresAt > this.now()) {
      // Most recently used goes last; its expiry stays what KMS's answer set.
      this.entries.delete(name);
      this.entries.set(name, found);
      return copyOf(await found.opened);
    }
    if (found) this.forget(name, found);
    const entry: Entry = {
      expiresAt: this.now() + this.limits.maxAgeMs,
      opened: this.inner.decrypt(ciphertext, context),
    };
    this.insert(name, entry);
    try {
      const out = await entry.opened;
      entry.plaintext = out.plaintext;
      return copyOf(out);
    } catch (error) {
      if (this.entries.get(name) === entry) this.entries.delete(name);
      throw error;
    }
  }

  private remember(
    ciphertext: Uint8Array,
    context: Record<string, string>,
    plaintext: Uint8Array,
    keyId: string,
  ): void {
    const name = entryName(ciphertext, context);
    const previous = this.entries.get(name);
    if (previous) this.forget(name, previous);
    const kept = Uint8Array.from(plaintext);
    this.insert(name, {
      expiresAt: this.now() + this.limits.maxAgeMs,
      opened: Promise.resolve({ plaintext: kept, keyId }),
      plaintext: kept,
    });
  }

  private insert(name: string, entry: Entry): void {
    this.entries.set(name, entry);
    for (const [oldest, old] of this.entries) {
      if (this.entries.size <= this.limits.maxEntries) break;
      this.forget(oldest, old);
    }
  }

  private forget(name: string, entry: Entry): void {
    this.entries.delete(name);
    entry.plaintext?.fill(0);
  }
}

/** Callers get their own copy: the cached bytes are zeroed when their entry leaves. */
function copyOf(out: { plaintext: Uint8Array; keyId: string }): { plaintext: Uint8Array; keyId: string } {
  return { plaintext: Uint8Array.from(out.plaintext), keyId: out.keyId };
}
