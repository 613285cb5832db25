// The master web view's style sheet.
// Kept as a string module so that tsc ships it in dist/ (no build step; see docs/architecture.md).
export const STYLE_CSS = `:root { --ink: #1d2430; --dim: #6b7382; --line: #e3e6ea; --ok: #2f9e52; --warn: #d99a00; --bad: #c93636; --run: #3c8dde; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: #fafbfc; }
header { display: flex; align-items: baseline; gap: 1em; padding: .8em 1.5em; background: #fff; border-bottom: 1px solid var(--line); }
h1 { font-size: 1.25em; margin: 0; }
h2 { font-size: 1.05em; margin: 1.4em 0 .5em; }
main { padding: 0 1.5em 2em; }
.dim { color: var(--dim); font-weight: normal; }
.live { font-size: 12px; color: var(--dim); }
.live.error { color: var(--bad); }
table { border-collapse: collapse; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: .3em .8em; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--dim); font-size: 12px; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
.badge { display: inline-block; padding: 0 .55em; border-radius: .8em; font-size: 12px; background: var(--line); white-space: nowrap; }
.ACTIVE, .TASK_RUNNING, .TASK_FINISHED { background: #d6f5dd; }
.DISCONNECTED, .TASK_STAGING, .TASK_STARTING, .TASK_KILLING { background: #fff1c2; }
.REMOVED, .TASK_FAILED, .TASK_KILLED, .TASK_LOST, .TASK_ERROR, .TASK_DROPPED, .TASK_GONE { background: #fbd9d9; }
.task { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .7em 1em; margin-bottom: 1em; }
.task-head { display: flex; flex-wrap: wrap; gap: .4em 1.2em; align-items: baseline; }
.task-head .id { font-weight: 600; }
.timeline { width: 100%; height: 76px; margin: .6em 0 .2em; display: block; }
.timeline .seg { stroke: #fff; stroke-width: 1; }
.timeline .seg.TASK_STAGING, .timeline .seg.TASK_STARTING { fill: #f3d36b; }
.timeline .seg.TASK_RUNNING { fill: var(--run); }
.timeline .seg.TASK_FINISHED { fill: var(--ok); }
.timeline .seg.bad { fill: var(--bad); }
.timeline .away { fill: rgba(201, 54, 54, .12); }
.timeline .marker { stroke-width: 2; }
.timeline .marker.disconnected { stroke: var(--bad); }
.timeline .marker.reregistered { stroke: var(--ok); }
.timeline .marker.removed { stroke: #000; }
.timeline text { font-size: 11px; fill: var(--dim); }
.timeline text.state { fill: var(--ink); }
details { margin-top: .3em; }
summary { cursor: pointer; color: var(--dim); font-size: 12px; }
.history td, .history th { font-size: 12px; padding: .15em .6em; }
.legend { font-size: 12px; color: var(--dim); }
.legend .swatch { display: inline-block; width: .9em; height: .9em; vertical-align: -2px; margin: 0 .2em 0 .8em; }
.sw-start { background: #f3d36b; } .sw-run { background: var(--run); } .sw-ok { background: var(--ok); } .sw-bad { background: var(--bad); } .sw-away { background: rgba(201, 54, 54, .25); }
`;
