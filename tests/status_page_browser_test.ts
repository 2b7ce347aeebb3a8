/**
 * The status page in a real browser (issue 4, item 4): Debian's chromium
 * driven by playwright-core loads `/` from the hub's metrics port, and the
 * numbers on the page follow the requests that flow through the hub.
 *
 * Needs `/usr/bin/chromium` (`apt-get install -y chromium`; another path in
 * `POTHEAD_CHROMIUM`). Without it the test fails and says so, unless
 * `POTHEAD_SKIP_BROWSER=1`. `POTHEAD_SCREENSHOT=FILE` saves a picture of the
 * page at the end.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { startHub, startWorker } from "./processes.ts";

const APP = "tests/fixtures/metrics_app.ts";
const CHROMIUM = Deno.env.get("POTHEAD_CHROMIUM") ?? "/usr/bin/chromium";
const WAIT_MS = 15_000;

function findChromium(): string {
  try {
    if (Deno.statSync(CHROMIUM).isFile) return CHROMIUM;
  } catch { /* reported below */ }
  throw new Error(
    `The status page browser test needs chromium at ${CHROMIUM}: install it ` +
      `with 'apt-get install -y chromium' (or point POTHEAD_CHROMIUM at it), ` +
      `or set POTHEAD_SKIP_BROWSER=1 to skip this test.`,
  );
}

/** The text of one number on the page. */
function cell(page: Page, field: string): Promise<string> {
  return page.locator(`tr[data-pool="default"] [data-field="${field}"]`)
    .innerText();
}

/** Waits until the page shows `want` in a field of the default pool's row. */
async function pageShows(
  page: Page,
  field: string,
  want: string,
): Promise<void> {
  try {
    // A string, so this file needs no DOM typings.
    await page.waitForFunction(
      `document.querySelector(${
        JSON.stringify(`tr[data-pool="default"] [data-field="${field}"]`)
      })?.textContent === ${JSON.stringify(want)}`,
      undefined,
      { timeout: WAIT_MS, polling: 50 },
    );
  } catch {
    throw new Error(
      `the page did not show ${field}=${want} within ${WAIT_MS} ms (it shows '${await cell(
        page,
        field,
      )}')`,
    );
  }
}

async function send(url: string): Promise<number> {
  const res = await fetch(url);
  await res.body?.cancel();
  return res.status;
}

Deno.test({
  name:
    "status page in chromium: pools, workers, queue and waits follow the traffic",
  ignore: Deno.env.get("POTHEAD_SKIP_BROWSER") === "1",
  // playwright keeps its own pipes and timers past browser.close()
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const executablePath = findChromium();
    const gate = await Deno.makeTempDir();
    await using hub = await startHub(["--max-queue", "5"]);
    await using _w = await startWorker(
      hub.workerAddr,
      ["--workers", "2", APP],
      2,
    );
    let browser: Browser | null = null;
    try {
      browser = await chromium.launch({
        executablePath,
        headless: true,
        args: [
          "--no-sandbox",
          "--disable-gpu",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--no-first-run",
        ],
      });
      const page = await browser.newPage();
      const pageErrors: string[] = [];
      page.on("pageerror", (err) => pageErrors.push(err.message));
      page.on("console", (msg) => {
        if (msg.type() === "error") pageErrors.push(msg.text());
      });
      const res = await page.goto(`${hub.metricsUrl}/`);
      assert.equal(res?.status(), 200);
      assert.equal(await page.title(), "pothead hub");

      // Live, with the pool and its two idle workers, before any request.
      await page.waitForSelector("#conn[data-state=live]", {
        timeout: WAIT_MS,
      });
      await pageShows(page, "idle", "2");
      await pageShows(page, "busy", "0");
      await pageShows(page, "requests", "0");
      assert.equal(await cell(page, "p50"), "–");
      const before = {
        requests: await cell(page, "requests"),
        idle: await cell(page, "idle"),
      };

      // Traffic: 5 × 200 and one 500.
      for (const code of [200, 200, 500, 200, 200, 200]) {
        assert.equal(await send(`${hub.url}/status/${code}`), code);
      }
      await pageShows(page, "requests", "6");
      await pageShows(page, "errors", "1");
      assert.notEqual(await cell(page, "p50"), "–");
      assert.notEqual(await cell(page, "p99"), "–");

      // Two held jobs and one queued: busy 2, idle 0, queue 1.
      const held = [1, 2, 3].map(() =>
        fetch(`${hub.url}/hold?file=${join(gate, "go")}`)
      );
      await pageShows(page, "busy", "2");
      await pageShows(page, "idle", "0");
      await pageShows(page, "queued", "1");
      const during = {
        busy: await cell(page, "busy"),
        idle: await cell(page, "idle"),
        queued: await cell(page, "queued"),
      };

      await Deno.writeTextFile(join(gate, "go"), "");
      for (const r of held) {
        const res = await r;
        await res.body?.cancel();
        assert.equal(res.status, 200);
      }
      await pageShows(page, "requests", "9");
      await pageShows(page, "busy", "0");
      await pageShows(page, "idle", "2");
      await pageShows(page, "queued", "0");

      // The charts have lines: the queue chart rose to 1 and fell back.
      const lines = page.locator('section[data-pool="default"] svg path');
      const paths: string[] = [];
      for (let i = 0; i < await lines.count(); i++) {
        paths.push(await lines.nth(i).getAttribute("d") ?? "");
      }
      // queue; idle, busy; p50, p99; responses, errors
      assert.equal(paths.length, 7);
      for (const d of paths) assert.match(d, /^M[\d.]+ [\d.]+/);
      for (const i of [0, 1, 2, 5, 6]) assert.match(paths[i], /L/);
      const queueMax = await page.locator(
        'section[data-pool="default"] figure[data-chart="queued"] text',
      ).textContent();
      assert.equal(queueMax, "max 1");

      const after = {
        requests: await cell(page, "requests"),
        errors: await cell(page, "errors"),
        p50: await cell(page, "p50"),
        p99: await cell(page, "p99"),
        uptime: await page.locator("#uptime").innerText(),
      };
      const shot = Deno.env.get("POTHEAD_SCREENSHOT");
      if (shot) await page.screenshot({ path: shot, fullPage: true });
      if (Deno.env.get("POTHEAD_TEST_VERBOSE")) {
        console.error("status page:", { before, during, after });
      }
      assert.deepEqual(pageErrors, []);
    } finally {
      await browser?.close();
      await Deno.remove(gate, { recursive: true });
    }
  },
});
