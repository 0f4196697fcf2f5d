// An operator completes a small work order end to end through the web terminal, in a
// real headless Chromium. Usage: node terminal_test.mjs EDGE_URL SCREENSHOT_DIR
import { chromium } from "playwright-core";
import { join } from "node:path";

const [base, shots] = process.argv.slice(2);
let passed = 0;
const ok = (what) => { passed++; console.log("ok   " + what); };
const fail = (what) => { console.error("FAIL " + what); process.exit(1); };

async function api(method, path, body, token) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = "Bearer " + token;
  const res = await fetch(base + path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const data = await res.json();
  if (!res.ok) fail(method + " " + path + ": " + JSON.stringify(data));
  return data;
}

// The supervisor releases WO-1001 (supervisor work is not the operator page's job).
const sam = (await api("POST", "/api/v1/sessions", { badge_id: "2001", pin: "1234" })).token;
const wo = (await api("GET", "/api/v1/work-orders?number=WO-1001", null, sam)).items[0];
await api("POST", "/api/v1/work-orders/" + wo.id + "/release", null, sam);

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],  // Playwright gives it a fresh temporary profile
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
page.setDefaultTimeout(10000);
const t = (id) => page.getByTestId(id);
const message = async (text) => {
  await page.waitForFunction((want) => document.getElementById("message").textContent.includes(want), text);
};
const status = (order, seq) => page.getByTestId("op-" + order + "-" + seq).getByTestId("status");

async function badgeIn(badge, unitCode, name) {
  await t("unit").fill(unitCode);
  await t("badge").fill(badge);
  await t("pin").fill("1234");
  await t("badge-in").click();
  await page.waitForFunction((n) => document.getElementById("who").textContent.includes(n), name);
}

async function runStep(seq, good, extra) {
  const row = page.getByTestId("op-WO-1001-" + seq);
  await row.getByTestId("start").click();
  await page.waitForFunction((s) => {
    const r = document.querySelector('[data-testid="op-WO-1001-' + s + '"] [data-testid=status]');
    return r && r.textContent === "Running";
  }, String(seq));
  await t("good").fill(String(good));
  await t("report-good").click();
  await message("Reported " + good + " good");
  if (extra) await extra();
  await t("complete").click();
  await message("Operation " + seq + " completed");
}

try {
  await page.goto(base + "/terminal?unit=L1-CUT");
  await t("badge").fill("1001");
  await t("pin").fill("0000");
  await t("badge-in").click();
  await message("badge or PIN not recognised");
  ok("a wrong PIN is refused on the page");

  await badgeIn("1001", "L1-CUT", "Ana Operator");
  if ((await status("WO-1001", 10).textContent()) !== "Ready") fail("step 10 is not Ready in the queue");
  await runStep(10, 50, async () => {
    await t("scrap").fill("1");
    await t("scrap-reason").selectOption("");
    await t("report-scrap").click();
    await message("scrap_needs_reason");
    ok("scrap without a reason is refused with the rule's name");
    await t("stop").click();
    await page.waitForFunction(() => document.getElementById("downtime-state").textContent.includes("reason missing"));
    // The reason tree: DT-MECH-JAM sits under DT-MECH, indented.
    const labels = await t("downtime-reason").locator("option").allTextContents();
    const mech = labels.findIndex((l) => l.trim() === "DT-MECH Mechanical");
    if (mech < 0 || !labels[mech + 1].startsWith("\u00a0") || !labels.slice(mech + 1, mech + 3).some((l) => l.trim() === "DT-MECH-JAM Part jammed"))
      fail("downtime reasons are not shown as a tree: " + JSON.stringify(labels));
    await t("downtime-reason").selectOption({ label: "\u00a0\u00a0\u00a0DT-MECH-JAM Part jammed" });
    await t("classify").click();
    await message("Reason recorded");
    await t("resume-downtime").click();
    await page.waitForFunction(() => document.getElementById("downtime-state").textContent === "Running");
    ok("a downtime stops the unit, gets its reason and ends");
  });
  ok("step 10 started, counted and completed on L1-CUT");

  await t("badge-out").click();
  await message("Badged out");
  await badgeIn("1001", "L1-PRESS", "Ana Operator");
  await runStep(20, 48, async () => {
    await t("scrap").fill("2");
    await t("scrap-reason").selectOption({ label: "SC-DIM Out of tolerance" });
    await t("report-scrap").click();
    await message("Reported 2 scrap");
    await t("characteristic").selectOption({ label: "Hole diameter [mm]" });
    await t("value").fill("8.02");
    await t("record").click();
    await message("In spec");
  });
  ok("step 20 with scrap and an in-spec measurement on L1-PRESS");

  await t("badge-out").click();
  await message("Badged out");
  if ((await t("measure-result").textContent()) !== "") fail("the previous operator's measurement is still shown");
  await badgeIn("1002", "L1-PACK", "Ben Operator");
  await runStep(30, 48);
  await page.screenshot({ path: join(shots, "terminal.png"), fullPage: true });
  ok("step 30 on L1-PACK by another operator");

  const done = await api("GET", "/api/v1/work-orders/" + wo.id, null, sam);
  if (done.status !== "Completed") fail("work order is " + done.status + ", wanted Completed");
  if (done.good_quantity !== 48 || done.scrap_quantity !== 2) fail("totals: " + done.good_quantity + " good, " + done.scrap_quantity + " scrap");
  ok("WO-1001 is Completed with 48 good and 2 scrap");
} catch (e) {
  await page.screenshot({ path: join(shots, "terminal-failure.png"), fullPage: true }).catch(() => {});
  console.error(e);
  fail("browser step failed (screenshot: " + join(shots, "terminal-failure.png") + ")");
} finally {
  await browser.close();
}
console.log(passed + " passed, 0 failed");
