// Drives the operations console in headless Chromium with Playwright: sign in, filter by
// producer, filter by workflowInstanceId, open a transaction, download its support bundle,
// look at the reports. Screenshots go to the artifacts folder; a JSON summary to stdout.
//   node e2e.mjs <admin base URL> <user> <password> <producer CN> <workflowInstanceId> <artifacts dir>
// CHROMIUM overrides the browser (default /usr/bin/chromium, Debian's package).
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// playwright-core from the test tools folder (PLAYWRIGHT_CORE: its index.mjs).
const { chromium } = await import(process.env.PLAYWRIGHT_CORE || 'playwright-core');

const [base, user, password, producer, wii, out] = process.argv.slice(2);
mkdirSync(out, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const summary = {};
try {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const shot = (name) => page.screenshot({ path: join(out, `${name}.png`), fullPage: true });
  // Column of a cell in the transaction table.
  const column = async (n) => page.$$eval(`tbody tr td:nth-child(${n})`, (cells) => cells.map((c) => c.textContent.trim()));

  // Signed out: the console sends the browser to its sign-in page.
  await page.goto(`${base}/console/transactions`);
  if (!page.url().endsWith('/console/login')) throw new Error(`not redirected to sign-in: ${page.url()}`);
  await shot('01-sign-in');
  await page.fill('input[name=user]', user);
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForURL('**/console/transactions'), page.click('button[type=submit]')]);
  summary.all = (await column(2)).length;
  await shot('02-transactions');

  // Filter by producer.
  await page.selectOption('select[name=producer]', producer);
  await Promise.all([page.waitForURL(/producer=/), page.click('#filters button[type=submit]')]);
  summary.producers = [...new Set(await column(3))];
  summary.byProducer = (await column(2)).length;
  await shot('03-filter-producer');

  // Filter by workflowInstanceId (any producer).
  await page.selectOption('select[name=producer]', '');
  await page.fill('input[name=id]', wii);
  await Promise.all([page.waitForURL(/id=/), page.click('#filters button[type=submit]')]);
  summary.workflowIds = [...new Set(await column(10))];
  summary.byWorkflow = (await column(2)).length;
  await shot('04-filter-workflow');

  // Open the newest transaction of that workflow (the publication), then its bundle.
  const links = await page.$$('tbody tr td:nth-child(2) a');
  await Promise.all([page.waitForURL(/\/console\/transactions\/[0-9a-f-]{36}$/), links[0].click()]);
  summary.opened = page.url().split('/').pop();
  summary.trail = await page.$$eval('h2', (h) => h.map((x) => x.textContent));
  await shot('05-transaction');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#bundle')]);
  const file = join(out, download.suggestedFilename());
  await download.saveAs(file);
  const bundle = JSON.parse(readFileSync(file, 'utf8'));
  summary.bundleFile = file;
  summary.bundleTransaction = bundle.transactionId;

  for (const [name, path] of [['06-rejections', '/console/rejections'], ['07-outbox', '/console/outbox'], ['08-health', '/console/health']]) {
    await page.goto(`${base}${path}`);
    await shot(name);
  }
  summary.health = await page.textContent('#check-gateway');
} finally {
  await browser.close();
}
console.log(JSON.stringify(summary));
