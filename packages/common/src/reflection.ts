import * as grpc from "@grpc/grpc-js";
import type { DescriptorProto, FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ServerReflectionService, type ServerReflectionRequest, type ServerReflectionResponse } from "@ballast/gen/grpc/reflection/v1/reflection";
import { ServerReflectionService as ServerReflectionServiceV1alpha } from "@ballast/gen/grpc/reflection/v1alpha/reflection";
import { packageDir } from "./entry.js";

type ReflectionStream = grpc.ServerDuplexStream<ServerReflectionRequest, ServerReflectionResponse>;
type Answer = ServerReflectionResponse["messageResponse"];

/** The API's files, indexed by name and by every fully-qualified symbol they declare. */
interface DescriptorIndex {
  fileBytes: Map<string, Buffer>;
  dependencies: Map<string, string[]>;
  fileOfSymbol: Map<string, string>;
}

/** The encoded FileDescriptorProtos of a FileDescriptorSet: its field 1, each length-delimited. */
export function splitDescriptorSet(set: Buffer): Buffer[] {
  const files: Buffer[] = [];
  let offset = 0;
  const varint = () => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = set[offset++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
  };
  while (offset < set.length) {
    const tag = varint();
    if (tag !== ((1 << 3) | 2)) throw new Error(`not a FileDescriptorSet (tag ${tag} at byte ${offset})`);
    const length = varint();
    files.push(set.subarray(offset, offset + length));
    offset += length;
  }
  return files;
}

function addMessageSymbols(prefix: string, messages: DescriptorProto[], add: (symbol: string) => void): void {
  for (const message of messages) {
    const name = `${prefix}.${message.name}`;
    add(name);
    for (const field of message.field) add(`${name}.${field.name}`);
    for (const nested of message.enumType) add(`${name}.${nested.name}`);
    addMessageSymbols(name, message.nestedType, add);
  }
}

function symbolsOf(file: FileDescriptorProto): string[] {
  const symbols: string[] = [];
  const add = (symbol: string) => symbols.push(symbol);
  const prefix = file.package;
  addMessageSymbols(prefix, file.messageType, add);
  for (const enumType of file.enumType) add(`${prefix}.${enumType.name}`);
  for (const service of file.service) {
    add(`${prefix}.${service.name}`);
    for (const method of service.method) add(`${prefix}.${service.name}.${method.name}`);
  }
  return symbols;
}

let index: Promise<DescriptorIndex> | undefined;
/**
 * Parsed on the first reflection request, not at start-up: most services are never reflected on.
 * The FileDescriptorSet is what `npm run generate` writes with buf (gen/descriptors.binpb).
 */
function descriptorIndex(): Promise<DescriptorIndex> {
  index ??= (async () => {
    const [{ fromBinary }, { FileDescriptorProtoSchema }] = await Promise.all([import("@bufbuild/protobuf"), import("@bufbuild/protobuf/wkt")]);
    const built: DescriptorIndex = { fileBytes: new Map(), dependencies: new Map(), fileOfSymbol: new Map() };
    for (const bytes of splitDescriptorSet(readFileSync(join(packageDir("@ballast/gen"), "descriptors.binpb")))) {
      const file = fromBinary(FileDescriptorProtoSchema, bytes);
      built.fileBytes.set(file.name, bytes);
      built.dependencies.set(file.name, file.dependency);
      for (const symbol of symbolsOf(file)) built.fileOfSymbol.set(symbol, file.name);
    }
    return built;
  })();
  return index;
}

/** A file and every file it imports, transitively, the file itself first: what a client needs to decode it. */
function withDependencies(index: DescriptorIndex, fileName: string): Buffer[] {
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name) || !index.fileBytes.has(name)) return;
    seen.add(name);
    for (const dependency of index.dependencies.get(name) ?? []) visit(dependency);
  };
  visit(fileName);
  return [...seen].map((name) => index.fileBytes.get(name)!);
}

const notFound = (message: string): Answer => ({ $case: "errorResponse", value: { errorCode: grpc.status.NOT_FOUND, errorMessage: message } });

function fileAnswer(index: DescriptorIndex, fileName: string | undefined, what: string): Answer {
  if (fileName === undefined || !index.fileBytes.has(fileName)) return notFound(`${what} not found`);
  return { $case: "fileDescriptorResponse", value: { fileDescriptorProto: withDependencies(index, fileName) } };
}

function answer(index: DescriptorIndex, request: ServerReflectionRequest["messageRequest"], services: string[]): Answer {
  switch (request?.$case) {
    case "listServices":
      return { $case: "listServicesResponse", value: { service: services.map((name) => ({ name })) } };
    case "fileByFilename":
      return fileAnswer(index, request.value, `file ${request.value}`);
    case "fileContainingSymbol":
      return fileAnswer(index, index.fileOfSymbol.get(request.value), `symbol ${request.value}`);
    case "allExtensionNumbersOfType":
      // The API declares no extensions: a known type has none, an unknown one is not found.
      return index.fileOfSymbol.has(request.value)
        ? { $case: "allExtensionNumbersResponse", value: { baseTypeName: request.value, extensionNumber: [] } }
        : notFound(`type ${request.value} not found`);
    case "fileContainingExtension":
      return notFound(`extension ${request.value.extensionNumber} of ${request.value.containingType} not found`);
    default:
      return { $case: "errorResponse", value: { errorCode: grpc.status.INVALID_ARGUMENT, errorMessage: "empty reflection request" } };
  }
}

/** Answers each request of one reflection stream in order. */
function serve(call: ReflectionStream, services: string[]): void {
  let previous = Promise.resolve();
  call.on("data", (request: ServerReflectionRequest) => {
    previous = previous.then(async () => {
      const messageResponse = answer(await descriptorIndex(), request.messageRequest, services);
      call.write({ validHost: request.host, originalRequest: request, messageResponse });
    });
  });
  call.on("end", () => void previous.finally(() => call.end()));
}

/**
 * gRPC server reflection (v1 and v1alpha, the same messages under two names), listing `services`
 * and answering for every file of the API, from the generated code rather than @grpc/reflection,
 * which needs protobufjs at start-up.
 */
export function addReflection(server: grpc.Server, services: string[]): void {
  for (const definition of [ServerReflectionService, ServerReflectionServiceV1alpha]) {
    server.addService(definition, { serverReflectionInfo: (call: ReflectionStream) => serve(call, services) });
  }
}
