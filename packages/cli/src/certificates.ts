/**
 * The certificates `ballast up --tls` makes: a CA for the cluster (DIR/tls/ca.pem, its key kept
 * beside it, mode 0600, to sign nodes added later), one certificate per service for the addresses
 * it is dialled at, and a client certificate for the CLI. Keys are RSA-2048 from Node's crypto;
 * node-forge builds and signs the X.509 certificates.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isIP } from "node:net";
import { createRequire } from "node:module";
import type Forge from "node-forge";
import { tlsDirOf, type CertificateRequest, type ServiceTlsFiles } from "./tls.js";

let loadedForge: typeof Forge | undefined;
/** node-forge is 0.6 MB of code that only `up --tls` runs: loaded then, not by every command that imports the launcher. */
const forge = (): typeof Forge => (loadedForge ??= createRequire(import.meta.url)("node-forge") as typeof Forge);

const DAY_MS = 24 * 60 * 60 * 1000;

interface Signer {
  cert: Forge.pki.Certificate;
  key: Forge.pki.rsa.PrivateKey;
}

function newKeyPair(): { publicKey: Forge.pki.rsa.PublicKey; privateKey: Forge.pki.rsa.PrivateKey; privatePem: string } {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  return { publicKey: forge().pki.publicKeyFromPem(publicKey), privateKey: forge().pki.privateKeyFromPem(privateKey), privatePem: privateKey };
}

function baseCertificate(publicKey: Forge.pki.rsa.PublicKey, commonName: string, validDays: number): Forge.pki.Certificate {
  const cert = forge().pki.createCertificate();
  cert.publicKey = publicKey;
  // A positive serial: the top bit clear.
  cert.serialNumber = `01${randomBytes(15).toString("hex")}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + validDays * DAY_MS);
  cert.setSubject([{ name: "commonName", value: commonName }, { name: "organizationName", value: "Ballast cluster" }]);
  return cert;
}

function writeKey(path: string, pem: string): void {
  writeFileSync(path, pem, { mode: 0o600 });
}

/** The cluster's CA in DIR/tls, made on first use and reused after (nodes added later are signed by it). */
function clusterCa(tlsDir: string): Signer {
  const certPath = join(tlsDir, "ca.pem");
  const keyPath = join(tlsDir, "ca-key.pem");
  if (existsSync(certPath) && existsSync(keyPath)) {
    return { cert: forge().pki.certificateFromPem(readFileSync(certPath, "utf8")), key: forge().pki.privateKeyFromPem(readFileSync(keyPath, "utf8")) };
  }
  const keys = newKeyPair();
  const cert = baseCertificate(keys.publicKey, "Ballast cluster CA", 3650);
  cert.setIssuer(cert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(keys.privateKey, forge().md.sha256.create());
  writeKey(keyPath, keys.privatePem);
  writeFileSync(certPath, forge().pki.certificateToPem(cert));
  return { cert, key: keys.privateKey };
}

function altNames(hosts: string[]) {
  return [...new Set([...hosts, "127.0.0.1", "localhost"])].map((host) => (isIP(host) ? { type: 7, ip: host } : { type: 2, value: host }));
}

function issue(ca: Signer, tlsDir: string, request: CertificateRequest): ServiceTlsFiles {
  const keys = newKeyPair();
  const cert = baseCertificate(keys.publicKey, request.id, 825);
  cert.setIssuer(ca.cert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    // Every service is a server to some and a client of others (mutual TLS).
    { name: "extKeyUsage", serverAuth: true, clientAuth: true },
    { name: "subjectAltName", altNames: altNames(request.hosts) },
    { name: "subjectKeyIdentifier" },
    { name: "authorityKeyIdentifier", keyIdentifier: ca.cert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(ca.key, forge().md.sha256.create());
  const files = { cert: join(tlsDir, `${request.id}.pem`), key: join(tlsDir, `${request.id}-key.pem`), ca: join(tlsDir, "ca.pem") };
  writeKey(files.key, keys.privatePem);
  writeFileSync(files.cert, forge().pki.certificateToPem(cert));
  return files;
}

/** Certificates for these services (and the CLI's client certificate, id "client"), signed by the cluster's CA. */
export function issueCertificates(dir: string, requests: CertificateRequest[]): Map<string, ServiceTlsFiles> {
  const tlsDir = tlsDirOf(dir);
  mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
  const ca = clusterCa(tlsDir);
  return new Map(requests.map((request) => [request.id, issue(ca, tlsDir, request)]));
}
