/*
 * app.js - the corelocker web console.  Plain JavaScript, no library, served
 * by corelockerd under a strict Content-Security-Policy: no inline script or
 * style, and the DOM is built with textContent only, never from HTML text.
 * It calls the daemon's REST API (docs/api.md) with the admin token held in
 * sessionStorage; a read-scope token sees everything and changes nothing.
 */
'use strict';

const TOKEN_KEY = 'corelocker.token';
const AUDIT_PAGE = 50;
const DAY = 24 * 3600;

const state = { token: null, scope: null, tokenName: null, models: [], filter: {} };

/* ---- DOM helpers ---- */

const $ = (id) => document.getElementById(id);

/* el('td', {class: 'num', dataset: {label: 'ID'}}, 'text', node, ...) */
function el(tag, attrs, ...kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') n.className = v;
    else if (k === 'dataset') Object.assign(n.dataset, v);
    else if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
    else if (v === true) n.setAttribute(k, '');
    else n.setAttribute(k, String(v));
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined || kid === false) continue;
    n.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return n;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, ...kids) {
  const n = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, String(v));
  for (const kid of kids) n.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  return n;
}

/* "2026-12-03T18:45:32Z" -> "2026-12-03 18:45" (SECONDS: 18:45:32), in UTC as
 * the API gives it (the column titles say so); null -> dash */
function when(t, seconds) {
  if (!t) return '—';
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(:\d\d)?/.exec(t);
  return m ? `${m[1]} ${m[2]}${seconds && m[3] ? m[3] : ''}` : t;
}

function bytes(n) {
  const u = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${u[i]}`;
}

/* A date input's value as the end of that day in UTC, or null. */
function endOfDay(v) {
  return v ? `${v}T23:59:59Z` : null;
}

function readOnly() {
  return state.scope !== 'admin';
}

/* A button that changes something: disabled, with the reason, for a read token. */
function actionButton(label, attrs, onclick) {
  const ro = readOnly();
  return el('button', Object.assign({ type: 'button', disabled: ro, title: ro ? 'read-only token' : null,
    onclick: ro ? null : onclick }, attrs), label);
}

/* A table whose cells carry their column's name, for the narrow layout. */
function table(caption, cols, rows, empty) {
  if (!rows.length) return el('p', { class: 'empty' }, empty);
  return el('div', { class: 'tablewrap' },
    el('table', {},
      el('caption', { class: 'sr-only' }, caption),
      el('thead', {}, el('tr', {}, cols.map((c) => el('th', { scope: 'col', class: c.cls }, c.title)))),
      el('tbody', {}, rows.map((r) => el('tr', { dataset: r.dataset || {} },
        cols.map((c, i) => el('td', { class: c.cls, dataset: { label: c.title } }, r.cells[i])))))));
}

/* ---- messages ---- */

function showError(e) {
  $('error-code').textContent = e.code ? `${e.code}:` : 'Error:';
  $('error-text').textContent = e.message || String(e);
  $('error').hidden = false;
}

function clearError() {
  $('error').hidden = true;
}

function say(text) {
  $('status').textContent = text;
}

/* ---- the API ---- */

class ApiError extends Error {
  constructor(code, message, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/* Every answer that is not 2xx becomes an ApiError with the server's message. */
async function api(method, path, body) {
  const opts = { method, cache: 'no-store', headers: { Authorization: `Bearer ${state.token}` } };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, opts);
  } catch (e) {
    throw new ApiError('NETWORK', `cannot reach the server (${e.message})`, 0);
  }
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (!resp.ok) {
    const err = data && data.error;
    if (err && err.message) throw new ApiError(err.code, err.message, resp.status);
    throw new ApiError(`HTTP_${resp.status}`, `${resp.status} ${resp.statusText || 'error'}`.trim(), resp.status);
  }
  return data;
}

const q = (params) => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') s.set(k, v);
  const t = s.toString();
  return t ? `?${t}` : '';
};

/* ---- dialogs ---- */

function confirmDialog(title, text, okLabel) {
  const d = $('confirm');
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = okLabel || 'Confirm';
  d.returnValue = 'cancel';
  return new Promise((resolve) => {
    d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true });
    d.showModal();
    $('confirm-cancel').focus();
  });
}

function secretDialog(title, text, label, value) {
  const d = $('secret');
  $('secret-title').textContent = title;
  $('secret-label').textContent = label;
  $('secret-text').textContent = text;
  $('secret-value').value = value;
  $('secret-copied').textContent = '';
  return new Promise((resolve) => {
    d.addEventListener('close', () => { $('secret-value').value = ''; resolve(); }, { once: true });
    d.showModal();
    $('secret-value').focus();
    $('secret-value').select();
  });
}

async function copySecret() {
  const input = $('secret-value');
  try {
    await navigator.clipboard.writeText(input.value);
    $('secret-copied').textContent = 'Copied to the clipboard.';
  } catch (e) {
    input.focus();
    input.select();
    $('secret-copied').textContent = 'Selected: press Ctrl+C (or ⌘C) to copy.';
  }
}

/* Run ACTION (async); its error, if any, is shown; true on success. */
async function attempt(action) {
  clearError();
  try {
    await action();
    return true;
  } catch (e) {
    if (e.status === 401) return signOut(e);
    showError(e);
    return false;
  }
}

/* ---- sign-in ---- */

async function learnScope() {
  const r = await api('GET', '/v1/tokens');
  const me = (r.tokens || []).find((t) => t.current);
  state.scope = me ? me.scope : 'read';
  state.tokenName = me ? me.name : '';
}

function renderSignIn(err) {
  $('nav').hidden = true;
  $('who').hidden = true;
  const input = el('input', { id: 'token', name: 'token', type: 'password', required: true, autocomplete: 'off',
    spellcheck: 'false', 'aria-describedby': 'token-hint' });
  const form = el('form', { class: 'card signin', id: 'signin' },
    el('h1', { tabindex: '-1' }, 'Sign in'),
    el('p', { id: 'token-hint', class: 'hint' },
      'Paste an admin token (corelockerd init prints the first one; corelockerctl token create makes more). ' +
      'It stays in this tab only and is forgotten when the tab closes.'),
    el('label', { for: 'token' }, 'Admin token'),
    input,
    el('div', { class: 'actions' }, el('button', { type: 'submit', id: 'signin-submit' }, 'Sign in')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    state.token = input.value.trim();
    const ok = await attempt(async () => {
      await learnScope();
    });
    if (ok) {
      sessionStorage.setItem(TOKEN_KEY, state.token);
      if (!location.hash || location.hash === '#/') location.hash = '#/overview';
      else route();
    } else {
      state.token = null;
      input.focus();
    }
  });
  $('main').replaceChildren(form);
  $('main').dataset.view = 'signin';
  $('main').dataset.path = '';
  if (err) showError(err);
  input.focus();
}

function signOut(err) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = state.scope = null;
  renderSignIn(err && err.message ? err : null);
  return false;
}

/* ---- views ---- */

function header(title, ...extra) {
  return [el('div', { class: 'viewhead' }, el('h1', { tabindex: '-1' }, title), ...extra),
    readOnly() ? el('p', { class: 'banner warn', id: 'ro-note' },
      'This token has the read scope: you can look at everything, and changes are disabled.') : null].filter(Boolean);
}

async function loadModels() {
  state.models = (await api('GET', '/v1/models')).models || [];
  return state.models;
}

function modelName(id) {
  const m = state.models.find((x) => x.id === id);
  return m ? `${m.name} ${m.version}` : `#${id}`;
}

/* Sum of corelockerd_requests_total for one route, from /metrics. */
function metricSum(text, route) {
  let n = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('corelockerd_requests_total{') && line.includes(`route="${route}"`)) {
      n += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
    }
  }
  return n;
}

/* The audit entries of the last SECONDS, newest pages first, at most 20000. */
async function recentAudit(seconds) {
  const head = await api('GET', '/v1/audit?limit=1');
  const total = head.chain ? head.chain.entries : 0;
  const since = Date.now() / 1000 - seconds;
  const out = [];
  for (let hi = total; hi > 0 && out.length < 20000;) {
    const lo = Math.max(0, hi - 1000);
    const page = (await api('GET', `/v1/audit${q({ since: lo, limit: hi - lo })}`)).entries;
    const recent = page.filter((e) => e.ts_unix >= since);
    out.push(...recent);
    if (recent.length < page.length || !page.length) break;
    hi = lo;
  }
  return out;
}

function chart(entries, now) {
  /* drawn for the screen it lands on, so that its text stays readable */
  const hours = 24, w = window.innerWidth < 600 ? 360 : 720, h = 180, pad = { l: 34, r: 8, t: 12, b: 26 };
  const deliv = new Array(hours).fill(0), act = new Array(hours).fill(0);
  for (const e of entries) {
    const i = hours - 1 - Math.floor((now - e.ts_unix) / 3600);
    if (i < 0 || i >= hours) continue;
    if (e.action === 'key.deliver') deliv[i]++;
    else if (e.action === 'machine.activate') act[i]++;
  }
  const max = Math.max(1, ...deliv.map((d, i) => d + act[i]));
  const step = (w - pad.l - pad.r) / hours, ih = h - pad.t - pad.b;
  const y = (v) => pad.t + ih - (v / max) * ih;
  const total = deliv.reduce((a, b) => a + b, 0), totalAct = act.reduce((a, b) => a + b, 0);
  const g = svg('svg', { viewBox: `0 0 ${w} ${h}`, class: 'chart', role: 'img',
    'aria-label': `Key deliveries and activations per hour over the last 24 hours: ${total} deliveries, ${totalAct} activations` });
  g.append(svg('title', {}, 'Key deliveries and activations per hour, last 24 hours'));
  for (const frac of [0, 0.5, 1]) {
    const v = Math.round(max * frac);
    g.append(svg('line', { x1: pad.l, x2: w - pad.r, y1: y(v), y2: y(v), class: 'grid' }));
    g.append(svg('text', { x: pad.l - 6, y: y(v) + 4, class: 'axis', 'text-anchor': 'end' }, v));
  }
  for (let i = 0; i < hours; i++) {
    const x = pad.l + i * step + 2, bw = step - 4;
    if (deliv[i]) g.append(svg('rect', { x, width: bw, y: y(deliv[i]), height: y(0) - y(deliv[i]), class: 'bar-deliver' },
      svg('title', {}, `${deliv[i]} deliveries`)));
    if (act[i]) g.append(svg('rect', { x, width: bw, y: y(deliv[i] + act[i]), height: y(deliv[i]) - y(deliv[i] + act[i]),
      class: 'bar-activate' }, svg('title', {}, `${act[i]} activations`)));
    if (i % 6 === 0 || i === hours - 1) {
      const label = i === hours - 1 ? 'now' : `-${hours - 1 - i}h`;
      g.append(svg('text', { x: x + bw / 2, y: h - 8, class: 'axis', 'text-anchor': 'middle' }, label));
    }
  }
  return el('figure', { class: 'card chartcard' },
    el('figcaption', {}, 'Last 24 hours, per hour ',
      el('span', { class: 'key key-deliver' }, 'key deliveries'), ' ',
      el('span', { class: 'key key-activate' }, 'machine activations')), g);
}

function stat(label, value, sub) {
  return el('div', { class: 'card stat' }, el('div', { class: 'statlabel' }, label),
    el('div', { class: 'statvalue', dataset: { stat: label } }, value), sub ? el('div', { class: 'statsub' }, sub) : null);
}

async function viewOverview(main) {
  const now = Date.now() / 1000;
  const [models, lic, recent, metrics] = await Promise.all([
    loadModels(), api('GET', '/v1/licenses?limit=10000'), recentAudit(DAY),
    fetch('/metrics', { cache: 'no-store' }).then((r) => (r.ok ? r.text() : '')).catch(() => ''),
  ]);
  const licenses = lic.licenses || [];
  const by = { active: 0, suspended: 0, revoked: 0, expired: 0 };
  for (const l of licenses) by[l.status] = (by[l.status] || 0) + 1;
  const machines = licenses.reduce((a, l) => a + (l.machines || 0), 0);
  const deliveries = recent.filter((e) => e.action === 'key.deliver').length;
  const activations = recent.filter((e) => e.action === 'machine.activate').length;
  main.replaceChildren(
    ...header('Overview'),
    el('div', { class: 'stats' },
      stat('Models', models.length, `${models.reduce((a, m) => a + (m.tiers || []).length, 0)} tiers`),
      stat('Licenses', licenses.length,
        `${by.active} active · ${by.suspended} suspended · ${by.revoked} revoked · ${by.expired} expired`),
      stat('Machines', machines, 'seats held'),
      stat('Deliveries (24 h)', deliveries, `${activations} activations`),
      stat('Validations', metrics ? metricSum(metrics, '/v1/validate') : '—', 'since the daemon started')),
    chart(recent, now));
}

async function viewModels(main) {
  const models = await loadModels();
  const cards = models.map((m) => el('section', { class: 'card model', 'aria-labelledby': `model-${m.id}` },
    el('h2', { id: `model-${m.id}` }, `${m.name} `, el('span', { class: 'muted' }, `version ${m.version} · id ${m.id}`)),
    el('dl', { class: 'facts' },
      el('dt', {}, 'Unit / scope'), el('dd', {}, `${m.unit} / ${m.scope}`),
      el('dt', {}, 'Alpha'), el('dd', {}, m.alpha),
      el('dt', {}, 'Units locked'), el('dd', {}, `${m.units_locked} of ${m.units_finite}`),
      el('dt', {}, 'Locked SHA-256'), el('dd', { class: 'mono' }, m.locked_sha256.slice(0, 16) + '…'),
      el('dt', {}, 'Pushed'), el('dd', {}, `${when(m.created_at)} UTC`)),
    table(`Tiers of ${m.name}`, [
      { title: 'Tier' }, { title: 'Ratio', cls: 'num' }, { title: 'Utility', cls: 'num' }, { title: 'Units', cls: 'num' },
      { title: 'Key bytes', cls: 'num' }, { title: 'Cut (UTC)' }],
    (m.tiers || []).map((t) => ({ cells: [t.name, t.ratio, t.utility === null || t.utility === undefined ? '—'
      : `${t.utility}${t.label ? ` (${t.label})` : ''}`, t.units, bytes(t.bytes), when(t.updated_at)],
    dataset: { tier: t.name } })),
    'No tiers yet: corelockerctl tier set MODEL TIER --ratio B [--utility U --label L].')));
  main.replaceChildren(...header('Models and tiers'),
    models.length ? el('div', { class: 'stack' }, cards)
      : el('p', { class: 'empty' }, 'No models yet: push a key with corelockerctl model push.'));
}

function statusBadge(s) {
  return el('span', { class: `badge st-${s}` }, s);
}

function tierOptions(select, modelId, current) {
  const m = state.models.find((x) => x.id === Number(modelId));
  select.replaceChildren(...((m && m.tiers) || []).map((t) => el('option', { value: t.name, selected: t.name === current },
    t.utility !== null && t.utility !== undefined ? `${t.name} (utility ${t.utility})` : t.name)));
}

async function licenseAction(l, verb) {
  const what = `license ${l.id} (${l.customer}, ${modelName(l.model)} / ${l.tier})`;
  if (verb === 'revoke' && !(await confirmDialog('Revoke this license?',
    `Revoking ${what} is final: its machines stop receiving keys at once and it cannot be reinstated.`, 'Revoke'))) return;
  if (verb === 'suspend' && !(await confirmDialog('Suspend this license?',
    `${what} stops validating until it is reinstated.`, 'Suspend'))) return;
  if (await attempt(() => api('POST', `/v1/licenses/${l.id}/${verb}`))) {
    say(`License ${l.id}: ${verb}d.`);
    await route();
  }
}

function upgradeDialog(l) {
  const d = $('upgrade');
  $('upgrade-text').textContent = `License ${l.id} for ${l.customer} on ${modelName(l.model)}.`;
  tierOptions($('upgrade-tier'), l.model, l.tier);
  $('upgrade-machines').value = l.max_machines;
  $('upgrade-expires').value = l.expires_at ? l.expires_at.slice(0, 10) : '';
  d.returnValue = 'cancel';
  d.addEventListener('close', async () => {
    if (d.returnValue !== 'ok') return;
    const body = {};
    if ($('upgrade-tier').value !== l.tier) body.tier = $('upgrade-tier').value;
    if (Number($('upgrade-machines').value) !== l.max_machines) body.max_machines = Number($('upgrade-machines').value);
    if ($('upgrade-expires').value !== (l.expires_at ? l.expires_at.slice(0, 10) : '')) {
      body.expires_at = endOfDay($('upgrade-expires').value);
    }
    if (!Object.keys(body).length) return say('Nothing changed.');
    if (await attempt(() => api('PATCH', `/v1/licenses/${l.id}`, body))) {
      say(`License ${l.id} updated.`);
      await route();
    }
  }, { once: true });
  d.showModal();
  $('upgrade-tier').focus();
}

function issueForm() {
  const ro = readOnly();
  const model = el('select', { id: 'issue-model', required: true, disabled: ro },
    state.models.map((m) => el('option', { value: m.id }, `${m.name} ${m.version}`)));
  const tier = el('select', { id: 'issue-tier', required: true, disabled: ro });
  tierOptions(tier, model.value);
  model.addEventListener('change', () => tierOptions(tier, model.value));
  const customer = el('input', { id: 'issue-customer', required: true, maxlength: 256, disabled: ro, autocomplete: 'off' });
  const machines = el('input', { id: 'issue-machines', type: 'number', min: 1, max: 1000000, value: 1, required: true, disabled: ro });
  const expires = el('input', { id: 'issue-expires', type: 'date', disabled: ro });
  const form = el('form', { class: 'card form', id: 'issue', 'aria-labelledby': 'issue-title' },
    el('h2', { id: 'issue-title' }, 'Issue a license'),
    el('div', { class: 'grid' },
      el('div', {}, el('label', { for: 'issue-model' }, 'Model'), model),
      el('div', {}, el('label', { for: 'issue-tier' }, 'Tier'), tier),
      el('div', {}, el('label', { for: 'issue-customer' }, 'Customer'), customer),
      el('div', {}, el('label', { for: 'issue-machines' }, 'Machines'), machines),
      el('div', {}, el('label', { for: 'issue-expires' }, 'Expires (UTC)'), expires)),
    el('div', { class: 'actions' }, el('p', { class: 'hint' }, 'An empty expiry never expires.'),
      el('button', { type: 'submit', id: 'issue-submit', disabled: ro || !state.models.length,
      title: ro ? 'read-only token' : null }, 'Issue license')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    let issued = null;
    const ok = await attempt(async () => {
      issued = await api('POST', '/v1/licenses', { model: Number(model.value), tier: tier.value,
        customer: customer.value.trim(), max_machines: Number(machines.value), expires_at: endOfDay(expires.value) });
    });
    if (!ok) return;
    customer.value = '';
    await secretDialog(`License ${issued.id} issued`,
      `The license key for ${issued.customer} is shown only now: copy it and send it to the customer.`, 'License key',
      issued.key);
    await route();
  });
  return form;
}

function filterForm() {
  const f = state.filter;
  const model = el('select', { id: 'f-model' }, el('option', { value: '' }, 'All models'),
    state.models.map((m) => el('option', { value: m.id, selected: String(m.id) === f.model }, `${m.name} ${m.version}`)));
  const status = el('select', { id: 'f-status' }, ['', 'active', 'suspended', 'revoked', 'expired'].map((s) =>
    el('option', { value: s, selected: s === (f.status || '') }, s || 'Any status')));
  const customer = el('input', { id: 'f-customer', value: f.customer || '', maxlength: 256, autocomplete: 'off' });
  const form = el('form', { class: 'filters', role: 'search', 'aria-label': 'Filter licenses' },
    el('div', {}, el('label', { for: 'f-model' }, 'Model'), model),
    el('div', {}, el('label', { for: 'f-status' }, 'Status'), status),
    el('div', {}, el('label', { for: 'f-customer' }, 'Customer (exact)'), customer),
    el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'ghost' }, 'Filter')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.filter = { model: model.value, status: status.value, customer: customer.value.trim() };
    route();
  });
  return form;
}

async function viewLicenses(main) {
  await loadModels();
  const f = state.filter;
  const list = (await api('GET', `/v1/licenses${q({ model: f.model, status: f.status, customer: f.customer, limit: 10000 })}`)).licenses;
  const rows = list.slice().reverse().map((l) => {
    const acts = [actionButton('Change', { 'aria-label': `Change license ${l.id}`, disabled: l.status === 'revoked' || readOnly() },
      () => upgradeDialog(l))];
    if (l.status === 'suspended') acts.push(actionButton('Reinstate', { 'aria-label': `Reinstate license ${l.id}` },
      () => licenseAction(l, 'reinstate')));
    else acts.push(actionButton('Suspend', { 'aria-label': `Suspend license ${l.id}`, disabled: l.status === 'revoked' || readOnly() },
      () => licenseAction(l, 'suspend')));
    acts.push(actionButton('Revoke', { class: 'danger', 'aria-label': `Revoke license ${l.id}`,
      disabled: l.status === 'revoked' || readOnly() }, () => licenseAction(l, 'revoke')));
    return {
      dataset: { license: l.id },
      cells: [l.id, l.customer, `${l.model_name}`, l.tier, statusBadge(l.status),
        el('a', { href: `#/licenses/${l.id}`, 'aria-label': `Machines of license ${l.id}` }, `${l.machines} / ${l.max_machines}`),
        when(l.expires_at), when(l.created_at), el('div', { class: 'rowactions' }, acts)],
    };
  });
  main.replaceChildren(...header('Licenses'), issueForm(), filterForm(),
    table('Licenses, newest first', [{ title: 'ID', cls: 'num' }, { title: 'Customer', cls: 'wrap' }, { title: 'Model' }, { title: 'Tier' },
      { title: 'Status' }, { title: 'Machines' }, { title: 'Expires (UTC)' }, { title: 'Issued (UTC)' }, { title: 'Actions' }],
    rows, f.model || f.status || f.customer ? 'No license matches the filter.' : 'No licenses yet.'));
}

async function viewMachines(main, id) {
  await loadModels();
  const [l, m] = await Promise.all([api('GET', `/v1/licenses/${id}`), api('GET', `/v1/licenses/${id}/machines`)]);
  const rows = m.machines.map((x) => ({
    dataset: { machine: x.id },
    cells: [x.id, el('span', { class: 'mono' }, x.fingerprint), x.hostname || '—', when(x.activated_at), when(x.last_seen),
      x.lease_expires ? when(x.lease_expires) : '—', x.checkout_until ? when(x.checkout_until) : '—',
      el('div', { class: 'rowactions' }, actionButton('Free seat', { class: 'danger', 'aria-label': `Free the seat of machine ${x.id}` }, async () => {
        if (!(await confirmDialog('Free this seat?', `Machine ${x.id} (${x.hostname || x.fingerprint}) loses its seat; ` +
          'it can activate again while a seat is free.', 'Free seat'))) return;
        if (await attempt(() => api('DELETE', `/v1/licenses/${id}/machines/${x.id}`))) {
          say(`Seat of machine ${x.id} freed.`);
          await route();
        }
      }))],
  }));
  main.replaceChildren(
    ...header(`Machines of license ${l.id}`, el('a', { href: '#/licenses', class: 'back' }, '← All licenses')),
    el('p', { class: 'lead' }, `${l.customer} · ${l.model_name} / ${l.tier} · `, statusBadge(l.status),
      ` · ${l.machines} of ${l.max_machines} seats held`,
      l.lease_seconds ? ` · ${l.floating ? 'floating ' : ''}lease of ${l.lease_seconds} s` : '',
      l.max_checkout ? ` · offline checkouts up to ${l.max_checkout} s` : ''),
    table(`Machines of license ${l.id}`, [{ title: 'ID', cls: 'num' }, { title: 'Fingerprint', cls: 'wrap' }, { title: 'Host', cls: 'wrap' },
      { title: 'Activated (UTC)' }, { title: 'Last seen (UTC)' }, { title: 'Lease ends (UTC)' }, { title: 'Checked out until (UTC)' },
      { title: 'Actions' }], rows, 'No machine holds a seat.'));
}

async function viewTokens(main) {
  const list = (await api('GET', '/v1/tokens')).tokens;
  const ro = readOnly();
  const name = el('input', { id: 'tok-name', required: true, maxlength: 40, disabled: ro, autocomplete: 'off' });
  const scope = el('select', { id: 'tok-scope', disabled: ro },
    el('option', { value: 'read' }, 'read (look, no changes)'), el('option', { value: 'admin' }, 'admin (everything)'));
  const expires = el('input', { id: 'tok-expires', type: 'date', disabled: ro });
  const form = el('form', { class: 'card form', id: 'token-create', 'aria-labelledby': 'tok-title' },
    el('h2', { id: 'tok-title' }, 'Create a token'),
    el('div', { class: 'grid' },
      el('div', {}, el('label', { for: 'tok-name' }, 'Name'), name),
      el('div', {}, el('label', { for: 'tok-scope' }, 'Scope'), scope),
      el('div', {}, el('label', { for: 'tok-expires' }, 'Expires (UTC)'), expires)),
    el('div', { class: 'actions' }, el('p', { class: 'hint' }, 'An empty expiry never expires.'),
      el('button', { type: 'submit', id: 'tok-submit', disabled: ro, title: ro ? 'read-only token' : null },
      'Create token')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    let made = null;
    if (!(await attempt(async () => {
      made = await api('POST', '/v1/tokens', { name: name.value.trim(), scope: scope.value, expires_at: endOfDay(expires.value) });
    }))) return;
    await secretDialog(`Token ${made.id} created`, `The ${made.scope}-scope token "${made.name}" is shown only now.`,
      'Admin token', made.token);
    await route();
  });
  const rows = list.map((t) => ({
    dataset: { token: t.id },
    cells: [t.id, t.current ? el('span', {}, t.name, ' ', el('span', { class: 'badge' }, 'this session')) : t.name,
      el('span', { class: `badge sc-${t.scope}` }, t.scope), when(t.created_at),
      t.expired ? el('span', { class: 'badge st-expired' }, `expired ${when(t.expires_at)}`) : when(t.expires_at),
      el('div', { class: 'rowactions' }, actionButton('Delete', { class: 'danger', 'aria-label': `Delete token ${t.id}` }, async () => {
        if (!(await confirmDialog('Delete this token?', `Token ${t.id} ("${t.name}") is refused from its next request on` +
          (t.current ? ', and this session signs out.' : '.'), 'Delete'))) return;
        if (await attempt(() => api('DELETE', `/v1/tokens/${t.id}`))) {
          if (t.current) return signOut();
          say(`Token ${t.id} deleted.`);
          await route();
        }
      }))],
  }));
  main.replaceChildren(...header('Admin tokens'), form,
    table('Admin tokens', [{ title: 'ID', cls: 'num' }, { title: 'Name', cls: 'wrap' }, { title: 'Scope' }, { title: 'Created (UTC)' },
      { title: 'Expires (UTC)' }, { title: 'Actions' }], rows, 'No tokens.'));
}

/* An entry's detail, short: "k: v" pairs, a before/after pair as the fields
 * that changed, long values cut (the whole text is the title). */
function detailText(d) {
  const short = (v) => {
    const t = typeof v === 'string' ? v : JSON.stringify(v);
    return t.length > 24 ? `${t.slice(0, 16)}…` : t;
  };
  if (!d || typeof d !== 'object') return '';
  if (d.before && d.after && typeof d.before === 'object' && typeof d.after === 'object') {
    return Object.keys(d.after).filter((k) => k !== 'updated_at' && JSON.stringify(d.before[k]) !== JSON.stringify(d.after[k]))
      .map((k) => `${k}: ${short(d.before[k])} → ${short(d.after[k])}`).join(' · ');
  }
  return Object.entries(d).filter(([, v]) => v !== null).map(([k, v]) => `${k}: ${short(v)}`).join(' · ');
}

async function viewAudit(main, params) {
  const head = await api('GET', '/v1/audit?limit=1');
  const total = head.chain ? head.chain.entries : 0;
  const pages = Math.max(1, Math.ceil(total / AUDIT_PAGE));
  const page = Math.min(pages, Math.max(1, Number(params.get('page')) || 1));
  const hi = total - (page - 1) * AUDIT_PAGE, lo = Math.max(0, hi - AUDIT_PAGE);
  const r = hi > 0 ? await api('GET', `/v1/audit${q({ since: lo, limit: hi - lo })}`) : { entries: [], chain: head.chain };
  const c = r.chain;
  const chain = !c ? el('p', { class: 'banner bad', id: 'chain' }, 'The chain could not be verified (database error).')
    : c.ok ? el('p', { class: 'banner ok', id: 'chain' }, `Chain verified: all ${c.entries} entries link up` +
        (c.keyed ? `, ${c.keyed} of them under the server's audit key.` : '.'))
      : el('p', { class: 'banner bad', id: 'chain' }, `Chain broken at entry ${c.bad_seq}: ${c.reason}`);
  const rows = r.entries.slice().reverse().map((e) => ({
    dataset: { seq: e.seq },
    cells: [e.seq, when(e.ts, true), e.actor, e.action, e.target,
      el('span', { class: 'detail', title: e.detail_text }, detailText(e.detail))],
  }));
  const nav = el('nav', { class: 'pager', 'aria-label': 'Audit pages' },
    el('a', { href: `#/audit?page=${page - 1}`, class: 'button ghost', 'aria-disabled': page <= 1 ? 'true' : null,
      tabindex: page <= 1 ? '-1' : null }, '← Newer'),
    el('span', {}, `Page ${page} of ${pages}`),
    el('a', { href: `#/audit?page=${page + 1}`, class: 'button ghost', 'aria-disabled': page >= pages ? 'true' : null,
      tabindex: page >= pages ? '-1' : null }, 'Older →'));
  main.replaceChildren(...header('Audit log'), chain,
    table('Audit entries, newest first', [{ title: 'Seq', cls: 'num' }, { title: 'Time (UTC)' }, { title: 'Actor' },
      { title: 'Action' }, { title: 'Target' }, { title: 'Detail', cls: 'wrap' }], rows, 'The log is empty.'), nav);
}

/* ---- routing ---- */

const views = [
  [/^#\/overview$/, 'overview', viewOverview],
  [/^#\/models$/, 'models', viewModels],
  [/^#\/licenses$/, 'licenses', viewLicenses],
  [/^#\/licenses\/(\d+)$/, 'licenses', viewMachines],
  [/^#\/tokens$/, 'tokens', viewTokens],
  [/^#\/audit$/, 'audit', viewAudit],
];

let routing = 0;
async function route() {
  if (!state.token) return renderSignIn();
  const [path, query] = (location.hash || '#/overview').split('?');
  const hit = views.find(([re]) => re.test(path));
  if (!hit) {
    location.replace('#/overview');
    return undefined;
  }
  const [re, name, fn] = hit;
  const arg = re.exec(path)[1];
  const my = ++routing;
  $('nav').hidden = false;
  $('who').hidden = false;
  $('who-name').textContent = state.tokenName;
  $('scope').textContent = readOnly() ? 'read-only' : 'admin';
  $('scope').className = `badge sc-${state.scope}`;
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.view === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const main = $('main');
  main.setAttribute('aria-busy', 'true');
  const ok = await attempt(async () => {
    const fresh = el('div', { class: 'view', dataset: { view: name } });
    await fn(fresh, arg !== undefined ? arg : new URLSearchParams(query || ''));
    if (my !== routing) return; /* a newer navigation won */
    if (main.dataset.view !== name || main.dataset.path !== location.hash) window.scrollTo(0, 0);
    main.dataset.path = location.hash;
    main.replaceChildren(...fresh.childNodes);
    main.dataset.view = name;
  });
  main.removeAttribute('aria-busy');
  if (ok && my === routing) {
    const h = main.querySelector('h1');
    if (h && document.activeElement === document.body) h.focus({ preventScroll: true });
  }
  return undefined;
}

async function start() {
  /* the skip link must not become a route */
  document.querySelector('a.skip').addEventListener('click', (ev) => {
    ev.preventDefault();
    $('main').focus();
  });
  $('error-close').addEventListener('click', clearError);
  $('secret-copy').addEventListener('click', copySecret);
  $('signout').addEventListener('click', () => signOut());
  window.addEventListener('hashchange', () => {
    say('');
    route().then(() => {
      const h = $('main').querySelector('h1');
      if (h) h.focus({ preventScroll: true });
    });
  });
  state.token = sessionStorage.getItem(TOKEN_KEY);
  if (!state.token) return renderSignIn();
  if (await attempt(learnScope)) return route();
  return undefined;
}

document.addEventListener('DOMContentLoaded', start);
