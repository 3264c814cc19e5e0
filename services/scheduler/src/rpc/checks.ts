/** Checks that jobs and applications share at the scheduler's edge. */
import { validateJobConf } from "@ballast/common/config";
import { InvalidArgumentError } from "@ballast/common/errors";
import { confProblem } from "../core/index.js";

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function requireBundleDigest(digest: string): void {
  if (!SHA256_HEX.test(digest)) throw new InvalidArgumentError("bundle_digest must be a sha256 hex digest");
}

/** A job's (or an application's) `ballast.*` overrides: known keys, valid values, and a valid combination with the cluster's. */
export function requireJobConf(conf: Record<string, string>, baseConf: Record<string, string>): void {
  validateJobConf(conf);
  const problem = confProblem({ ...baseConf, ...conf });
  if (problem) throw new InvalidArgumentError(problem);
}
