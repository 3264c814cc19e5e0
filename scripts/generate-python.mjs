// Regenerates the Python client's stubs (clients/python/ballast/v1) with buf and local plugins
// from Debian's packages. Without them it says what to install and leaves the committed stubs:
// the TypeScript side does not need them.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";

const tools = spawnSync("/usr/bin/python3", ["-c", "import grpc_tools, google.protobuf"]);
if (!existsSync("/usr/bin/protoc") || tools.status !== 0) {
  process.stderr.write("skipping clients/python: it needs Debian's protobuf-compiler, python3-protobuf and python3-grpc-tools\n");
  process.exit(0);
}
rmSync("clients/python/ballast", { recursive: true, force: true });
execFileSync("npx", ["buf", "generate", "--template", "buf.gen.python.yaml"], { stdio: "inherit" });
