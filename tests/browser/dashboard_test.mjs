// Central's dashboard in a real headless Chromium, against a real central fed by real edges
// and the floor simulator (tests/integration/dashboard_browser_test.cc sets them up and
// works out each site's OEE from the raw facts by ISO 22400). Every page is visited and
// photographed; the numbers on screen must equal the API's, and the API's the raw facts';
// a site manager must not reach another site by editing the URL.
// Usage: node dashboard_test.mjs CENTRAL_URL EXPECTED_JSON SCREENSHOT_DIR
import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const [base, expectedFile, shots] = process.argv.slice(2);
const expected = JSON.parse(readFileSync(expectedFile, "utf8"));
const ok = (what) => console.log("ok   " + what);
const fail = (what) => { console.error("FAIL " + what); process.exit(1); };
const pct = (v) => (v * 100).toFixed(1) + " %";

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium", headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-quic",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

async function logIn(context, login) {
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(base + "/");
  await page.fill("input[name=login]", login);
  await page.fill("input[name=password]", expected.password);
  await page.click("form.login button");
  await page.waitForSelector("#who button");
  return { page, errors };
}
// Loads a view and waits until its data is drawn.
async function view(page, query) {
  await page.goto(base + "/?" + query);
  await page.waitForFunction(() => document.querySelector("main h1") &&
    !document.querySelector("main").textContent.includes("Loading"));
  await page.waitForFunction(() => document.getElementById("status").textContent.includes("updated") ||
    document.querySelector("main .error"));
}

const range = "from=" + expected.from + "&to=" + expected.to;

// ---- an admin of acme: every page, on a laptop screen
{
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
  const { page, errors } = await logIn(context, "acme-admin");
  ok("logged in as acme-admin");
  const pages = ["fleet", "oee", "downtime", "scrap", "yield", "orders", "quality", "genealogy", "reliability", "sync", "users", "jobs", "alerts"];
  for (const p of pages) {
    await view(page, "page=" + p + "&" + range + (p === "genealogy" ? "&lot=" + expected.lot : ""));
    const error = await page.locator("main .error").count();
    if (error) fail(p + ": " + await page.textContent("main .error"));
    await page.screenshot({ path: join(shots, p + ".png"), fullPage: true });
    ok(p + " page drawn (" + await page.locator("main tbody tr").count() + " rows), screenshot kept");
  }
  if (errors.length) fail("script errors: " + errors.join("; "));

  // OEE by site: the screen shows the API's numbers, and the API's are the raw facts'.
  await view(page, "page=oee&group=site&" + range);
  const api = await (await context.request.get(base + "/api/v1/reports/oee?group=site&granularity=none&sort=oee&" + range)).json();
  for (const site of Object.keys(expected.sites)) {
    const want = expected.sites[site];
    const row = api.rows.find((r) => r.site === site);
    if (!row) fail("no OEE row for " + site + " in " + JSON.stringify(api));
    for (const k of ["availability", "performance", "quality", "oee"]) {
      if (Math.abs(row[k] - want[k]) > 1e-9 * Math.max(1, Math.abs(want[k])))
        fail(site + " " + k + ": API " + row[k] + ", raw facts " + want[k]);
    }
    const cells = await page.locator("main table:not(.u-legend)").nth(0).locator("tr", { hasText: site }).first().locator("td").allTextContents();
    for (const k of ["availability", "performance", "quality", "oee"])
      if (!cells.includes(pct(want[k]))) fail(site + " " + k + " on screen: " + JSON.stringify(cells) + " lacks " + pct(want[k]));
    ok(site + ": OEE " + pct(want.oee) + " (A " + pct(want.availability) + ", P " + pct(want.performance) +
       ", Q " + pct(want.quality) + ") on screen = API = raw facts (raw " + want.oee + ", API " + row.oee +
       ", API PPT " + row.planned_production_time_s + " s, run " + row.run_time_s + " s, good " + row.good + ")");
  }
  // A CSV download of the same table.
  const csv = await (await context.request.get(base + "/api/v1/reports/oee?group=site&granularity=none&format=csv&" + range)).text();
  if (!csv.startsWith("site,shift_time_s")) fail("CSV: " + csv.slice(0, 80));
  ok("the OEE table downloads as CSV");

  // The job queue: a rebuild enqueued over the API runs on central's workers and shows on
  // the Jobs page; a payload field no kind takes is refused by name.
  const session = await (await context.request.get(base + "/api/v1/session")).json();
  const post = (path, data) => context.request.post(base + path, { headers: { "X-CSRF-Token": session.csrf_token }, data });
  const site = Object.keys(expected.sites)[0];
  const bad = await post("/api/v1/jobs", { kind: "rollup_rebuild", payload: { site, colour: 1 } });
  if (bad.status() !== 400 || !(await bad.text()).includes("unknown field 'colour'")) fail("bad job payload: " + bad.status());
  const made = await post("/api/v1/jobs", { kind: "rollup_rebuild", payload: { site } });
  if (made.status() !== 200) fail("enqueue a rebuild: " + made.status() + " " + await made.text());
  const job = await made.json();
  // Until the job has ended (30 s at most); its state then.
  const ended = async (id) => {
    for (let i = 0; i < 300; i++) {
      const state = (await (await context.request.get(base + "/api/v1/jobs/" + id)).json()).state;
      if (state === "succeeded" || state === "dead" || state === "cancelled") return state;
      await new Promise((r) => setTimeout(r, 100));
    }
    return "still running";
  };
  const state = await ended(job.id);
  if (state !== "succeeded") fail("job " + job.id + " is " + state);
  await view(page, "page=jobs");
  const cells = await page.locator("main tbody tr", { hasText: "rollup_rebuild" }).first().locator("td").allTextContents();
  if (cells[0] !== String(job.id) || cells[3] !== "succeeded") fail("Jobs page row: " + JSON.stringify(cells));
  // A whole report exported by a job and downloaded equals the reporting API's CSV of it.
  const query = "group=unit&granularity=hour&" + range;
  const exp = await post("/api/v1/jobs", { kind: "report_export", payload: { report: "oee", query } });
  if (exp.status() !== 200) fail("enqueue an export: " + exp.status() + " " + await exp.text());
  const expJob = await exp.json();
  const expState = await ended(expJob.id);
  if (expState !== "succeeded") fail("export job " + expJob.id + " is " + expState);
  const file = await context.request.get(base + "/api/v1/jobs/" + expJob.id + "/file");
  const direct = await (await context.request.get(base + "/api/v1/reports/oee?format=csv&limit=1000&" + query)).text();
  const exported = await file.text();
  if (file.status() !== 200 || exported !== direct)
    fail("export (" + file.status() + ", " + exported.length + " bytes) differs from the API's CSV (" + direct.length + " bytes)");
  if (!/attachment; filename="\d+-oee\.csv"/.test(file.headers()["content-disposition"] || "")) fail("export download name: " + file.headers()["content-disposition"]);
  ok("a report export job's CSV (" + exported.split("\r\n").length + " lines) equals the API's, downloaded from /api/v1/jobs/" + expJob.id + "/file");
  await view(page, "page=jobs");
  await page.screenshot({ path: join(shots, "jobs.png"), fullPage: true });
  ok("a rollup rebuild enqueued over the API ran (job " + job.id + ") and shows on the Jobs page; a bad payload field is refused by name");
  await context.close();
}

// ---- the site manager of porto, on a phone: porto only, whatever the URL says
{
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const { page } = await logIn(context, "porto-manager");
  await view(page, "page=fleet");
  const sites = await page.locator("main tbody tr td:first-child").allTextContents();
  if (sites.join() !== "porto") fail("the porto manager's fleet shows " + JSON.stringify(sites));
  await page.screenshot({ path: join(shots, "fleet-phone-site-manager.png"), fullPage: true });
  ok("a site manager's fleet shows its site only (phone screenshot kept)");
  await view(page, "page=oee&sites=lyon&" + range);
  const refused = await page.textContent("main .error").catch(() => "");
  if (!/not one of yours/.test(refused)) fail("lyon by URL: " + refused);
  const direct = await context.request.get(base + "/api/v1/reports/oee?sites=lyon&" + range);
  if (direct.status() !== 403) fail("lyon by API: " + direct.status());
  const all = await (await context.request.get(base + "/api/v1/reports/downtime-events?" + range)).json();
  if (all.rows.some((r) => r.site !== "porto")) fail("downtime events of another site: " + JSON.stringify(all.rows[0]));
  ok("a site manager cannot see lyon by editing the URL or asking the API");
  await context.close();
}

await browser.close();
console.log("dashboard: all checks passed");
