/**
 * One cold start, in a fresh process: serves the bundled Lambda handler through the function URL
 * emulator, sends one signed ListBuckets and prints, as JSON, how long the bundle's import (the
 * container's init) took and how long the first request took end to end (init included).
 * Usage: node --import tsx test/bench/cold-start-child.ts <bundle.mjs> (the bench runs it bundled, on plain
 * Node: see function-url-cold-start.ts)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFunctionUrlEmulator } from '../support/function-url-emulator.js';
import { signRequest } from './sigv4-signer.js';

const credentials = { accessKeyId: 'SGBENCHCOLD', secretAccessKey: 'cold-start-bench-secret' };

function get(endpoint: string): Promise<number> {
  const url = new URL(endpoint);
  const headers = signRequest({ method: 'GET', host: url.host, path: '/', credentials });
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: '/', method: 'GET', headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function main(bundle: string): Promise<void> {
  const data = mkdtempSync(join(tmpdir(), 'sealgate-cold-'));
  const config = {
    backends: [{ name: 'local', type: 'filesystem', path: data }],
    credentials: [
      {
        ...{ access_key_id: credentials.accessKeyId, secret_access_key: credentials.secretAccessKey },
        admin: true,
      },
    ],
  };
  const emulator = await startFunctionUrlEmulator({
    handlerModule: bundle,
    environment: { SEALGATE_CONFIG: JSON.stringify(config), SEALGATE_LOG_LEVEL: 'silent' },
    contentLength: 'kept',
  });
  try {
    const started = performance.now();
    const status = await get(emulator.endpoint);
    const firstRequestMs = performance.now() - started;
    if (status !== 200) throw new Error(`the first request answered ${status}`);
    process.stdout.write(JSON.stringify({ importMs: emulator.initDurations[0], firstRequestMs }) + '\n');
  } finally {
    await emulator.close();
    rmSync(data, { recursive: true, force: true });
  }
}

main(process.argv[2] ?? '').catch((error: unknown) => {
  process.stderr.write(`cold start failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
