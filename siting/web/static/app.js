// The reviewer page: send the site to the API, show the verdict, findings and map.
// Every value from the server is written with textContent, never as HTML.
"use strict";

const VERDICT_LABELS = { prohibited: "禁止", exit: "退出", restricted: "限制", review: "需复核", compliant: "符合", not_applicable: "不适用" };
const $ = (selector) => document.querySelector(selector);
let mode = "coords";

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function metres(value) {
  return value === null || value === undefined ? "—" : Math.round(value).toLocaleString("zh-CN");
}

function setMode(next) {
  mode = next;
  for (const tab of document.querySelectorAll(".tabs [role=tab]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.mode === next));
  }
  $("#pane-coords").hidden = next !== "coords";
  $("#pane-file").hidden = next !== "file";
}

function crsValue() {
  const chosen = $("#crs").value;
  if (chosen === "custom") return $("#crs-custom").value.trim() || null;
  return chosen || null;
}

function showError(body) {
  const box = $("#error");
  const error = (body && body.error) || {};
  box.replaceChildren();
  box.appendChild(element("p", error.message_zh || "请求失败。", "zh"));
  if (error.message_en) box.appendChild(element("p", error.message_en, "en"));
  if (error.field) box.dataset.field = error.field;
  box.hidden = false;
}

async function submitCheck(event) {
  if (event) event.preventDefault();
  $("#error").hidden = true;
  const industry = $("#industry").value.trim();
  const common = { industry, stage: $("#stage").value, project: $("#project").value.trim() };
  let response;
  $("#busy").hidden = false;
  $("#submit").disabled = true;
  try {
    if (mode === "file") {
      const file = $("#file").files[0];
      if (!file) {
        showError({ error: { field: "file", message_zh: "请选择场址文件。", message_en: "choose a site file." } });
        return;
      }
      const form = new FormData();
      form.append("file", file);
      for (const [key, value] of Object.entries(common)) form.append(key, value);
      const crs = crsValue();
      if (crs) form.append("crs", crs);
      response = await fetch("/api/check/file", { method: "POST", body: form });
    } else {
      const body = { ...common, at: $("#at").value.trim() };
      const crs = crsValue();
      if (crs) body.crs = crs;
      response = await fetch("/api/check", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      showError(body);
      return;
    }
    showResult(body);
  } catch (failure) {
    showError({ error: { message_zh: `无法连接审查服务：${failure}`, message_en: `cannot reach the service: ${failure}` } });
  } finally {
    $("#busy").hidden = true;
    $("#submit").disabled = false;
  }
}

function showSite(site) {
  const list = $("#site");
  list.replaceChildren();
  const admin = ["province", "city", "county"].filter((k) => site.admin[k]).map((k) => site.admin[k]).join("、");
  const gk = site.gk_zone;
  const rows = [
    ["场址（WGS84/CGCS2000）", `经度 ${site.wgs84.lon.toFixed(6)}，纬度 ${site.wgs84.lat.toFixed(6)}`],
    ["量测坐标系", `EPSG:${gk.epsg}（中央经线 ${gk.central_meridian}°E）X(北) ${gk.y_northing.toFixed(1)}，Y(东) ${gk.x_easting.toFixed(1)}`],
    ["所在行政区", admin || "（不在山西省境内）"],
  ];
  const given = site.input || {};
  if (given.file) rows.push(["场址文件", `${given.file}，${given.features} 个要素，坐标系 ${given.crs}`]);
  else if (given.text) rows.push(["输入坐标", `${given.text}，按 ${given.crs}${given.inferred ? "（推断）" : ""} 读取`]);
  if (site.size && site.size.area_m2 !== undefined) rows.push(["用地面积", `${metres(site.size.area_m2)} 平方米`]);
  if (site.size && site.size.length_m !== undefined) rows.push(["线路长度", `${metres(site.size.length_m)} 米`]);
  for (const note of given.notes || []) rows.push(["说明", note]);
  for (const [label, value] of rows) {
    list.appendChild(element("dt", label));
    list.appendChild(element("dd", value));
  }
}

// The findings a reviewer reads: zones at the site (far compliant ones folded), plan-wide industry
// rules that bind, zones the plan leaves without extent; the same groups as the CLI answer.
function shownFindings(groups) {
  const binding = (f) => f.verdict !== "compliant";
  return [...groups.site, ...groups.area.filter(binding), ...groups.undetermined.undefined];
}

function showFindings(groups) {
  const findings = shownFindings(groups);
  const body = $("#findings tbody");
  body.replaceChildren();
  $("#folded").hidden = !groups.site_folded;
  $("#folded").textContent = `另有 ${groups.site_folded} 处距场址 5 公里以外的管控区，场址均在区外。`;
  $("#findings").hidden = findings.length === 0;
  $("#no-findings").hidden = findings.length !== 0;
  for (const finding of findings) {
    const row = document.createElement("tr");
    row.dataset.verdict = finding.verdict;
    const likely = finding.likely ? `（可能为${VERDICT_LABELS[finding.likely]}）` : "";
    row.appendChild(element("td", `${VERDICT_LABELS[finding.verdict] || finding.verdict}${likely}`, `verdict-cell ${finding.verdict}`));
    row.appendChild(element("td", `${finding.plan} ${finding.section}（${finding.rule}，${finding.action}）`));
    row.appendChild(element("td", finding.zone));
    row.appendChild(element("td", { true: "是", false: "否" }[String(finding.inside)] || "未界定"));
    row.appendChild(element("td", metres(finding.distance_m), "number"));
    row.appendChild(element("td", metres(finding.margin_m), "number"));
    const basis = element("td", null, "citation");
    basis.appendChild(element("q", finding.quote));
    if (finding.overlap) {
      const part = finding.overlap.area_m2 !== undefined ? `${metres(finding.overlap.area_m2)} 平方米` : `${metres(finding.overlap.length_m)} 米`;
      basis.appendChild(element("div", `场址在区内部分：${part}，占 ${(finding.overlap.share * 100).toFixed(1)}%`, "note"));
    }
    if (finding.note) basis.appendChild(element("div", finding.note, "note"));
    row.appendChild(basis);
    body.appendChild(row);
  }
}

function showUnits(units) {
  const holder = $("#units-list");
  holder.replaceChildren();
  $("#units").hidden = !units || units.length === 0;
  for (const unit of units || []) {
    const box = element("div", null, "unit");
    box.appendChild(element("h3", `${unit.code || ""} ${unit.name || ""}（${unit.class || ""}）${unit.demonstration ? "【示意数据】" : ""}`));
    const access = unit.access_list || {};
    const rows = Array.isArray(access) ? access.map((r) => [r.dimension, r.text]) : Object.entries(access);
    const list = document.createElement("dl");
    for (const [dimension, text] of rows) {
      list.appendChild(element("dt", dimension));
      list.appendChild(element("dd", Array.isArray(text) ? text.join("；") : text));
    }
    box.appendChild(list);
    holder.appendChild(box);
  }
}

function showList(selector, items, line) {
  const section = $(selector);
  const list = section.querySelector("ul");
  list.replaceChildren(...items.map((item) => element("li", line(item))));
  section.hidden = items.length === 0;
}

function showSources(layers) {
  const body = $("#sources tbody");
  body.replaceChildren();
  const notices = $("#notices");
  notices.replaceChildren();
  if (layers.some((layer) => layer.demonstration)) {
    notices.appendChild(element("p", "本次检查使用了示意数据（demonstration data），不得作为审批依据。", "notice demo"));
  }
  if (!layers.every((layer) => layer.authoritative)) {
    notices.appendChild(element("p", "使用了非权威公开图层（位置精度有限），仅供审查参考；正式审批须以主管部门提供的权威图层复核。", "notice"));
  }
  for (const layer of layers) {
    const row = document.createElement("tr");
    row.appendChild(element("td", layer.name));
    row.appendChild(element("td", `${layer.source}，版本 ${layer.version}`));
    row.appendChild(element("td", `±${layer.accuracy_m}`, "number"));
    const nature = layer.demonstration ? "示意数据" : layer.authoritative ? "权威数据" : "非权威公开数据";
    row.appendChild(element("td", nature, layer.demonstration ? "demo" : ""));
    body.appendChild(row);
  }
}

function showResult(result) {
  const verdict = $("#verdict");
  verdict.textContent = `审查结论：${result.overall_label}`;
  verdict.dataset.verdict = result.overall;
  verdict.className = `verdict ${result.overall}`;
  $("#headline").textContent = result.headline;
  const audit = result.audit || {};
  $("#check-id").textContent = `审查编号 ${audit.check_id}，审查日期 ${audit.checked_on}，规则目录版本 ${String(audit.catalog_version).slice(0, 12)}`;
  for (const format of ["docx", "pdf", "html"]) {
    const link = $(`#download-${format}`);
    link.href = `/api/checks/${encodeURIComponent(audit.check_id)}/report?format=${format}`;
    link.setAttribute("download", `审查意见-${audit.check_id}.${format}`);
  }
  showSite(result.site);
  const warnings = $("#warnings");
  warnings.replaceChildren(...result.warnings.map((w) => element("li", w)));
  showFindings(result.groups);
  showUnits(result.units);
  showList("#not-evaluated", result.groups.undetermined.missing_layers, (g) => `${g.summary}：${g.rules.join("、")}`);
  showList("#conditions", result.conditions, (c) => `${c.rule}：${c.plan} ${c.section}：“${c.quote}”`);
  showSources(result.layers);
  $("#result").hidden = false;
  $("#map").src = `/api/checks/${encodeURIComponent(audit.check_id)}/map`;
}

let suggestTimer = null;
function suggestIndustries() {
  clearTimeout(suggestTimer);
  suggestTimer = setTimeout(async () => {
    const query = $("#industry").value.trim();
    const response = await fetch(`/api/industries?q=${encodeURIComponent(query)}&limit=20`);
    if (!response.ok) return;
    const body = await response.json();
    const options = body.industries.map((item) => {
      const option = document.createElement("option");
      option.value = item.name;
      option.label = `${item.name}（${item.codes.join("、")}）${item.note ? " " + item.note : ""}`;
      return option;
    });
    $("#industry-list").replaceChildren(...options);
  }, 150);
}

function onMapClick(event) {
  if (event.origin !== window.location.origin || !event.data || event.data.type !== "siting:click") return;
  const { lon, lat } = event.data;
  if (typeof lon !== "number" || typeof lat !== "number") return;
  setMode("coords");
  $("#at").value = `${lon.toFixed(6)}, ${lat.toFixed(6)}`;
  $("#crs").value = "wgs84";  // the map is drawn in WGS84
  $("#crs-custom").hidden = true;
  if (!$("#industry").value.trim()) {
    showError({ error: { field: "industry", message_zh: "请先填写行业，再在地图上点击。", message_en: "enter the industry first." } });
    $("#industry").focus();
    return;
  }
  submitCheck();
}

document.addEventListener("DOMContentLoaded", () => {
  $("#check-form").addEventListener("submit", submitCheck);
  for (const tab of document.querySelectorAll(".tabs [role=tab]")) {
    tab.addEventListener("click", () => setMode(tab.dataset.mode));
  }
  $("#crs").addEventListener("change", () => { $("#crs-custom").hidden = $("#crs").value !== "custom"; });
  $("#industry").addEventListener("input", suggestIndustries);
  $("#industry").addEventListener("focus", suggestIndustries);
  window.addEventListener("message", onMapClick);
  document.body.dataset.ready = "true";
});
