/**
 * The `sealgate` command line against a real gateway (the local server, in-process): every admin command
 * through `runCli`, a few through the real binary for its exit codes, and `serve` itself. Nothing the CLI
 * prints may hold a secret: every run is checked for the test credential's secret, the proxy key and the
 * other credentials' secrets.
 */
import { PutObjectCommand, CreateBucketCommand } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, testConfigYaml, TEST_CREDENTIALS, type TestGateway } from '../support/gateway.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';
import { run, type CliRun } from '../unit/cli/run-cli.js';
import { capture } from '../support/leak-scan.js';

const PROXY_KEY = 'd4'.repeat(32);
const READER = { accessKeyId: 'SGCLIREADER', secretAccessKey: 'reader-secret-for-cli-0001' };
const READER_YAML =
  `  - access_key_id: ${READER.accessKeyId}\n    secret_access_key: ${READER.secretAccessKey}\n` +
  `    grants: [ { bucket: "*", access: [read] } ]\n`;
const PROXY_YAML = `      mode: aes256-gcm-proxy\n      key: "${PROXY_KEY}"\n      key_id: cli-key-1\n`;
const SECRETS = [TEST_CREDENTIALS.secretAccessKey, PROXY_KEY, READER.secretAccessKey];
const REPO = resolve(import.meta.dirname, '../..');

function expectNoSecret(result: CliRun): void {
  for (const secret of SECRETS) {
    expect(result.stdout).not.toContain(secret);
    expect(result.stderr).not.toContain(secret);
  }
}

function adminEnv(endpoint: string): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    SEALGATE_ENDPOINT: endpoint,
  };
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

/** Runs the real entry point (through tsx) and resolves with its exit code and output. */
function spawnCli(argv: string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'functions/handlers/cli.ts', ...argv], {
      cwd: REPO,
      env: { ...env, PATH: process.env.PATH ?? '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', fail);
    child.on('close', (code) => {
      capture(`the sealgate command's output (${argv.slice(0, 2).join(' ')})`, stdout + stderr);
      done({ code: code ?? -1, stdout, stderr });
    });
  });
}

describe('sealgate admin commands against a gateway', () => {
  let gateway: TestGateway;
  let dir: TempDir;
  /** The config the gateway started with, as a file. */
  let startFile: string;
  /** The next config: the main backend encrypting with an inline proxy key. */
  let nextFile: string;
  let badFile: string;

  const sg = async (argv: string[], env: Record<string, string> = {}) => {
    const result = await run(argv, { ...adminEnv(gateway.endpoint), ...env });
    expectNoSecret(result);
    return result;
  };

  beforeAll(async () => {
    gateway = await startTestGateway({ target: 'server', extraYaml: READER_YAML });
    dir = await makeTempDir('sealgate-cli-');
    startFile = join(dir.path, 'start.yaml');
    writeFileSync(startFile, testConfigYaml(gateway.dataDir, { extraYaml: READER_YAML }));
    nextFile = join(dir.path, 'next.yaml');
    writeFileSync(
      nextFile,
      `# encrypt new writes\n${testConfigYaml(gateway.dataDir, { extraYaml: READER_YAML, encryptionYaml: PROXY_YAML })}`,
    );
    badFile = join(dir.path, 'bad.yaml');
    writeFileSync(
      badFile,
      testConfigYaml(gateway.dataDir, {
        extraYaml: READER_YAML,
        encryptionYaml: '      mode: aes256-gcm-proxy\n      key: "not-a-key"\n      key_id: "has spaces"\n',
        backendsYaml: '  - name: second\n    type: ftp\n',
      }),
    );
  });

  afterAll(async () => {
    await gateway?.close();
    await dir?.cleanup();
  });

  it('health: ok, the running and stored versions, exit 0', async () => {
    const human = await sg(['health']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^status: +ok$/m);
    expect(human.stdout).toMatch(/^running version: +1$/m);
    const json = await sg(['health', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ status: 'ok', store: 'file', running_version: 1 });
  });

  it('config show: the running config, its secret references as written, inline secrets as fingerprints', async () => {
    const result = await sg(['config', 'show']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^# version 1\b/);
    expect(result.stdout).toContain('${env:TEST_SECRET}');
    expect(result.stdout).toMatch(/access_key_id: SGCLIREADER\n\s+secret_access_key: fp:[0-9a-f]{16}/);
  });

  it('config history: the kept versions, exit 0', async () => {
    const result = await sg(['config', 'history']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^VERSION +APPLIED AT/);
    expect(result.stdout).toMatch(/^1 +\S+/m);
  });

  it('config validate with an endpoint: the gateway checks the file, resolving what only it can', async () => {
    // TEST_SECRET is the gateway's variable, not the CLI's: offline, it would not resolve.
    const good = await sg(['config', 'validate', nextFile]);
    expect(good.code).toBe(0);
    expect(good.stdout).toContain('next.yaml: valid');
    const offline = await run(['config', 'validate', nextFile], {});
    expect(offline.code).toBe(1);
    expect(offline.stdout).toContain('environment variable TEST_SECRET is not set');
  });

  it('config validate with an endpoint: every problem of a bad file with its path, exit 1', async () => {
    const result = await sg(['config', 'validate', badFile]);
    expect(result.code).toBe(1);
    for (const path of ['backends[0].encryption.key', 'backends[0].encryption.key_id', 'backends[1].type']) {
      expect(result.stdout).toMatch(new RegExp(`^error at ${path.replace(/[[\].]/g, '\\$&')}: `, 'm'));
    }
    const json = await sg(['config', 'validate', badFile, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ valid: false, checked: 'gateway' });
  });

  it('config diff: no differences against the config the gateway runs (exit 0, even with --exit-code)', async () => {
    const result = await sg(['config', 'diff', startFile, '--exit-code']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('matches the running config (version 1)');
    // The reader's secret is inline: the gateway shows only its fingerprint, so it cannot be compared.
    expect(result.stdout).toContain('? credentials[1].secret_access_key: (secret) written inline');
  });

  it('config diff: what applying a file would change, secrets masked; --exit-code exits 1', async () => {
    const plain = await sg(['config', 'diff', nextFile]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain('--- running config (version 1)');
    expect(plain.stdout).toContain(
      '+ backends[0].encryption: {"mode":"aes256-gcm-proxy","key":"(secret)","key_id":"cli-key-1"}',
    );
    const strict = await sg(['config', 'diff', nextFile, '--exit-code', '--json']);
    expect(strict.code).toBe(1);
    expect(JSON.parse(strict.stdout)).toMatchObject({ version: 1, differ: true });
  });

  it('config apply: applies the file as the next version and prints its warnings', async () => {
    const result = await sg(['config', 'apply', nextFile, '--comment', 'encrypt new writes']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('next.yaml as version 2');
    expect(result.stdout).toMatch(/^warning at backends\[0\]\.encryption\.key: written inline/m);
    const health = await sg(['health', '--json']);
    expect(JSON.parse(health.stdout)).toMatchObject({ running_version: 2, store_version: 2 });
  });

  it('config apply: a change based on an old version is a conflict naming both versions, exit 1', async () => {
    const result = await sg(['config', 'apply', startFile, '--base-version', '1']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^sealgate: config conflict/);
    expect(result.stderr).toContain('base version 1, current version 2');
    const json = await sg(['config', 'apply', startFile, '--base-version', '1', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      error: { code: 'Conflict', base_version: 1, current_version: 2 },
    });
  });

  it('config apply: a refused config prints every problem, exit 1, and nothing is applied', async () => {
    const result = await sg(['config', 'apply', badFile]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^sealgate: the config has \d+ errors/);
    expect(result.stderr).toMatch(/^error at backends\[1\]\.type: /m);
    expect(result.stderr).toMatch(/^error at backends\[0\]\.encryption\.key: /m);
    const health = await sg(['health', '--json']);
    expect(JSON.parse(health.stdout)).toMatchObject({ running_version: 2 });
  });

  it('config show: the inline proxy key only as a fingerprint; --version shows a kept version', async () => {
    const current = await sg(['config', 'show']);
    expect(current.stdout).toMatch(/^# version 2\b/);
    expect(current.stdout).toMatch(/key: fp:[0-9a-f]{16}/);
    const first = await sg(['config', 'show', '--version', '1', '--json']);
    expect(first.code).toBe(0);
    const data = JSON.parse(first.stdout) as {
      version: number;
      config: { backends: { encryption?: unknown }[] };
    };
    expect(data.version).toBe(1);
    expect(data.config.backends[0].encryption).toBeUndefined();
  });

  it('config history --json: newest first, with the comment', async () => {
    const result = await sg(['config', 'history', '--json', '--limit', '2']);
    const { versions } = JSON.parse(result.stdout) as { versions: { version: number; comment: string }[] };
    expect(versions.map((v) => v.version)).toEqual([2, 1]);
    expect(versions[0].comment).toBe('encrypt new writes');
  });

  it('posture and inspect: the proxy mode and key id, for the backend, the bucket and one object', async () => {
    const s3 = gateway.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'cli-posture' }));
    await s3.send(new PutObjectCommand({ Bucket: 'cli-posture', Key: 'dir/a b+c.txt', Body: 'hello' }));

    const posture = await sg(['posture']);
    expect(posture.code).toBe(0);
    expect(posture.stdout).toMatch(/^main +filesystem +yes +aes256-gcm-proxy +cli-key-1/m);
    expect(posture.stdout).toMatch(/^cli-posture +main +cli-posture +default +aes256-gcm-proxy +cli-key-1/m);
    const counted = await sg(['posture', '--count', '--json']);
    const data = JSON.parse(counted.stdout) as { buckets: { name: string; objects: { current: number } }[] };
    expect(data.buckets.find((b) => b.name === 'cli-posture')?.objects.current).toBe(1);

    const inspect = await sg(['inspect', 's3://cli-posture/dir/a b+c.txt']);
    expect(inspect.code).toBe(0);
    expect(inspect.stdout).toMatch(/^encryption: aes256-gcm-proxy$/m);
    expect(inspect.stdout).toMatch(/^key_id: cli-key-1$/m);
    expect(inspect.stdout).toMatch(/^plaintext_size: 5$/m);
    const json = await sg(['inspect', 's3://cli-posture/dir/a b+c.txt', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({
      bucket: 'cli-posture',
      key: 'dir/a b+c.txt',
      key_id: 'cli-key-1',
    });

    const missing = await sg(['inspect', 's3://cli-posture/no-such-key']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^sealgate: /);
  });

  it('config diff after the apply: the applied file matches (its inline key not comparable)', async () => {
    const result = await sg(['config', 'diff', nextFile, '--exit-code']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('matches the running config (version 2)');
    expect(result.stdout).toContain('? backends[0].encryption.key: (secret) written inline');
  });

  it('config rollback: applies a kept version again as the next one', async () => {
    const result = await sg(['config', 'rollback', '1']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('rolled back to version 1: applied as version 3');
    const posture = await sg(['posture', '--json']);
    expect(JSON.parse(posture.stdout)).toMatchObject({
      version: 3,
      backends: [{ name: 'main', mode: 'none' }],
    });
    const gone = await sg(['config', 'rollback', '99']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('config version 99 is not kept');
  });

  it('a credential that is not an admin gets the API’s refusal, exit 1', async () => {
    const result = await sg(['health'], {
      AWS_ACCESS_KEY_ID: READER.accessKeyId,
      AWS_SECRET_ACCESS_KEY: READER.secretAccessKey,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`sealgate: credential ${READER.accessKeyId} is not an admin`);
  });

  it('a wrong secret gets the signature error, exit 1', async () => {
    const result = await sg(['config', 'show'], { AWS_SECRET_ACCESS_KEY: 'not-the-secret' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^sealgate: The request signature we calculated does not match/);
  });

  it('a gateway that does not answer: a message naming the endpoint, exit 1', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const result = await sg(['health', '--endpoint', endpoint]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`sealgate: cannot reach the gateway at ${endpoint}: `);
    expect(result.stderr).toContain('ECONNREFUSED');
  });

  it('the real binary exits 0, 1 and 2 as documented', async () => {
    const env = adminEnv(gateway.endpoint);
    const ok = await spawnCli(['health'], env);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^status: +ok$/m);
    const refused = await spawnCli(['config', 'apply', badFile], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error at backends\[1\]\.type: /m);
    const usage = await spawnCli(['config', 'frobnicate'], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("unknown command 'frobnicate'");
    for (const result of [ok, refused, usage]) expectNoSecret(result);
  });
});

describe('sealgate over HTTPS with a private CA', () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await startTestGateway({ target: 'server', tls: true });
  });
  afterAll(() => gateway?.close());

  it('trusts the gateway with --ca-bundle (or AWS_CA_BUNDLE), and says what to do without it', async () => {
    const env = adminEnv(gateway.endpoint);
    const trusted = await run(['health', '--ca-bundle', gateway.caFile!], env);
    expect(trusted.stderr).toBe('');
    expect(trusted.code).toBe(0);
    const fromEnv = await run(['health'], { ...env, AWS_CA_BUNDLE: gateway.caFile! });
    expect(fromEnv.code).toBe(0);
    const untrusted = await run(['health'], env);
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toContain(`cannot reach the gateway at ${gateway.endpoint}`);
    expect(untrusted.stderr).toContain('--ca-bundle FILE or set AWS_CA_BUNDLE');
    for (const result of [trusted, fromEnv, untrusted]) expectNoSecret(result);
  });
});

describe('sealgate serve', () => {
  let dir: TempDir;

  beforeAll(async () => {
    dir = await makeTempDir('sealgate-cli-serve-');
  });
  afterAll(() => dir?.cleanup());

  /** Starts `serve` in-process; resolves once its banner is out, with the endpoint and a way to stop it. */
  async function serve(argv: string[], env: Record<string, string>) {
    const signals = new EventEmitter();
    let stdout = '';
    let stderr = '';
    const exited = run(
      ['serve', '--port', '0', ...argv],
      { SEALGATE_LOG_LEVEL: 'silent', ...env },
      {
        stdout: (text) => (stdout += text),
        stderr: (text) => (stderr += text),
        signals,
      },
    );
    for (let waited = 0; !stdout.includes('serving S3 on'); waited += 20) {
      if (waited > 20_000) throw new Error(`serve did not start: ${stderr}`);
      const early = await Promise.race([
        exited,
        new Promise((done) => setTimeout(() => done(undefined), 20)),
      ]);
      if (early !== undefined) throw new Error(`serve exited early: ${stderr}`);
    }
    const endpoint = /serving S3 on (\S+)/.exec(stdout)![1];
    return { endpoint, signals, exited, output: () => ({ stdout, stderr }) };
  }

  it('serves the config file, reloads on SIGHUP, and exits 0 on SIGTERM', async () => {
    const file = join(dir.path, 'sealgate.yaml');
    writeFileSync(file, testConfigYaml(dir.path, {}));
    const server = await serve(['--config', file, '--data', join(dir.path, 'data')], {
      TEST_SECRET: TEST_CREDENTIALS.secretAccessKey,
    });
    expect(server.signals.listenerCount('SIGHUP')).toBe(1);
    const health = await run(['health', '--json'], adminEnv(server.endpoint));
    expect(health.code).toBe(0);
    expect(JSON.parse(health.stdout)).toMatchObject({ status: 'ok', running_version: 1 });

    server.signals.emit('SIGHUP');
    const after = await run(['health', '--json'], adminEnv(server.endpoint));
    expect(after.code).toBe(0);

    server.signals.emit('SIGTERM');
    expect(await server.exited).toMatchObject({ code: 0 });
    expect(server.signals.listenerCount('SIGHUP')).toBe(0);
    const gone = await run(['health'], adminEnv(server.endpoint));
    expect(gone.code).toBe(1);
    expect(server.output().stdout).not.toContain(TEST_CREDENTIALS.secretAccessKey);
  });

  it('shows a generated credential once, then only its access key id', async () => {
    const data = join(dir.path, 'fresh');
    const first = await serve(['--data', data], {});
    const stored = JSON.parse(readFileSync(join(data, '.sealgate', 'credentials.json'), 'utf8')) as {
      access_key_id: string;
      secret_access_key: string;
    };
    expect(first.output().stdout).toContain('Generated credentials (shown once');
    expect(first.output().stdout).toContain(stored.secret_access_key);
    first.signals.emit('SIGINT');
    expect((await first.exited).code).toBe(0);

    const second = await serve(['--data', data], {});
    expect(second.output().stdout).toContain(
      `Credentials: access key id ${stored.access_key_id}, secret in `,
    );
    expect(second.output().stdout).not.toContain(stored.secret_access_key);
    second.signals.emit('SIGTERM');
    expect((await second.exited).code).toBe(0);
  });

  it('exits 1 with the problem when the config file does not load', async () => {
    const file = join(dir.path, 'broken.yaml');
    writeFileSync(file, 'backends:\n  - name: a\n    type: ftp\n');
    const result = await run(['serve', '--port', '0', '--config', file, '--data', join(dir.path, 'broken')], {
      SEALGATE_LOG_LEVEL: 'silent',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^sealgate: /);
    expect(result.stderr).toContain('backends[0].type');
  });
});
