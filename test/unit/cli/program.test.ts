import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../../functions/cli/program.js';
import { run } from './run-cli.js';

/** Every command path of the program (`['config', 'validate']`), found by walking it, so none is missed. */
function commandPaths(command: Command, prefix: string[] = []): string[][] {
  return command.commands
    .filter((sub) => sub.name() !== 'help')
    .flatMap((sub) => [[...prefix, sub.name()], ...commandPaths(sub, [...prefix, sub.name()])]);
}

const quiet = { stdout: () => undefined, stderr: () => undefined, env: {} };
const PATHS = commandPaths(buildProgram(quiet, () => undefined));

describe('sealgate command line', () => {
  it('has the commands the operator guide names', () => {
    expect(PATHS.map((p) => p.join(' '))).toEqual(
      expect.arrayContaining([
        'serve',
        'config validate',
        'config diff',
        'config apply',
        'config show',
        'config history',
        'config rollback',
        'keys generate',
        'inspect',
        'posture',
        'health',
      ]),
    );
  });

  it.each(PATHS.map((path) => ({ name: path.join(' '), path })))(
    '`$name --help` prints its usage on stdout and exits 0',
    async ({ name, path }) => {
      const result = await run([...path, '--help']);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`Usage: sealgate ${name}`);
      expect(result.stderr).toBe('');
    },
  );

  it('`--help` on the program lists every command and the exit codes', async () => {
    const result = await run(['--help']);
    expect(result.code).toBe(0);
    for (const name of ['serve', 'config', 'keys', 'inspect', 'posture', 'health']) {
      expect(result.stdout).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
    }
    expect(result.stdout).toContain('2 usage error');
  });

  it('`help config` shows that group’s help and exits 0', async () => {
    const result = await run(['help', 'config']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: sealgate config');
  });

  it('exits 2 with a message on stderr for an unknown command', async () => {
    const result = await run(['frobnicate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("sealgate: unknown command 'frobnicate'");
    expect(result.stdout).toBe('');
  });

  it('exits 2 for an unknown subcommand of a group', async () => {
    const result = await run(['config', 'frobnicate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown command 'frobnicate'");
  });

  it('exits 2 without a command, showing the usage on stderr', async () => {
    const result = await run([]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Usage: sealgate');
  });

  it('exits 2 for a group without its subcommand', async () => {
    const result = await run(['keys']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Usage: sealgate keys');
  });

  it.each([
    [['config', 'validate'], "missing required argument 'file'"],
    [['config', 'apply'], "missing required argument 'file'"],
    [['config', 'rollback'], "missing required argument 'version'"],
    [['inspect'], "missing required argument 's3-uri'"],
  ])('exits 2 when `%s` misses its argument', async (argv, message) => {
    const result = await run(argv);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it.each([
    [['health', '--bogus']],
    [['config', 'history', '--limit', '0']],
    [['config', 'history', '--limit', 'ten']],
    [['config', 'rollback', 'two']],
    [['config', 'apply', 'x.yaml', '--base-version', '-1']],
    [['config', 'show', '--version', '0']],
    [['config', 'validate', 'x.yaml', '--store', 'ftp']],
    [['inspect', 'bucket/key']],
    [['inspect', 's3://bucket-only']],
    [['keys', 'generate', 'extra']],
  ])('exits 2 for a bad option or argument: %j', async (argv) => {
    const result = await run(argv);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^sealgate: /);
    expect(result.stdout).toBe('');
  });

  it('exits 2 for an invalid --port, also from SEALGATE_PORT', async () => {
    const option = await run(['serve', '--port', '70000']);
    expect(option.code).toBe(2);
    expect(option.stderr).toContain('sealgate: --port must be an integer from 0 to 65535');
    const env = await run(['serve'], { SEALGATE_PORT: 'http' });
    expect(env.code).toBe(2);
  });

  it('exits 2 for --tls-cert without --tls-key', async () => {
    const result = await run(['serve', '--port', '0', '--tls-cert', 'cert.pem']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--tls-cert and --tls-key go together');
  });

  it('exits 2 for an endpoint that is not an http(s) URL', async () => {
    const result = await run(['health', '--endpoint', 'ftp://example.test']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('must be an http:// or https:// URL');
  });

  it('exits 1 naming the variables when a remote command has no credentials', async () => {
    const result = await run(['health', '--endpoint', 'http://127.0.0.1:9']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
  });
});
