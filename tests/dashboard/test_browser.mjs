/*
 * test_browser: the web console in Debian's chromium, driven by
 * playwright-core, against `rebound serve` over a database seeded with
 * the CLI (seed.mjs).  Checks, as a user would see them: the token
 * prompt; the overview's identities with the right sends and rates, the
 * warning and critical identities marked (in words, not only colour),
 * the alerts on top, sorting (mouse and keyboard) and filtering; the
 * identity page's chart with both threshold lines at the right heights,
 * its numbers, the breakdowns, the events and a raw message; on the
 * suppression page paging, a look-up, a refused removal with a read
 * token, a removal that the API then confirms, the reason filter and
 * an address added to an account list.  Throughout: nothing
 * is requested from anywhere but the server, no CSP violation or script
 * error, no inline style, no horizontal scrolling at 390 px.
 * Screenshots of each page at 1280 and 390 px go to OUT.
 * Usage: node test_browser.mjs REBOUND OUT
 */
import {existsSync, mkdirSync, readFileSync} from "node:fs";
import {join} from "node:path";
import * as lib from "./lib.mjs";
import {seed} from "./seed.mjs";

const {check, ok, fail} = lib;
const [bin, out] = process.argv.slice(2);
if (!bin || !out) {
  console.error("usage: node test_browser.mjs REBOUND OUT");
  process.exit(2);
}
const CHROMIUM = process.env.REBOUND_CHROMIUM || "/usr/bin/chromium";
/* The flags this machine kind needs (no network but the registries):
 * background networking would try Google's hosts at every start. */
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
/* Bound of every wait for the page (ms). */
const WAIT_MS = 10000 * lib.SLOW;
const WIDTHS = [1280, 390];
/* A read-scope token of the test config. */
const READ_TOKEN = "dashboard-test-read-token-0123456789";

if (!existsSync(CHROMIUM)) {
  console.log(`FAIL: no ${CHROMIUM}: install Debian's chromium (scripts/deps.sh check does)`);
  process.exit(1);
}
mkdirSync(out, {recursive: true});
const pw = lib.playwright();

const dir = lib.scratch("browser");
const db = join(dir, "rebound.db");
const env = {REBOUND_DATA_DIR: join(lib.root, "data")};
const seeded = seed(bin, db, env);
const want = seeded.identities;
ok(`seeded ${seeded.messages} feedback messages over ${Object.keys(want).length} identities`);
const srv = await lib.startServe(bin, dir, db, {env, config: `read_tokens = ${READ_TOKEN}\n`});
const origin = new URL(srv.url).origin;

const pct = (v, d) => `${(v * 100).toFixed(d)}%`;
const int = (n) => n.toLocaleString("en-US");

const requests = [];
const problems = [];
let step = "start";
let context;
try {
  context = await pw.chromium.launchPersistentContext(join(dir, "chromium-profile"), {
    executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, viewport: {width: 1280, height: 900},
  });
  context.setDefaultTimeout(WAIT_MS);
  context.on("request", (r) => requests.push({url: r.url(), step}));
  context.on("requestfailed", (r) => problems.push(`${step}: request failed: ${r.url()} ${r.failure() && r.failure().errorText}`));
  context.on("response", (r) => {
    if (r.status() >= 500) problems.push(`${step}: ${r.status()} for ${r.url()}`);
    if (!new URL(r.url()).pathname.startsWith("/v1/") && r.status() >= 400) problems.push(`${step}: static ${r.status()} ${r.url()}`);
  });
  /* Every CSP violation of every page, straight from the browser. */
  await context.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const page = context.pages()[0] || await context.newPage();
  const cspViolations = async () => {
    const v = await page.evaluate(() => window.__csp || []);
    for (const x of v) problems.push(`${step}: CSP violation: ${x}`);
  };
  page.on("pageerror", (e) => problems.push(`${step}: script error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() !== "error" && m.type() !== "warning") return;
    /* The browser logs API answers such as 401 before the token, 403
     * for a read token, 404 for an address not suppressed: expected. */
    if (/^Failed to load resource: the server responded with a status of (401|403|404)/.test(m.text())) return;
    problems.push(`${step}: console ${m.type()}: ${m.text()}`);
  });
  const shot = async (name) => {
    for (const w of WIDTHS) {
      await page.setViewportSize({width: w, height: 900});
      await page.waitForTimeout(150); /* the chart redraws on resize */
      const sw = await page.evaluate(() => document.documentElement.scrollWidth);
      check(sw <= w, `${name} at ${w} px: no horizontal scrolling`, `${sw} px wide`);
      await page.screenshot({path: join(out, `${name}-${w}.png`), fullPage: true});
    }
    await page.setViewportSize({width: 1280, height: 900});
  };
  const text = (sel) => page.locator(sel).first().innerText();

  /* ---- 1. the token ---------------------------------------------------- */
  step = "token";
  const res = await page.goto(`${srv.url}/`);
  const csp = res.headers()["content-security-policy"] || "";
  check(/default-src 'none'/.test(csp) && /script-src 'self'/.test(csp), "index.html comes with the strict CSP", csp);
  await page.locator("#notice .error").waitFor();
  check(/needs an API token/.test(await text("#notice")), "without a token the console asks for one");
  check(await page.locator("#token-panel").isVisible(), "the token form opens by itself");
  check(await page.evaluate(() => document.activeElement && document.activeElement.id === "token"), "and has the focus");
  await page.keyboard.type(lib.ADMIN_TOKEN);
  await page.keyboard.press("Enter");

  /* ---- 2. overview ----------------------------------------------------- */
  step = "overview";
  await page.locator("table.identities tbody tr[data-identity]").first().waitFor();
  check(await page.evaluate(() => sessionStorage.getItem("rebound.token")) === lib.ADMIN_TOKEN, "the token is kept in sessionStorage");
  const rows = await page.$$eval("table.identities tbody tr", (trs) => trs.map((tr) => ({
    identity: tr.dataset.identity,
    status: tr.dataset.status,
    cells: [...tr.children].map((c) => c.innerText.trim()),
    badge: tr.querySelector(".badge") && tr.querySelector(".badge").innerText.trim(),
  })));
  check(rows.length === Object.keys(want).length, `overview lists the ${Object.keys(want).length} identities`, rows.map((r) => r.identity));
  for (const [name, w] of Object.entries(want)) {
    const r = rows.find((x) => x.identity === name);
    if (!check(Boolean(r), `overview: ${name} is listed`)) continue;
    const [, , sends, hard, brate, compl, crate] = r.cells;
    check(sends === int(w.sends) && hard === int(w.hardBounces) && compl === int(w.complaints),
      `${name}: sends ${int(w.sends)}, hard bounces ${w.hardBounces}, complaints ${w.complaints}`, r.cells);
    check(brate.startsWith(pct(w.bounceRate, 2)) && crate.startsWith(pct(w.complaintRate, 3)),
      `${name}: bounce rate ${pct(w.bounceRate, 2)}, complaint rate ${pct(w.complaintRate, 3)}`, [brate, crate]);
    check(r.status === w.status && r.badge.toLowerCase().startsWith(w.status === "ok" ? "ok" : w.status),
      `${name}: status ${w.status}, in words on the badge`, [r.status, r.badge]);
    if (w.lowVolume) check(/low volume/i.test(r.badge), `${name}: marked low volume`, r.badge);
  }
  const warn = Object.values(want).find((w) => w.status === "warning");
  const wr = rows.find((r) => r.identity === warn.identity);
  check(wr && /warning/i.test(wr.cells[4]), `${warn.identity}: its bounce rate cell says "warning" too`, wr && wr.cells[4]);
  const alerts = await page.$$eval(".alerts .alert", (els) => els.map((e) => e.innerText.replace(/\s+/g, " ")));
  const alerting = Object.values(want).filter((w) => w.status !== "ok");
  check(alerts.length === alerting.length && /^critical/i.test(alerts[0].trim()) && alerts.some((a) => a.includes(warn.identity) && /warning/i.test(a)),
    `the ${alerting.length} active alerts are on top, critical first`, alerts);
  const top = await page.evaluate(() => {
    const a = document.querySelector(".alerts");
    const t = document.querySelector("table.identities");
    return a.compareDocumentPosition(t) & Node.DOCUMENT_POSITION_FOLLOWING;
  });
  check(Boolean(top), "alerts come before the table");

  const order = () => page.$$eval("table.identities tbody tr", (trs) => trs.map((tr) => tr.dataset.identity));
  const byRate = Object.values(want).slice().sort((a, b) => b.bounceRate - a.bounceRate || a.identity.localeCompare(b.identity)).map((w) => w.identity);
  await page.getByRole("button", {name: "Bounce rate"}).click();
  check(JSON.stringify(await order()) === JSON.stringify(byRate), "sorting by bounce rate (click)", await order());
  check(await page.locator("th[aria-sort=descending]").innerText().then((t) => /bounce rate/i.test(t)), "aria-sort marks the sorted column");
  await page.getByRole("button", {name: "Identity"}).focus();
  await page.keyboard.press("Enter");
  const byName = Object.keys(want).sort();
  check(JSON.stringify(await order()) === JSON.stringify(byName), "sorting by identity (keyboard)", await order());
  await page.fill("#filter", warn.identity.slice(0, 6));
  check(JSON.stringify(await order()) === JSON.stringify([warn.identity]), "the filter narrows the table", await order());
  await page.fill("#filter", "");
  await page.selectOption("#status-filter", "critical");
  const crit = Object.values(want).filter((w) => w.status === "critical").map((w) => w.identity);
  check(JSON.stringify(await order()) === JSON.stringify(crit), "the status filter keeps the critical ones", await order());
  await page.selectOption("#status-filter", "");
  await page.getByRole("button", {name: "Status"}).click();
  check((await order())[0] === crit[0], "sorting by status puts critical first", await order());
  check(await page.locator("[style]").count() === 0, "no inline style attributes (the CSP would block them)");
  await cspViolations();
  await shot("overview");

  /* ---- 3. identity page ------------------------------------------------ */
  step = "identity";
  const link = page.locator("table.identities").getByRole("link", {name: warn.identity});
  await link.focus();
  await page.keyboard.press("Enter");
  await page.locator("svg.chart[data-metric=complaintRate] path.series").waitFor({state: "attached"});
  await page.locator("svg.chart[data-metric=bounceRate] path.series").waitFor({state: "attached"});
  check(page.url().endsWith(`#/identity/${encodeURIComponent(warn.identity)}`), "the identity link opens its page", page.url());
  check(await page.evaluate(() => document.activeElement && document.activeElement.tagName === "H1"), "focus moves to the page heading");
  const tiles = await page.$$eval(".tile", (ts) => ts.map((t) => t.innerText.replace(/\s+/g, " ")));
  check(tiles.some((t) => t.includes(pct(warn.bounceRate, 2)) && /warning/i.test(t)), `the bounce rate tile says ${pct(warn.bounceRate, 2)}, warning`, tiles);
  for (const [metric, w, c, last, fmt] of [
    ["bounceRate", 0.05, 0.1, warn.bounceRate, 2],
    ["complaintRate", 0.001, 0.005, warn.complaintRate, 3]]) {
    const g = await page.$eval(`svg.chart[data-metric=${metric}]`, (svg) => {
      const th = (n) => svg.querySelector(`line.threshold-${n}`);
      const lab = (n) => svg.querySelector(`text.threshold-label-${n}`);
      return {
        warning: th("warning") && {y: Number(th("warning").getAttribute("y1")), v: Number(th("warning").dataset.value)},
        critical: th("critical") && {y: Number(th("critical").getAttribute("y1")), v: Number(th("critical").dataset.value)},
        labels: [lab("warning"), lab("critical")].map((l) => l && l.textContent),
        y0: Number(svg.querySelector("line.axis").getAttribute("y1")),
        points: Number(svg.querySelector("path.series").dataset.points),
        d: svg.querySelector("path.series").getAttribute("d"),
      };
    });
    if (!check(g.warning && g.critical, `${metric} chart: both threshold lines are drawn`, g)) continue;
    check(g.warning.v === w && g.critical.v === c, `${metric} chart: thresholds ${w} and ${c} (from the API)`, [g.warning.v, g.critical.v]);
    const ratio = (g.y0 - g.warning.y) / (g.y0 - g.critical.y);
    check(g.critical.y < g.warning.y && g.warning.y < g.y0 && Math.abs(ratio - w / c) < 0.01,
      `${metric} chart: warning drawn below critical, at ${w / c} of its height`, {ratio, g});
    check(/warning/.test(g.labels[0]) && /critical/.test(g.labels[1]), `${metric} chart: the lines are labelled in words`, g.labels);
    check(g.points === 7 * 24 && (g.d.match(/[ML]/g) || []).length >= 2, `${metric} chart: 168 hourly points, a line drawn`, {points: g.points});
    const first = await page.$eval(`#chart-${metric} .chart-data tbody tr`, (tr) => [...tr.children].map((c) => c.textContent));
    check(first[1] === pct(last, fmt), `${metric} chart: the latest hour reads ${pct(last, fmt)}`, first);
  }
  await page.locator("svg.chart[data-metric=bounceRate]").focus();
  await page.keyboard.press("End");
  check((await page.locator("#chart-bounceRate [aria-live]").innerText()).includes(pct(warn.bounceRate, 2)),
    "keyboard on the chart reads the latest value out");
  for (const [table, key] of [["#by-reason", "byReason"], ["#by-provider", "byProvider"]]) {
    const got = Object.fromEntries(await page.$$eval(`${table} tbody tr`, (trs) => trs.map((tr) => {
      const c = [...tr.children].map((x) => x.textContent.trim());
      return [c[0], Number(c[5].replace(/,/g, ""))];
    })));
    check(JSON.stringify(Object.entries(got).sort()) === JSON.stringify(Object.entries(warn[key]).sort()),
      `breakdown ${key} matches what was seeded`, {got, want: warn[key]});
  }
  const evRows = page.locator("table.events tbody tr[data-event]");
  await evRows.first().waitFor();
  const nEvents = await evRows.count();
  await page.getByRole("button", {name: "Load more events"}).click();
  await page.waitForFunction((n) => document.querySelectorAll("table.events tbody tr[data-event]").length > n, nEvents);
  ok(`recent events: ${nEvents}, then ${await evRows.count()} after "Load more"`);
  await page.locator("svg.chart[data-metric=bounceRate]").focus(); /* the read-out on the screenshot */
  await cspViolations();
  await shot("identity");

  step = "event";
  const firstRcpt = (await evRows.first().locator("td.addr").innerText()).trim();
  await evRows.first().getByRole("link", {name: /Raw message/}).click();
  await page.locator("pre.raw").waitFor();
  const raw = await text("pre.raw");
  check(/Content-Type: multipart\/report/.test(raw) && raw.includes(firstRcpt), "the raw feedback message of the event is shown", raw.slice(0, 200));
  const eventId = decodeURIComponent(page.url().split("/").pop());
  const [dl] = await Promise.all([page.waitForEvent("download"), page.locator("a[download]").click()]);
  const rawApi = await lib.api(srv.url, `/v1/events/${eventId}/raw`);
  check(dl.suggestedFilename() === `rebound-event-${eventId}.eml` && readFileSync(await dl.path(), "latin1") === rawApi.text,
    "the download is the raw message as the API serves it", dl.suggestedFilename());
  await cspViolations();
  await page.screenshot({path: join(out, "event-1280.png"), fullPage: true});

  /* ---- 4. suppression -------------------------------------------------- */
  step = "suppression";
  const addr = seeded.bounced.find((a) => a.startsWith("news-"));
  const before = await lib.api(srv.url, `/v1/suppression/${encodeURIComponent(addr)}`);
  check(before.status === 200, `API: ${addr} is suppressed before`, before.status);
  await page.getByRole("navigation", {name: "Main"}).getByRole("link", {name: "Suppression"}).click();
  await page.locator("table.suppressions tbody tr[data-address]").first().waitFor();

  const pageRows = () => page.$$eval("table.suppressions tbody tr[data-address]", (trs) => trs.map((t) => t.dataset.address + " " + t.children[1].textContent));
  const p1 = await pageRows();
  check(p1.length === 25, "the lists show 25 entries a page", p1.length);
  await page.getByRole("button", {name: /Next page/}).click();
  await page.locator(".pager .page-no", {hasText: "Page 2"}).waitFor();
  const p2 = await pageRows();
  check(p2.length === 25 && !p2.some((r) => p1.includes(r)), "page 2 has other entries", p2.slice(0, 3));
  await page.getByRole("button", {name: /Previous page/}).click();
  await page.locator(".pager .page-no", {hasText: "Page 1"}).waitFor();
  check(JSON.stringify(await pageRows()) === JSON.stringify(p1), "back on page 1, the same entries");

  await page.fill("#lookup", seeded.manual.address);
  await page.keyboard.press("Enter");
  await page.locator(".result[data-suppressed=true]").waitFor();
  const manualText = await text(".result");
  check(/account default/.test(manualText) && /COMPLAINT/.test(manualText) && /until removed/.test(manualText),
    "look-up: the manual entry, its list, reason and 'until removed'", manualText);

  await page.fill("#lookup", addr);
  await page.getByRole("button", {name: "Look up"}).click();
  await page.locator(`.result[data-suppressed=true] h3:has-text("${addr}")`).waitFor();
  const res1 = await text(".result");
  check(/global list/.test(res1) && /until \d{4}-\d\d-\d\d/.test(res1) && /account default/.test(res1),
    "look-up: why (global list after a hard bounce, account list) and until when", res1);
  await shot("suppression");

  /* A read token cannot remove: the page says why, nothing changes. */
  await page.evaluate((t) => sessionStorage.setItem("rebound.token", t), READ_TOKEN);
  await page.getByRole("button", {name: "Remove from every list"}).click();
  await page.getByRole("button", {name: "Yes, remove"}).click();
  await page.locator(".remove .error").waitFor();
  check(/admin token/.test(await text(".remove .error")), "with a read token, removal is refused and the page says an admin token is needed");
  check((await lib.api(srv.url, `/v1/suppression/${encodeURIComponent(addr)}`)).status === 200, "API: still suppressed");

  await page.evaluate((t) => sessionStorage.setItem("rebound.token", t), lib.ADMIN_TOKEN);
  await page.getByRole("button", {name: "Back"}).click();
  await page.getByRole("button", {name: "Remove from every list"}).focus();
  await page.keyboard.press("Enter");
  await page.keyboard.press("Enter"); /* "Yes, remove" has the focus */
  await page.locator(".result[data-suppressed=false]").waitFor();
  const done = await text(".lookup-result");
  check(/Removed 2 entries/.test(done) && /Not suppressed/i.test(done), "removal: the page says removed, not suppressed", done);
  const after = await lib.api(srv.url, `/v1/suppression/${encodeURIComponent(addr)}`);
  check(after.status === 404, `API: ${addr} is no longer suppressed after the removal in the page`, after.status);
  const chk = await lib.api(srv.url, "/v1/suppression/check", {method: "POST", body: {emailAddresses: [addr]}});
  check(chk.status === 200 && chk.json.results[0].suppressed === false, "API: the check endpoint agrees", chk.json);
  await page.waitForFunction((a) => !document.querySelector(`table.suppressions tr[data-address="${a}"]`) &&
    document.querySelectorAll("table.suppressions tbody tr[data-address]").length > 0, addr);
  ok("the lists no longer show it");
  await page.screenshot({path: join(out, "suppression-removed-1280.png"), fullPage: true});

  /* The filters, and adding an address to an account list. */
  const complaints = Object.values(want).reduce((n, w) => n + w.complaints, 0) + 1; /* + the manual one */
  await page.selectOption("#reason-filter", "COMPLAINT");
  await page.waitForFunction((n) => {
    const rows = [...document.querySelectorAll("table.suppressions tbody tr[data-address]")];
    return rows.length === n && rows.every((r) => r.children[2].textContent === "COMPLAINT");
  }, complaints);
  ok(`the reason filter: the ${complaints} complaint entries`);
  const added = "asked-to-stop@client.example";
  await page.fill("#add-address", added);
  await page.selectOption("#add-reason", "COMPLAINT");
  await page.getByRole("button", {name: "Suppress"}).click();
  await page.locator(`table.suppressions tr[data-address="${added}"]`).waitFor();
  const put = await lib.api(srv.url, `/v1/suppression/${encodeURIComponent(added)}`);
  check(put.status === 200 && put.json.list === "account" && put.json.reason === "COMPLAINT",
    "an address added in the page is on the account list (API)", put.json);
  await cspViolations();
} catch (e) {
  fail(`${step}: ${e.stack || e.message}`);
} finally {
  if (context) await context.close();
  await srv.stop();
}

/* ---- 5. what the page loaded ------------------------------------------- */
const outside = requests.filter((r) => !r.url.startsWith(`${origin}/`) && !/^(data|blob):/.test(r.url));
check(requests.length > 10 && outside.length === 0, `the network log: ${requests.length} requests, all to ${origin}`, outside);
check(requests.some((r) => r.url.includes("/v1/identities")) && requests.some((r) => r.url.endsWith("/app.css")),
  "the network log has the API calls and the static files");
check(problems.length === 0, "no script error, CSP violation, failed request or server error", problems);
ok(`screenshots in ${out}`);

lib.finish("dashboard_browser");
