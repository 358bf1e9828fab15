/**
 * Throwaway TLS certificates for tests that serve HTTPS: one self-signed certificate for 127.0.0.1 and
 * localhost, made with the openssl command line so that no key material is ever checked in. The
 * certificate is its own CA: a client trusts it by being given the certificate file as its CA bundle.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCertificate {
  /** The PEM certificate: what the server presents, and the CA file clients are told to trust. */
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
}

const OPENSSL = 'openssl';

/**
 * The whole request in a config file of its own, so the result does not depend on the machine's
 * openssl.cnf. CA:TRUE because clients load the certificate as a trust anchor; the subjectAltName is what
 * every client checks the endpoint's host against (none of them falls back to the CN).
 */
const REQUEST_CONFIG = [
  '[req]',
  'prompt = no',
  'distinguished_name = subject',
  'x509_extensions = extensions',
  '[subject]',
  'CN = Sealgate test gateway',
  '[extensions]',
  'subjectAltName = IP:127.0.0.1,DNS:localhost',
  'basicConstraints = critical,CA:TRUE',
  'keyUsage = critical,digitalSignature,keyCertSign',
  'extendedKeyUsage = serverAuth',
  'subjectKeyIdentifier = hash',
  'authorityKeyIdentifier = keyid:always',
  '',
].join('\n');

/** Writes a fresh key (ECDSA P-256) and self-signed certificate, valid for two days, into `dir`. */
export function createTestCertificate(dir: string): TestCertificate {
  mkdirSync(dir, { recursive: true });
  const configFile = join(dir, 'openssl.cnf');
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  writeFileSync(configFile, REQUEST_CONFIG);
  try {
    execFileSync(
      OPENSSL,
      [
        'req',
        '-x509',
        '-config',
        configFile,
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '2',
        '-keyout',
        keyFile,
        '-out',
        certFile,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(
      `could not make a test certificate with ${OPENSSL} (OpenSSL 1.1.1 or later is needed): ` +
        `${error instanceof Error ? error.message : String(error)}\n${stderr}`,
    );
  }
  return { certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile) };
}
