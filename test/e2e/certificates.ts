// Certificates for the TLS tests, made with openssl in a temp dir: a CA, a second unrelated CA, a
// server certificate for 127.0.0.1 and localhost signed by the first, and two client certificates
// (mutual TLS): one signed by the CA, one by the other CA.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface Certificates {
  ca: string;
  otherCa: string;
  cert: string;
  key: string;
  /** A client certificate signed by `ca`. */
  clientCert: string;
  clientKey: string;
  /** A client certificate signed by `otherCa`. */
  strangerCert: string;
  strangerKey: string;
}

function openssl(cwd: string, args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

export function makeCertificates(dir: string): Certificates {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(dir, ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=lifeline test CA']);
  openssl(dir, ['req', '-x509', ...ec, '-keyout', 'other.key', '-out', 'other-ca.pem', '-days', '2', '-subj', '/CN=some other CA']);
  fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  fs.writeFileSync(path.join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  const sign = (name: string, subject: string, ca: string, caKey: string, ext: string): void => {
    openssl(dir, ['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', ext]);
  };
  sign('server', '/CN=127.0.0.1', 'ca.pem', 'ca.key', 'san.ext');
  sign('client', '/CN=lifeline test client', 'ca.pem', 'ca.key', 'client.ext');
  sign('stranger', '/CN=lifeline stranger', 'other-ca.pem', 'other.key', 'client.ext');
  const at = (name: string) => path.join(dir, name);
  return {
    ca: at('ca.pem'), otherCa: at('other-ca.pem'), cert: at('server.pem'), key: at('server.key'),
    clientCert: at('client.pem'), clientKey: at('client.key'), strangerCert: at('stranger.pem'), strangerKey: at('stranger.key'),
  };
}
