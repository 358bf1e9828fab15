/** `sealgate keys generate`: a new key for `aes256-gcm-proxy` (or a legacy key slot), and an id for it. */
import { Command, InvalidArgumentError } from 'commander';
import { randomBytes } from 'node:crypto';
import { jsonOption, type JsonOptions } from './command-options.js';
import { Output, type CliIo } from './output.js';

/** The id a key gets in the config: the config's rule for `key_id` (encryption-config.ts). */
export const KEY_ID = /^[A-Za-z0-9._:/-]{1,64}$/;

/** `-2026-12-03-1a2b`: what follows the prefix in a suggested key id. */
const SUFFIX_LENGTH = 16;

export const KEY_LOSS_REMINDER =
  'Keep this key safe: losing it loses every object written under it.\n' +
  'Store it in Secrets Manager (or another secret store) before using it, and reference it from the\n' +
  'config (key: ${secretsmanager:NAME}, or ${env:NAME} locally) rather than writing it there.\n' +
  'The key id is stored in clear on every object written under the key; the key never is.\n';

function idPrefix(text: string): string {
  if (!KEY_ID.test(text) || text.length > 64 - SUFFIX_LENGTH) {
    throw new InvalidArgumentError(
      `expected up to ${64 - SUFFIX_LENGTH} letters, digits and ._:/- (the key id's rule)`,
    );
  }
  return text;
}

/** A key id naming the day it was made and 4 random hex characters: `key-2026-12-03-1a2b`. */
export function suggestKeyId(prefix: string, now: Date): string {
  return `${prefix}-${now.toISOString().slice(0, 10)}-${randomBytes(2).toString('hex')}`;
}

export function keysCommands(io: CliIo): Command {
  const keys = new Command('keys').description('encryption keys for the gateway-side modes');
  jsonOption(
    keys
      .command('generate')
      .description('print a new random 32-byte key (64 hex characters) and a key id for it'),
  )
    .option('--id-prefix <prefix>', 'the key id starts with this (default "key")', idPrefix)
    .action((options: JsonOptions & { idPrefix?: string }) => {
      const out = new Output(io, options.json === true);
      const key = randomBytes(32);
      const keyId = suggestKeyId(options.idPrefix ?? 'key', new Date());
      out.result(
        { key: key.toString('hex'), key_id: keyId },
        () => `key:    ${key.toString('hex')}\nkey id: ${keyId}\n`,
      );
      key.fill(0);
      out.note(KEY_LOSS_REMINDER);
    });
  return keys;
}
