/** `sealgate posture`: every backend's and bucket's encryption posture, as tables. */
import { Command } from 'commander';
import { adminClientFrom } from './admin-target.js';
import { jsonOption, positiveInteger, remoteOptions, type RemoteCommandOptions } from './command-options.js';
import type { BackendPosture, BucketPosture, ObjectCounts } from '../core/admin/posture.js';
import { cell, Output, textTable, type CliIo } from './output.js';

/** The admin API's answer (functions/core/admin/posture.ts builds it). */
interface PostureAnswer {
  version: number;
  backends: BackendPosture[];
  buckets: BucketPosture[];
}

function otherKeys(counts: ObjectCounts): string {
  const entries = Object.entries(counts.other_keys);
  return entries.length === 0 ? '0' : entries.map(([id, n]) => `${id}=${n}`).join(' ');
}

/** The posture as two tables: backends, then buckets (with object counts when counted). */
export function renderPosture(posture: PostureAnswer): string {
  const backends = textTable(
    ['BACKEND', 'TYPE', 'DEFAULT', 'MODE', 'KEY ID', 'LEGACY KEY ID', 'KMS KEY'],
    posture.backends.map((b) => [
      b.name,
      b.type,
      b.default ? 'yes' : '',
      b.mode,
      cell(b.key_id),
      cell(b.legacy_key_id),
      cell(b.kms_key_id),
    ]),
  );
  const counted = posture.buckets.some((b) => b.objects !== null || b.error !== undefined);
  const header = ['BUCKET', 'BACKEND', 'BACKEND BUCKET', 'ROUTE', 'MODE', 'KEY ID', 'LEGACY KEY ID'];
  if (counted) header.push('OBJECTS', 'PLAIN', 'CURRENT', 'LEGACY', 'SSE-C', 'NATIVE', 'OTHER KEYS');
  const buckets = textTable(
    header,
    posture.buckets.map((b) => {
      const row = [
        b.name,
        b.backend,
        b.backend_bucket,
        b.route,
        b.mode,
        cell(b.key_id),
        cell(b.legacy_key_id),
      ];
      const o = b.objects;
      if (o) {
        row.push(
          `${o.counted}${o.complete ? '' : '+'}`,
          String(o.plaintext),
          String(o.current),
          String(o.legacy_key),
          String(o.sse_c),
          String(o.native),
          otherKeys(o),
        );
      } else if (counted) row.push(b.error ?? '-');
      return row;
    }),
  );
  const none = posture.buckets.length === 0 ? '(no buckets yet)\n' : '';
  return `config version ${posture.version}\n\n${backends}\n${buckets}${none}`;
}

export function postureCommand(io: CliIo): Command {
  return jsonOption(
    remoteOptions(
      new Command('posture').description(
        "every backend's and bucket's encryption posture: mode, key id, legacy key (--count: objects by how they are stored)",
      ),
    ),
  )
    .option('--count', "list each bucket's objects and count them by how they are stored")
    .option(
      '--count-limit <n>',
      'count at most this many objects per bucket (default 10000)',
      positiveInteger,
    )
    .action(async (options: RemoteCommandOptions & { count?: boolean; countLimit?: number }) => {
      const out = new Output(io, options.json === true);
      const client = adminClientFrom(options, io.env);
      const query: Record<string, string> = {};
      if (options.count || options.countLimit !== undefined) query.count = 'true';
      if (options.countLimit !== undefined) query.limit = String(options.countLimit);
      const posture = await client.get<PostureAnswer>('posture', query);
      out.result(posture, () => renderPosture(posture));
    });
}
