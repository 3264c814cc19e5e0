// Wire <-> domain conversion of applications: ApplicationRecord (the scheduler's durable record of a driver program).
import type { ApplicationRecord } from "@ballast/gen/scheduler";
import type { ApplicationView } from "../domain/views.js";
import { errorFromWire, errorToWire, jobFromWire, jobStatus, jobToWire } from "./jobs.js";

export function applicationToWire(application: ApplicationView): ApplicationRecord {
  const { args, conf, status, error, actions, driver, ...fields } = application;
  return { ...fields, driver: driver && { ...driver }, args: [...args], conf: { ...conf }, status: jobStatus.toWire(status), error: errorToWire(error), actions: actions.map(jobToWire) };
}

export function applicationFromWire(application: ApplicationRecord): ApplicationView {
  const { args, conf, status, error, actions, driver, ...fields } = application;
  const view: ApplicationView = { ...fields, args: [...args], conf: { ...conf }, status: jobStatus.fromWire(status), actions: actions.map(jobFromWire) };
  if (error) view.error = errorFromWire(error);
  if (driver) view.driver = { ...driver };
  return view;
}
