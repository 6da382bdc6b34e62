/**
 * Throwaway TLS material for tests of tcp:// listeners, made with openssl: a CA, a server certificate
 * for 127.0.0.1 and localhost, a client certificate the CA signed, and a client of another CA.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A CA, a server certificate for 127.0.0.1 and a client certificate it signed, plus a client of another CA. */
export function makeCerts(dir: string): Record<'ca' | 'cert' | 'key' | 'clientCert' | 'clientKey' | 'rogueCert' | 'rogueKey', string> {
  const o = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ca = (name: string) => o('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.pem`);
  const leaf = (name: string, caName: string, ext: string) => {
    o('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    writeFileSync(join(dir, `${name}.ext`), ext);
    o('x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.pem`, '-CAkey', `${caName}.key`, '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`);
  };
  ca('ca');
  ca('rogue-ca');
  leaf('server', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'ca', 'extendedKeyUsage=clientAuth\n');
  leaf('rogue', 'rogue-ca', 'extendedKeyUsage=clientAuth\n');
  const p = (f: string) => join(dir, f);
  return { ca: p('ca.pem'), cert: p('server.pem'), key: p('server.key'), clientCert: p('client.pem'), clientKey: p('client.key'), rogueCert: p('rogue.pem'), rogueKey: p('rogue.key') };
}
