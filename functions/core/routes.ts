import type { Backend } from './backend.js';
import type { GatewayConfig } from './config/schema.js';
import type { BucketListing } from './control/config-store.js';
import type { BackendKeys } from './encryption/data-keys.js';
import { listingReads } from './encryption/listed-object.js';
import type { BucketEncryption } from './encryption/write-target.js';

/**
 * Where a gateway bucket lives: its backend, the bucket's name there, the backend's keys, the bucket's
 * default encryption when it has one (PutBucketEncryption), and its listing record where the gateway keeps
 * one (a gateway on a fixed config keeps none).
 */
export interface Route {
  backend: Backend;
  bucket: string;
  keys: BackendKeys;
  encryption?: BucketEncryption;
  listing?: ListingGuard;
}

/**
 * A gateway bucket's listing record as its requests use it (docs: "Listing cost"): whether its listings
 * may show what the backend lists, and the arming every write of an object a listing must read does first.
 */
export interface ListingGuard {
  /** Whether a listing may skip reading its objects' metadata: the store records the bucket `plain` now. */
  plain(): Promise<boolean>;
  /**
   * Before an object is stored with these markers: when a listing must read them and the bucket is not
   * known to be `marked`, the store records it so first.
   */
  beforeWrite(internal: Record<string, string>): Promise<void>;
}

/** The store's side of the listing records (the control plane's). */
export interface ListingRecords {
  /** The record as this instance's snapshot knows it (it may be older than the store's). */
  known(bucket: string): BucketListing | undefined;
  /** Whether the store records the bucket `plain` now. */
  listsPlain(bucket: string): Promise<boolean>;
  /** Records the bucket `marked` in the store. */
  mark(bucket: string): Promise<void>;
}

/**
 * Maps gateway buckets to backends. A bucket with an explicit route goes where the route says; any other
 * bucket lives on the default backend under its own name (that is where CreateBucket puts new buckets).
 */
export class BucketRoutes {
  private readonly explicit: Map<string, { backend: string; backendBucket: string }>;

  constructor(
    private readonly config: Pick<GatewayConfig, 'buckets' | 'defaultBackend'>,
    private readonly backends: ReadonlyMap<string, Backend>,
    private readonly keys: ReadonlyMap<string, BackendKeys>,
    /** Default encryption by gateway bucket name. */
    private readonly encryption: ReadonlyMap<string, BucketEncryption> = new Map(),
    private readonly listings?: ListingRecords,
  ) {
    this.explicit = new Map(config.buckets.map((b) => [b.name, b]));
  }

  /** A route to a bucket on a named backend, whatever the routes say (a migrate job's source and target). */
  at(backendName: string, backendBucket: string): Route {
    const backend = this.backends.get(backendName);
    const keys = this.keys.get(backendName);
    if (!backend || !keys) throw new Error(`backend ${backendName} is not configured`);
    return { backend, bucket: backendBucket, keys };
  }

  /** Whether the config has a backend of this name. */
  hasBackend(backendName: string): boolean {
    return this.backends.has(backendName);
  }

  resolve(bucket: string): Route {
    const route = this.explicit.get(bucket);
    const backendName = route?.backend ?? this.config.defaultBackend;
    const backend = this.backends.get(backendName);
    const keys = this.keys.get(backendName);
    if (!backend || !keys) throw new Error(`backend ${backendName} is not configured`);
    const encryption = this.encryption.get(bucket);
    const listing = this.listings && listingGuard(bucket, this.listings);
    return {
      backend,
      bucket: route?.backendBucket ?? bucket,
      keys,
      ...(encryption && { encryption }),
      ...(listing && { listing }),
    };
  }

  /** The bucket's default encryption, if it has one. */
  defaultEncryption(bucket: string): BucketEncryption | undefined {
    return this.encryption.get(bucket);
  }

  /**
   * Every bucket the gateway serves: the default backend's buckets that no route sends elsewhere, plus
   * each explicitly routed bucket that exists on its backend.
   */
  async list(): Promise<{ name: string; created: Date }[]> {
    const { defaultBackend, buckets } = this.config;
    // A default-backend bucket that a route names (as gateway name or as its backend bucket) is shown
    // under the route instead.
    const claimed = new Set(
      buckets.flatMap((b) => (b.backend === defaultBackend ? [b.name, b.backendBucket] : [b.name])),
    );
    const found = new Map<string, Date>();
    for (const b of await this.backends.get(defaultBackend)!.listBuckets()) {
      if (!claimed.has(b.name)) found.set(b.name, b.created);
    }
    // Each backend that routes point to is listed once, for the routed buckets' creation dates.
    const listings = new Map<Backend, Promise<Map<string, Date>>>();
    for (const route of buckets) {
      const { backend, bucket } = this.resolve(route.name);
      if (!listings.has(backend)) {
        listings.set(
          backend,
          backend.listBuckets().then((list) => new Map(list.map((b) => [b.name, b.created]))),
        );
      }
      const created = (await listings.get(backend)!).get(bucket);
      if (created) found.set(route.name, created);
    }
    return [...found]
      .map(([name, created]) => ({ name, created }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }
}

function listingGuard(bucket: string, records: ListingRecords): ListingGuard {
  return {
    // Only a bucket this snapshot knows as `plain` can be one now (a record turns `plain` only at
    // CreateBucket, on the instance that serves it); the store has the last word, as another instance may
    // have marked it since.
    plain: async () => records.known(bucket) === 'plain' && (await records.listsPlain(bucket)),
    // `marked` is never taken back, so an instance that knows it needs no store call.
    beforeWrite: async (internal) => {
      if (records.known(bucket) !== 'marked' && listingReads(internal)) await records.mark(bucket);
    },
  };
}
