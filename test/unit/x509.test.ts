// engine/security/x509.ts against Java: the subjects below are what X500Principal.getName() printed
// (Java 17) for certificates openssl made with these -subj values; PKCS12 and JKS stores
// as keytool and openssl write them, opened with the right and the wrong password.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { BadPasswordError, isValidX500Name, pkcs12Certificates, readJks, subjectRfc2253 } from '../../engine/security/x509.ts';

let dir: string;
const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });

function certWithSubject(name: string, subject: string): Buffer {
  run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`,
    '-out', `${name}.pem`, '-days', '1', '-subj', subject, '-multivalue-rdn', '-utf8']);
  return new X509Certificate(fs.readFileSync(path.join(dir, `${name}.pem`))).raw;
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-x509-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('subjectRfc2253 prints what X500Principal.getName() prints', () => {
  const cases: Array<[string, string]> = [
    ['/CN=localhost', 'CN=localhost'],
    ['/C=US/O=Acme, Inc./OU=Eng+OU=Ops/CN=client one/emailAddress=a@b.c',
      '1.2.840.113549.1.9.1=#16056140622e63,CN=client one,OU=Eng+OU=Ops,O=Acme\\, Inc.,C=US'],
    ['/CN= lead#x=y;z"q<>\\\\back /O=Ünicode Org/DC=example/DC=com/UID=u1/L=Paris/serialNumber=42/title=Boss',
      '2.5.4.12=#0c04426f7373,2.5.4.5=#13023432,L=Paris,UID=u1,DC=com,DC=example,O=Ünicode Org,CN=\\ lead\\#x\\=y\\;z\\"q\\<\\>\\\\back\\ '],
  ];
  cases.forEach(([subject, expected], i) => {
    it(`${subject}`, () => {
      expect(subjectRfc2253(certWithSubject(`c${i}`, subject))).toBe(expected);
    });
  });

  it('rejects what is not a certificate', () => {
    expect(() => subjectRfc2253(Buffer.from([0x30, 0x03, 0x02, 0x01]))).toThrow(/DER/);
    expect(() => subjectRfc2253(Buffer.from('garbage'))).toThrow();
  });
});

describe('stores', () => {
  it('PKCS12 trust store (keytool) and key store (openssl): certificates; a wrong password is BadPasswordError', () => {
    const ca = certWithSubject('ca', '/CN=the ca');
    run('keytool', ['-importcert', '-noprompt', '-alias', 'ca', '-file', 'ca.pem', '-keystore', 'trust.p12', '-storetype', 'PKCS12', '-storepass', 'pw123456']);
    const certs = pkcs12Certificates(fs.readFileSync(path.join(dir, 'trust.p12')), 'pw123456');
    expect(certs.map((c) => c.equals(ca))).toEqual([true]);
    expect(() => pkcs12Certificates(fs.readFileSync(path.join(dir, 'trust.p12')), 'nope')).toThrow(BadPasswordError);
    run('openssl', ['pkcs12', '-export', '-in', 'ca.pem', '-inkey', 'ca.key', '-out', 'key.p12', '-passout', 'pass:pw123456']);
    expect(pkcs12Certificates(fs.readFileSync(path.join(dir, 'key.p12')), 'pw123456').map(subjectRfc2253)).toEqual(['CN=the ca']);
  });

  it('JKS trust and key stores; a wrong password is BadPasswordError', () => {
    certWithSubject('k', '/CN=keyholder');
    run('openssl', ['pkcs12', '-export', '-in', 'k.pem', '-inkey', 'k.key', '-out', 'k.p12', '-passout', 'pass:pw123456']);
    run('keytool', ['-importkeystore', '-srckeystore', 'k.p12', '-srcstoretype', 'PKCS12', '-srcstorepass', 'pw123456',
      '-destkeystore', 'k.jks', '-deststoretype', 'JKS', '-deststorepass', 'pw123456', '-destkeypass', 'pw123456', '-noprompt']);
    const jks = readJks(fs.readFileSync(path.join(dir, 'k.jks')), 'pw123456');
    expect(jks.keys).toHaveLength(1);
    expect(jks.keys[0].chain.map(subjectRfc2253)).toEqual(['CN=keyholder']);
    expect(() => readJks(fs.readFileSync(path.join(dir, 'k.jks')), 'wrong')).toThrow(BadPasswordError);
    expect(() => readJks(Buffer.from('not a key store at all, really not'), 'x')).toThrow(/not a JKS file/);
  });
});

describe('isValidX500Name (X509AuthenticationProvider.isValid)', () => {
  it('accepts names, refuses what X500Principal refuses', () => {
    for (const ok of ['CN=zkclient', 'CN=a,OU=b+OU=c,O=Acme\\, Inc.', '1.2.840.113549.1.9.1=#16056140622e63,CN=x', 'CN="quoted, value"', '']) {
      expect(isValidX500Name(ok), ok).toBe(true);
    }
    for (const bad of ['not a name', 'CN', 'CN=x,', '=x', 'CN="open']) expect(isValidX500Name(bad), bad).toBe(false);
  });
});
