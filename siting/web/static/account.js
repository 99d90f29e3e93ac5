// Accounts on the page: who is logged in and in which role, logout, the data administrator's
// layer tab (import, replace, remove: POST /api/layers/import, DELETE /api/layers/{id}) and the
// auditor's chain verification (GET /api/audit/verify). In the desktop mode (no accounts) nothing shows.
"use strict";

function accountError(box, body, status) {
  const detail = (body && body.error) || {};
  box.textContent = detail.message_zh ? `${detail.message_zh}\n${detail.message_en || ""}` : `请求失败（HTTP ${status}）`;
  box.hidden = false;
}

async function logout() {
  const response = await fetch("/api/logout", { method: "POST", headers: csrfHeaders() });
  await response.text();  // read to the end: leaving the page mid-answer would abort it
  window.location.assign("/login");
}

async function loadLayers() {
  const response = await fetch("/api/layers");
  if (!response.ok) return;
  const rows = (await response.json()).layers;
  const kinds = new Set(["units", "redline", "water_source", "nature_reserves"]);
  document.querySelector("#admin-layers tbody").replaceChildren(...rows.map((layer) => {
    const row = document.createElement("tr");
    const imported = layer.imported;  // GET /api/layers: each row is the layer's provenance, flattened
    const status = layer.status === "missing" ? "缺失" : imported ? `已导入（${imported.import_id}）`
      : layer.demonstration ? "示意数据" : "默认";
    const source = layer.status === "missing" ? layer.reason : layer.source || "";
    for (const text of [`${layer.name}（${layer.id}）`, status, source]) row.append(element("td", text));
    const action = document.createElement("td");
    if (imported) {
      const remove = element("button", "移除导入");
      remove.type = "button";
      remove.dataset.target = imported.import_id;
      remove.addEventListener("click", () => removeImport(imported.import_id));
      action.append(remove);
    }
    row.append(action);
    kinds.add(layer.id);
    return row;
  }));
  document.querySelector("#admin-kind-list").replaceChildren(...[...kinds].map((kind) => {
    const option = document.createElement("option");
    option.value = kind;
    return option;
  }));
}

function adminDone(text) {
  const done = document.querySelector("#admin-done");
  done.textContent = text;
  done.hidden = false;
}

async function submitImport(event) {
  event.preventDefault();
  const form = document.querySelector("#admin-form");
  const error = document.querySelector("#admin-error");
  error.hidden = true;
  document.querySelector("#admin-done").hidden = true;
  const data = new FormData();
  const file = document.querySelector("#admin-file").files[0];
  if (file) data.append("file", file);
  const access = document.querySelector("#admin-access").files[0];
  if (access) data.append("access_list", access);
  for (const name of ["kind", "crs", "layer", "accuracy", "coverage", "source", "version"]) {
    const value = form.elements[name].value.trim();
    if (value) data.append(name, value);
  }
  for (const line of document.querySelector("#admin-field").value.split("\n")) {
    if (line.trim()) data.append("field", line.trim());
  }
  data.append("authoritative", document.querySelector("#admin-authoritative").checked ? "true" : "false");
  document.querySelector("#admin-busy").hidden = false;
  document.querySelector("#admin-submit").disabled = true;
  try {
    const response = await post("/api/layers/import", data);
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      accountError(error, body, response.status);
      return;
    }
    const record = body.import;
    adminDone(`已导入 ${record.id}：${record.features} 个要素，坐标系 ${record.crs}；图层 ${record.layers.join("、")}。` +
      `\n${record.notes.join("\n")}`.trimEnd());
    loadLayers();
  } finally {
    document.querySelector("#admin-busy").hidden = true;
    document.querySelector("#admin-submit").disabled = false;
  }
}

async function removeImport(target) {
  const error = document.querySelector("#admin-error");
  error.hidden = true;
  const response = await fetch(`/api/layers/${encodeURIComponent(target)}`, { method: "DELETE", headers: csrfHeaders() });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    accountError(error, body, response.status);
    return;
  }
  adminDone(`已移除导入 ${target}：${body.removed.join("、")} 恢复为默认图层（或缺失）。`);
  loadLayers();
}

async function verifyChain() {
  const box = document.querySelector("#verify-result");
  box.textContent = "正在校验…";
  box.hidden = false;
  const response = await fetch("/api/audit/verify");
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    accountError(box, body, response.status);
    return;
  }
  const problems = body.problems || [];
  box.textContent = body.intact ? `审计日志完好：${body.records} 条检查记录，${body.decisions} 条审查决定，哈希链、签名与检查点一致。`
    : `审计日志有 ${problems.length} 处问题：${problems.map((p) => p.message_zh || p.message || JSON.stringify(p)).join("；")}`;
}

async function showAccount() {
  const response = await fetch("/api/me");
  if (!response.ok) return;
  const me = await response.json();
  document.body.dataset.role = me.role;
  if (!me.accounts) return;
  document.querySelector("#account-name").textContent = me.user + (me.unit ? `（${me.unit}）` : "");
  document.querySelector("#account-role").textContent = me.role_label;
  document.querySelector("#account").hidden = false;
  document.querySelector("#logout").addEventListener("click", logout);
  if (me.permissions.includes("manage-layers")) {
    document.querySelector("#page-admin").hidden = false;
    document.querySelector("#admin-form").addEventListener("submit", submitImport);
    loadLayers();
    if (!me.permissions.includes("check")) showPage("admin");
  }
  if (me.permissions.includes("verify-chain")) {
    const button = document.querySelector("#verify-chain");
    button.hidden = false;
    button.addEventListener("click", verifyChain);
  }
}

document.addEventListener("DOMContentLoaded", showAccount);
