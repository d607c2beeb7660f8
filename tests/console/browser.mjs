// browser.mjs - the corelocker console in Debian's chromium, driven by
// playwright-core (t_browser.sh starts the daemon and passes URL, TOKEN,
// RO_TOKEN, AGENT, LOCKED, WORK, CHROMIUM and SHOTS).  Each step asserts
// what the page shows against what the server or the agent computed.
// Exit 0: all passed; 1: a failure (named); 77: chromium cannot start.
import { chromium } from 'playwright-core';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const env = process.env;
const URL0 = `${env.URL}/console/`;
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

let ctx = null;
const profile = mkdtempSync(join(tmpdir(), 'corelocker-chromium-'));
mkdirSync(env.SHOTS, { recursive: true });

function fail(msg) {
  console.error(`FAIL: ${msg}`);
  throw new Error(msg);
}
function ok(msg) {
  console.log(`ok - ${msg}`);
}
function check(cond, msg) {
  if (!cond) fail(msg);
}

// The real agent: { code, status } of `validate`, or of `unlock` (code '').
function agent(...args) {
  const r = spawnSync(env.AGENT, args, { encoding: 'utf8', env: { ...env } });
  return { status: r.status, out: (r.stdout || '').trim(), err: (r.stderr || '').trim() };
}
function validate(key) {
  return agent('validate', '--license', key, '--fingerprint', 'console-test-host');
}

// An admin call outside the page, for the facts the page must agree with.
async function api(method, path, body) {
  const r = await ctx.request.fetch(env.URL + path, {
    method, headers: { Authorization: `Bearer ${env.TOKEN}`, 'Content-Type': 'application/json' },
    data: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status(), json: r.status() === 204 ? null : await r.json() };
}

async function main() {
  const args = ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'];
  if (process.getuid && process.getuid() === 0) args.push('--no-sandbox');
  try {
    // launchPersistentContext passes --user-data-dir: a fresh profile each run
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: env.CHROMIUM, headless: true, args, ignoreHTTPSErrors: true,
      viewport: { width: 1280, height: 800 }, timeout: 60000,
    });
  } catch (e) {
    console.log(`SKIP: chromium cannot start: ${String(e.message).split('\n')[0]}`);
    return 77;
  }
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: env.URL });
  ctx.setDefaultTimeout(20000);
  const page = ctx.pages()[0] || await ctx.newPage();

  // Every console message, page error and CSP violation is kept.
  const logs = [], violations = [], apiHeaders = [];
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  page.on('response', (r) => {
    if (r.url().includes('/v1/')) apiHeaders.push([r.url(), r.headers()['cache-control']]);
  });
  const shot = async (name) => page.screenshot({ path: join(env.SHOTS, `${name}.png`) });
  const errorText = async () => ((await page.locator('#error').isVisible()) ? page.locator('#error p').innerText() : '');
  const go = async (hash, ready) => {
    await page.evaluate((h) => { location.hash = h; }, hash);
    await page.locator(`main[data-view="${ready}"]:not([aria-busy])`).waitFor();
  };
  const rowOf = (id) => page.locator(`tr[data-license="${id}"]`);

  // ---- the page and its headers ----
  const resp = await page.goto(URL0);
  check(resp.status() === 200, `GET /console/: ${resp.status()}`);
  check(resp.headers()['content-security-policy'] === CSP, `CSP header: ${resp.headers()['content-security-policy']}`);
  check(resp.headers()['x-content-type-options'] === 'nosniff', 'X-Content-Type-Options');
  await page.locator('#signin').waitFor();
  check(await page.locator('#nav').isHidden() && await page.locator('#signout').isHidden(), 'navigation shown before sign-in');
  ok('GET /console/ answers with the strict CSP and nosniff; the sign-in form shows, nothing else');

  // ---- a wrong token ----
  await page.fill('#token', 'clt_' + '0'.repeat(64));
  await page.click('#signin-submit');
  await page.locator('#error').waitFor();
  const wrong = await errorText();
  check(/UNAUTHORIZED/.test(wrong) && /missing or unknown admin token/.test(wrong), `wrong token error: "${wrong}"`);
  check(await page.locator('#signin').isVisible() && await page.locator('#nav').isHidden(), 'the sign-in form left after a wrong token');
  check(await page.evaluate(() => sessionStorage.length + localStorage.length) === 0, 'a wrong token was stored');
  await shot('signin-error');
  ok(`a wrong token shows the server's error: "${wrong.replace(/\s+/g, ' ').trim()}"`);

  // ---- sign in: the overview ----
  await page.fill('#token', env.TOKEN);
  await page.press('#token', 'Enter');
  await page.locator('main[data-view="overview"]:not([aria-busy])').waitFor();
  check(await page.locator('#error').isHidden(), 'an error after signing in');
  const stored = await page.evaluate(() => [sessionStorage.getItem('corelocker.token'), localStorage.length, document.cookie]);
  check(stored[0] === env.TOKEN && stored[1] === 0 && stored[2] === '', `token storage: ${JSON.stringify(stored)}`);
  const models = (await api('GET', '/v1/models')).json.models;
  const statModels = await page.locator('[data-stat="Models"]').innerText();
  check(statModels === String(models.length), `overview models ${statModels} != ${models.length}`);
  check(await page.locator('svg.chart').count() === 1, 'no chart');
  check((await page.locator('#scope').innerText()).includes('admin'), 'scope badge');
  check(await page.locator('#ro-note').count() === 0 && !(await page.locator('main').innerText()).includes('null'),
    'an admin sees the read-only note, or a stray "null"');
  ok(`signed in: the token is in sessionStorage only; overview counts ${statModels} model(s), with a chart`);

  // ---- models and tiers, with the utility the owner recorded ----
  await page.click('#nav a[data-view="models"]');
  await page.locator('main[data-view="models"]:not([aria-busy])').waitFor();
  for (const t of models[0].tiers) {
    const cell = await page.locator(`tr[data-tier="${t.name}"] td[data-label="Utility"]`).innerText();
    check(cell === `${t.utility} (${t.label})`, `tier ${t.name} utility cell "${cell}"`);
  }
  await shot('models');
  ok(`models page: each tier's utility as recorded (${models[0].tiers.map((t) => `${t.name} ${t.utility}`).join(', ')})`);

  // ---- issue a license: the key shown once, copyable, listed ----
  await go('#/licenses', 'licenses');
  await page.selectOption('#issue-tier', 'basic');
  await page.fill('#issue-customer', 'Acme Robotics');
  await page.fill('#issue-machines', '2');
  await page.click('#issue-submit');
  await page.locator('#secret[open]').waitFor();
  const key = await page.inputValue('#secret-value');
  check(/^clk_[0-9a-f]{40}$/.test(key), `issued key "${key}"`);
  await page.click('#secret-copy');
  await page.locator('#secret-copied:has-text("Copied")').waitFor();
  const clip = await page.evaluate(() => navigator.clipboard.readText());
  check(clip === key, 'the clipboard does not hold the key');
  await shot('license-issued');
  await page.click('#secret-done');
  await page.locator('#secret[open]').waitFor({ state: 'detached' }).catch(() => {});
  await page.locator('main[data-view="licenses"]:not([aria-busy])').waitFor();
  const lic = (await api('GET', '/v1/licenses?customer=Acme%20Robotics')).json.licenses;
  check(lic.length === 1 && lic[0].tier === 'basic' && lic[0].max_machines === 2, `server license: ${JSON.stringify(lic)}`);
  const id = lic[0].id;
  await rowOf(id).waitFor();
  check((await rowOf(id).locator('td[data-label="Customer"]').innerText()) === 'Acme Robotics', 'listed customer');
  check((await rowOf(id).locator('td[data-label="Status"]').innerText()) === 'active', 'listed status');
  check(await page.inputValue('#secret-value') === '', 'the key stays in the page after the dialog closed');
  ok(`issued license ${id}: key shown once and copied to the clipboard; listed as active`);

  // ---- the agent uses it ----
  let u = agent('unlock', env.LOCKED, '-o', join(env.WORK, 'console.out.safetensors'), '--license', key,
    '--fingerprint', 'console-test-host');
  check(u.status === 0, `agent unlock: ${u.status} ${u.err}`);
  let v = validate(key);
  check(v.status === 0 && v.out === 'VALID', `agent validate: ${v.status} ${v.out} ${v.err}`);
  ok('the real agent unlocks with the key and validates: VALID');

  // ---- filter ----
  await page.selectOption('#f-status', 'revoked');
  await page.click('form.filters button[type=submit]');
  await page.locator('main[data-view="licenses"]:not([aria-busy]) p.empty').waitFor();
  await page.selectOption('#f-status', 'active');
  await page.fill('#f-customer', 'Acme Robotics');
  await page.click('form.filters button[type=submit]');
  await rowOf(id).waitFor();
  check(await page.locator('tbody tr').count() === 1, 'filter active + customer');
  await page.selectOption('#f-status', '');
  await page.fill('#f-customer', '');
  await page.click('form.filters button[type=submit]');
  await rowOf(id).waitFor();
  ok('filters: revoked shows none, active + customer shows the license');

  // ---- suspend, reinstate: the agent sees each ----
  await rowOf(id).locator('button:has-text("Suspend")').click();
  await page.locator('#confirm[open]').waitFor();
  await page.click('#confirm-ok');
  await rowOf(id).locator('td[data-label="Status"]:has-text("suspended")').waitFor();
  v = validate(key);
  check(v.status !== 0 && v.out === 'SUSPENDED', `validate after suspend: ${v.status} ${v.out}`);
  await rowOf(id).locator('button:has-text("Reinstate")').click();
  await rowOf(id).locator('td[data-label="Status"]:has-text("active")').waitFor();
  v = validate(key);
  check(v.status === 0 && v.out === 'VALID', `validate after reinstate: ${v.status} ${v.out}`);
  ok('suspend (confirmed) -> agent SUSPENDED; reinstate -> VALID');

  // ---- upgrade ----
  await rowOf(id).locator('button:has-text("Change")').click();
  await page.locator('#upgrade[open]').waitFor();
  await page.selectOption('#upgrade-tier', 'full');
  await page.click('#upgrade-ok');
  await rowOf(id).locator('td[data-label="Tier"]:has-text("full")').waitFor();
  check((await api('GET', `/v1/licenses/${id}`)).json.tier === 'full', 'server tier after the upgrade');
  ok('upgrade basic -> full through the dialog');

  // ---- machines: the agent's seat (and the license's lease), freed ----
  check((await api('PATCH', `/v1/licenses/${id}`, { lease_seconds: 600, floating: true })).status === 200, 'lease PATCH');
  await rowOf(id).locator('a[href$="/' + id + '"]').click();
  await page.locator('main[data-view="licenses"]:not([aria-busy]) h1:has-text("Machines of license")').waitFor();
  const lead = await page.locator('main p.lead').innerText();
  check(lead.includes('floating lease of 600 s'), `lease in the machines page: ${lead}`);
  check(await page.locator('th:has-text("Lease ends (UTC)")').count() === 1, 'no "Lease ends" column');
  const seats = (await api('GET', `/v1/licenses/${id}/machines`)).json.machines;
  check(seats.length === 1, `seats: ${JSON.stringify(seats)}`);
  const fpCell = await page.locator(`tr[data-machine="${seats[0].id}"] td[data-label="Fingerprint"]`).innerText();
  check(fpCell === seats[0].fingerprint, `fingerprint cell ${fpCell}`);
  await shot('machines');
  await page.locator(`tr[data-machine="${seats[0].id}"] button`).click();
  await page.click('#confirm-ok');
  await page.locator('main[data-view="licenses"]:not([aria-busy]) p.empty').waitFor();
  v = validate(key);
  check(v.status !== 0 && v.out === 'NOT_ACTIVATED', `validate after the seat was freed: ${v.out}`);
  u = agent('unlock', env.LOCKED, '-o', join(env.WORK, 'console.out2.safetensors'), '--license', key,
    '--fingerprint', 'console-test-host');
  check(u.status === 0 && validate(key).out === 'VALID', `re-activation: ${u.status} ${u.err}`);
  ok('machines page lists the agent\'s seat; "Free seat" -> agent NOT_ACTIVATED; it activates again');

  // ---- revoke: cancel first, then confirm; the agent is refused ----
  await go('#/licenses', 'licenses');
  await shot('licenses');
  await rowOf(id).locator('button:has-text("Revoke")').click();
  await page.locator('#confirm[open]').waitFor();
  await page.keyboard.press('Escape');
  await page.locator('#confirm:not([open])').waitFor({ state: 'attached' });
  check((await api('GET', `/v1/licenses/${id}`)).json.status === 'active', 'Escape on the confirmation revoked');
  await rowOf(id).locator('button:has-text("Revoke")').click();
  await page.click('#confirm-ok');
  await rowOf(id).locator('td[data-label="Status"]:has-text("revoked")').waitFor();
  check(await rowOf(id).locator('button:has-text("Revoke")').isDisabled(), 'revoke still offered after revoking');
  v = validate(key);
  check(v.status !== 0 && v.out === 'REVOKED', `validate after revoke: ${v.status} ${v.out}`);
  ok('revoke: Escape cancels; confirmed -> listed revoked and the agent is refused (REVOKED)');

  // ---- an API error is shown as its message, never a blank page ----
  await page.evaluate(() => { location.hash = '#/licenses/987654'; });
  await page.locator('#error:visible').waitFor();
  const nf = await errorText();
  check(/NOT_FOUND/.test(nf) && /no license '987654'/.test(nf), `missing license error: "${nf}"`);
  check(await page.locator('header.top nav').isVisible(), 'the page went blank on an error');
  ok(`an API error is shown with its message: "${nf.replace(/\s+/g, ' ').replace(/Dismiss$/, '').trim()}"`);

  // ---- tokens: create (shown once) and delete; the last admin token is kept ----
  await go('#/tokens', 'tokens');
  await page.fill('#tok-name', 'night shift');
  await page.selectOption('#tok-scope', 'read');
  await page.fill('#tok-expires', '2099-12-31');
  await page.click('#tok-submit');
  await page.locator('#secret[open]').waitFor();
  const tok = await page.inputValue('#secret-value');
  check(/^clt_[0-9a-f]{64}$/.test(tok), `new token "${tok}"`);
  await page.click('#secret-done');
  const toks = (await api('GET', '/v1/tokens')).json.tokens;
  const made = toks.find((t) => t.name === 'night shift');
  check(made && made.scope === 'read' && made.expires_at === '2099-12-31T23:59:59Z', `server token: ${JSON.stringify(made)}`);
  await page.locator(`tr[data-token="${made.id}"]`).waitFor();
  await shot('tokens');
  await page.locator(`tr[data-token="${made.id}"] button:has-text("Delete")`).click();
  await page.click('#confirm-ok');
  await page.locator(`tr[data-token="${made.id}"]`).waitFor({ state: 'detached' });
  check(!(await api('GET', '/v1/tokens')).json.tokens.some((t) => t.id === made.id), 'the token was not deleted');
  const me = toks.find((t) => t.current && t.scope === 'admin');
  await page.locator(`tr[data-token="${me.id}"] button:has-text("Delete")`).click();
  await page.click('#confirm-ok');
  await page.locator('#error:visible').waitFor();
  const last = await errorText();
  check(/LAST_ADMIN_TOKEN/.test(last), `deleting the last admin token: "${last}"`);
  ok('tokens: a read token with an expiry created (secret shown once) and deleted; the last admin token is refused with its message');

  // ---- the audit log, paged, with the chain's status ----
  for (let i = 0; i < 30; i++) {
    const t = await api('POST', '/v1/tokens', { name: `bulk ${i}`, scope: 'read' });
    await api('DELETE', `/v1/tokens/${t.json.id}`);
  }
  const audit = (await api('GET', '/v1/audit?limit=1')).json.chain;
  await go('#/audit', 'audit');
  const banner = await page.locator('#chain').innerText();
  check(audit.ok && banner.includes(`all ${audit.entries} entries`), `chain banner "${banner}" for ${JSON.stringify(audit)}`);
  const first = await page.locator('tbody tr').first().getAttribute('data-seq');
  check(Number(first) === audit.entries, `newest entry on page 1 is ${first}, expected ${audit.entries}`);
  check(await page.locator('tbody tr').count() === 50, 'page 1 does not hold 50 entries');
  await page.click('text=Older →');
  await page.locator('main[data-view="audit"]:not([aria-busy]) .pager:has-text("Page 2")').waitFor();
  const p2 = await page.locator('tbody tr').first().getAttribute('data-seq');
  check(Number(p2) === audit.entries - 50, `page 2 starts at ${p2}`);
  await shot('audit'); /* page 2: the entries before the bulk tokens */
  const revokeSeen = (await api('GET', `/v1/audit?since=0&limit=10000`)).json.entries.some((e) => e.action === 'license.revoke');
  check(revokeSeen, 'the revoke is not in the audit log');
  ok(`audit log: chain verified over ${audit.entries} entries, newest first, 50 a page, page 2 from seq ${p2}`);

  // ---- keyboard: Tab reaches the main actions, Enter follows a link ----
  const other = (await api('POST', '/v1/licenses', { model: models[0].id, tier: 'basic', customer: 'Beta Labs' })).json;
  await go('#/licenses', 'licenses');
  await page.evaluate(() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); });
  const reached = [];
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press('Tab');
    reached.push(await page.evaluate(() => {
      const a = document.activeElement;
      if (!a || a === document.body) return '';
      return a.getAttribute('aria-label') || (/^(INPUT|SELECT)$/.test(a.tagName) ? a.id : a.textContent.trim());
    }));
  }
  for (const want of ['Skip to content', 'Overview', 'Licenses', 'Tokens', 'Audit log', 'Sign out', 'issue-customer',
    'Issue license', 'f-status', 'Filter', `Machines of license ${id}`, `Change license ${other.id}`,
    `Suspend license ${other.id}`, `Revoke license ${other.id}`]) {
    check(reached.includes(want), `Tab never reaches "${want}": ${JSON.stringify(reached)}`);
  }
  // Enter on a focused row action opens its confirmation; Escape closes it
  await page.focus(`button[aria-label="Revoke license ${other.id}"]`);
  await page.keyboard.press('Enter');
  await page.locator('#confirm[open]').waitFor();
  check(await page.evaluate(() => document.activeElement.id === 'confirm-cancel'), 'the confirmation does not focus Cancel');
  await page.keyboard.press('Escape');
  await page.locator('#confirm:not([open])').waitFor({ state: 'attached' });
  check((await api('GET', `/v1/licenses/${other.id}`)).json.status === 'active', 'Escape revoked');
  // The skip link moves focus to the page's content and stays on the page
  await page.focus('a.skip');
  await page.keyboard.press('Enter');
  check(await page.evaluate(() => document.activeElement.id === 'main' && location.hash === '#/licenses'),
    'the skip link left the page or did not focus the content');
  // From the skip link, Tab to the Tokens link and follow it with Enter
  await page.focus('a.skip');
  for (let i = 0; i < 10; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(() => document.activeElement.textContent.trim() === 'Tokens')) break;
  }
  await page.keyboard.press('Enter');
  await page.locator('main[data-view="tokens"]:not([aria-busy])').waitFor();
  check(await page.evaluate(() => document.activeElement.tagName === 'H1'), 'focus did not move to the new page heading');
  ok(`keyboard: Tab reaches the navigation, the issue form, the filters and each row's actions; Enter opens a confirmation (focus on Cancel) and a page`);

  // ---- the narrow screen ----
  await page.setViewportSize({ width: 390, height: 844 });
  for (const [hash, view] of [['#/overview', 'overview'], ['#/licenses', 'licenses'], ['#/models', 'models'],
    ['#/audit', 'audit'], ['#/tokens', 'tokens']]) {
    await go(hash, view);
    const [sw, cw] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
    check(sw <= cw, `${hash} at 390 px scrolls sideways: ${sw} > ${cw}`);
    if (view === 'licenses') await page.screenshot({ path: join(env.SHOTS, 'licenses-390.png'), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  ok('390 px wide: no page scrolls sideways');

  // ---- the overview again, after all this ----
  await go('#/overview', 'overview');
  const delivered = (await api('GET', '/v1/audit?since=0&limit=10000')).json.entries.filter((e) => e.action === 'key.deliver').length;
  const dcell = await page.locator('[data-stat="Deliveries (24 h)"]').innerText();
  check(dcell === String(delivered) && delivered >= 2, `deliveries ${dcell} != ${delivered}`);
  check(await page.locator('svg.chart rect.bar-deliver').count() >= 1, 'no delivery bar in the chart');
  await shot('overview');
  ok(`overview: ${dcell} key deliveries in the last 24 h, drawn in the chart`);

  // ---- a read-only token: sees everything, changes nothing ----
  await page.click('#signout');
  await page.locator('#signin').waitFor();
  check(await page.evaluate(() => sessionStorage.length) === 0, 'sign-out left the token behind');
  await page.fill('#token', env.RO_TOKEN);
  await page.click('#signin-submit');
  await page.locator('main[data-view="overview"]:not([aria-busy])').waitFor();
  check((await page.locator('#scope').innerText()).includes('read-only'), 'no read-only badge');
  check(await page.locator('#ro-note').isVisible(), 'no read-only note');
  await go('#/licenses', 'licenses');
  await rowOf(id).waitFor();
  const buttons = page.locator('#issue button, .rowactions button');
  const n = await buttons.count();
  let enabled = 0;
  for (let i = 0; i < n; i++) if (await buttons.nth(i).isEnabled()) enabled++;
  check(n >= 4 && enabled === 0, `read-only licenses page: ${enabled} of ${n} change buttons enabled`);
  check(await page.locator('#issue-customer').isDisabled(), 'issue form enabled');
  await shot('licenses-readonly');
  await go('#/tokens', 'tokens');
  check(await page.locator('#tok-submit').isDisabled() && await page.locator('tbody button:enabled').count() === 0,
    'read-only tokens page has enabled buttons');
  const before = (await api('GET', '/v1/licenses')).json.licenses.length;
  const forced = await page.evaluate(async (ro) => {
    const r = await fetch('/v1/licenses', { method: 'POST', headers: { Authorization: `Bearer ${ro}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: 1, tier: 'basic', customer: 'forced' }) });
    return [r.status, (await r.json()).error.code];
  }, env.RO_TOKEN);
  check(forced[0] === 403 && forced[1] === 'FORBIDDEN', `forced POST with the read token: ${forced}`);
  check((await api('GET', '/v1/licenses')).json.licenses.length === before, 'the forced request issued a license');
  // a token deleted while in use: the next page asks to sign in again, saying why
  const roId = (await api('GET', '/v1/tokens')).json.tokens.find((t) => t.name === 'support desk').id;
  check((await api('DELETE', `/v1/tokens/${roId}`)).status === 204, 'delete the read token');
  await page.evaluate(() => { location.hash = '#/audit'; });
  await page.locator('#signin').waitFor();
  const gone = await errorText();
  check(/UNAUTHORIZED/.test(gone) && await page.evaluate(() => sessionStorage.length) === 0, `deleted token: "${gone}"`);
  await page.evaluate(() => { location.hash = '#/overview'; }); /* signed out: still the sign-in form */
  check(await page.locator('#signin').isVisible() && await page.locator('#nav').isHidden(), 'signed out, yet a page shows');
  ok(`read-only token: ${n} change buttons on the licenses page all disabled, forms disabled; a forced POST gets 403 FORBIDDEN; once deleted, the token is asked for again with the reason`);

  // ---- CSP: enforced (an injected inline script is blocked and reported), no other violation ----
  const reported = page.waitForEvent('console', { predicate: (m) => /Content Security Policy/i.test(m.text()) });
  const ran = await page.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'window.__inlineRan = true;';
    document.body.append(s); /* an allowed inline script would run right here */
    return window.__inlineRan === true;
  });
  check(!ran, 'an injected inline script ran: the CSP is not enforced');
  await reported; /* the violation is reported asynchronously: wait for it, then count */
  await page.waitForFunction(() => window.__csp.length > 0);
  const csp = await page.evaluate(() => window.__csp);
  check(csp.length === 1 && /^script-src/.test(csp[0]) && csp[0].includes('inline'), `CSP reports: ${JSON.stringify(csp)}`);
  const cspLogs = logs.filter((l) => /Content Security Policy/i.test(l));
  check(cspLogs.length === 1, `CSP messages in the console log: ${JSON.stringify(cspLogs)}`);
  const errors = logs.filter((l) => /^(error|pageerror)/.test(l) && !/Content Security Policy/.test(l) &&
    !/status of (401|403|404|409)/.test(l));
  check(errors.length === 0, `errors in the console log: ${JSON.stringify(errors)}`);
  const cached = apiHeaders.filter(([, cc]) => cc !== 'no-store');
  check(apiHeaders.length > 20 && cached.length === 0, `API answers without no-store: ${JSON.stringify(cached)}`);
  ok(`CSP: the console ran with no violation; the one injected inline script was blocked and reported; ${apiHeaders.length} API answers all no-store`);
  return 0;
}

let rc = 1;
try {
  rc = await main();
} catch (e) {
  if (!/^FAIL/.test(String(e.message))) console.error(`FAIL: ${e.stack || e}`);
  rc = 1;
} finally {
  if (ctx) await ctx.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
process.exit(rc);
