// The agent's node view at / (issue 15): one self-contained page (no network but this agent) that
// polls /state and shows the agent's status, its executors and tasks, and a task's stdout/stderr
// read through /files/read. Kept as a string so that tsc ships it with no build step.
export const NODE_VIEW_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>lifeline agent</title>
<link rel="icon" href="data:,">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1d2430; }
h1 { font-size: 1.3em; margin: 0 0 .3em; }
table { border-collapse: collapse; margin: .5em 0 1.5em; }
th, td { text-align: left; padding: .25em .8em .25em 0; border-bottom: 1px solid #e3e6ea; vertical-align: top; }
th { font-weight: 600; color: #5b6472; }
code, pre { font-family: ui-monospace, monospace; font-size: 12px; }
pre { background: #f5f6f8; padding: .8em; max-height: 24em; overflow: auto; white-space: pre-wrap; }
.badge { padding: .05em .5em; border-radius: .8em; font-size: 12px; background: #e3e6ea; }
.RUNNING, .TASK_RUNNING { background: #d6f5dd; }
.RECOVERING, .DISCONNECTED, .TASK_STAGING, .TASK_STARTING { background: #fff1c2; }
.TERMINATING, .TERMINATED, .TASK_FAILED, .TASK_KILLED, .TASK_LOST { background: #fbd9d9; }
button { font: inherit; font-size: 12px; }
#error { color: #a11; }
</style>
</head>
<body>
<h1>lifeline agent <span id="agent-id"></span></h1>
<p>Status: <span id="agent-status" class="badge">…</span> <span id="error"></span> <small>(the cluster view is on the master)</small></p>
<table id="executors"><thead><tr><th>framework</th><th>executor</th><th>state</th><th>pid</th><th>tasks</th><th>sandbox</th></tr></thead><tbody></tbody></table>
<div id="viewer" hidden><h2 id="viewer-title"></h2><pre id="viewer-text"></pre></div>
<script>
(function () {
  'use strict';
  function el(tag, text, cls) { var e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; }
  function show(file, title) {
    fetch('/files/read?path=' + encodeURIComponent(file) + '&offset=0&length=65536').then(function (r) { return r.json(); }).then(function (answer) {
      document.getElementById('viewer').hidden = false;
      document.getElementById('viewer-title').textContent = title;
      document.getElementById('viewer-text').textContent = answer.error ? answer.error : answer.data;
    });
  }
  function render(state) {
    document.getElementById('agent-id').textContent = state.id || '';
    var status = document.getElementById('agent-status');
    status.textContent = state.status; status.className = 'badge ' + state.status;
    var body = document.querySelector('#executors tbody');
    body.textContent = '';
    (state.frameworks || []).forEach(function (framework) {
      framework.executors.forEach(function (run) {
        var row = el('tr');
        row.appendChild(el('td', framework.id));
        row.appendChild(el('td', run.id));
        var state = el('td'); state.appendChild(el('span', run.state, 'badge ' + run.state)); row.appendChild(state);
        row.appendChild(el('td', run.pid === null ? '-' : String(run.pid)));
        row.appendChild(el('td', run.tasks.map(function (t) { return t.id + ' ' + t.state; }).join(', ')));
        var cell = el('td');
        cell.appendChild(el('code', run.directory || ''));
        ['stdout', 'stderr'].forEach(function (name) {
          var button = el('button', name);
          button.onclick = function () { show(run.directory + '/' + name, run.id + ' ' + name); };
          cell.appendChild(document.createTextNode(' ')); cell.appendChild(button);
        });
        row.appendChild(cell);
        body.appendChild(row);
      });
    });
  }
  function poll() {
    fetch('/state').then(function (r) { return r.json(); }).then(function (state) {
      document.getElementById('error').textContent = '';
      if (state.error) { var s = document.getElementById('agent-status'); s.textContent = state.status; s.className = 'badge ' + state.status; }
      else render(state);
    }).catch(function (error) { document.getElementById('error').textContent = 'agent unreachable: ' + error.message; })
      .then(function () { setTimeout(poll, 1500); });
  }
  poll();
})();
</script>
</body>
</html>
`;
