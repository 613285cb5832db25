// The master web view's page: the layout only; /web/app.js fills it from /state.
// Kept as a string module so that tsc ships it in dist/ (no build step; see docs/architecture.md).
export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lifeline master</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/web/style.css">
<script src="/web/app.js" defer></script>
</head>
<body>
<header>
  <h1>lifeline <span class="dim">master</span></h1>
  <span id="live" class="live">connecting…</span>
</header>
<main>
  <section>
    <h2>Agents</h2>
    <table id="agents">
      <thead><tr><th>ID</th><th>hostname</th><th>address</th><th>status</th><th>version</th><th>last seen</th><th>recovering</th></tr></thead>
      <tbody></tbody>
    </table>
    <p id="no-agents" class="dim" hidden>No agents yet.</p>
  </section>
  <section>
    <h2>Recovery events</h2>
    <ul id="recoveries"></ul>
    <p id="no-recoveries" class="dim">No agent has gone away.</p>
  </section>
  <section>
    <h2>Frameworks</h2>
    <table id="frameworks">
      <thead><tr><th>ID</th><th>name</th><th>status</th><th>checkpoint</th><th>tasks</th></tr></thead>
      <tbody></tbody>
    </table>
    <p id="no-frameworks" class="dim" hidden>No frameworks yet.</p>
  </section>
  <section>
    <h2>Tasks</h2>
    <p class="legend">Timeline: <span class="swatch sw-start"></span>staging/starting <span class="swatch sw-run"></span>running <span class="swatch sw-ok"></span>finished <span class="swatch sw-bad"></span>failed/killed/lost <span class="swatch sw-away"></span>agent away, from its disconnection (red line) to its re-registration (green line)</p>
    <div id="tasks"></div>
    <p id="no-tasks" class="dim" hidden>No tasks yet.</p>
  </section>
</main>
</body>
</html>
`;
