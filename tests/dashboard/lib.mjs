/*
 * lib: shared by the dashboard tests.  Runs `rebound serve` on loopback
 * ports picked by the kernel over a seeded database (seed.mjs), with a
 * config of our own (an admin token), finds its HTTP address in its
 * log, and stops it, failing on a bad exit status (a sanitizer report,
 * a crash).  Also installs playwright-core from npm into a cache folder
 * (never into the source tree), once per version.
 * Every wait is bounded; sanitizer builds get longer bounds.
 */
import {spawn, execFileSync} from "node:child_process";
import {connect} from "node:net";
import {existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, mkdtempSync} from "node:fs";
import {createRequire} from "node:module";
import {homedir, tmpdir} from "node:os";
import {dirname, join} from "node:path";
import {fileURLToPath} from "node:url";

export const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, "..", "..");

/* Sanitizer builds run several times slower: every bound scales. */
export const SLOW = process.env.REBOUND_SANITIZE === "1" ? 4 : 1;
/* How long rebound serve may take to say it listens (ms). */
const START_MS = 10000 * SLOW;
/* How long it may take to stop after SIGTERM (ms). */
const STOP_MS = 10000 * SLOW;

/*
 * playwright-core: the last version whose package.json still accepts
 * Node.js 18 (Debian 12's nodejs); 1.62 and later want Node 20.  It
 * drives the system's Debian chromium, so no browser is downloaded
 * (playwright-core has no install script that would fetch one).
 */
export const PLAYWRIGHT_VERSION = "1.61.1";

/* An admin token of the test config (16 to 256 printable characters). */
export const ADMIN_TOKEN = "dashboard-test-admin-token-0123456789";

let failures = 0;
let passes = 0;
export function ok(msg) {
  console.log(`ok: ${msg}`);
  passes++;
}
export function fail(msg) {
  console.log(`FAIL: ${msg}`);
  failures++;
}
export function check(cond, msg, detail) {
  if (cond) ok(msg);
  else fail(detail === undefined ? msg : `${msg}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
  return cond;
}
export function failed() {
  return failures;
}

/* The closing line ("NAME: N passed, M failed") and the exit status. */
export function finish(name) {
  console.log(`${name}: ${passes} passed, ${failures} failed`);
  process.exit(failures ? 1 : 0);
}

/* A scratch folder, removed when the process exits (kept with KEEP=1,
 * to look at the database and the daemon's log). */
const scratches = [];
export function scratch(name) {
  const d = mkdtempSync(join(tmpdir(), `rebound-${name}-`));
  scratches.push(d);
  return d;
}
process.on("exit", () => {
  if (process.env.KEEP === "1") return;
  for (const d of scratches) rmSync(d, {recursive: true, force: true});
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/*
 * Start `rebound serve` over db; returns {child, url, log, stop()}.
 * HTTP and SMTP on 127.0.0.1 port 0; the URL is read from the log.
 */
export async function startServe(bin, dir, db, {config = "", env = {}} = {}) {
  const cfg = join(dir, "rebound.conf");
  writeFileSync(cfg, `[http]\nadmin_tokens = ${ADMIN_TOKEN}\n${config}`);
  const log = join(dir, "serve.log");
  const child = spawn(bin, [
    "serve", "--config", cfg, "--db", db, "--spool", join(dir, "spool"),
    "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--domain", "fb.example",
    "--log-file", log,
  ], {env: {...process.env, ...env}, stdio: ["ignore", "inherit", "inherit"]});
  let exited = null;
  child.on("exit", (code, sig) => {
    exited = {code, sig};
  });
  const deadline = Date.now() + START_MS;
  let url = null;
  let smtp = null;
  while (!url) {
    if (exited) throw new Error(`rebound serve exited at start (${JSON.stringify(exited)}):\n${readLog(log)}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`rebound serve did not report an HTTP address within ${START_MS} ms:\n${readLog(log)}`);
    }
    const text = readLog(log);
    if (/serve: ready/.test(text)) {
      const m = text.match(/http: [^\n]*?(http:\/\/[^\s"]+)/);
      if (m) url = m[1].replace(/\/$/, "");
      const sm = text.match(/smtp: listening on ([0-9.]+):(\d+)/);
      if (sm) smtp = {host: sm[1], port: Number(sm[2])};
    }
    if (!url) await sleep(50);
  }
  const stop = async () => {
    if (exited) return exited;
    child.kill("SIGTERM");
    const end = Date.now() + STOP_MS;
    while (!exited && Date.now() < end) await sleep(50);
    if (!exited) {
      child.kill("SIGKILL");
      fail(`rebound serve did not stop within ${STOP_MS} ms of SIGTERM`);
      return {code: null, sig: "SIGKILL"};
    }
    check(exited.code === 0, "rebound serve stopped cleanly (exit 0)", exited);
    return exited;
  };
  return {child, url, smtp, log, stop};
}

function readLog(f) {
  try {
    return readFileSync(f, "utf8");
  } catch {
    return "";
  }
}

/*
 * One SMTP session: send each command of lines (a string ending in
 * "\r\n.\r\n" is a message body) and collect the replies; resolves
 * with the reply texts, greeting first.  Bounded by SMTP_MS.
 */
const SMTP_MS = 10000 * SLOW;
export function smtpSession({host, port}, lines) {
  return new Promise((resolve, reject) => {
    const sock = connect(port, host);
    const replies = [];
    let buf = "";
    let cur = "";
    let i = 0;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`SMTP session timed out after ${replies.length} replies`));
    }, SMTP_MS);
    sock.setEncoding("latin1");
    sock.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on("data", (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf("\r\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        cur += line + "\n";
        if (line[3] === "-") continue;
        replies.push(cur.trimEnd());
        cur = "";
        if (i < lines.length) sock.write(lines[i++].endsWith("\r\n") ? lines[i - 1] : `${lines[i - 1]}\r\n`);
        else {
          clearTimeout(timer);
          sock.end();
          resolve(replies);
        }
      }
    });
  });
}

/* A message as a DATA body: CRLF lines, dot-stuffed, ending "\r\n.\r\n". */
export function smtpBody(text) {
  const lines = text.replace(/\r?\n$/, "").split(/\r?\n/).map((l) => (l.startsWith(".") ? `.${l}` : l));
  return `${lines.join("\r\n")}\r\n.\r\n`;
}

/* fetch with the admin token; returns {status, json, text, headers}. */
export async function api(base, path, {method = "GET", token = ADMIN_TOKEN, body} = {}) {
  const headers = {Accept: "application/json"};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(base + path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON (metrics, raw messages) */
  }
  return {status: res.status, json, text, headers: res.headers};
}

/*
 * playwright-core from npm into the cache (REBOUND_NODE_CACHE, else
 * $XDG_CACHE_HOME/rebound/node, else ~/.cache/rebound/node), installed
 * in a temporary folder and renamed into place, so concurrent runs and
 * an interrupted install never leave a half package.  Returns the
 * module.
 */
export function playwright() {
  const cache = process.env.REBOUND_NODE_CACHE ||
    join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "rebound", "node");
  const dir = join(cache, `playwright-core-${PLAYWRIGHT_VERSION}`);
  const pkg = join(dir, "node_modules", "playwright-core", "package.json");
  if (!existsSync(pkg)) {
    mkdirSync(cache, {recursive: true});
    const tmp = mkdtempSync(join(cache, ".install-"));
    try {
      writeFileSync(join(tmp, "package.json"), JSON.stringify({name: "rebound-dashboard-test", private: true}));
      execFileSync("npm", ["install", "--no-audit", "--no-fund", "--no-save", "--ignore-scripts",
        "--loglevel=error", `playwright-core@${PLAYWRIGHT_VERSION}`], {cwd: tmp, stdio: ["ignore", "inherit", "inherit"]});
      try {
        renameSync(tmp, dir);
      } catch (e) {
        if (!existsSync(pkg)) throw e;
      }
    } finally {
      rmSync(tmp, {recursive: true, force: true});
    }
  }
  const got = JSON.parse(readFileSync(pkg, "utf8")).version;
  if (got !== PLAYWRIGHT_VERSION) throw new Error(`${pkg}: version ${got}, not ${PLAYWRIGHT_VERSION}`);
  return createRequire(join(dir, "package.json"))("playwright-core");
}
