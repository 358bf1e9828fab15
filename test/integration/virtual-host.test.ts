import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedRequest } from '../support/signed-request.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

// S3's default addressing puts the bucket in the host name. The gateway serves it under `localhost` and
// the config's `domains`; every other host is path-style. (The plain server: a function URL's host is
// path-style only.)
describe('virtual-hosted-style addressing', () => {
  let gateway: TestGateway;
  let port: string;

  beforeAll(async () => {
    gateway = await startTestGateway({ target: 'server', extraYaml: 'domains: [s3.sealgate.test]\n' });
    port = new URL(gateway.endpoint).port;
  });
  afterAll(() => gateway.close());

  const onHost = (
    host: string,
    method: string,
    path: string,
    body?: string,
    query?: Record<string, string>,
  ) => signedRequest(gateway.endpoint, { method, path, body, query, headers: { host: `${host}:${port}` } });

  it.each(['localhost', 's3.sealgate.test'])(
    'creates a bucket, puts and lists an object with the bucket in a %s host name',
    async (domain) => {
      const bucket = `vhost-${domain.replace(/\./g, '-')}`;
      const host = `${bucket}.${domain}`;
      expect((await onHost(host, 'PUT', '/')).status).toBe(200);
      expect((await onHost(host, 'PUT', '/dir/object.txt', 'virtually hosted')).status).toBe(200);

      const pathStyle = await signedRequest(gateway.endpoint, {
        method: 'GET',
        path: `/${bucket}/dir/object.txt`,
      });
      expect([pathStyle.status, pathStyle.body.toString()]).toEqual([200, 'virtually hosted']);
      const listed = await onHost(host, 'GET', '/', undefined, { 'list-type': '2' });
      expect(listed.body.toString()).toContain('<Key>dir/object.txt</Key>');
    },
  );

  it('never reads PUT /key on a bucket host as CreateBucket of a bucket named after the key', async () => {
    const host = 'vhost-guard.localhost';
    expect((await onHost(host, 'PUT', '/')).status).toBe(200);
    expect((await onHost(host, 'PUT', '/keyname', 'data')).status).toBe(200);
    const buckets = await signedRequest(gateway.endpoint, { method: 'GET', path: '/' });
    expect(buckets.body.toString()).toContain('<Name>vhost-guard</Name>');
    expect(buckets.body.toString()).not.toContain('<Name>keyname</Name>');
  });

  it('reads a request on another host name as path-style', async () => {
    const response = await onHost('127.0.0.1', 'GET', '/no-such-vhost-bucket/key');
    expect([response.status, response.code]).toEqual([404, 'NoSuchBucket']);
  });
});
