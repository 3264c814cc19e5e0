import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { readPem, type ProcessSecurity } from "@ballast/common/security";

/** Where `ballast up --tls` keeps the cluster's CA and certificates. */
export const tlsDirOf = (dir: string) => join(resolve(dir), "tls");

/**
 * The CLI's TLS: BALLAST_TLS_CA (and BALLAST_TLS_CERT/KEY for a client
 * certificate), else what `ballast up --tls` left in DIR/tls; none: plaintext.
 */
export function tlsOfDir(dir: string, env: NodeJS.ProcessEnv = process.env): Pick<ProcessSecurity, "tls" | "ca"> {
  const files = {
    ca: env.BALLAST_TLS_CA || join(tlsDirOf(dir), "ca.pem"),
    cert: env.BALLAST_TLS_CERT || join(tlsDirOf(dir), "client.pem"),
    key: env.BALLAST_TLS_KEY || join(tlsDirOf(dir), "client-key.pem"),
  };
  const ca = existsSync(files.ca) ? readPem(files.ca) : undefined;
  if (!existsSync(files.cert) || !existsSync(files.key)) return { ca };
  return { ca, tls: { cert: readPem(files.cert), key: readPem(files.key), ca } };
}

/** One service's certificate: who it is and the addresses it is reached at. */
export interface CertificateRequest {
  /** File name stem, e.g. "scheduler", "node-1-shuffle". */
  id: string;
  /** IP addresses or DNS names clients dial it by. */
  hosts: string[];
}

export interface ServiceTlsFiles {
  cert: string;
  key: string;
  ca: string;
}

/** The flags that give a service its certificate (mutual TLS: the CA verifies its peers). */
export const tlsFlags = (files: ServiceTlsFiles) => ["--tls-cert", files.cert, "--tls-key", files.key, "--tls-ca", files.ca];
