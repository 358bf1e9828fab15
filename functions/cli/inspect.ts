/** `sealgate inspect s3://bucket/key`: how one object is stored (markers, format, key id, sizes; never a key). */
import { Command, InvalidArgumentError } from 'commander';
import { encodeKeyPath } from './admin-client.js';
import { adminClientFrom } from './admin-target.js';
import { jsonOption, remoteOptions, type RemoteCommandOptions } from './command-options.js';
import { cell, Output, type CliIo } from './output.js';

export interface ObjectAddress {
  bucket: string;
  key: string;
}

/** Parses `s3://bucket/key` (the key may hold further `/`). */
export function parseS3Uri(text: string): ObjectAddress {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(text);
  if (!match) throw new InvalidArgumentError('expected s3://bucket/key');
  return { bucket: match[1], key: match[2] };
}

/** `name: value` lines, nested objects indented under their name. */
export function describe(value: Record<string, unknown>, indent = ''): string {
  return Object.entries(value)
    .map(([name, item]) => {
      if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
        const inner = describe(item as Record<string, unknown>, `${indent}  `);
        return inner === '' ? `${indent}${name}: -\n` : `${indent}${name}:\n${inner}`;
      }
      const shown = Array.isArray(item) ? (item.length === 0 ? '-' : item.map(cell).join(', ')) : cell(item);
      return `${indent}${name}: ${shown}\n`;
    })
    .join('');
}

export function inspectCommand(io: CliIo): Command {
  return jsonOption(
    remoteOptions(
      new Command('inspect')
        .description(
          "show how an object is stored: encryption, key id, format, sizes, markers (never a key's bytes)",
        )
        .argument('<s3-uri>', 's3://bucket/key', parseS3Uri),
    ),
  ).action(async (address: ObjectAddress, options: RemoteCommandOptions) => {
    const out = new Output(io, options.json === true);
    const client = adminClientFrom(options, io.env);
    const answer = await client.get<Record<string, unknown>>(
      `objects/${encodeKeyPath(address.bucket)}/${encodeKeyPath(address.key)}`,
    );
    out.result(answer, () => describe(answer));
  });
}
