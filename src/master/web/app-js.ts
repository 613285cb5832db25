// The master web view's script (plain browser JavaScript, no library): polls /state, draws the
// agents, recovery events, frameworks and each task's timeline.
// Kept as a string module so that tsc ships it in dist/ (no build step; see docs/architecture.md).
export const APP_JS = `// The master's web view: polls /state once a second and draws agents, recovery events, frameworks
// and every task's status history as a timeline, with its agent's disconnections marked on it.
(function () {
  'use strict';
  var POLL_MS = 1000;
  var SVG = 'http://www.w3.org/2000/svg';
  var TERMINAL = ['TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST', 'TASK_ERROR', 'TASK_DROPPED', 'TASK_GONE', 'TASK_GONE_BY_OPERATOR'];
  var BAD = ['TASK_FAILED', 'TASK_KILLED', 'TASK_LOST', 'TASK_ERROR', 'TASK_DROPPED', 'TASK_GONE', 'TASK_GONE_BY_OPERATOR'];
  var openHistories = {};

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }
  function svg(tag, attrs, children) {
    var node = document.createElementNS(SVG, tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }
  function setAttrs(node, attrs) {
    for (var key in attrs || {}) {
      if (attrs[key] === undefined || attrs[key] === null) continue;
      if (key === 'text') node.textContent = attrs[key];
      else node.setAttribute(key, attrs[key]);
    }
  }
  function append(node, children) {
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    });
  }
  function isTerminal(state) { return TERMINAL.indexOf(state) !== -1; }
  function clock(ms) { return new Date(ms).toISOString().slice(11, 23); }
  function seconds(ms) { return (ms / 1000).toFixed(1) + ' s'; }
  function ago(ms, now) {
    if (ms === null || ms === undefined) return '-';
    var s = Math.max(0, Math.round((now - ms) / 1000));
    return s < 120 ? s + 's ago' : Math.round(s / 60) + 'm ago';
  }
  function badge(text) { return el('span', { 'class': 'badge ' + text, text: text }); }
  function short(id) { return id && id.length > 13 ? id.slice(0, 8) + '…' : id; }

  /** DISCONNECTED events with what followed them: [{agent, gone, back, removed, awayMs, timeoutMs}]. */
  function episodes(agent) {
    var list = [];
    var open = null;
    (agent.events || []).forEach(function (event) {
      if (event.type === 'DISCONNECTED') {
        open = { agent: agent, gone: event.timestamp, timeoutMs: event.reregisterTimeoutMs };
        list.push(open);
      } else if (open && (event.type === 'REREGISTERED' || event.type === 'REMOVED')) {
        if (event.type === 'REREGISTERED') { open.back = event.timestamp; open.awayMs = event.awayMs; open.recovery = event.recovery; }
        else open.removed = event.timestamp;
        open = null;
      }
    });
    return list;
  }

  function renderAgents(state, now) {
    var body = document.querySelector('#agents tbody');
    body.textContent = '';
    document.getElementById('no-agents').hidden = state.agents.length > 0;
    state.agents.forEach(function (agent) {
      var last = episodes(agent).slice(-1)[0];
      var recovering = '-';
      if (agent.status === 'DISCONNECTED' && last && !last.back) {
        recovering = 'away ' + seconds(now - last.gone) + (last.timeoutMs ? ', waiting up to ' + seconds(last.timeoutMs) : '');
      } else if (last && last.back) {
        recovering = 'back after ' + seconds(last.awayMs !== undefined ? last.awayMs : last.back - last.gone);
      }
      var address = agent.address ? el('a', { href: 'http://' + agent.address + '/', text: agent.address }) : '-';
      body.appendChild(el('tr', { 'class': 'agent', 'data-agent-id': agent.id, 'data-agent-status': agent.status }, [
        el('td', {}, [el('code', { text: agent.id })]),
        el('td', { text: agent.hostname }),
        el('td', {}, [address]),
        el('td', {}, [badge(agent.status)]),
        el('td', { text: agent.release || '-' }),
        el('td', { text: ago(agent.lastSeen, now) }),
        el('td', { 'class': 'recovering', text: recovering }),
      ]));
    });
  }

  function renderRecoveries(state, now) {
    var list = document.getElementById('recoveries');
    list.textContent = '';
    var all = [];
    state.agents.forEach(function (agent) { all = all.concat(episodes(agent)); });
    all.sort(function (a, b) { return b.gone - a.gone; });
    document.getElementById('no-recoveries').hidden = all.length > 0;
    all.forEach(function (episode) {
      var text = 'agent ' + episode.agent.id + ' (' + episode.agent.hostname + ') gone at ' + clock(episode.gone);
      var kind = 'away';
      if (episode.back) {
        text += ', back at ' + clock(episode.back) + ' (away ' + seconds(episode.back - episode.gone) + ')';
        var r = episode.recovery;
        if (r) text += '; it recovered in ' + r.durationMs + ' ms: ' + r.resubscribed + ' of ' + r.executors + ' live executor' + (r.executors === 1 ? '' : 's') + ' re-subscribed';
        kind = 'back';
      }
      else if (episode.removed) { text += ', removed at ' + clock(episode.removed) + ': it did not re-register in time'; kind = 'removed'; }
      else text += ', not back yet (' + seconds(now - episode.gone) + (episode.timeoutMs ? ' of up to ' + seconds(episode.timeoutMs) : '') + ')';
      list.appendChild(el('li', { 'class': 'recovery ' + kind, 'data-agent-id': episode.agent.id }, [text]));
    });
  }

  function renderFrameworks(state) {
    var body = document.querySelector('#frameworks tbody');
    body.textContent = '';
    var all = state.frameworks.concat(state.completedFrameworks || []);
    document.getElementById('no-frameworks').hidden = all.length > 0;
    all.forEach(function (framework) {
      body.appendChild(el('tr', { 'data-framework-id': framework.id }, [
        el('td', {}, [el('code', { text: framework.id })]),
        el('td', { text: framework.name || '-' }),
        el('td', {}, [badge(framework.status)]),
        el('td', { text: framework.checkpoint ? 'yes' : 'no' }),
        el('td', { text: String(framework.tasks.length) }),
      ]));
    });
  }

  function timeline(task, agent, now) {
    var statuses = task.statuses || [];
    var t0 = statuses.length ? statuses[0].timestamp : now;
    var ended = isTerminal(task.state) && statuses.length;
    var t1 = ended ? statuses[statuses.length - 1].timestamp : now;
    if (t1 - t0 < 1000) t1 = t0 + 1000;
    var left = 10, width = 980;
    function x(t) { return left + Math.max(0, Math.min(1, (t - t0) / (t1 - t0))) * width; }
    var root = svg('svg', { 'class': 'timeline', viewBox: '0 0 1000 76', preserveAspectRatio: 'none', role: 'img', 'aria-label': 'timeline of task ' + task.id });
    if (agent) {
      episodes(agent).forEach(function (episode) {
        var end = episode.back || episode.removed || now;
        if (end < t0 || episode.gone > t1) return;
        root.appendChild(svg('rect', { 'class': 'away', x: x(episode.gone), y: 2, width: Math.max(1, x(end) - x(episode.gone)), height: 40 }, [
          svg('title', { text: 'agent away ' + seconds(end - episode.gone) }),
        ]));
      });
    }
    var lastLabel = [-1000, -1000];
    statuses.forEach(function (status, i) {
      var from = status.timestamp;
      var to = i + 1 < statuses.length ? statuses[i + 1].timestamp : t1;
      var cls = 'seg ' + status.state + (BAD.indexOf(status.state) !== -1 ? ' bad' : '');
      var w = Math.max(isTerminal(status.state) ? 6 : 1, x(to) - x(from));
      var sx = isTerminal(status.state) && i === statuses.length - 1 ? x(from) - 6 : x(from);
      root.appendChild(svg('rect', { 'class': cls, x: sx, y: 12, width: w, height: 20, 'data-state': status.state }, [
        svg('title', { text: status.state + ' at ' + clock(status.timestamp) + (status.message ? ': ' + status.message : '') }),
      ]));
      var long = x(to) - x(from) >= 60 || i === 0 || i === statuses.length - 1;
      // Two rows of labels, so that states close together are all named.
      var row = x(from) - lastLabel[0] > 80 ? 0 : x(from) - lastLabel[1] > 80 ? 1 : -1;
      if (long && row !== -1) {
        root.appendChild(svg('text', { 'class': 'state', x: Math.min(x(from), 900), y: 46 + row * 11, text: status.state.replace('TASK_', '') }));
        lastLabel[row] = x(from);
      }
    });
    if (agent) {
      (agent.events || []).forEach(function (event) {
        if (event.type === 'REGISTERED' || event.timestamp < t0 || event.timestamp > t1 + 500) return;
        var kind = event.type.toLowerCase();
        var ex = x(event.timestamp);
        root.appendChild(svg('line', { 'class': 'marker ' + kind, x1: ex, x2: ex, y1: 2, y2: 42, 'data-event': event.type }, [
          svg('title', { text: 'agent ' + kind + ' at ' + clock(event.timestamp) + (event.awayMs !== undefined ? ' (away ' + seconds(event.awayMs) + ')' : '') }),
        ]));
      });
    }
    root.appendChild(svg('text', { x: left, y: 72, text: clock(t0) }));
    root.appendChild(svg('text', { x: 1000 - 10, y: 72, 'text-anchor': 'end', text: '+' + seconds(t1 - t0) + (ended ? '' : ' (now)') }));
    return root;
  }

  function history(task) {
    var rows = (task.statuses || []).map(function (status) {
      return el('tr', {}, [
        el('td', { text: clock(status.timestamp) }),
        el('td', {}, [badge(status.state)]),
        el('td', { text: status.source ? status.source.replace('SOURCE_', '').toLowerCase() : '-' }),
        el('td', { text: status.reason || '-' }),
        el('td', { text: status.message || '' }),
      ]);
    });
    var details = el('details', { 'data-task-id': task.id }, [
      el('summary', { text: 'status history (' + rows.length + ')' }),
      el('table', { 'class': 'history' }, [
        el('thead', {}, [el('tr', {}, [el('th', { text: 'time' }), el('th', { text: 'state' }), el('th', { text: 'source' }), el('th', { text: 'reason' }), el('th', { text: 'message' })])]),
        el('tbody', {}, rows),
      ]),
    ]);
    if (openHistories[task.id]) details.open = true;
    details.addEventListener('toggle', function () { openHistories[task.id] = details.open; });
    return details;
  }

  function renderTasks(state, now) {
    var box = document.getElementById('tasks');
    box.textContent = '';
    var agents = {};
    state.agents.forEach(function (agent) { agents[agent.id] = agent; });
    var all = [];
    state.frameworks.concat(state.completedFrameworks || []).forEach(function (framework) {
      framework.tasks.forEach(function (task) { all.push({ task: task, framework: framework }); });
    });
    function started(entry) { var s = entry.task.statuses || []; return s.length ? s[0].timestamp : 0; }
    all.sort(function (a, b) { return started(b) - started(a); });
    document.getElementById('no-tasks').hidden = all.length > 0;
    all.forEach(function (entry) {
      var task = entry.task;
      var agent = agents[task.agentId];
      box.appendChild(el('div', { 'class': 'task', 'data-task-id': task.id, 'data-task-state': task.state }, [
        el('div', { 'class': 'task-head' }, [
          el('span', { 'class': 'id', text: task.id }),
          badge(task.state),
          el('span', { 'class': 'dim', text: 'framework ' + short(entry.framework.id) + (entry.framework.name ? ' (' + entry.framework.name + ')' : '') }),
          el('span', { 'class': 'dim', text: 'agent ' + short(task.agentId) + (agent ? ' ' + agent.status : '') }),
          task.sandbox ? el('code', { 'class': 'dim', title: 'sandbox', text: task.sandbox }) : null,
        ]),
        timeline(task, agent, now),
        history(task),
      ]));
    });
  }

  function render(state) {
    var now = Date.now();
    renderAgents(state, now);
    renderRecoveries(state, now);
    renderFrameworks(state);
    renderTasks(state, now);
  }

  function poll() {
    var live = document.getElementById('live');
    fetch('/state', { cache: 'no-store' })
      .then(function (response) {
        if (!response.ok) throw new Error('HTTP ' + response.status);
        return response.json();
      })
      .then(function (state) {
        render(state);
        live.textContent = 'live, updated ' + new Date().toLocaleTimeString();
        live.className = 'live';
      })
      .catch(function (error) {
        live.textContent = 'master unreachable (' + error.message + '); retrying';
        live.className = 'live error';
      })
      .then(function () { setTimeout(poll, POLL_MS); });
  }

  poll();
})();
`;
