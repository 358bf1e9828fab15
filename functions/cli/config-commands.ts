/**
 * `sealgate config ...`: validate a file (offline, or by the gateway), diff it against the running config,
 * apply it, and show, list and roll back the kept versions, through the admin API.
 */
import { Command, Option } from 'commander';
import { stringify as toYaml } from 'yaml';
import { formatProblem, type ConfigProblem } from '../core/config/problems.js';
import { AdminApiError, problemsOf, type AdminClient } from './admin-client.js';
import { adminClientFrom, resolveEndpoint } from './admin-target.js';
import {
  jsonOption,
  positiveInteger,
  remoteOptions,
  versionNumber,
  type RemoteCommandOptions,
} from './command-options.js';
import { readConfigFile } from './config-file.js';
import { diffDocuments, formatChange } from './diff.js';
import { guardDocument, SECRET_SHOWN } from './masking.js';
import { validateOffline } from './offline-validate.js';
import { cell, EXIT_FAILURE, EXIT_OK, Output, textTable, type CliIo, type SetExitCode } from './output.js';

/** What `GET /_sealgate/admin/config` and `.../config/versions/{N}` answer (the parts the CLI reads). */
interface ConfigAnswer {
  version: number;
  applied_at?: string | null;
  applied_by?: string | null;
  comment?: string | null;
  digest?: string;
  store?: string;
  config: Record<string, unknown> | null;
  warnings?: unknown;
  reload?: { running_version?: number; last_error?: unknown };
}

interface HistoryAnswer {
  versions: {
    version: number;
    applied_at: string;
    applied_by: string;
    comment?: string | null;
    digest?: string;
  }[];
}

interface ApplyAnswer {
  version: number;
  rolled_back_to?: number;
  problems?: unknown;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function problemLines(problems: ConfigProblem[]): string {
  return problems.map((p) => `${formatProblem(p)}\n`).join('');
}

function summary(problems: ConfigProblem[]): { errors: number; warnings: number } {
  const errors = problems.filter((p) => p.severity === 'error').length;
  return { errors, warnings: problems.length - errors };
}

/** The version the running config is at, for a change based on it. */
async function currentVersion(client: AdminClient): Promise<number> {
  try {
    return (await client.get<ConfigAnswer>('config')).version;
  } catch (error) {
    // A store that holds no config yet: the first apply is based on version 0.
    if (error instanceof AdminApiError && error.status === 404) return 0;
    throw error;
  }
}

export function configCommands(io: CliIo, setExitCode: SetExitCode): Command {
  const config = new Command('config').description(
    'validate, compare, apply and roll back the gateway config (admin API)',
  );

  jsonOption(
    remoteOptions(
      config
        .command('validate')
        .description(
          'check a config file: offline by default (env references from this environment, other references ' +
            'as placeholders), or by the gateway when --endpoint or SEALGATE_ENDPOINT names one',
        )
        .argument('<file>', 'the YAML config file'),
    ),
  )
    .addOption(
      new Option('--store <kind>', 'offline: check for this config store (dynamodb refuses inline secrets)')
        .choices(['file', 'dynamodb'])
        .default('file'),
    )
    .action(async (file: string, options: RemoteCommandOptions & { store: 'file' | 'dynamodb' }) => {
      const out = new Output(io, options.json === true);
      const { document } = readConfigFile(file);
      const remote = resolveEndpoint(options.endpoint, io.env).explicit;
      let problems: ConfigProblem[];
      let placeholders: string[] = [];
      let valid: boolean;
      if (remote) {
        const client = adminClientFrom(options, io.env);
        const answer = await client.post<{ valid: boolean; problems: unknown }>('config/validate', {
          config: document,
        });
        problems = problemsOf(answer.problems);
        valid = answer.valid === true;
      } else {
        ({ problems, placeholders } = await validateOffline(document, { env: io.env, store: options.store }));
        valid = !problems.some((p) => p.severity === 'error');
      }
      const { errors, warnings } = summary(problems);
      out.result(
        { file, checked: remote ? 'gateway' : 'offline', valid, problems, unresolved: placeholders },
        () => {
          let text = problemLines(problems);
          text += valid
            ? `${file}: valid${warnings > 0 ? ` (${plural(warnings, 'warning')})` : ''}\n`
            : `${file}: ${plural(errors, 'error')}, ${plural(warnings, 'warning')}\n`;
          if (placeholders.length > 0) {
            text +=
              `${plural(placeholders.length, 'reference')} not resolved offline (checked with placeholders; ` +
              `the gateway resolves them): ${placeholders.join(', ')}\n`;
          }
          return text;
        },
      );
      setExitCode(valid ? EXIT_OK : EXIT_FAILURE);
    });

  jsonOption(
    remoteOptions(
      config
        .command('diff')
        .description(
          "compare a config file with the gateway's running config, field by field (secret values never shown)",
        )
        .argument('<file>', 'the YAML config file'),
    ),
  )
    .option('--exit-code', 'exit with 1 when they differ (as git diff --exit-code)')
    .action(async (file: string, options: RemoteCommandOptions & { exitCode?: boolean }) => {
      const out = new Output(io, options.json === true);
      const { document } = readConfigFile(file);
      const client = adminClientFrom(options, io.env);
      const running = await client.get<ConfigAnswer>('config');
      const diff = diffDocuments(running.config ?? {}, document);
      const differ = diff.changes.length > 0;
      out.result({ version: running.version, file, differ, ...diff }, () => {
        const notes = diff.unverified.map(
          (path) =>
            `? ${path}: ${SECRET_SHOWN} written inline in ${file}; the gateway shows only its fingerprint, so it was not compared\n`,
        );
        if (!differ)
          return `${file} matches the running config (version ${running.version})\n${notes.join('')}`;
        return (
          `--- running config (version ${running.version})\n+++ ${file}\n` +
          diff.changes.map((change) => `${formatChange(change)}\n`).join('') +
          notes.join('')
        );
      });
      setExitCode(options.exitCode && differ ? EXIT_FAILURE : EXIT_OK);
    });

  jsonOption(
    remoteOptions(
      config
        .command('apply')
        .description('validate a config file on the gateway and apply it as the next version')
        .argument('<file>', 'the YAML config file'),
    ),
  )
    .option(
      '--base-version <n>',
      'the version this change is based on (default: the current one)',
      versionNumber(true),
    )
    .option('--comment <text>', 'kept with the version in the history')
    .action(
      async (file: string, options: RemoteCommandOptions & { baseVersion?: number; comment?: string }) => {
        const out = new Output(io, options.json === true);
        const { document, text } = readConfigFile(file);
        const client = adminClientFrom(options, io.env);
        const baseVersion = options.baseVersion ?? (await currentVersion(client));
        const answer = await client.post<ApplyAnswer>('config/apply', {
          config: document,
          base_version: baseVersion,
          text,
          ...(options.comment !== undefined && { comment: options.comment }),
        });
        const problems = problemsOf(answer.problems);
        out.result(answer, () => `applied ${file} as version ${answer.version}\n${problemLines(problems)}`);
      },
    );

  jsonOption(
    remoteOptions(
      config.command('show').description('print the running config, or a kept version (redacted)'),
    ),
  )
    .option('--version <n>', 'a kept version instead of the running one', versionNumber())
    .action(async (options: RemoteCommandOptions & { version?: number }) => {
      const out = new Output(io, options.json === true);
      const client = adminClientFrom(options, io.env);
      const answer = guardDocument(
        await client.get<ConfigAnswer>(
          options.version === undefined ? 'config' : `config/versions/${options.version}`,
        ),
      );
      out.result(answer, () => {
        const when = [
          answer.applied_at && `applied ${answer.applied_at}`,
          answer.applied_by && `by ${answer.applied_by}`,
        ]
          .filter(Boolean)
          .join(' ');
        let head = `# version ${answer.version}${when ? `, ${when}` : ''}${answer.store ? ` (${answer.store} store)` : ''}\n`;
        if (answer.comment) head += `# comment: ${answer.comment}\n`;
        for (const warning of problemsOf(answer.warnings)) head += `# ${formatProblem(warning)}\n`;
        return head + (answer.config === null ? '# (no document kept)\n' : toYaml(answer.config));
      });
    });

  jsonOption(
    remoteOptions(config.command('history').description('list the kept config versions, newest first')),
  )
    .option('--limit <n>', 'at most this many versions', positiveInteger)
    .action(async (options: RemoteCommandOptions & { limit?: number }) => {
      const out = new Output(io, options.json === true);
      const client = adminClientFrom(options, io.env);
      const answer = await client.get<HistoryAnswer>(
        'config/history',
        options.limit === undefined ? {} : { limit: String(options.limit) },
      );
      out.result(answer, () =>
        textTable(
          ['VERSION', 'APPLIED AT', 'APPLIED BY', 'DIGEST', 'COMMENT'],
          answer.versions.map((v) => [
            String(v.version),
            v.applied_at,
            v.applied_by,
            cell(v.digest),
            cell(v.comment),
          ]),
        ),
      );
    });

  jsonOption(
    remoteOptions(
      config
        .command('rollback')
        .description('apply a kept version again, as the next version')
        .argument('<version>', 'the kept version to go back to', versionNumber()),
    ),
  )
    .option(
      '--base-version <n>',
      'the version this change is based on (default: the current one)',
      versionNumber(true),
    )
    .option('--comment <text>', 'kept with the version in the history (default: "rollback to version N")')
    .action(
      async (version: number, options: RemoteCommandOptions & { baseVersion?: number; comment?: string }) => {
        const out = new Output(io, options.json === true);
        const client = adminClientFrom(options, io.env);
        const baseVersion = options.baseVersion ?? (await currentVersion(client));
        const answer = await client.post<ApplyAnswer>('config/rollback', {
          version,
          base_version: baseVersion,
          ...(options.comment !== undefined && { comment: options.comment }),
        });
        out.result(
          answer,
          () =>
            `rolled back to version ${version}: applied as version ${answer.version}\n${problemLines(problemsOf(answer.problems))}`,
        );
      },
    );

  return config;
}
