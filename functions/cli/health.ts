/** `sealgate health`: the instance's running config version, its store's, and the last reload error. */
import { Command } from 'commander';
import { formatProblem } from '../core/config/problems.js';
import { problemsOf } from './admin-client.js';
import { adminClientFrom } from './admin-target.js';
import { jsonOption, remoteOptions, type RemoteCommandOptions } from './command-options.js';
import { cell, EXIT_FAILURE, EXIT_OK, Output, type CliIo, type SetExitCode } from './output.js';

interface HealthAnswer {
  status: 'ok' | 'degraded';
  store: string;
  running_version: number;
  store_version: number;
  last_reload_error: { at: string; version: number; problems: unknown } | null;
  reload_interval_ms?: number;
  secrets_ttl_ms?: number;
  loaded_at?: string;
}

export function healthCommand(io: CliIo, setExitCode: SetExitCode): Command {
  return jsonOption(
    remoteOptions(
      new Command('health').description(
        "the instance's health: running and stored config versions, last reload error (exit 1 when degraded)",
      ),
    ),
  ).action(async (options: RemoteCommandOptions) => {
    const out = new Output(io, options.json === true);
    const client = adminClientFrom(options, io.env);
    const health = await client.get<HealthAnswer>('health');
    out.result(health, () => {
      let text =
        `status:          ${health.status}\n` +
        `store:           ${health.store}\n` +
        `running version: ${health.running_version}\n` +
        `store version:   ${health.store_version}\n`;
      if (health.loaded_at !== undefined) text += `loaded at:       ${health.loaded_at}\n`;
      if (health.reload_interval_ms !== undefined)
        text += `reload interval: ${health.reload_interval_ms} ms\n`;
      if (health.secrets_ttl_ms !== undefined) text += `secrets TTL:     ${health.secrets_ttl_ms} ms\n`;
      const failure = health.last_reload_error;
      text += `last reload error: ${failure ? `version ${failure.version} refused at ${cell(failure.at)}` : '-'}\n`;
      for (const problem of problemsOf(failure?.problems)) text += `  ${formatProblem(problem)}\n`;
      return text;
    });
    setExitCode(health.status === 'ok' ? EXIT_OK : EXIT_FAILURE);
  });
}
