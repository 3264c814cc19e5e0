/**
 * The application RPCs: a driver program registers its application and
 * reports its end; `ballast attach` reads the record back. Input is checked
 * here, at the edge, with the limits every service shares.
 */
import type { SchedulerServiceServer } from "@ballast/gen/scheduler";
import { InvalidArgumentError, NotFoundError, requireValid } from "@ballast/common/errors";
import { unary } from "@ballast/common/grpc";
import { argsProblem, firstProblem, idProblem, LIMITS, nameProblem } from "@ballast/common/limits";
import { callerOf } from "@ballast/common/security";
import { applicationToWire } from "@ballast/common/wire/applications";
import { jobStatus } from "@ballast/common/wire/jobs";
import { requireBundleDigest, requireJobConf } from "./checks.js";
import type { ApplicationView } from "../core/types.js";
import type { SchedulerShell } from "../shell.js";

type ApplicationHandlers = Pick<SchedulerServiceServer, "registerApplication" | "getApplicationRecord" | "finishApplication">;

export function applicationHandlers(active: () => SchedulerShell, baseConf: Record<string, string>): ApplicationHandlers {
  const requireApplication = (applicationId: string): ApplicationView => {
    requireValid(idProblem("application_id", applicationId));
    const application = active().application(applicationId);
    if (!application) throw new NotFoundError(`unknown application: ${applicationId} (it never registered, or ended longer ago than ballast.scheduler.applicationRetention)`);
    return application;
  };
  return {
    registerApplication: unary(async (request, call) => {
      requireValid(firstProblem(idProblem("application_id", request.applicationId), nameProblem("name", request.name), argsProblem("the application", request.args)));
      requireBundleDigest(request.bundleDigest);
      requireJobConf(request.conf, baseConf);
      const caller = callerOf(call);
      const { applicationId, name, bundleDigest, args, conf, detached } = request;
      active().dispatch({ type: "applicationRegistered", applicationId, name, user: caller.role === "user" ? caller.user : "", bundleDigest, args: [...args], conf: { ...conf }, detached });
      return { application: applicationToWire(requireApplication(applicationId)) };
    }),
    getApplicationRecord: unary(async (request) => ({ application: applicationToWire(requireApplication(request.applicationId)) })),
    finishApplication: unary(async (request) => {
      const application = requireApplication(request.applicationId);
      requireValid(nameProblem("error_message", request.errorMessage, LIMITS.messageLength));
      const status = jobStatus.fromWire(request.status);
      if (status === "running") throw new InvalidArgumentError("status must be SUCCEEDED, FAILED or CANCELLED");
      active().dispatch({ type: "applicationFinished", applicationId: application.applicationId, status, error: request.errorMessage });
      return { application: applicationToWire(requireApplication(application.applicationId)) };
    }),
  };
}
