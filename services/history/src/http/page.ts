/**
 * The history web UI: one self-contained page (no external assets) that reads
 * the JSON API. Hash routes: #/ (applications), #/app/<app> (jobs, nodes,
 * executors, failovers), #/app/<app>/job/<job> (stages, tasks, events, with
 * recovery events marked), #/job/<job> (the same, in the most recent application
 * holding that job: the link `ballast submit` prints); the job page's timeline is
 * timeline.ts. The script avoids
 * backticks and "${" so it can live in this template literal unescaped.
 */
import { DEFAULT_TRACE_URL } from "@ballast/common/traceLink";
import { TIMELINE_SCRIPT, TIMELINE_STYLE } from "./timeline.js";

const TRACE_URL_LINE = (template: string) => `var TRACE_URL = ${JSON.stringify(template).replace(/</g, "\\u003c")};`;

export const HISTORY_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ballast history</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
  header { background: #1f3a5f; color: #fff; padding: 10px 20px; }
  header a { color: #fff; text-decoration: none; font-weight: 600; }
  main { padding: 12px 20px 40px; }
  h2 { font-size: 17px; margin: 22px 0 8px; }
  table { border-collapse: collapse; background: #fff; width: 100%; }
  th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
  th { background: #eef1f5; font-weight: 600; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .status { font-weight: 600; }
  .succeeded { color: #17803d; } .failed { color: #b42318; } .running { color: #175cd3; }
  .cancelled, .killed, .waiting, .unspecified, .decommissioned { color: #667085; }
  .active { color: #17803d; } .excluded { color: #b54708; } .decommissioning { color: #6941c6; } .lost { color: #b42318; }
  tr.recovery td { background: #fff6e5; }
  .mark { display: inline-block; font-size: 12px; font-weight: 600; padding: 0 6px; border-radius: 8px; background: #fedf89; color: #7a2e0e; }
  .crumbs { margin-bottom: 8px; } .muted { color: #667085; }
  pre { white-space: pre-wrap; background: #fff; border: 1px solid #ddd; padding: 8px; margin: 4px 0; }
  dl { display: grid; grid-template-columns: max-content auto; gap: 2px 14px; margin: 0; }
  dt { font-weight: 600; }
  .error { color: #b42318; }
${TIMELINE_STYLE}
</style>
</head>
<body>
<header><a href="#/">Ballast history</a></header>
<main id="view">Loading...</main>
<script>
"use strict";
var view = document.getElementById("view");
${TRACE_URL_LINE(DEFAULT_TRACE_URL)}

function esc(value) {
  return String(value == null ? "" : value).replace(/[&<>"']/g, function (c) {
    return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
  });
}
function enc(value) { return encodeURIComponent(value); }
function time(ms) { return ms ? new Date(ms).toLocaleString() : ""; }
function duration(from, to) {
  if (!from) return "";
  var ms = (to || Date.now()) - from;
  if (ms < 1000) return ms + " ms";
  if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
  return Math.floor(ms / 60000) + " min " + Math.round((ms % 60000) / 1000) + " s";
}
function bytes(n) {
  if (!n) return "0";
  var units = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + units[i];
}
function status(s) { return '<span class="status ' + esc(s) + '">' + esc(s) + "</span>"; }
function link(hash, text) { return '<a href="#' + hash + '">' + esc(text) + "</a>"; }
function errorText(e) { return e ? '<span class="error">' + esc(e.kind ? e.kind + ": " : "") + esc(e.message) + "</span>" : ""; }

/** columns: [heading, function(row) -> html, optional "num"]; rowClass(row) -> class name or "" */
function table(rows, columns, empty, rowClass) {
  if (!rows.length) return '<p class="muted">' + esc(empty || "None.") + "</p>";
  var head = columns.map(function (c) { return "<th>" + esc(c[0]) + "</th>"; }).join("");
  var body = rows.map(function (row) {
    var cls = rowClass ? rowClass(row) : "";
    return "<tr" + (cls ? ' class="' + esc(cls) + '"' : "") + ">" + columns.map(function (c) { return "<td" + (c[2] ? ' class="num"' : "") + ">" + c[1](row) + "</td>"; }).join("") + "</tr>";
  }).join("");
  return "<table><thead><tr>" + head + "</tr></thead><tbody>" + body + "</tbody></table>";
}

function api(path) {
  return fetch("api/v1/" + path).then(function (response) {
    return response.json().then(function (body) {
      if (!response.ok) throw new Error(body.error || response.statusText);
      return body;
    });
  });
}

function applicationsView() {
  return api("applications").then(function (r) {
    return "<h2>Applications</h2>" + table(r.applications, [
      ["Application", function (a) { return link("/app/" + enc(a.applicationId), a.applicationId); }],
      ["First event", function (a) { return esc(time(a.firstEventMs)); }],
      ["Last event", function (a) { return esc(time(a.lastEventMs)); }],
      ["Jobs", function (a) { return esc(a.jobCount); }, "num"],
      ["Events", function (a) { return esc(a.eventCount); }, "num"],
    ], "No applications yet.");
  });
}

function recoveryText(r) {
  var parts = [];
  if (r.lostMapOutputs) parts.push("lost outputs: " + r.lostMapOutputs);
  if (r.stageResubmissions) parts.push("stage resubmissions: " + r.stageResubmissions + " (partitions: " + r.resubmittedPartitions + ")");
  if (r.taskResubmissions) parts.push("task resubmissions: " + r.taskResubmissions);
  return parts.join(", ");
}

function applicationView(app) {
  var base = "applications/" + enc(app);
  return Promise.all([api(base), api(base + "/jobs"), api(base + "/executors"), api(base + "/nodes")]).then(function (r) {
    var a = r[0].application;
    return '<div class="crumbs">' + link("/", "Applications") + " / " + esc(app) + "</div>" +
      "<dl><dt>Events</dt><dd>" + esc(a.eventCount) + "</dd><dt>First event</dt><dd>" + esc(time(a.firstEventMs)) +
      "</dd><dt>Last event</dt><dd>" + esc(time(a.lastEventMs)) + "</dd></dl>" +
      "<h2>Jobs</h2>" + table(r[1].jobs, [
        ["Job", function (j) { return link("/app/" + enc(app) + "/job/" + enc(j.jobId), j.jobId); }],
        ["Name", function (j) { return esc(j.name); }],
        ["Status", function (j) { return status(j.status); }],
        ["Submitted", function (j) { return esc(time(j.submittedAtMs)); }],
        ["Duration", function (j) { return esc(duration(j.submittedAtMs, j.endedAtMs)); }, "num"],
        ["Tasks", function (j) { return esc(j.stats.tasksLaunched); }, "num"],
        ["Failed attempts", function (j) { return esc(j.stats.taskAttemptsFailed); }, "num"],
        ["Stage attempts", function (j) { return esc(j.stats.stageAttempts); }, "num"],
        ["Recomputed", function (j) { return esc(j.stats.recomputedTasks); }, "num"],
        ["Shuffle written", function (j) { return esc(bytes(j.stats.shuffleBytesWritten)); }, "num"],
        ["Recovery", function (j) { return esc(recoveryText(j.recovery)); }],
        ["Error", function (j) { return errorText(j.error); }],
      ], "No jobs.") +
      "<h2>Nodes</h2>" + table(r[3].nodes, [
        ["Node", function (n) { return esc(n.nodeId); }],
        ["State", function (n) { return status(n.state); }],
        ["Reason", function (n) { return esc(n.reason); }],
        ["Executors alive", function (n) { return esc(n.aliveExecutors + " / " + n.executorIds.length); }, "num"],
        ["Shuffle service", function (n) { return esc(n.shuffleAddress); }],
        ["Excluded until", function (n) { return esc(time(n.excludedUntilMs)); }],
        ["Decommission", function (n) { return esc(n.decommissionPhase) + (n.decommissionDeadlineMs ? ' <span class="muted">deadline ' + esc(time(n.decommissionDeadlineMs)) + "</span>" : ""); }],
        ["Migrated outputs", function (n) { return esc(n.migratedOutputs); }, "num"],
        ["Migrated", function (n) { return esc(bytes(n.migratedBytes)); }, "num"],
        ["Not migrated", function (n) { return esc(n.outputsNotMigrated); }, "num"],
      ], "No nodes.") +
      "<h2>Executors</h2>" + table(r[2].executors, [
        ["Executor", function (e) { return esc(e.executorId); }],
        ["Node", function (e) { return esc(e.nodeId); }],
        ["Host", function (e) { return esc(e.host); }],
        ["Slots", function (e) { return esc(e.slots); }, "num"],
        ["State", function (e) { return status(e.state); }],
        ["Reason", function (e) { return esc(e.stateReason); }],
        ["Excluded until", function (e) { return esc(time(e.excludedUntilMs)); }],
        ["Running tasks", function (e) { return esc(e.runningTasks); }, "num"],
        ["Registered", function (e) { return esc(time(e.registeredAtMs)); }],
      ], "No executors.") +
      "<h2>Scheduler failovers</h2>" + table(r[0].failovers, [
        ["Seq", function (f) { return esc(f.seq); }, "num"],
        ["Time", function (f) { return esc(time(f.timeMs)); }],
        ["Epoch", function (f) { return esc(f.epoch); }, "num"],
        ["Downtime", function (f) { return esc(f.downtimeMs + " ms"); }, "num"],
        ["Jobs recovered", function (f) { return esc(f.jobsRecovered); }, "num"],
        ["New leader", function (f) { return esc(f.leaderAddress); }],
      ], "No failovers.");
  });
}

function jobView(app, job) {
  var base = "applications/" + enc(app) + "/jobs/" + enc(job);
  var events = "applications/" + enc(app) + "/events";
  // The application's events too: executor loss, decommission and failover belong to no job.
  return Promise.all([api(base), api(base + "/stages"), api(base + "/tasks"), api(events + "?job=" + enc(job)), api(events + "?limit=10000")])
    .then(function (r) {
      var j = r[0].job, s = j.stats;
      return '<div class="crumbs">' + link("/", "Applications") + " / " + link("/app/" + enc(app), app) + " / " + esc(job) + "</div>" +
        "<dl><dt>Name</dt><dd>" + esc(j.name) + "</dd><dt>Status</dt><dd>" + status(j.status) + "</dd>" +
        "<dt>Submitted</dt><dd>" + esc(time(j.submittedAtMs)) + "</dd><dt>Duration</dt><dd>" + esc(duration(j.submittedAtMs, j.endedAtMs)) + "</dd>" +
        "<dt>Trace</dt><dd>" + (j.traceId ? '<a href="' + esc(TRACE_URL.split("{traceId}").join(enc(j.traceId))) + '">' + esc(j.traceId) + "</a>" : "") + "</dd>" +
        "<dt>Stats</dt><dd>" + esc(s.tasksLaunched) + " tasks, " + esc(s.taskAttemptsFailed) + " failed attempts, " + esc(s.stageAttempts) +
        " stage attempts, " + esc(s.recomputedTasks) + " recomputed, " + esc(s.lostMapOutputs) + " lost map outputs, input " +
        esc(bytes(s.inputBytes)) + ", shuffle written " + esc(bytes(s.shuffleBytesWritten)) + ", " + esc(s.cachedPartitionsRead || 0) + " cached partitions read</dd>" +
        (j.driverApplicationId ? "<dt>Application</dt><dd>" + esc(j.driverApplicationId) + "</dd>" : "") +
        "<dt>Recovery</dt><dd>" + esc(recoveryText(j.recovery) || "none") + "</dd></dl>" +
        (j.error ? "<h2>Error</h2><pre>" + esc(j.error.message) + (j.error.stack ? "\\n\\n" + esc(j.error.stack) : "") + "</pre>" : "") +
        cachedDatasetsSection(r[3].events) +
        "<h2>Timeline</h2>" + timeline(j, r[1].stages, r[2].tasks, r[4].events) +
        "<h2>Stages</h2>" + table(r[1].stages, [
          ["Stage", function (x) { return esc(x.stageId); }, "num"],
          ["Attempt", function (x) { return esc(x.attempt); }, "num"],
          ["Name", function (x) { return esc(x.name); }],
          ["Status", function (x) { return status(x.status); }],
          ["Tasks done", function (x) { return esc(x.completedTasks + " / " + x.numTasks); }, "num"],
          ["Duration", function (x) { return esc(duration(x.submittedAtMs, x.endedAtMs)); }, "num"],
          ["Reason", function (x) { return esc(x.reason); }],
        ], "No stages.") +
        "<h2>Tasks</h2>" + table(r[2].tasks, [
          ["Task", function (t) { return esc(t.taskId); }],
          ["Stage", function (t) { return esc(t.stageId + "." + t.stageAttempt); }, "num"],
          ["Partition", function (t) { return esc(t.partition); }, "num"],
          ["Attempt", function (t) { return esc(t.attempt); }, "num"],
          ["Executor", function (t) { return esc(t.executorId); }],
          ["Node", function (t) { return esc(t.nodeId); }],
          ["State", function (t) { return status(t.state); }],
          ["Duration", function (t) { return t.durationMs ? esc(t.durationMs + " ms") : ""; }, "num"],
          ["Error", function (t) { return errorText(t.error); }],
        ], "No tasks.") +
        "<h2>Events</h2>" + table(r[3].events, [
          ["Seq", function (e) { return esc(e.seq); }, "num"],
          ["Time", function (e) { return esc(time(e.timeMs)); }],
          ["Type", function (e) { var m = RECOVERY_MARKS[e.type]; return esc(e.type) + (m ? ' <span class="mark">' + esc(m) + "</span>" : ""); }],
          ["Details", function (e) { return '<span class="muted">' + esc(details(e)) + "</span>"; }],
        ], "No events.", function (e) { return RECOVERY_MARKS[e.type] ? "recovery" : ""; });
    });
}

/** The application's persisted datasets as the job's end left them (its last cachedDatasets event), or nothing. */
function cachedDatasetsSection(events) {
  var last = events.filter(function (e) { return e.type === "cachedDatasets"; }).pop();
  if (!last) return "";
  return "<h2>Cached datasets</h2>" + table(last.datasets, [
    ["Dataset", function (d) { return esc(d.name) + ' <span class="muted">' + esc(d.cacheKey) + "</span>"; }],
    ["Level", function (d) { return esc(d.level); }],
    ["Partitions held", function (d) { return esc(d.partitionsHeld + " / " + d.numPartitions); }, "num"],
    ["Size", function (d) { return esc(bytes(d.bytes)); }, "num"],
    ["Where", function (d) {
      return d.holders.map(function (h) { return esc((h.kind === "memory" ? "executor " : "node ") + h.id + " (" + h.kind + "): " + h.partitions + ", " + bytes(h.bytes)); }).join("<br>");
    }],
  ], "No persisted datasets.");
}

${TIMELINE_SCRIPT}
/** Events that show work lost and redone, marked in a job's event list. */
var RECOVERY_MARKS = {
  mapOutputsLost: "lost outputs",
  stageResubmitted: "resubmitted",
  taskResubmitted: "resubmitted",
  exclusionChanged: "exclusion",
};

function details(event) {
  var rest = {};
  Object.keys(event).forEach(function (k) { if (["seq", "timeMs", "jobId", "type"].indexOf(k) < 0) rest[k] = event[k]; });
  return JSON.stringify(rest);
}

function render() {
  var parts = location.hash.replace(/^#\\/?/, "").split("/").map(decodeURIComponent);
  var loading;
  if (parts[0] === "app" && parts[1] && parts[2] === "job" && parts[3]) loading = jobView(parts[1], parts[3]);
  else if (parts[0] === "app" && parts[1]) loading = applicationView(parts[1]);
  else if (parts[0] === "job" && parts[1]) loading = api("jobs/" + enc(parts[1])).then(function (r) { return jobView(r.applicationId, parts[1]); });
  else loading = applicationsView();
  var hash = location.hash;
  loading.then(function (html) { if (location.hash === hash) view.innerHTML = html; },
    function (err) { if (location.hash === hash) view.innerHTML = '<p class="error">' + esc(err.message) + "</p>"; });
}

window.addEventListener("hashchange", render);
setInterval(function () { if (!document.hidden) render(); }, 5000);
render();
</script>
</body>
</html>
`;

/** The page, its trace links built from `traceUrl` ({traceId} is replaced). */
export function historyPage(traceUrl: string): string {
  return HISTORY_PAGE.replace(TRACE_URL_LINE(DEFAULT_TRACE_URL), TRACE_URL_LINE(traceUrl));
}
