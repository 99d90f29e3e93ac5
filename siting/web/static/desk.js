// The reviewer's desk: a decision (采纳 / 不采纳 / 需补充材料) and a note on a check, overall or on one
// finding, appended to the audit log (POST /api/checks/{id}/decisions); and the history of recent checks
// (GET /api/checks), each of which can be opened, replayed against today's rules and layers, or downloaded.
// Loaded after app.js and using its page helpers ($, element, post, clearErrors, clearResult, showResult,
// shownFindings); app.js announces each rendered answer with the "siting:checked" event.
// Every value from the server is written with textContent, never as HTML.
"use strict";

const DESK_DECISIONS = ["采纳", "不采纳", "需补充材料"];
const DESK_NOTE_MAX = 2000;
const OVERALL_SCOPE = "总体结论";
const CST_OFFSET_MS = 8 * 3600 * 1000;  // China Standard Time: UTC+8, no daylight saving
let deskCheck = null;  // { id, decisions } of the check on the page
let deskForms = 0;  // a distinct name for each form's radio group

// A stored UTC time as the reviewer reads it (siting.audit.log.shown_time): China Standard Time, to the second.
function cstTime(stored) {
  const instant = Date.parse(stored);
  if (Number.isNaN(instant)) return String(stored);
  return new Date(instant + CST_OFFSET_MS).toISOString().slice(0, 19).replace("T", " ");
}

function scopeText(ruleId) {
  return ruleId ? `条款 ${ruleId}` : OVERALL_SCOPE;
}

function checkUrl(checkId, tail = "") {
  return `/api/checks/${encodeURIComponent(checkId)}${tail}`;
}

// One decision form, for the overall verdict (ruleId null) or for one rule's finding.
function decisionForm(ruleId) {
  const form = element("form", null, "desk-form");
  form.noValidate = true;
  form.dataset.rule = ruleId || "";
  const name = `desk-decision-${++deskForms}`;
  const choices = element("fieldset", null, "desk-choices");
  choices.dataset.field = "decision";
  choices.appendChild(element("legend", ruleId ? `对条款 ${ruleId} 的审查决定` : "对总体结论的审查决定"));
  for (const decision of DESK_DECISIONS) {
    const label = element("label");
    const radio = element("input");
    radio.type = "radio";
    radio.name = name;
    radio.value = decision;
    label.append(radio, decision);
    choices.appendChild(label);
  }
  const noteLabel = element("label", "备注（可选，至多 2000 字）", "desk-note");
  noteLabel.dataset.field = "note";
  const note = element("textarea");
  note.name = "note";
  note.rows = 2;
  note.maxLength = DESK_NOTE_MAX;
  note.placeholder = "例如：此处实测距河堤 2.3 公里，图层偏差";
  noteLabel.appendChild(note);
  const actions = element("div", null, "desk-actions");
  const submit = element("button", "记录审查决定");
  submit.type = "submit";
  actions.append(submit, element("span", null, "desk-status"));
  const general = element("div", null, "desk-error");
  general.setAttribute("role", "alert");
  general.hidden = true;
  form.append(choices, noteLabel, actions, general);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    recordDecision(form);
  });
  return form;
}

function clearFormErrors(form) {
  for (const node of form.querySelectorAll(".field-error")) node.remove();
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  form.querySelector(".desk-error").replaceChildren();
  form.querySelector(".desk-error").hidden = true;
}

// A refusal beside the field it names (decision, note, rule_id), else under the form.
function showFormError(form, body) {
  const error = (body && body.error) || {};
  const field = String(error.field || "").replace(/^body\./, "");
  const holder = form.querySelector(`[data-field="${field}"]`);
  const box = holder ? element("div", null, "field-error") : form.querySelector(".desk-error");
  box.setAttribute("role", "alert");
  box.appendChild(element("p", error.message_zh || "请求失败。", "zh"));
  if (error.message_en) box.appendChild(element("p", error.message_en, "en"));
  if (error.field) box.dataset.field = field;
  box.hidden = false;
  if (holder) {
    holder.appendChild(box);
    const input = holder.querySelector("textarea, input");
    if (input) input.setAttribute("aria-invalid", "true");
  }
}

async function recordDecision(form) {
  clearFormErrors(form);
  const status = form.querySelector(".desk-status");
  const chosen = form.querySelector("input[type=radio]:checked");
  if (!chosen) {
    showFormError(form, { error: { field: "decision", message_zh: "请选择审查决定：采纳、不采纳或需补充材料。",
      message_en: "choose a decision: 采纳 (accept), 不采纳 (reject) or 需补充材料 (needs more material)." } });
    return;
  }
  if (!deskCheck) return;
  const checkId = deskCheck.id;
  const submit = form.querySelector("button[type=submit]");
  submit.disabled = true;
  status.textContent = "正在记录…";
  try {
    const response = await post(checkUrl(checkId, "/decisions"),
      { decision: chosen.value, note: form.querySelector("textarea").value, rule_id: form.dataset.rule || null });
    const body = await response.json().catch(() => null);
    if (!deskCheck || deskCheck.id !== checkId) return;  // another check is on the page now
    if (!response.ok) {
      status.textContent = "";
      showFormError(form, body);
      return;
    }
    deskCheck.decisions.push(body);
    status.textContent = `已记录（${cstTime(body.recorded_at)} 北京时间）`;
    form.querySelector("textarea").value = "";
    chosen.checked = false;
    showDecisions();
    loadHistory();
  } catch (failure) {
    status.textContent = "";
    showFormError(form, { error: { message_zh: `无法连接审查服务，决定未记录：${failure}`, message_en: `cannot reach the service; not recorded: ${failure}` } });
  } finally {
    submit.disabled = false;
  }
}

// The recorded decisions, oldest first, and on each finding row its latest one.
function showDecisions() {
  const decisions = deskCheck ? deskCheck.decisions : [];
  $("#desk-decisions tbody").replaceChildren(...decisions.map((d) => {
    const row = element("tr");
    row.dataset.decision = d.decision;
    row.append(element("td", cstTime(d.recorded_at)), element("td", d.decision, "desk-decision"),
      element("td", scopeText(d.rule_id)), element("td", d.note || "—", "desk-note-text"));
    return row;
  }));
  $("#desk-decisions").hidden = decisions.length === 0;
  $("#desk-none").hidden = decisions.length !== 0;
  const latest = new Map(decisions.map((d) => [d.rule_id || "", d]));
  for (const badge of document.querySelectorAll("#findings .desk-badge")) {
    const decision = latest.get(badge.dataset.rule);
    badge.textContent = decision ? `已决定：${decision.decision}` : "";
    badge.hidden = !decision;
  }
}

// A small control on each finding row: it opens that rule's decision form under the row.
function addRowControls(answer) {
  const rows = [...document.querySelectorAll("#findings tbody > tr")];
  const findings = shownFindings(answer.groups);
  if (rows.length !== findings.length) return;
  rows.forEach((row, index) => {
    const rule = findings[index].rule;
    row.dataset.rule = rule;
    const cell = row.firstElementChild;
    const open = element("button", "审查决定", "desk-row-open");
    open.type = "button";
    open.setAttribute("aria-expanded", "false");
    open.title = `对条款 ${rule} 记录审查决定`;
    const badge = element("span", null, "desk-badge");
    badge.dataset.rule = rule;
    badge.hidden = true;
    cell.append(open, badge);
    open.addEventListener("click", () => toggleRowForm(row, open, rule));
  });
}

function toggleRowForm(row, open, rule) {
  const next = row.nextElementSibling;
  if (next && next.classList.contains("desk-row")) {
    next.remove();
    open.setAttribute("aria-expanded", "false");
    return;
  }
  const holder = element("tr", null, "desk-row");
  const cell = element("td");
  cell.colSpan = row.children.length;
  const form = decisionForm(rule);
  cell.appendChild(form);
  holder.appendChild(cell);
  row.after(holder);
  open.setAttribute("aria-expanded", "true");
  form.querySelector("input[type=radio]").focus();
}

function showDesk(answer) {
  const checkId = answer.audit && answer.audit.check_id;
  if (!checkId) return;
  deskCheck = { id: checkId, decisions: [...(answer.decisions || [])] };
  $("#desk-check").textContent = `审查编号 ${checkId}`;
  $("#desk-overall").replaceChildren(decisionForm(null));
  addRowControls(answer);
  showDecisions();
  $("#desk").hidden = false;
}

function hideDesk() {
  deskCheck = null;
  $("#desk").hidden = true;
  $("#desk-overall").replaceChildren();
  $("#desk-decisions tbody").replaceChildren();
}

// History: the recent checks of the audit log, newest first, each with its latest decision.
let historyRun = 0;
async function loadHistory() {
  const mine = ++historyRun;
  const status = $("#history-status");
  try {
    const response = await fetch("/api/checks?limit=20");
    const body = await response.json().catch(() => null);
    if (mine !== historyRun) return;
    if (!response.ok || !body) {
      status.textContent = `无法读取审查记录：${(body && body.error && body.error.message_zh) || response.status}`;
      return;
    }
    $("#history-zone").textContent = body.time_zone;
    $("#history-table tbody").replaceChildren(...body.checks.map(historyRow));
    $("#history-table").hidden = body.checks.length === 0;
    status.textContent = body.checks.length ? "" : "审计日志中还没有检查记录。";
  } catch (failure) {
    if (mine === historyRun) status.textContent = `无法连接审查服务：${failure}`;
  }
}

function historyRow(check) {
  const row = element("tr");
  row.dataset.checkId = check.id;
  const latest = check.latest_decision;
  const verdict = element("td", check.overall_label || check.overall, `verdict-cell ${check.overall}`);
  const decision = element("td", latest ? `${latest.decision}（${scopeText(latest.rule_id)}）` : "—", "desk-latest");
  if (latest && latest.note) decision.title = latest.note;
  const actions = element("td", null, "history-actions");
  const open = element("button", "打开");
  open.type = "button";
  open.className = "history-open";
  open.addEventListener("click", () => openCheck(check.id));
  const again = element("button", "复现");
  again.type = "button";
  again.className = "history-replay";
  again.addEventListener("click", () => replayCheck(check.id, row));
  actions.append(open, again);
  for (const [format, label] of [["docx", "Word"], ["pdf", "PDF"]]) {
    const link = element("a", label, `history-${format}`);
    link.href = checkUrl(check.id, `/report?format=${format}`);
    link.setAttribute("download", `审查意见-${check.id}.${format}`);
    actions.appendChild(link);
  }
  row.append(element("td", check.id, "history-id"), element("td", cstTime(check.created_at)),
    element("td", check.project || "—"), verdict, decision, actions);
  return row;
}

// Open a recorded check as the page shows a fresh one, with the decisions recorded on it.
async function openCheck(checkId) {
  const status = $("#history-status");
  status.textContent = `正在打开 ${checkId}…`;
  const response = await fetch(checkUrl(checkId));
  const record = await response.json().catch(() => null);
  if (!response.ok || !record) {
    status.textContent = `无法打开 ${checkId}：${(record && record.error && record.error.message_zh) || response.status}`;
    return;
  }
  status.textContent = "";
  clearErrors();
  clearResult();
  showResult({ ...record.result, audit: { check_id: record.id, checked_on: record.checked_on, catalog_version: record.catalog_version },
    decisions: record.decisions });
}

const REPLAY_PARTS = { "result.overall": "总体结论", "result.findings": "审查意见明细", "result.not_evaluated": "未能判定的条款",
  catalog_version: "规则目录版本", missing_layers: "缺少的图层" };

function replayPart(key) {
  if (REPLAY_PARTS[key]) return REPLAY_PARTS[key];
  if (key.startsWith("layer:")) return `图层 ${key.slice(6)} 的版本`;
  return key.replace(/^result\./, "结论字段 ");
}

// Replay with today's rules and layers on the recorded date; say what changed, or that nothing did.
async function replayCheck(checkId, row) {
  for (const old of document.querySelectorAll(`#history-table tr.history-replayed[data-check-id="${checkId}"]`)) old.remove();
  const line = element("tr", null, "history-replayed");
  line.dataset.checkId = checkId;
  const cell = element("td", `正在复现 ${checkId}…`);
  cell.colSpan = row.children.length;
  cell.setAttribute("role", "status");
  line.appendChild(cell);
  row.after(line);
  try {
    const response = await post(checkUrl(checkId, "/replay"), {});
    const body = await response.json().catch(() => null);
    if (!response.ok || !body) {
      cell.textContent = `复现失败：${(body && body.error && body.error.message_zh) || response.status}`;
      return;
    }
    line.dataset.identical = String(body.identical);
    if (body.identical) {
      const versions = body.versions_match ? "规则与图层版本也相同" : `结论相同，但${body.differences.map(replayPart).join("、")}已更新`;
      cell.textContent = `复现结果：与记录一致，无变化（${versions}）。`;
    } else {
      const now = body.result.overall_label || body.result.overall;
      cell.textContent = `复现结果有变化：现在的结论为「${now}」；变化之处：${body.differences.map(replayPart).join("、")}。`;
    }
    if (body.decisions.length) cell.textContent += `记录的审查决定 ${body.decisions.length} 条仍附于原记录。`;
  } catch (failure) {
    cell.textContent = `无法连接审查服务：${failure}`;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.addEventListener("siting:checked", (event) => {
    showDesk(event.detail);
    loadHistory();
  });
  // app.js removes the check id from <body> when a new check starts: the desk goes with the old result.
  new MutationObserver(() => {
    if (!document.body.dataset.checkId) hideDesk();
  }).observe(document.body, { attributes: true, attributeFilter: ["data-check-id"] });
  $("#history-refresh").addEventListener("click", loadHistory);
  // A role that reads no checks (a data administrator) has no history to load.
  if (document.body.dataset.role !== "data-admin") loadHistory();
});
