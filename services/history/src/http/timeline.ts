/**
 * The job page's timeline, as browser script and style that page.ts embeds: stages as spans on
 * top, one lane per executor with its task attempts as bars over time, and markers for what a
 * failure story is made of (executor and node loss, outputs unregistered, resubmission, exclusion,
 * decommission, migration, scheduler failover). Hovering a bar or marker shows its details (an
 * SVG <title>); clicking a bar shows the task under the timeline. Like page.ts, the script avoids
 * backticks and "${" so it can live in a template literal unescaped.
 */
export const TIMELINE_STYLE = `
  svg.timeline { width: 100%; background: #fff; border: 1px solid #ddd; font: 11px system-ui, sans-serif; }
  svg.timeline .lane-label { fill: #344054; }
  svg.timeline .axis { fill: #667085; } svg.timeline .grid { stroke: #eaecf0; }
  svg.timeline .stage { fill: #d1e0ff; } svg.timeline .stage.failed { fill: #fecdca; }
  svg.timeline .task { fill: #75e0a7; cursor: pointer; } svg.timeline .task.failed { fill: #f97066; }
  svg.timeline .task.killed { fill: #d0d5dd; } svg.timeline .task.running { fill: #84adff; }
  svg.timeline .marker line { stroke-width: 2; } svg.timeline .marker text { font-weight: 600; }
  #timeline-detail { min-height: 1.4em; margin: 4px 0; }
`;

export const TIMELINE_SCRIPT = `
/** What each marker says, and its colour. */
var MARKERS = {
  executorRemoved: ["executor lost", "#b42318"],
  mapOutputsLost: ["outputs unregistered", "#b54708"],
  stageResubmitted: ["stage resubmitted", "#6941c6"],
  taskResubmitted: ["task resubmitted", "#6941c6"],
  exclusionChanged: ["excluded", "#b54708"],
  decommissionChanged: ["decommission", "#175cd3"],
  shuffleMigrated: ["migration", "#175cd3"],
  schedulerFailover: ["scheduler failover", "#101828"],
};
var LANE = 22, LEFT = 130, WIDTH = 1000, RIGHT_MARGIN = 150;

/** Time since the job began, in ms for short jobs. */
function offset(ms, span) { return "+" + (span < 2000 ? Math.round(ms) + " ms" : (ms / 1000).toFixed(1) + " s"); }

function svgText(x, y, text, cls, anchor) {
  return '<text x="' + x + '" y="' + y + '" class="' + (cls || "") + '"' + (anchor ? ' text-anchor="' + anchor + '"' : "") + ">" + esc(text) + "</text>";
}

/** The events that belong on a job's timeline: its own, and the application's while it ran. */
function timelineEvents(jobId, events, from, to) {
  return events.filter(function (e) { return MARKERS[e.type] && (e.jobId === jobId || (!e.jobId && e.timeMs >= from && e.timeMs <= to)); });
}

function timeline(job, stages, tasks, events) {
  // A running job's timeline ends at its latest activity (the page redraws every 5 s).
  var t0 = job.submittedAtMs, t1 = job.endedAtMs || t0 + 1;
  var marks = timelineEvents(job.jobId, events, t0, job.endedAtMs || Infinity);
  tasks.forEach(function (t) { t1 = Math.max(t1, t.endedAtMs || t.startedAtMs || 0); });
  marks.forEach(function (e) { t1 = Math.max(t1, e.timeMs); });
  var span = Math.max(1, t1 - t0);
  // The right margin leaves room for the labels of the last markers.
  function x(ms) { return (LEFT + ((Math.min(Math.max(ms, t0), t1) - t0) / span) * (WIDTH - LEFT - RIGHT_MARGIN)).toFixed(1); }
  function w(from, to) { return Math.max(2, Number(x(to)) - Number(x(from))).toFixed(1); }

  var lanes = [];
  tasks.forEach(function (t) { if (t.executorId && lanes.indexOf(t.executorId) < 0) lanes.push(t.executorId); });
  marks.forEach(function (e) { if (e.type === "executorRemoved" && lanes.indexOf(e.executorId) < 0) lanes.push(e.executorId); });
  lanes.sort();
  // Marker labels sit in rows of their own under the axis, each in the first row where it fits.
  var rowEnds = [], labels = marks.map(function (e) {
    var text = e.type === "executorRemoved" ? e.executorId + " lost" : MARKERS[e.type][0];
    var left = Number(x(e.timeMs)) + 3, row = 0;
    while (rowEnds[row] !== undefined && rowEnds[row] > left) row++;
    rowEnds[row] = left + text.length * 6.5 + 6;
    return { text: text, row: row };
  });
  var band = 16 + rowEnds.length * 13, top = band + 4 + stages.length * LANE, height = top + lanes.length * LANE + 6;
  var out = [];
  for (var i = 0; i <= 5; i++) {
    var at = t0 + (span * i) / 5, gx = x(at);
    out.push('<line class="grid" x1="' + gx + '" x2="' + gx + '" y1="14" y2="' + height + '"></line>');
    out.push(svgText(gx, 11, offset(at - t0, span), "axis", i === 0 ? "start" : i === 5 ? "end" : "middle"));
  }
  stages.forEach(function (s, i) {
    var y = band + 4 + i * LANE;
    out.push(svgText(4, y + 14, "stage " + s.stageId + "." + s.attempt, "lane-label"));
    out.push('<rect class="stage ' + esc(s.status) + '" x="' + x(s.submittedAtMs) + '" y="' + (y + 3) + '" width="' + w(s.submittedAtMs, s.endedAtMs || t1) + '" height="' + (LANE - 6) + '">' +
      "<title>" + esc(s.name + " (" + s.status + ") " + s.completedTasks + "/" + s.numTasks + " tasks" + (s.reason ? ": " + s.reason : "")) + "</title></rect>");
  });
  lanes.forEach(function (executorId, i) {
    var y = top + i * LANE;
    out.push(svgText(4, y + 14, executorId, "lane-label"));
    tasks.filter(function (t) { return t.executorId === executorId; }).forEach(function (t) {
      var detail = t.taskId + " on " + t.executorId + " (" + t.nodeId + "): " + t.state + (t.durationMs ? ", " + t.durationMs + " ms" : "") + (t.error ? ", " + (t.error.kind ? t.error.kind + ": " : "") + t.error.message : "");
      out.push('<rect class="task ' + esc(t.state) + '" data-detail="' + esc(detail) + '" x="' + x(t.startedAtMs) + '" y="' + (y + 4) + '" width="' + w(t.startedAtMs, t.endedAtMs || t1) + '" height="' + (LANE - 8) + '">' +
        "<title>" + esc(detail) + "</title></rect>");
    });
  });
  marks.forEach(function (e, i) {
    var m = MARKERS[e.type], mx = x(e.timeMs), labelY = 24 + labels[i].row * 13, lane = e.type === "executorRemoved" ? lanes.indexOf(e.executorId) : -1;
    // An executor's loss is also drawn thick across its own lane.
    var laneMark = lane < 0 ? "" : '<line x1="' + mx + '" x2="' + mx + '" y1="' + (top + lane * LANE) + '" y2="' + (top + (lane + 1) * LANE) + '" stroke="' + m[1] + '" stroke-width="5"></line>';
    out.push('<g class="marker marker-' + esc(e.type) + '"><line x1="' + mx + '" x2="' + mx + '" y1="' + (labelY - 9) + '" y2="' + height + '" stroke="' + m[1] + '"></line>' + laneMark +
      '<text x="' + (Number(mx) + 3) + '" y="' + labelY + '" fill="' + m[1] + '">' + esc(labels[i].text) + "</text>" +
      "<title>" + esc(offset(e.timeMs - t0, span) + " " + m[0] + ": " + details(e)) + "</title></g>");
  });
  return '<svg class="timeline" viewBox="0 0 ' + WIDTH + " " + height + '" role="img" aria-label="Timeline">' + out.join("") + "</svg>" +
    '<div id="timeline-detail" class="muted">Click a task for its details.</div>';
}

document.addEventListener("click", function (event) {
  var detail = event.target && event.target.getAttribute && event.target.getAttribute("data-detail");
  var box = document.getElementById("timeline-detail");
  if (detail && box) box.textContent = detail;
});
`;
