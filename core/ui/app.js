// Corral's web UI: a dependency-free page that reads the master's
// /ui/api/* endpoints (paged and filtered on the server) and never talks
// to an agent itself: sandboxes, agent state and statistics come through
// the master's /ui/api/agents/{id}/... proxy.
//
// Routes live in the URL's fragment (#/tasks?state=TASK_FAILED), so every
// page has a link that can be pasted. The current page re-reads its data
// every REFRESH_MS; a file's tail follows every TAIL_MS.
'use strict';

const REFRESH_MS = 2000;
const TAIL_MS = 1000;
const TAIL_BYTES = 64 * 1024;
const PAGE = 50;

// ---------- helpers ----------

function esc(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  })[c]);
}

function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '' && v !== false) u.set(k, v);
  }
  const s = u.toString();
  return s ? '?' + s : '';
}

function seg(s) { return encodeURIComponent(s); }

async function api(path) {
  const r = await fetch(path, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
  if (!r.ok) {
    const text = await r.text();
    throw new Error(`${path}: ${r.status} ${r.statusText}${text ? ' — ' + text : ''}`);
  }
  return r.json();
}

function fmtNum(n, digits = 2) {
  if (n === undefined || n === null) return '';
  return Number.isInteger(n) ? String(n) : Number(n).toFixed(digits).replace(/\.?0+$/, '');
}

// Mesos' mem and disk are in MB.
function fmtMB(mb) {
  if (!mb) return '0 B';
  return fmtBytes(mb * 1024 * 1024);
}

function fmtBytes(b) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = Number(b) || 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return (i === 0 ? String(v) : v.toFixed(v < 10 ? 1 : 0)) + ' ' + units[i];
}

function fmtDuration(secs) {
  secs = Math.max(0, Math.floor(Number(secs) || 0));
  const d = Math.floor(secs / 86400);
  const h = Math.floor((secs % 86400) / 3600);
  const m = Math.floor((secs % 3600) / 60);
  const s = secs % 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

function fmtTime(epoch) {
  if (!epoch) return '<span class="muted">—</span>';
  const date = new Date(epoch * 1000);
  const ago = fmtDuration(Date.now() / 1000 - epoch);
  const text = date.toLocaleString(undefined, { hour12: false });
  return `<span title="${esc(date.toISOString())}">${esc(text)}</span> <span class="muted">(${esc(ago)} ago)</span>`;
}

function stateName(state) { return String(state || '').replace(/^TASK_/, ''); }

function stateBadge(state) {
  const name = stateName(state);
  return `<span class="state ${esc(name.toLowerCase())}">${esc(name)}</span>`;
}

const BAD_STATES = new Set(['TASK_FAILED', 'TASK_LOST', 'TASK_ERROR', 'TASK_DROPPED', 'TASK_GONE', 'TASK_UNREACHABLE']);

function resourcesText(r) {
  if (!r) return '';
  const parts = [];
  if (r.cpus) parts.push(`${fmtNum(r.cpus)} cpus`);
  if (r.mem) parts.push(fmtMB(r.mem));
  if (r.disk) parts.push(`${fmtMB(r.disk)} disk`);
  if (r.gpus) parts.push(`${fmtNum(r.gpus)} gpus`);
  for (const [k, v] of Object.entries(r)) {
    if (!['cpus', 'mem', 'disk', 'gpus'].includes(k) && v) parts.push(`${k}: ${v}`);
  }
  return parts.length ? esc(parts.join(', ')) : '<span class="muted">none</span>';
}

function bar(used, offered, total) {
  const pct = (v) => (total > 0 ? Math.min(100, (100 * v) / total) : 0);
  return `<div class="bar"><span class="offered" data-left="${pct(used)}" data-width="${pct(offered)}"></span>` +
    `<span class="used" data-left="0" data-width="${pct(used)}"></span></div>`;
}

// The Content-Security-Policy forbids inline styles: bars get their
// widths through the CSSOM once rendered.
function sizeBars(root) {
  for (const el of root.querySelectorAll('.bar span')) {
    el.style.left = `${el.dataset.left}%`;
    el.style.width = `${el.dataset.width}%`;
  }
}

function empty(text) { return `<div class="empty">${text}</div>`; }

function tryCommand() {
  const host = location.host || '127.0.0.1:5050';
  return `<code>corral execute --master ${esc(host)} --command 'echo hello'</code>`;
}

function agentLink(id, label) {
  return id ? `<a href="#/agents/${seg(id)}">${esc(label || id)}</a>` : '';
}

function frameworkLink(id, label) {
  return id ? `<a href="#/frameworks/${seg(id)}">${esc(label || id)}</a>` : '';
}

function taskLink(frameworkId, taskId, label) {
  return `<a href="#/tasks/${seg(frameworkId)}/${seg(taskId)}">${esc(label || taskId)}</a>`;
}

function kv(rows) {
  return '<table class="kv">' + rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`).join('') + '</table>';
}

// ---------- routing ----------

let timers = [];
let generation = 0;

function route() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, query] = hash.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { parts, params: new URLSearchParams(query || '') };
}

function go(params) {
  const { parts } = route();
  location.hash = '#/' + parts.map(seg).join('/') + qs(params);
}

function every(ms, fn) { timers.push(setInterval(fn, ms)); }

function showError(e) {
  const box = document.getElementById('error');
  if (!e) { box.hidden = true; box.textContent = ''; return; }
  box.hidden = false;
  box.textContent = String(e.message || e);
}

function setLive(ok) { document.getElementById('live').classList.toggle('stale', !ok); }

// Renders `draw(data)` into #content from `load()`, now and every REFRESH_MS.
function live(load, draw) {
  const mine = generation;
  const tick = async () => {
    try {
      const data = await load();
      if (mine !== generation) return;
      const content = document.getElementById('content');
      if (!content) return;
      content.innerHTML = draw(data);
      sizeBars(content);
      showError(null);
      setLive(true);
    } catch (e) {
      if (mine !== generation) return;
      showError(e);
      setLive(false);
    }
  };
  tick();
  every(REFRESH_MS, tick);
}

// The header's master line, once, whatever page opened first.
function masterLine() {
  api('/ui/api/overview').then((o) => {
    document.getElementById('master-line').textContent = `${o.leader} · Corral ${o.corral_version}`;
  }).catch(() => {});
}

function render() {
  for (const t of timers) clearInterval(t);
  timers = [];
  generation += 1;
  showError(null);
  const { parts, params } = route();
  const page = parts[0] || 'overview';
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('active', a.dataset.page === page);
  }
  const main = document.getElementById('main');
  const pages = {
    overview: () => overviewPage(main),
    frameworks: () => (parts[1] ? frameworkPage(main, parts[1], params) : frameworksPage(main, params)),
    agents: () => (parts[1] ? agentPage(main, parts[1]) : agentsPage(main, params)),
    tasks: () => (parts[2] ? taskPage(main, parts[1], parts[2]) : tasksPage(main, params)),
    sandbox: () => sandboxPage(main, parts[1], params),
    file: () => filePage(main, parts[1], params),
    offers: () => offersPage(main, params),
    roles: () => rolesPage(main),
  };
  (pages[page] || (() => { main.innerHTML = empty(`No page '${esc(page)}'. <a href="#/">Overview</a>`); }))();
}

// ---------- shared pieces ----------

function pager(data, params) {
  const offset = data.offset || 0;
  const last = Math.min(offset + data.items.length, data.total);
  const link = (o, text) => `<a href="#/${route().parts.map(seg).join('/')}${qs({ ...Object.fromEntries(params), offset: o })}">${text}</a>`;
  const prev = offset > 0 ? link(Math.max(0, offset - data.limit), '← previous') : '';
  const next = last < data.total ? link(offset + data.limit, 'next →') : '';
  return `<div class="pager">${prev}<span>${data.total ? `${offset + 1}–${last} of ${data.total}` : '0'}</span>${next}</div>`;
}

function sortHeader(label, key, params, defaultSort, extra = '') {
  const sort = params.get('sort') || defaultSort;
  const order = params.get('order') || '';
  const active = sort === key;
  const nextOrder = active && order !== 'asc' ? 'asc' : 'desc';
  const href = '#/' + route().parts.map(seg).join('/') + qs({ ...Object.fromEntries(params), sort: key, order: nextOrder, offset: '' });
  return `<th class="${extra}${active ? ' sorted' : ''}${active && order === 'asc' ? ' asc' : ''}"><a href="${href}">${esc(label)}</a></th>`;
}

// A filter box that changes the route's `q` as the user types.
function filterBox(params, placeholder) {
  return `<input type="search" id="filter" placeholder="${esc(placeholder)}" value="${esc(params.get('q') || '')}">`;
}

function wireFilter(params) {
  const box = document.getElementById('filter');
  if (!box) return;
  let pending;
  box.addEventListener('input', () => {
    clearTimeout(pending);
    pending = setTimeout(() => go({ ...Object.fromEntries(params), q: box.value, offset: '' }), 300);
  });
  if (params.get('q')) { box.focus(); box.setSelectionRange(box.value.length, box.value.length); }
}

function tasksTable(data, params, columns = ['framework', 'agent']) {
  if (!data.items.length) return '';
  const rows = data.items.map((t) => `<tr class="${BAD_STATES.has(t.state) ? 'bad' : ''}" data-task="${esc(t.id)}">
      <td>${taskLink(t.framework_id, t.id)}<div class="muted">${esc(t.name)}</div></td>
      <td>${stateBadge(t.state)}</td>
      ${columns.includes('framework') ? `<td>${frameworkLink(t.framework_id, t.framework_name || t.framework_id)}</td>` : ''}
      ${columns.includes('agent') ? `<td class="mono">${agentLink(t.agent_id)}</td>` : ''}
      <td class="num">${fmtNum(t.cpus)}</td><td class="num">${fmtMB(t.mem)}</td>
      <td>${fmtTime(t.timestamp)}</td>
      <td>${t.reason ? `<span class="mono">${esc(t.reason)}</span><br>` : ''}${esc(t.message || '')}</td></tr>`).join('');
  return `<table id="tasks-table"><tr><th>Task</th><th>State</th>${columns.includes('framework') ? '<th>Framework</th>' : ''}${columns.includes('agent') ? '<th>Agent</th>' : ''}<th class="num">CPUs</th><th class="num">Mem</th><th>Last change</th><th>Reason / message</th></tr>${rows}</table>${pager(data, params)}`;
}

// ---------- overview ----------

const COUNTED = ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING', 'TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST', 'TASK_ERROR'];

function overviewPage(main) {
  main.innerHTML = '<h1>Cluster</h1><div id="content"></div>';
  live(() => api('/ui/api/overview'), (o) => {
    document.getElementById('master-line').textContent = `${o.leader} · Corral ${o.corral_version}`;
    const counts = COUNTED.map((s) => `<a class="count ${BAD_STATES.has(s) && o.tasks[s] ? 'bad' : ''}" id="count-${s}" href="#/tasks${qs({ state: s })}"><span class="n">${o.tasks[s] || 0}</span>${esc(stateName(s).toLowerCase())}</a>`).join('');
    const res = ['cpus', 'mem', 'disk', 'gpus'].map((name) => {
      const r = o.resources[name];
      const show = name === 'mem' || name === 'disk' ? fmtMB : (v) => fmtNum(v);
      return `<div class="card"><div class="label">${name}</div>${bar(r.used, r.offered, r.total)}
        <div class="legend">${show(r.used)} used · ${show(r.offered)} offered · ${show(r.total)} total</div></div>`;
    }).join('');
    const recent = o.recent.length
      ? tasksTable({ items: o.recent, offset: 0, limit: o.recent.length, total: o.recent.length }, new URLSearchParams())
      : empty(`No tasks yet — try ${tryCommand()}`);
    return `<div class="cards">
        <div class="card"><div class="label">Leader</div><div class="value mono">${esc(o.hostname)}</div><div class="sub">${esc(o.leader)}</div></div>
        <div class="card"><div class="label">Version</div><div class="value">${esc(o.corral_version)}</div><div class="sub">Mesos API ${esc(o.version)}</div></div>
        <div class="card"><div class="label">Uptime</div><div class="value" id="uptime">${esc(fmtDuration(o.uptime_secs))}</div><div class="sub">since ${fmtTime(o.start_time)}</div></div>
        <div class="card"><div class="label">Agents</div><div class="value" id="agents-active">${o.agents.active}</div><div class="sub">active · ${o.agents.inactive} inactive · ${o.agents.recovering} recovering · ${o.agents.removed} removed</div></div>
        <div class="card"><div class="label">Frameworks</div><div class="value" id="frameworks-active">${o.frameworks.active}</div><div class="sub">active · ${o.frameworks.inactive} inactive · ${o.frameworks.completed} completed</div></div>
        <div class="card"><div class="label">Offers</div><div class="value">${o.offers}</div><div class="sub"><a href="#/offers">outstanding</a></div></div>
      </div>
      <h2>Tasks</h2><div class="counts">${counts}</div>
      <h2>Resources</h2><div class="cards">${res}</div>
      <h2>Latest task state changes</h2>${recent}`;
  });
}

// ---------- frameworks ----------

function frameworksPage(main, params) {
  const completed = params.get('completed') === 'true';
  main.innerHTML = `<h1>Frameworks</h1><div class="controls">
      <span class="tabs"><a href="#/frameworks" class="${completed ? '' : 'active'}">Active</a>
      <a href="#/frameworks?completed=true" class="${completed ? 'active' : ''}">Completed</a></span>
      ${filterBox(params, 'filter by name, id, user or role')}</div><div id="content"></div>`;
  wireFilter(params);
  const query = { q: params.get('q'), sort: params.get('sort'), order: params.get('order'), offset: params.get('offset'), limit: PAGE, completed: completed ? 'true' : '' };
  live(() => api('/ui/api/frameworks' + qs(query)), (data) => {
    if (!data.items.length) {
      return empty(params.get('q') ? 'No framework matches the filter.' : completed ? 'No framework has completed since the master started.' : `No frameworks are registered — try ${tryCommand()}`);
    }
    const rows = data.items.map((f) => `<tr data-framework="${esc(f.id)}">
        <td>${frameworkLink(f.id, f.name || '(unnamed)')}<div class="muted mono">${esc(f.id)}</div></td>
        <td>${esc(f.user)}</td><td>${esc(f.roles.join(', '))}</td>
        <td>${f.active ? 'yes' : '<span class="muted">no</span>'}</td>
        <td>${fmtTime(f.registered_time)}</td>
        <td class="num">${f.tasks_running}</td>
        <td>${resourcesText(f.used)}</td><td>${resourcesText(f.offered)}</td>
        <td>${f.checkpoint ? 'yes' : 'no'}</td><td class="num">${esc(fmtDuration(f.failover_timeout))}</td></tr>`).join('');
    return `<table id="frameworks-table"><tr>${sortHeader('Name', 'name', params, 'registered')}${sortHeader('User', 'user', params, 'registered')}<th>Roles</th><th>Active</th>
        ${sortHeader('Registered', 'registered', params, 'registered')}${sortHeader('Tasks', 'tasks', params, 'registered', 'num')}
        ${sortHeader('Used', 'cpus', params, 'registered')}<th>Offered</th><th>Checkpoint</th><th class="num">Failover timeout</th></tr>${rows}</table>${pager(data, params)}`;
  });
}

function frameworkPage(main, id, params) {
  const which = params.get('tasks') || 'live';
  main.innerHTML = `<h1>Framework <span class="mono">${esc(id)}</span></h1><div id="content"></div>`;
  const taskQuery = { framework_id: id, state: which, offset: params.get('offset'), limit: PAGE };
  live(async () => [await api(`/ui/api/frameworks/${seg(id)}`), await api('/ui/api/tasks' + qs(taskQuery))], ([f, tasks]) => {
    const offers = f.offers.length
      ? '<table id="offers-table"><tr><th>Offer</th><th>Agent</th><th>Resources</th></tr>' + f.offers.map((o) => `<tr><td class="mono">${esc(o.id)}</td><td class="mono">${agentLink(o.agent_id)}</td><td>${resourcesText(o.resources)}</td></tr>`).join('') + '</table>'
      : empty('No outstanding offers to this framework.');
    const tabs = ['live', 'terminal'].map((t) => `<a class="${which === t ? 'active' : ''}" href="#/frameworks/${seg(id)}${qs({ tasks: t })}">${t === 'live' ? 'Running' : 'Completed'}</a>`).join(' ');
    return `<div class="grid2"><div>${kv([
        ['Name', esc(f.name)], ['Id', `<span class="mono">${esc(f.id)}</span>`], ['User', esc(f.user)],
        ['Principal', esc(f.principal || '')], ['Roles', esc(f.roles.join(', '))],
        ['State', f.completed ? 'completed' : f.active ? 'active' : 'inactive (disconnected)'],
        ['Registered', fmtTime(f.registered_time)], ['Re-registered', fmtTime(f.reregistered_time)],
        ['Checkpoint', f.checkpoint ? 'yes' : 'no'], ['Failover timeout', esc(fmtDuration(f.failover_timeout))],
        ['Web UI', f.webui_url ? `<a href="${esc(f.webui_url)}" rel="noreferrer">${esc(f.webui_url)}</a>` : ''],
      ])}</div><div>${kv([
        ['Tasks running', String(f.tasks_running)], ['Tasks completed (kept)', String(f.tasks_completed)],
        ['Resources used', resourcesText(f.used)], ['Resources offered', resourcesText(f.offered)],
      ])}</div></div>
      <h2>Tasks</h2><div class="controls tabs">${tabs}</div>
      ${tasksTable(tasks, params, ['agent']) || empty(which === 'live' ? 'No running tasks.' : 'No completed tasks.')}
      <h2>Offers</h2>${offers}`;
  });
}

// ---------- agents ----------

function agentsPage(main, params) {
  main.innerHTML = `<h1>Agents</h1><div class="controls">${filterBox(params, 'filter by hostname, id or address')}</div><div id="content"></div>`;
  wireFilter(params);
  const query = { q: params.get('q'), sort: params.get('sort'), order: params.get('order'), offset: params.get('offset'), limit: PAGE };
  live(() => api('/ui/api/agents' + qs(query)), (data) => {
    if (!data.items.length) {
      return empty(params.get('q') ? 'No agent matches the filter.' : 'No agents are registered — start one with <code>corral agent --master ' + esc(location.host) + '</code>');
    }
    const rows = data.items.map((a) => `<tr data-agent="${esc(a.id)}">
        <td>${agentLink(a.id, a.hostname)}<div class="muted mono">${esc(a.id)}</div></td>
        <td>${a.active ? 'active' : '<span class="muted">inactive</span>'}</td>
        <td>${resourcesText(a.resources)}</td><td>${resourcesText(a.used)}</td>
        <td class="num">${a.tasks}</td><td>${fmtTime(a.registered_time)}</td><td>${fmtTime(a.reregistered_time)}</td><td>${esc(a.version)}</td></tr>`).join('');
    return `<table id="agents-table"><tr>${sortHeader('Hostname', 'hostname', params, 'hostname')}<th>State</th>${sortHeader('Total', 'cpus', params, 'hostname')}<th>Used</th>
      ${sortHeader('Tasks', 'tasks', params, 'hostname', 'num')}${sortHeader('Registered', 'registered', params, 'hostname')}<th>Re-registered</th><th>Version</th></tr>${rows}</table>${pager(data, params)}`;
  });
}

function executorsOf(state) {
  const out = [];
  for (const list of [state.frameworks || [], state.completed_frameworks || []]) {
    for (const f of list) {
      for (const e of (f.executors || [])) out.push({ ...e, framework_id: f.id, framework_name: f.name, done: false });
      for (const e of (f.completed_executors || [])) out.push({ ...e, framework_id: f.id, framework_name: f.name, done: true });
    }
  }
  return out;
}

function agentPage(main, id) {
  main.innerHTML = `<h1>Agent <span class="mono">${esc(id)}</span></h1><div id="content"></div>`;
  live(async () => {
    const [a, tasks] = await Promise.all([api(`/ui/api/agents/${seg(id)}`), api('/ui/api/tasks' + qs({ agent_id: id, state: 'live', limit: PAGE }))]);
    // The agent's own views, read through the master; a failure shows but
    // does not hide what the master knows.
    const [state, stats] = await Promise.all([
      api(`/ui/api/agents/${seg(id)}/state`).catch((e) => ({ error: e })),
      api(`/ui/api/agents/${seg(id)}/statistics`).catch((e) => ({ error: e })),
    ]);
    return { a, tasks, state, stats };
  }, ({ a, tasks, state, stats }) => {
    const frameworks = a.frameworks.length ? a.frameworks.map((f) => frameworkLink(f.id, f.name || f.id)).join(', ') : '<span class="muted">none</span>';
    let executors;
    if (state.error) {
      executors = `<div class="error">${esc(state.error.message)}</div>`;
    } else {
      const list = executorsOf(state);
      executors = list.length ? '<table id="executors-table"><tr><th>Executor</th><th>Framework</th><th>State</th><th>Resources</th><th>Sandbox</th></tr>' + list.map((e) => `<tr>
          <td class="mono">${esc(e.id)}</td><td>${frameworkLink(e.framework_id, e.framework_name || e.framework_id)}</td>
          <td>${e.done ? 'completed' : 'running'}</td><td>${resourcesText(e.resources)}</td>
          <td><a href="#/sandbox/${seg(id)}${qs({ root: e.directory, path: e.directory })}">browse</a></td></tr>`).join('') + '</table>'
        : empty('No executors on this agent.');
    }
    let usage;
    if (stats.error) {
      usage = `<div class="error">${esc(stats.error.message)}</div>`;
    } else {
      usage = stats.length ? '<table id="statistics-table"><tr><th>Executor</th><th>Framework</th><th class="num">CPU user</th><th class="num">CPU system</th><th class="num">CPU limit</th><th class="num">Memory (RSS)</th><th class="num">Memory limit</th></tr>' + stats.map((s) => {
        const st = s.statistics || {};
        return `<tr><td class="mono">${esc(s.executor_id)}</td><td class="mono">${frameworkLink(s.framework_id)}</td>
          <td class="num">${fmtNum(st.cpus_user_time_secs)} s</td><td class="num">${fmtNum(st.cpus_system_time_secs)} s</td>
          <td class="num">${fmtNum(st.cpus_limit)}</td><td class="num">${fmtBytes(st.mem_rss_bytes)}</td><td class="num">${st.mem_limit_bytes ? fmtBytes(st.mem_limit_bytes) : '—'}</td></tr>`;
      }).join('') + '</table>' : empty('No running containers to measure.');
    }
    return `${kv([
        ['Hostname', esc(a.hostname)], ['Id', `<span class="mono">${esc(a.id)}</span>`], ['Endpoint', `<span class="mono">${esc(a.endpoint)}</span> <span class="muted">(read through the master)</span>`],
        ['State', a.active ? 'active' : 'inactive (disconnected)'], ['Version', esc(a.version)],
        ['Registered', fmtTime(a.registered_time)], ['Re-registered', fmtTime(a.reregistered_time)],
        ['Resources', resourcesText(a.resources)], ['Used', resourcesText(a.used)], ['Offered', resourcesText(a.offered)],
        ['Frameworks', frameworks],
      ])}
      <h2>Running tasks</h2>${tasksTable(tasks, new URLSearchParams(), ['framework']) || empty('No running tasks on this agent.')}
      <h2>Executors</h2>${executors}
      <h2>Usage (<span class="mono">/monitor/statistics</span>)</h2>${usage}`;
  });
}

// ---------- tasks ----------

const STATE_CHOICES = ['', 'live', 'terminal', ...COUNTED, 'TASK_UNREACHABLE'];

function tasksPage(main, params) {
  const options = STATE_CHOICES.map((s) => `<option value="${s}" ${params.get('state') === s ? 'selected' : ''}>${s ? esc(s === 'live' || s === 'terminal' ? s : stateName(s).toLowerCase()) : 'any state'}</option>`).join('');
  main.innerHTML = `<h1>Tasks</h1><div class="controls">
      <select id="state-filter">${options}</select>
      ${filterBox(params, 'filter by task id or name')}
      <input type="text" id="framework-filter" placeholder="framework id" value="${esc(params.get('framework_id') || '')}">
      <input type="text" id="agent-filter" placeholder="agent id" value="${esc(params.get('agent_id') || '')}">
    </div><div id="content"></div>`;
  wireFilter(params);
  const change = (key, el) => el.addEventListener('change', () => go({ ...Object.fromEntries(params), [key]: el.value, offset: '' }));
  change('state', document.getElementById('state-filter'));
  change('framework_id', document.getElementById('framework-filter'));
  change('agent_id', document.getElementById('agent-filter'));
  const query = {
    state: params.get('state'), q: params.get('q'), framework_id: params.get('framework_id'), agent_id: params.get('agent_id'),
    sort: params.get('sort'), order: params.get('order'), offset: params.get('offset'), limit: PAGE,
  };
  live(() => api('/ui/api/tasks' + qs(query)), (data) => tasksTable(data, params) ||
    empty([...params.keys()].some((k) => k !== 'offset') ? 'No task matches the filters.' : `No tasks yet — try ${tryCommand()}`));
}

// The executor's sandbox directory, from the agent's state (read through
// the master).
async function sandboxOf(agentId, frameworkId, executorId) {
  const state = await api(`/ui/api/agents/${seg(agentId)}/state`);
  const e = executorsOf(state).find((x) => x.framework_id === frameworkId && x.id === executorId);
  return e ? e.directory : null;
}

function taskPage(main, frameworkId, taskId) {
  main.innerHTML = `<h1>Task <span class="mono">${esc(taskId)}</span></h1><div id="content"></div>`;
  let sandbox;
  live(async () => {
    const t = await api(`/ui/api/tasks/${seg(frameworkId)}/${seg(taskId)}`);
    if (sandbox === undefined && t.agent_registered) {
      sandbox = await sandboxOf(t.slave_id, frameworkId, t.sandbox_executor_id).catch(() => undefined);
    }
    return t;
  }, (t) => {
    const latest = t.statuses[t.statuses.length - 1] || {};
    const why = BAD_STATES.has(t.state)
      ? `<div class="why" id="why">${stateBadge(t.state)} <b class="mono">${esc(latest.reason || '')}</b> ${latest.source ? `<span class="muted">from ${esc(latest.source)}</span>` : ''}<div>${esc(latest.message || '')}</div></div>`
      : t.state === 'TASK_FINISHED' ? `<div class="ok-note">${stateBadge(t.state)} ${esc(latest.message || '')}</div>` : '';
    const history = '<table id="status-history"><tr><th>Time</th><th>State</th><th>Source</th><th>Reason</th><th>Message</th></tr>' +
      t.statuses.map((s) => `<tr class="${BAD_STATES.has(s.state) ? 'bad' : ''}"><td>${fmtTime(s.timestamp)}</td><td>${stateBadge(s.state)}</td>
        <td class="mono">${esc(s.source || '')}</td><td class="mono">${esc(s.reason || '')}</td><td>${esc(s.message || '')}</td></tr>`).join('') + '</table>';
    const container = t.statuses.map((s) => s.container_status && s.container_status.container_id.value).filter(Boolean).pop();
    const labels = t.labels.length ? t.labels.map((l) => `<span class="mono">${esc(l.key)}=${esc(l.value)}</span>`).join('<br>') : '<span class="muted">none</span>';
    let files;
    if (!t.agent_registered) {
      files = '<span class="muted">its agent is no longer registered</span>';
    } else if (sandbox) {
      const file = (name) => `<a id="sandbox-${name}" href="#/file/${seg(t.slave_id)}${qs({ root: sandbox, path: sandbox + '/' + name })}">${name}</a>`;
      files = `<a id="sandbox-link" href="#/sandbox/${seg(t.slave_id)}${qs({ root: sandbox, path: sandbox })}">browse</a> · ${file('stdout')} · ${file('stderr')}`;
    } else {
      files = '<span class="muted">not found on the agent (yet)</span>';
    }
    return `${why}${kv([
        ['Name', esc(t.name)], ['Id', `<span class="mono">${esc(t.id)}</span>`], ['State', stateBadge(t.state)],
        ['Framework', frameworkLink(t.framework_id, t.framework_name || t.framework_id)],
        ['Agent', agentLink(t.slave_id, t.agent_hostname || t.slave_id)],
        ['Executor', `<span class="mono">${esc(t.executor_id || '(command executor)')}</span>`],
        ['Container', `<span class="mono">${esc(container || '')}</span>`], ['User', esc(t.user)],
        ['Command', `<span class="mono">${esc(t.command || '')}</span>`],
        ['Resources', resourcesText(t.resources)], ['Role', esc(t.role)], ['Labels', labels], ['Sandbox', files],
      ])}<h2>Status history</h2>${history}`;
  });
}

// ---------- sandbox ----------

function crumbs(agentId, root, path) {
  const base = root.replace(/\/+$/, '');
  const rest = path.startsWith(base) ? path.slice(base.length).split('/').filter(Boolean) : [];
  let at = base;
  const links = [`<a href="#/sandbox/${seg(agentId)}${qs({ root, path: base })}">sandbox</a>`];
  for (const part of rest) {
    at = `${at}/${part}`;
    links.push(`/ <a href="#/sandbox/${seg(agentId)}${qs({ root, path: at })}">${esc(part)}</a>`);
  }
  return `<div class="crumbs mono">${links.join(' ')}</div>`;
}

function sandboxPage(main, agentId, params) {
  const path = params.get('path') || '';
  const root = params.get('root') || path;
  main.innerHTML = `<h1>Sandbox on ${agentLink(agentId)}</h1>${crumbs(agentId, root, path)}<div id="content"></div>`;
  live(() => api(`/ui/api/agents/${seg(agentId)}/files/browse${qs({ path })}`), (list) => {
    if (!list.length) return empty('This directory is empty.');
    list.sort((a, b) => (a.mode[0] === 'd') === (b.mode[0] === 'd') ? a.path.localeCompare(b.path) : a.mode[0] === 'd' ? -1 : 1);
    const rows = list.map((e) => {
      const name = e.path.split('/').pop();
      const dir = e.mode.startsWith('d');
      const href = dir ? `#/sandbox/${seg(agentId)}${qs({ root, path: e.path })}` : `#/file/${seg(agentId)}${qs({ root, path: e.path })}`;
      const download = dir ? '' : `<a href="/ui/api/agents/${seg(agentId)}/files/download${qs({ path: e.path })}" download>download</a>`;
      return `<tr><td class="mono"><a href="${href}">${esc(name)}${dir ? '/' : ''}</a></td><td class="mono">${esc(e.mode)}</td>
        <td>${esc(e.uid)}</td><td class="num">${dir ? '' : fmtBytes(e.size)}</td><td>${fmtTime(e.mtime)}</td><td>${download}</td></tr>`;
    }).join('');
    return `<table id="sandbox-listing"><tr><th>Name</th><th>Mode</th><th>Owner</th><th class="num">Size</th><th>Modified</th><th></th></tr>${rows}</table>`;
  });
}

// A file: its last TAIL_BYTES, then (while "follow" is on) every byte the
// task writes after, read in pages of /files/read as Mesos' UI does.
function filePage(main, agentId, params) {
  const path = params.get('path') || '';
  const root = params.get('root') || path.replace(/\/[^/]*$/, '');
  const name = path.split('/').pop();
  const download = `/ui/api/agents/${seg(agentId)}/files/download${qs({ path })}`;
  main.innerHTML = `<h1 class="mono">${esc(name)}</h1>${crumbs(agentId, root, path.replace(/\/[^/]*$/, ''))}
    <div class="controls"><span id="file-size" class="muted"></span><a href="${download}" download>download</a>
    <label><input type="checkbox" id="follow" checked> follow</label></div>
    <pre class="file" id="file-content"></pre>`;
  const pre = document.getElementById('file-content');
  const follow = document.getElementById('follow');
  const decoder = new TextDecoder('utf-8');
  const mine = generation;
  let offset = null;
  let busy = false;
  const read = (at, length) => api(`/ui/api/agents/${seg(agentId)}/files/read${qs({ path, offset: at, length })}`);
  const bytes = (data) => Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff);
  const tick = async () => {
    if (busy || mine !== generation) return;
    if (offset !== null && !follow.checked) return;
    busy = true;
    try {
      if (offset === null) {
        const size = (await read(-1)).offset;
        offset = Math.max(0, size - TAIL_BYTES);
        if (offset > 0) pre.textContent = `… ${fmtBytes(offset)} before this; download the whole file …\n`;
      }
      for (;;) {
        const page = await read(offset, TAIL_BYTES);
        if (mine !== generation) return;
        if (!page.data.length) break;
        const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        pre.textContent += decoder.decode(bytes(page.data), { stream: true });
        offset = page.offset + page.data.length;
        if (atBottom) pre.scrollTop = pre.scrollHeight;
        if (page.data.length < TAIL_BYTES) break;
      }
      document.getElementById('file-size').textContent = fmtBytes(offset);
      showError(null);
      setLive(true);
    } catch (e) {
      showError(e);
      setLive(false);
    } finally {
      busy = false;
    }
  };
  tick();
  every(TAIL_MS, tick);
}

// ---------- offers and roles ----------

function offersPage(main, params) {
  main.innerHTML = `<h1>Offers</h1><div class="controls">${filterBox(params, 'filter by offer, framework or agent id')}</div><div id="content"></div>`;
  wireFilter(params);
  live(() => api('/ui/api/offers' + qs({ q: params.get('q'), offset: params.get('offset'), limit: PAGE })), (data) => {
    if (!data.items.length) return empty('No outstanding offers: frameworks hold what they were offered, or the cluster is busy.');
    const rows = data.items.map((o) => `<tr><td class="mono">${esc(o.id)}</td><td>${frameworkLink(o.framework_id, o.framework_name || o.framework_id)}</td>
      <td>${agentLink(o.agent_id, o.agent_hostname || o.agent_id)}</td><td>${resourcesText(o.resources)}</td></tr>`).join('');
    return `<table id="offers-table"><tr><th>Offer</th><th>Framework</th><th>Agent</th><th>Resources</th></tr>${rows}</table>${pager(data, params)}`;
  });
}

function rolesPage(main) {
  main.innerHTML = '<h1>Roles</h1><div id="content"></div>';
  live(() => api('/ui/api/roles'), (data) => {
    if (!data.items.length) return empty('No role is in use: no framework is registered.');
    const rows = data.items.map((r) => `<tr><td class="mono">${esc(r.name)}</td><td class="num">${fmtNum(r.weight)}</td>
      <td class="num">${r.frameworks}</td><td>${resourcesText(r.used)}</td><td>${resourcesText(r.offered)}</td></tr>`).join('');
    return `<table id="roles-table"><tr><th>Role</th><th class="num">Weight</th><th class="num">Frameworks</th><th>Allocated</th><th>Offered</th></tr>${rows}</table>`;
  });
}

window.addEventListener('hashchange', render);
window.addEventListener('DOMContentLoaded', () => { masterLine(); render(); });
