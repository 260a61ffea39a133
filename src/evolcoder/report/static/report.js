"use strict";
// The page's browsers. DATA holds the task tables and counts; a task's samples and an experiment's
// evolution attempts are blobs (gzip'd JSON, base64) unpacked when first shown.
const DATA = JSON.parse(document.getElementById("data").textContent);
const cache = new Map();
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const pct = (x) => (100 * x).toFixed(1);

async function blob(n) {
  if (!cache.has(n)) {
    const text = JSON.parse(document.getElementById("b" + n).textContent);
    const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    cache.set(n, new Response(stream).text().then(JSON.parse));
  }
  return cache.get(n);
}

function highlight(code, tok) {
  let out = "", at = 0;
  for (let i = 0; i < tok.length; i += 2) {
    const part = esc(code.substr(at, tok[i])), cls = DATA.classes[tok[i + 1]];
    out += cls ? `<span class="${cls}">${part}</span>` : part;
    at += tok[i];
  }
  return `<pre class="code">${out}${esc(code.slice(at))}</pre>`;
}

function options(select, items) {
  select.innerHTML = items.map(([value, text]) => `<option value="${esc(value)}">${esc(text)}</option>`).join("");
}

// ---- tabs ----
function showTab(name) {
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.tab === name);
  for (const s of document.querySelectorAll(".tab")) s.hidden = s.id !== "tab-" + name;
  if (name === "evolution") renderChains(true);
}
for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => showTab(b.dataset.tab));
$("notes").innerHTML = DATA.notes.map((n) => `<li>${esc(n)}</li>`).join("");

// ---- task tables ----
const COLUMNS = [
  ["id", "task", (t) => esc(t.id)],
  ["n", "samples", (t) => t.n, "num"],
  ["base", "base ✓", (t) => t.base, "num"],
  ["plus", "base+plus ✓", (t) => t.plus, "num"],
  ["rate", "pass@1 %", (t) => pct(t.pass / t.n), "num"],
  ["verdict", "verdict", (t) => `<span class="badge ${t.verdict}">${t.verdict}</span>`],
  ["kinds", "failure kinds", (t) => Object.entries(t.kinds).map(([k, n]) => `${esc(k)}×${n}`).join(", ")],
  ["msg", "first failure", (t) => esc(t.msg), "msg"],
];
const SORT_KEY = {
  id: (t) => t.order, rate: (t) => t.pass / t.n, kinds: (t) => t.n - t.pass,
  msg: (t) => t.msg, verdict: (t) => DATA.verdicts.indexOf(t.verdict),
};
const tableState = { run: 0, sort: "id", dir: 1, open: null };

function setupTasks() {
  options($("run-select"), DATA.runs.map((r, i) => [i, `${r.label} — ${r.benchmark} (${r.tasks.length} tasks)`]));
  options($("verdict-filter"), [["", "all"], ...DATA.verdicts.map((v) => [v, v]), ["plus_only", "passed base, failed plus"]]);
  options($("kind-filter"), [["", "all"], ...DATA.kinds.map((k) => [k, k])]);
  for (const r of DATA.runs) r.tasks.forEach((t, i) => (t.order = i));
  $("run-select").addEventListener("change", (e) => { tableState.run = +e.target.value; renderTable(); });
  for (const id of ["verdict-filter", "kind-filter", "task-search"]) $(id).addEventListener("input", renderTable);
  const head = $("task-table").tHead;
  head.innerHTML = "<tr>" + COLUMNS.map(([key, title]) => `<th data-key="${key}">${title}</th>`).join("") + "</tr>";
  head.addEventListener("click", (e) => {
    const key = e.target.dataset.key;
    if (!key) return;
    tableState.dir = tableState.sort === key ? -tableState.dir : 1;
    tableState.sort = key;
    renderTable();
  });
  $("task-table").tBodies[0].addEventListener("click", (e) => {
    const row = e.target.closest("tr");
    if (row) openTask(tableState.run, row.dataset.id, $("task-detail"));
  });
  if (!DATA.runs.length) $("tab-tasks").insertAdjacentHTML("afterbegin", "<p>No eval results were given: no task tables.</p>");
  renderTable();
}

function visibleTasks(run) {
  const verdict = $("verdict-filter").value, kind = $("kind-filter").value, search = $("task-search").value.trim();
  return run.tasks.filter((t) =>
    (!verdict || (verdict === "plus_only" ? t.plus_only > 0 : t.verdict === verdict)) &&
    (!kind || t.kinds[kind] > 0) && (!search || t.id.includes(search)));
}

function renderTable() {
  const run = DATA.runs[tableState.run];
  if (!run) return;
  const key = SORT_KEY[tableState.sort] || ((t) => t[tableState.sort]);
  const rows = visibleTasks(run).sort((a, b) => {
    const x = key(a), y = key(b);
    return (x < y ? -1 : x > y ? 1 : a.order - b.order) * tableState.dir;
  });
  for (const th of $("task-table").tHead.rows[0].cells) {
    th.className = th.dataset.key === tableState.sort ? (tableState.dir > 0 ? "asc" : "desc") : "";
  }
  $("task-table").tBodies[0].innerHTML = rows.map((t) =>
    `<tr data-id="${esc(t.id)}"${t.id === tableState.open ? ' class="open"' : ""}>` +
    COLUMNS.map(([, , cell, cls]) => `<td${cls ? ` class="${cls}"` : ""}>${cell(t)}</td>`).join("") + "</tr>").join("");
  $("task-count").textContent = `${rows.length} of ${run.tasks.length} tasks shown`;
  $("run-notes").textContent = [run.folder, ...run.notes].join(" · ");
}

// ---- one task: prompt, samples, programs, failures ----
async function openTask(runIndex, taskId, target) {
  const run = DATA.runs[runIndex], task = run.tasks.find((t) => t.id === taskId);
  if (target === $("task-detail")) {
    tableState.open = taskId;
    for (const tr of $("task-table").tBodies[0].rows) tr.classList.toggle("open", tr.dataset.id === taskId);
  }
  if (!task) { target.innerHTML = `<p>${esc(taskId)} is not in ${esc(run.label)}.</p>`; return; }
  const data = await blob(task.blob);
  const first = data.samples.findIndex((s) => s.kind !== null);
  renderTask(run, data, Math.max(first, 0), target);
}

function renderTask(run, data, k, target) {
  const s = data.samples[k];
  const chips = data.samples.length > 1 ? `<div class="chips">${data.samples.map((x, i) =>
    `<span class="chip ${x.kind === null ? "pass" : "fail"}${i === k ? " current" : ""}" data-k="${i}">#${x.i}</span>`).join("")}</div>` : "";
  target.innerHTML =
    `<h3>${esc(data.id)} <span class="muted">${esc(run.label)} · ${esc(run.benchmark)}</span></h3>` +
    `<details${data.prompt ? "" : " hidden"}><summary>Prompt</summary><pre class="wrap">${esc(data.prompt)}</pre></details>` +
    chips + `<div class="sample"><h4>Sample #${s.i}</h4>` +
    verdictHtml("base", s.base, s.base_failure, s.base_fail, s.recorded) +
    (s.plus === null ? "" : verdictHtml("plus", s.plus, s.plus_failure, s.plus_fail, s.recorded)) +
    `<h4>Extracted program</h4>${highlight(s.solution, s.tok)}` +
    `<details class="raw"><summary>Raw response</summary>` +
    (s.raw == null ? `<p class="muted">not in the samples file</p>` : `<pre class="wrap">${esc(s.raw)}</pre>`) +
    `</details></div>`;
  for (const chip of target.querySelectorAll(".chip")) chip.addEventListener("click", () => renderTask(run, data, +chip.dataset.k, target));
}

function verdictHtml(set, status, failure, failTests, recorded) {
  const head = `<div><b>${set} tests:</b> <span class="badge ${status}">${esc(status)}</span>`;
  if (status === "pass") return head + "</div>";
  let body = "";
  if (failure) {
    const fields = Object.entries(failure).filter(([key]) => key !== "kind" && key !== "message");
    body = ` <span class="badge kind">${esc(failure.kind)}</span> ${esc(failure.message)}` +
      `<dl>${fields.map(([key, value]) => `<dt>${esc(key)}</dt><dd>${esc(value)}</dd>`).join("")}</dl>`;
  } else {
    body = ` <span class="muted">${recorded ? "no failure record" : "failure details not recorded by this eval (kind unknown)"}</span>`;
  }
  const tests = failTests.length ? `<dl><dt>failing input${failTests.length > 1 ? "s" : ""}</dt><dd>${failTests.map(esc).join("\n")}</dd></dl>` : "";
  return `<div class="failure">${head}${body}${failure && failure.input != null ? "" : tests}</div></div>`;
}

// ---- side by side ----
function setupPairs() {
  if (!DATA.pairs.length) {
    $("pair-view").innerHTML = "<p>No two results on the same benchmark: nothing to compare side by side.</p>";
    $("pair-select").parentElement.hidden = true;
    return;
  }
  options($("pair-select"), DATA.pairs.map((p, i) => [i, `${DATA.runs[p.a].label} vs ${DATA.runs[p.b].label} (${p.benchmark})`]));
  $("pair-select").addEventListener("change", renderPair);
  $("pair-view").addEventListener("click", (e) => {
    const link = e.target.closest("a[data-task]");
    if (!link) return;
    const p = DATA.pairs[+$("pair-select").value];
    $("pair-detail").innerHTML = '<div class="detail" id="pair-a"></div><div class="detail" id="pair-b"></div>';
    openTask(p.a, link.dataset.task, $("pair-a"));
    openTask(p.b, link.dataset.task, $("pair-b"));
  });
  renderPair();
}

function renderPair() {
  const p = DATA.pairs[+$("pair-select").value], a = DATA.runs[p.a].label, b = DATA.runs[p.b].label;
  const links = (ids) => ids.length ? ids.map((id) => `<a data-task="${esc(id)}">${esc(id)}</a>`).join("") : '<span class="muted">none</span>';
  const p_text = p.p < 0.001 ? p.p.toExponential(2) : p.p.toFixed(3);
  $("pair-view").innerHTML =
    `<p class="stat">On the <b>${p.common}</b> ${esc(p.benchmark)} tasks both answered: both pass <b>${p.both_pass}</b>, both fail <b>${p.both_fail}</b>, ` +
    `gained <b id="n-gained">${p.gained.length}</b> (${esc(b)} passes more often), lost <b id="n-lost">${p.lost.length}</b>.</p>` +
    `<p class="stat">Exact two-sided sign test on the ${p.gained.length + p.lost.length} discordant tasks (p = 0.5 each way): ` +
    `<b id="p-value">p = ${p_text}</b>${p.p < 0.05 ? "" : " — no evidence that either model is better"}.</p>` +
    `<h4>Gained (${esc(a)} → ${esc(b)})</h4><div class="tasklist" id="gained">${links(p.gained)}</div>` +
    `<h4>Lost</h4><div class="tasklist" id="lost">${links(p.lost)}</div>`;
  $("pair-detail").innerHTML = "";
}

// ---- evolution ----
const evoState = { shown: 50 };
function setupEvolution() {
  if (!DATA.evolutions.length) {
    $("tab-evolution").innerHTML = "<p>No evolution attempts: give an experiment folder (written by <code>evolcoder run</code>) to browse its evolution.</p>";
    return;
  }
  options($("evo-select"), DATA.evolutions.map((e, i) => [i, `${e.experiment} (${e.n_seeds} seeds, ${e.n_attempts} attempts)`]));
  for (const id of ["evo-select", "heuristic-filter", "reason-filter"]) $(id).addEventListener("change", () => renderChains(id === "evo-select"));
  $("more-chains").addEventListener("click", () => { evoState.shown += 50; renderChains(false); });
}

async function renderChains(reset) {
  if (!DATA.evolutions.length) return;
  const evo = DATA.evolutions[+$("evo-select").value];
  if (!evo) return;
  if (reset) {
    const later = evo.verify.length ? [["later", "kept, passed verification on a later try"]] : [];
    options($("heuristic-filter"), [["", "all"], ...evo.counts.map(([h]) => [h, h])]);
    options($("reason-filter"), [["", "all"], ["kept", "kept"], ...later, ...evo.reasons.map(([r]) => [r, `eliminated: ${r}`])]);
    $("evo-counts").innerHTML = countsHtml(evo);
    evoState.shown = 50;
  }
  const chains = await blob(evo.blob);
  const h = $("heuristic-filter").value, r = $("reason-filter").value;
  const outcome = (s) => r === "kept" ? s.kept : r === "later" ? s.kept && s.tries.length > 1 : !s.kept && s.reason === r;
  const matches = (s) => (!h || s.heuristic === h) && (!r || outcome(s));
  const found = chains.filter((c) => c.steps.some(matches));
  $("chain-count").textContent = `${found.length} of ${chains.length} seeds`;
  $("chains").innerHTML = found.slice(0, evoState.shown).map((c) =>
    `<div class="chain"><h4>${esc(c.seed)}</h4><details><summary>seed instruction</summary><pre class="wrap">${esc(c.steps[0].original)}</pre></details>` +
    c.steps.map((s) => `<div class="step${matches(s) && (h || r) ? " match" : ""}"><span>round ${esc(s.round)}</span><span>${esc(s.heuristic)}</span>` +
      `<span>${verdictBadge(s)}</span>` +
      `<div><div class="text">${esc(s.instruction)}</div><details><summary>answer</summary><pre class="wrap">${esc(s.answer)}</pre></details>${triesHtml(s)}</div></div>`).join("") +
    "</div>").join("");
  $("more-chains").hidden = found.length <= evoState.shown;
}

// The counts per heuristic; with --verify tests, each heuristic's verified answers beside them.
function countsHtml(evo) {
  const checked = new Map(evo.verify.map(([h, ...c]) => [h, c]));
  const extra = evo.verify.length ? "<th>verified</th><th>passed</th><th>verified %</th><th>passed on a later try</th>" : "";
  const cells = (h) => {
    if (!evo.verify.length) return "";
    const [v, p, l] = checked.get(h) || [0, 0, 0];
    return `<td class="num">${v}</td><td class="num">${p}</td><td class="num">${v ? pct(p / v) : "–"}</td><td class="num">${l}</td>`;
  };
  return `<table class="data" id="heuristic-counts"><thead><tr><th>heuristic</th><th>attempted</th><th>kept</th><th>kept %</th>${extra}</tr></thead><tbody>` +
    evo.counts.map(([h, n, k]) => `<tr><td>${esc(h)}</td><td class="num">${n}</td><td class="num">${k}</td><td class="num">${pct(k / n)}</td>${cells(h)}</tr>`).join("") +
    `</tbody></table><p class="muted">Eliminated: ${evo.reasons.map(([r, n]) => `${esc(r)} ${n}`).join(", ") || "none"}</p>`;
}

function verdictBadge(s) {
  if (!s.kept) return `<span class="badge fail${s.tries.length ? " verify" : ""}">${esc(s.reason)}</span>`;
  const tries = s.tries.length ? ` <span class="badge verified">verified, try ${s.tries.length}</span>` : "";
  return '<span class="badge pass">kept</span>' + tries;
}

// Each verification try: its outcome and why, the tests the teacher wrote, its answer if not the one shown.
function triesHtml(s) {
  if (!s.tries.length) return "";
  const last = s.tries[s.tries.length - 1];
  return `<details class="verify"><summary>verification: ${s.tries.length} ${s.tries.length > 1 ? "tries" : "try"}, ${esc(last.outcome)}</summary>` +
    s.tries.map((t) => `<div class="try" data-try="${t.n}"><b>try ${t.n}</b> ` +
      `<span class="badge ${t.outcome === "passed" ? "pass" : "fail"}">${esc(t.outcome)}</span>` +
      (t.detail ? ` <span class="try-detail">${esc(t.detail)}</span>` : "") +
      (t.tests ? `<pre class="wrap tests">${esc(t.tests)}</pre>` : '<p class="muted">no tests run</p>') +
      (t.answer === null ? "" : `<details class="try-answer"><summary>this try's answer</summary><pre class="wrap">${esc(t.answer)}</pre></details>`) +
      "</div>").join("") + "</details>";
}

setupTasks();
setupPairs();
setupEvolution();
performance.mark("ready");
document.body.dataset.ready = "1";
