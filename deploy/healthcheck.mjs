// Container healthcheck: exits 0 when the Ballast service at HOST:PORT reports SERVING on gRPC health.
//   node deploy/healthcheck.mjs HOST:PORT
import { isServing } from "@ballast/common/grpc";

const address = process.argv[2];
if (!address) {
  process.stderr.write("usage: node deploy/healthcheck.mjs HOST:PORT\n");
  process.exit(2);
}
process.exit((await isServing(address, 2_000)) ? 0 : 1);
