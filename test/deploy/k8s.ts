import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";

/** One object of a manifest file, with where it came from. */
export interface Manifest {
  file: string;
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  [key: string]: any;
}

/** Every object in every *.yaml of `dir`; a YAML syntax error throws, naming the file. */
export function readManifests(dir: string): Manifest[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(dir, file), "utf8")).map((doc) => {
        if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
        return { ...(doc.toJS() as Manifest), file };
      }),
    );
}

/**
 * Validates `object` against the Kubernetes API schema of its apiVersion and
 * kind, as kubernetes-models ships it (generated from Kubernetes' OpenAPI
 * spec). Returns the problems, [] when it is valid; an unknown kind is one.
 */
export async function schemaProblems(object: Manifest): Promise<string[]> {
  const where = `${object.file}: ${object.kind}/${object.metadata?.name}`;
  let model: { new (data: unknown): { validate(): void } };
  try {
    const module = await import(/* @vite-ignore */ `kubernetes-models/${object.apiVersion}/${object.kind}`);
    model = module[object.kind];
  } catch {
    return [`${where}: no schema for ${object.apiVersion} ${object.kind}`];
  }
  const { file: _file, ...data } = object;
  try {
    new model(data).validate();
    return [];
  } catch (err) {
    return [`${where}: ${(err as Error).message}`];
  }
}

/** The pod template of a workload (Deployment, StatefulSet, DaemonSet), or undefined. */
export const podSpecOf = (object: Manifest) => object.spec?.template?.spec as { containers: any[]; volumes?: any[] } | undefined;
