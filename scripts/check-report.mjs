// Browser half of scripts/check-report (run it through that script, which installs
// Debian's Chromium and a pinned playwright-core and sets CHECK_REPORT_TOOLS).
//
//   node scripts/check-report.mjs REPORT_HTML SCREENSHOT_PNG
//
// Opens REPORT_HTML (a file) headless in /usr/bin/chromium with a fresh, empty user-data-dir,
// and fails (exit 1, one "FAIL ..." line per problem on stderr) when the page
//   - logs a console error or warning, or throws (uncaught exception), or the renderer crashes;
//   - requests anything but the file itself and data: URLs (such requests are also aborted, so
//     nothing leaves the machine);
//   - has an <img> that did not load (naturalWidth 0), lazy images included (made eager first);
//   - has no svg.plot element;
//   - has a Figure 5 section (section.figure5, one per image task) with neither a plot nor a
//     note saying why, or a plot there that is not laid out (zero width);
//   - gives a full-page screenshot with < 0.2 % of its pixels within ±8 per channel of
//     rgb(244,182,182), the fill of every U–P plot's impossible region (counted outside the
//     Figure 5 sections, which have none).
// The screenshot is saved to SCREENSHOT_PNG in every case it could be taken, and one summary
// line goes to stdout. Exit 0: all good; 1: a check failed; 2: could not run the check.
// Pixels are counted by decoding the PNG with Node's own zlib (no image library).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inflateSync } from 'node:zlib';
import { createRequire } from 'node:module';

const TARGET = [244, 182, 182];
const TOLERANCE = 8;
const MIN_FRACTION = 0.002;
const VIEWPORT = { width: 1280, height: 900 };
const TIMEOUT_MS = 60_000;
const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

const [htmlArg, pngArg] = process.argv.slice(2);
if (!htmlArg || !pngArg) {
  console.error('usage: node scripts/check-report.mjs REPORT_HTML SCREENSHOT_PNG');
  process.exit(2);
}
const htmlPath = resolve(htmlArg);
const pngPath = resolve(pngArg);
const pageUrl = pathToFileURL(htmlPath).href;
const label = htmlArg;

// playwright-core lives in the ignored target/report-check/ (CHECK_REPORT_TOOLS); resolve it
// from there through require, as NODE_PATH does not reach ESM imports.
let chromium;
try {
  const require = createRequire(join(process.env.CHECK_REPORT_TOOLS || process.cwd(), 'package.json'));
  ({ chromium } = require('playwright-core'));
} catch (e) {
  console.error(`check-report: cannot load playwright-core (${e.message}); run scripts/check-report, which installs it`);
  process.exit(2);
}

const failures = [];
const fail = (msg) => failures.push(msg);

// A request is allowed only for the page itself (any #fragment) or a data: URL.
function allowed(url) {
  if (url.startsWith('data:')) return true;
  return url.split('#')[0] === pageUrl;
}

const userDataDir = mkdtempSync(join(tmpdir(), 'check-report-profile-'));
let context;
let summary = null;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: VIEWPORT,
    deviceScaleFactor: 1,
    offline: true,
    timeout: TIMEOUT_MS,
  });
  context.setDefaultTimeout(TIMEOUT_MS);
  const page = context.pages()[0] ?? (await context.newPage());

  page.on('console', (msg) => {
    const type = msg.type();
    if (type === 'error' || type === 'warning') {
      const loc = msg.location();
      const where = loc && loc.url ? ` (${loc.url}${loc.lineNumber ? ':' + loc.lineNumber : ''})` : '';
      fail(`console ${type}: ${msg.text()}${where}`);
    }
  });
  page.on('pageerror', (err) => fail(`uncaught exception: ${err.message.split('\n')[0]}`));
  page.on('crash', () => fail('the page crashed'));
  page.on('dialog', (d) => { fail(`the page opened a ${d.type()} dialog`); d.dismiss().catch(() => {}); });
  page.on('popup', () => fail('the page opened a popup window'));
  const badRequests = new Set();
  const noteRequest = (url) => {
    if (!allowed(url) && !badRequests.has(url)) {
      badRequests.add(url);
      fail(`request to something other than the report itself: ${url.length > 200 ? url.slice(0, 200) + '…' : url}`);
    }
  };
  page.on('request', (req) => noteRequest(req.url()));
  context.on('request', (req) => noteRequest(req.url()));
  page.on('websocket', (ws) => noteRequest(ws.url()));
  // Abort anything that is not the page or data: before it leaves the machine (data: URLs are
  // not routed; the request handler above has already recorded the attempt).
  await context.route('**/*', (route) => {
    const url = route.request().url();
    return allowed(url) ? route.continue() : route.abort('blockedbyclient');
  });

  const response = await page.goto(pageUrl, { waitUntil: 'load' });
  if (response && !response.ok() && response.status() !== 0) {
    fail(`the report itself did not load (status ${response.status()})`);
  }

  // Images: make lazy ones eager, wait for every one to settle, then read naturalWidth.
  const images = await page.evaluate(async () => {
    const imgs = [...document.images];
    for (const img of imgs) if (img.loading === 'lazy') img.loading = 'eager';
    await Promise.all(imgs.map((img) => (img.complete ? null : new Promise((ok) => {
      img.addEventListener('load', ok, { once: true });
      img.addEventListener('error', ok, { once: true });
    }))));
    return imgs.map((img) => ({
      src: img.currentSrc || img.getAttribute('src') || '',
      ok: img.complete && img.naturalWidth > 0,
    }));
  });
  const brokenImages = images.filter((i) => !i.ok);
  for (const img of brokenImages) {
    const src = img.src.startsWith('data:') ? img.src.slice(0, 40) + '…' : img.src;
    fail(`<img> did not load (naturalWidth 0): ${src || '(no src)'}`);
  }

  const plots = await page.locator('svg.plot').count();
  if (plots === 0) fail('no svg.plot element in the page');
  // Image tasks' Figure 5 sections: each shows a plot or says why not, and each plot is laid out.
  const figure5 = await page.locator('section.figure5').evaluateAll((sections) => sections.map((s) => ({
    id: s.id,
    area: s.getBoundingClientRect().width * s.getBoundingClientRect().height,
    plots: [...s.querySelectorAll('svg.plot')].map((p) => p.getBoundingClientRect().width),
    notes: s.querySelectorAll('p.note').length,
  })));
  for (const s of figure5) {
    if (s.plots.length === 0 && s.notes === 0) fail(`${s.id}: the Figure 5 section has no plot and no note saying why`);
    if (s.plots.some((w) => !(w > 0))) fail(`${s.id}: a Figure 5 plot has no width on the page`);
  }

  // Let late console messages and requests arrive before the screenshot.
  await page.evaluate(() => new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok))));
  const png = await page.screenshot({ path: pngPath, fullPage: true, animations: 'disabled', type: 'png' });
  const { width, height, matches } = countColour(png, TARGET, TOLERANCE);
  // Figure 5 plots have no impossible region: the fraction is of the page outside them, so that
  // a run with many image tasks is held to the same share as one with few.
  const outside = width * height - figure5.reduce((sum, s) => sum + s.area, 0);
  const fraction = matches / Math.max(outside, 1);
  if (fraction < MIN_FRACTION) {
    fail(`only ${(fraction * 100).toFixed(3)}% of the screenshot's pixels are the impossible-region colour ` +
      `#F4B6B6 (±${TOLERANCE}); needs at least ${(MIN_FRACTION * 100).toFixed(1)}% — are the plots drawn?`);
  }
  summary = { plots, figure5: figure5.length, images: images.length, brokenImages: brokenImages.length, fraction, width, height };
} catch (e) {
  fail(`browser check could not finish: ${e.message.split('\n')[0]}`);
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}

const shot = summary ? ` screenshot ${summary.width}x${summary.height} -> ${pngArg}` : '';
const counts = summary
  ? `${summary.plots} plot(s), ${summary.figure5} Figure 5 section(s), ${summary.images} image(s)${summary.brokenImages ? ` (${summary.brokenImages} broken)` : ''}, ` +
    `#F4B6B6 pixels ${(summary.fraction * 100).toFixed(2)}%`
  : 'no counts';
if (failures.length) {
  for (const f of failures) console.error(`check-report: FAIL ${label}: ${f}`);
  console.log(`check-report: FAILED ${label}: ${failures.length} problem(s); ${counts};${shot || ' no screenshot'}`);
  process.exit(1);
}
console.log(`check-report: OK ${label}: ${counts};${shot}`);

// --- PNG decoding (8-bit RGB/RGBA/grey, non-interlaced, as Chromium writes) with node:zlib ---
function countColour(buf, [r0, g0, b0], tol) {
  const SIG = '89504e470d0a1a0a';
  if (buf.subarray(0, 8).toString('hex') !== SIG) throw new Error('screenshot is not a PNG');
  let pos = 8, width = 0, height = 0, depth = 0, ctype = 0, interlace = 0;
  const idat = [];
  let palette = null;
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0); height = data.readUInt32BE(4);
      depth = data[8]; ctype = data[9]; interlace = data[12];
    } else if (type === 'PLTE') palette = data;
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    pos += 12 + len;
  }
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[ctype];
  if (depth !== 8 || !channels || interlace !== 0 || (ctype === 3 && !palette)) {
    throw new Error(`unsupported PNG (bit depth ${depth}, colour type ${ctype}, interlace ${interlace})`);
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length < (stride + 1) * height) throw new Error('truncated PNG data');
  let prev = Buffer.alloc(stride);
  let cur = Buffer.alloc(stride);
  let matches = 0;
  for (let y = 0; y < height; y++) {
    const off = y * (stride + 1);
    const filter = raw[off];
    for (let x = 0; x < stride; x++) {
      const v = raw[off + 1 + x];
      const a = x >= channels ? cur[x - channels] : 0;
      const b = prev[x];
      const c = x >= channels ? prev[x - channels] : 0;
      let out;
      switch (filter) {
        case 0: out = v; break;
        case 1: out = v + a; break;
        case 2: out = v + b; break;
        case 3: out = v + ((a + b) >> 1); break;
        case 4: {
          const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
          out = v + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
          break;
        }
        default: throw new Error(`bad PNG filter ${filter} on row ${y}`);
      }
      cur[x] = out & 0xff;
    }
    for (let x = 0; x < width; x++) {
      let r, g, b;
      if (ctype === 2 || ctype === 6) { const i = x * channels; r = cur[i]; g = cur[i + 1]; b = cur[i + 2]; }
      else if (ctype === 3) { const i = cur[x] * 3; r = palette[i]; g = palette[i + 1]; b = palette[i + 2]; }
      else { r = g = b = cur[x * channels]; }
      if (Math.abs(r - r0) <= tol && Math.abs(g - g0) <= tol && Math.abs(b - b0) <= tol) matches++;
    }
    [prev, cur] = [cur, prev];
  }
  return { width, height, matches };
}
