// The reviewer page: send the site to the API, show the verdict, findings and map.
// Every value from the server is written with textContent, never as HTML.
// A result belongs to its input: starting a check clears the last one, and a failed check
// shows only its error, next to the field it names.
"use strict";

const VERDICT_LABELS = { prohibited: "禁止", exit: "退出", restricted: "限制", review: "需复核", compliant: "符合", not_applicable: "不适用" };
const STAGE_LABELS = { new: "新建", rebuild: "改建", expand: "扩建", existing: "现有" };
const GROUP_ORDER = { site: 0, area: 1, undetermined: 2 };
// error.field from the API → the part of the form it names ([data-field] in index.html), and the label
// that part carries on this page: the API names a field as JSON does (lon), the page as its form does (经度).
const FIELD_PLACES = { at: "at", lon: "at", lat: "at", crs: "crs", industry: "industry", stage: "stage", project: "project", file: "file" };
const FIELD_LABELS = { at: "坐标", lon: "经度", lat: "纬度", crs: "坐标系", industry: "行业", stage: "建设阶段", project: "项目名称", file: "场址文件" };
const OVERVIEW_MAP = "/api/overview-map";
const DRAWN_FILE = "地图绘制场址.geojson";
const $ = (selector) => document.querySelector(selector);
let mode = "coords";
let drawn = null;  // a line or polygon drawn on the map (GeoJSON geometry), checked as an uploaded file
let run = 0;  // the latest check started; an answer to an older one is dropped

// Forms and uploads must carry the server's same-origin token (README: "Same-origin only");
// the server writes it into the page as <meta name="csrf-token">.
function csrfHeaders() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return { "X-CSRF-Token": meta ? meta.content : "" };
}

// The one place the page POSTs: every submission carries the same-origin token.
function post(url, body) {
  const json = !(body instanceof FormData);
  const headers = { ...csrfHeaders(), ...(json ? { "Content-Type": "application/json" } : {}) };
  return fetch(url, { method: "POST", headers, body: json ? JSON.stringify(body) : body });
}

// Server text in the words of this page's own controls: the API mentions a field as 「坐标系（crs）」.
const PAGE_WORDS = [
  [/指定为 ?gcj02/g, "选择“GCJ-02（高德、腾讯地图）”"],
  [/指定为 ?bd09/g, "选择“BD-09（百度地图）”"],
  [/坐标系（crs）/g, "“坐标系”"], [/坐标文本（at）/g, "“输入坐标”"], [/场址文件（file）/g, "“上传文件”"],
  [/经度（lon）/g, "经度"], [/纬度（lat）/g, "纬度"], [/行业（industry）/g, "“行业”"], [/阶段（stage）/g, "“建设阶段”"],
  [/项目名称（project）/g, "“项目名称”"],
];
function pageWords(text) {
  return PAGE_WORDS.reduce((value, [pattern, words]) => value.replace(pattern, words), String(text));
}

// The Chinese message naming the field by its form label: 「输入错误：经度 = 200」, not 「lon = 200」.
function pageMessage(error) {
  const text = pageWords(error.message_zh || "请求失败。");
  const label = FIELD_LABELS[error.field];
  return label ? text.replace(`输入错误：${error.field} =`, `输入错误：${label} =`) : text;
}

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
  $("#pane-drawn").hidden = next !== "drawn";
  if (next !== "drawn") drawn = null;
}

function crsValue() {
  const chosen = $("#crs").value;
  if (chosen === "custom") return $("#crs-custom").value.trim() || null;
  return chosen || null;
}

function clearErrors() {
  $("#error").hidden = true;
  $("#error").replaceChildren();
  for (const node of document.querySelectorAll(".field-error")) node.remove();
  for (const node of document.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
}

// Nothing of the last check stays on the page once another starts: verdict, findings, links, map.
function clearResult() {
  $("#summary").hidden = true;
  $("#result").hidden = true;
  for (const selector of ["#verdict-label", "#headline", "#decisive", "#basis", "#check-id", "#notices", "#site", "#warnings",
    "#findings tbody", "#units-list", "#not-evaluated ul", "#conditions ul", "#sources tbody"]) {
    $(selector).replaceChildren();
  }
  for (const format of ["docx", "pdf", "html"]) $(`#download-${format}`).removeAttribute("href");
  delete document.body.dataset.checkId;
  $("#map-panel").dataset.stale = "true";  // the map still shows the last check until this one answers
}

function showOverview() {
  delete $("#map-panel").dataset.stale;
  if (!$("#map").src.endsWith(OVERVIEW_MAP)) $("#map").src = OVERVIEW_MAP;
}

function showError(body) {
  const error = (body && body.error) || {};
  const place = FIELD_PLACES[error.field] === "at" && mode !== "coords" ? (mode === "drawn" ? "drawn" : "file") : FIELD_PLACES[error.field];
  const holder = place && document.querySelector(`#check-form [data-field="${place}"]`);
  const box = holder ? element("div", null, "field-error") : $("#error");
  box.setAttribute("role", "alert");
  box.appendChild(element("p", pageMessage(error), "zh"));
  if (error.message_en) box.appendChild(element("p", error.message_en, "en"));
  if (error.field) box.dataset.field = error.field;
  if (holder) {
    holder.appendChild(box);
    const input = holder.querySelector("input:not([type=hidden]), select, textarea");
    if (input) input.setAttribute("aria-invalid", "true");
  } else {
    box.hidden = false;
  }
}

async function submitCheck(event) {
  if (event) event.preventDefault();
  const mine = ++run;
  clearErrors();
  clearResult();
  const industry = $("#industry").value.trim();
  if (!industry) {
    showError({ error: { field: "industry", message_zh: "请填写行业（名称或国民经济行业代码）。", message_en: "enter the industry (name or code)." } });
    showOverview();
    return;
  }
  const common = { industry, stage: $("#stage").value, project: $("#project").value.trim() };
  $("#busy").hidden = false;
  $("#submit").disabled = true;
  document.body.dataset.busy = "true";
  try {
    let response;
    if (mode === "file" || mode === "drawn") {
      const file = mode === "drawn" ? drawnFile() : $("#file").files[0];
      if (!file) {
        showError({ error: { field: "file", message_zh: "请选择场址文件。", message_en: "choose a site file." } });
        showOverview();
        return;
      }
      const form = new FormData();
      form.append("file", file);
      for (const [key, value] of Object.entries(common)) form.append(key, value);
      const crs = mode === "file" ? crsValue() : null;  // a drawn site is WGS84 GeoJSON
      if (crs) form.append("crs", crs);
      response = await post("/api/check/file", form);
    } else {
      const body = { ...common, at: $("#at").value.trim() };
      const crs = crsValue();
      if (crs) body.crs = crs;
      response = await post("/api/check", body);
    }
    const body = await response.json().catch(() => ({}));
    if (mine !== run) return;
    if (!response.ok) {
      showError(body);
      showOverview();
      return;
    }
    showResult(body);
  } catch (failure) {
    if (mine !== run) return;
    showError({ error: { message_zh: `无法连接审查服务：${failure}`, message_en: `cannot reach the service: ${failure}` } });
    showOverview();
  } finally {
    if (mine === run) {
      $("#busy").hidden = true;
      $("#submit").disabled = false;
      delete document.body.dataset.busy;
    }
  }
}

function drawnFile() {
  if (!drawn) return null;
  const collection = { type: "FeatureCollection", features: [{ type: "Feature", properties: { name: "地图绘制场址" }, geometry: drawn }] };
  return new File([JSON.stringify(collection)], DRAWN_FILE, { type: "application/geo+json" });
}

function showSite(site) {
  const list = $("#site");
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
  for (const note of given.notes || []) rows.push(["说明", pageWords(note)]);
  for (const [label, value] of rows) {
    list.appendChild(element("dt", label));
    list.appendChild(element("dd", value));
  }
}

// The findings a reviewer reads: zones at the site (far compliant ones folded), plan-wide industry
// rules that bind, zones the plan leaves without extent; the same groups as the answer model.
function shownFindings(groups) {
  const binding = (f) => f.verdict !== "compliant";
  return [...groups.site, ...groups.area.filter(binding), ...groups.undetermined.undefined];
}

// The finding the headline names (spatial/answer.py decisive): of the overall verdict, a zone about
// the site before a plan-wide rule, then the one the site lies deepest in.
function decisiveFinding(result) {
  const margin = (f) => (f.margin_m === null || f.margin_m === undefined ? -Infinity : f.margin_m);
  const candidates = shownFindings(result.groups).filter((f) => f.verdict === result.overall);
  candidates.sort((a, b) => GROUP_ORDER[a.group] - GROUP_ORDER[b.group] || margin(b) - margin(a) || a.rule.localeCompare(b.rule));
  return candidates[0] || null;
}

function deadlineText(finding) {
  if (!finding.deadline) return null;
  return `期限 ${finding.deadline}${finding.overdue ? "（已逾期）" : ""}`;
}

function verdictText(finding) {
  const likely = finding.likely ? `（可能为${VERDICT_LABELS[finding.likely]}）` : "";
  return `${VERDICT_LABELS[finding.verdict] || finding.verdict}${likely}`;
}

function showDecisive(finding) {
  const box = $("#decisive");
  box.hidden = !finding;
  if (!finding) return;
  box.dataset.verdict = finding.verdict;
  const head = element("div", null, "decisive-head");
  head.appendChild(element("span", verdictText(finding), `verdict-cell ${finding.verdict}`));
  head.appendChild(element("span", `${finding.rule}（${finding.action}）`, "rule"));
  const deadline = deadlineText(finding);
  if (deadline) head.appendChild(element("span", deadline, finding.overdue ? "deadline overdue" : "deadline"));
  box.appendChild(head);
  const where = [finding.zone];
  if (finding.distance_m !== null && finding.distance_m !== undefined) where.push(`距离 ${metres(finding.distance_m)} 米`);
  if (finding.margin_m !== null && finding.margin_m !== undefined) where.push(`余量 ${metres(finding.margin_m)} 米`);
  box.appendChild(element("div", where.join("，"), "where"));
  box.appendChild(element("q", finding.quote, "quote"));
  box.appendChild(element("div", `${finding.plan} ${finding.section}`, "plan"));
}

function showBasis(result) {
  const list = $("#basis");
  const industry = result.industry || {};
  const codes = (industry.codes || []).join("、");
  const asked = industry.query && industry.query !== industry.label ? `（输入：${industry.query}）` : "";
  const plans = (result.plans || []).filter((plan) => plan.applies).map((plan) => plan.title);
  const admin = ["city", "county"].filter((k) => result.site.admin[k]).map((k) => result.site.admin[k]).join("");
  const rows = [
    ["行业", `${industry.label || ""}${codes ? `，代码 ${codes}` : ""}${asked}`],
    ["阶段", STAGE_LABELS[result.stage] || result.stage],
    ["所在地", admin || "不在山西省境内"],
    ["适用规划", plans.length ? plans.join("；") : "无（场址不在任何已载入规划的管辖范围内）"],
  ];
  for (const [label, value] of rows) {
    list.appendChild(element("dt", label));
    list.appendChild(element("dd", value, label === "适用规划" ? "plans" : undefined));
  }
}

function showFindings(groups) {
  const findings = shownFindings(groups);
  const body = $("#findings tbody");
  $("#findings-count").textContent = `${findings.length} 条`;
  $("#folded").hidden = !groups.site_folded;
  $("#folded").textContent = `另有 ${groups.site_folded} 处距场址 5 公里以外的管控区，场址均在区外。`;
  $("#findings").hidden = findings.length === 0;
  $("#no-findings").hidden = findings.length !== 0;
  for (const finding of findings) {
    const row = document.createElement("tr");
    row.dataset.verdict = finding.verdict;
    row.appendChild(element("td", verdictText(finding), `verdict-cell ${finding.verdict}`));
    row.appendChild(element("td", `${finding.plan} ${finding.section}（${finding.rule}，${finding.action}）`));
    const zone = element("td", finding.zone);
    if (finding.group === "site" && finding.distance_m !== null && finding.distance_m !== undefined) {
      const show = element("button", "在图上查看", "show-zone");
      show.type = "button";
      show.addEventListener("click", () => openZone(finding.rule));
      zone.appendChild(show);
    }
    row.appendChild(zone);
    row.appendChild(element("td", { true: "是", false: "否" }[String(finding.inside)] || "未界定"));
    row.appendChild(element("td", metres(finding.distance_m), "number"));
    row.appendChild(element("td", metres(finding.margin_m), "number"));
    const basis = element("td", null, "citation");
    basis.appendChild(element("q", finding.quote));
    const deadline = deadlineText(finding);
    if (deadline) basis.appendChild(element("div", deadline, finding.overdue ? "deadline overdue" : "deadline"));
    if (finding.overlap) {
      const part = finding.overlap.area_m2 !== undefined ? `${metres(finding.overlap.area_m2)} 平方米` : `${metres(finding.overlap.length_m)} 米`;
      basis.appendChild(element("div", `场址在区内部分：${part}，占 ${(finding.overlap.share * 100).toFixed(1)}%`, "note"));
    }
    if (finding.note) basis.appendChild(element("div", finding.note, "note"));
    row.appendChild(basis);
    body.appendChild(row);
  }
}

// The map frame opens the popup of the zone a finding is about.
function openZone(rule) {
  $("#map").contentWindow.postMessage({ type: "siting:open-zone", key: `rule:${rule}` }, window.location.origin);
}

function showUnits(units) {
  const holder = $("#units-list");
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
  section.querySelector("ul").replaceChildren(...items.map((item) => element("li", line(item))));
  section.hidden = items.length === 0;
}

function showSources(layers) {
  const body = $("#sources tbody");
  const notices = $("#notices");
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
  verdict.dataset.verdict = result.overall;
  verdict.className = `verdict ${result.overall}`;
  $("#verdict-label").textContent = `审查结论：${result.overall_label}`;
  $("#headline").textContent = result.headline;
  showDecisive(decisiveFinding(result));
  showBasis(result);
  const audit = result.audit || {};
  document.body.dataset.checkId = audit.check_id;
  $("#check-id").textContent = `审查编号 ${audit.check_id}，审查日期 ${audit.checked_on}，规则目录版本 ${String(audit.catalog_version).slice(0, 12)}`;
  for (const format of ["docx", "pdf", "html"]) {
    const link = $(`#download-${format}`);
    link.href = `/api/checks/${encodeURIComponent(audit.check_id)}/report?format=${format}`;
    link.setAttribute("download", `审查意见-${audit.check_id}.${format}`);
  }
  showSite(result.site);
  $("#warnings").replaceChildren(...result.warnings.map((w) => element("li", pageWords(w))));
  $("#site-box").open = result.overall === "not_applicable" || result.warnings.length > 0;
  showFindings(result.groups);
  showUnits(result.units);
  showList("#not-evaluated", result.groups.undetermined.missing_layers, (g) => `${g.summary}：${g.rules.join("、")}`);
  showList("#conditions", result.conditions, (c) => `${c.rule}：${c.plan} ${c.section}：“${c.quote}”`);
  showSources(result.layers);
  $("#summary").hidden = false;
  $("#result").hidden = false;
  $("#side").scrollTop = 0;
  delete $("#map-panel").dataset.stale;
  $("#map").src = `/api/checks/${encodeURIComponent(audit.check_id)}/map`;
  document.dispatchEvent(new CustomEvent("siting:checked", { detail: result }));
}

// One entry per distinct industry: the first entry of a name inserts the name (it resolves to
// that term); a later entry of the same name inserts its code, which resolves to that class.
let suggestTimer = null;
function suggestIndustries(input = $("#industry"), list = $("#industry-list")) {
  clearTimeout(suggestTimer);
  suggestTimer = setTimeout(async () => {
    const query = input.value.trim();
    const response = await fetch(`/api/industries?q=${encodeURIComponent(query)}&limit=20`);
    if (!response.ok) return;
    const body = await response.json();
    const seenCodes = new Set();
    const seenNames = new Set();
    const options = [];
    for (const item of body.industries) {
      const codes = item.codes.join("、");
      if (seenCodes.has(codes)) continue;
      let value = item.name;
      if (seenNames.has(item.name)) {
        if (item.codes.length !== 1) continue;  // no text of its own would resolve to it
        value = item.codes[0];
      }
      seenCodes.add(codes);
      seenNames.add(item.name);
      const option = document.createElement("option");
      option.value = value;
      option.label = `${item.name}（代码 ${codes}）${item.note ? " " + item.note : ""}`;
      option.dataset.codes = codes;
      options.push(option);
    }
    list.replaceChildren(...options);
  }, 150);
}

function needIndustry() {
  if ($("#industry").value.trim()) return false;
  clearErrors();
  showError({ error: { field: "industry", message_zh: "请先填写行业，再在地图上点击或绘制场址。", message_en: "enter the industry first." } });
  $("#industry").focus();
  return true;
}

function checkPoint(lon, lat) {
  setMode("coords");
  $("#at").value = `${lon.toFixed(6)}, ${lat.toFixed(6)}`;
  $("#crs").value = "wgs84";  // the map is drawn in WGS84
  $("#crs-custom").hidden = true;
  if (!needIndustry()) submitCheck();
}

function checkDrawn(geometry) {
  if (geometry.type === "Point") {
    checkPoint(geometry.coordinates[0], geometry.coordinates[1]);
    return;
  }
  setMode("drawn");
  drawn = geometry;
  const kind = { LineString: "线路", Polygon: "多边形" }[geometry.type] || geometry.type;
  const vertices = geometry.type === "Polygon" ? geometry.coordinates[0].length - 1 : geometry.coordinates.length;
  $("#drawn-text").textContent = `场址：在地图上绘制的${kind}（${vertices} 个顶点，WGS84），按上传文件检查。`;
  if (!needIndustry()) submitCheck();
}

function onMapMessage(event) {
  if (event.origin !== window.location.origin || event.source !== $("#map").contentWindow || !event.data) return;
  const data = event.data;
  if (data.type === "siting:click" && typeof data.lon === "number" && typeof data.lat === "number") {
    checkPoint(data.lon, data.lat);
  } else if (data.type === "siting:draw" && data.geometry && typeof data.geometry.type === "string") {
    checkDrawn(data.geometry);
  }
}

// Place search: names from the loaded layers (no geocoding service); the map frame goes there.
let places = [];
let placeTimer = null;
function suggestPlaces() {
  clearTimeout(placeTimer);
  placeTimer = setTimeout(async () => {
    const query = $("#place").value.trim();
    if (!query) return;
    const response = await fetch(`/api/places?q=${encodeURIComponent(query)}&limit=10`);
    if (!response.ok) return;
    places = (await response.json()).places;
    $("#place-list").replaceChildren(...places.map((place) => {
      const option = document.createElement("option");
      option.value = place.name;
      option.label = `${place.kind}${place.within ? "，" + place.within : ""}${place.approximate ? "（示意位置）" : ""}`;
      return option;
    }));
  }, 150);
}

async function goToPlace() {
  const query = $("#place").value.trim();
  const status = $("#place-status");
  if (!query) return;
  let place = places.find((p) => p.name === query);
  if (!place) {
    const response = await fetch(`/api/places?q=${encodeURIComponent(query)}&limit=10`);
    places = response.ok ? (await response.json()).places : [];
    place = places[0];
  }
  if (!place) {
    status.textContent = `未找到“${query}”：可输入县、市、县城或湖泊名称（乡镇名称不在已载入的图层中）。`;
    return;
  }
  status.textContent = `${place.name}（${place.kind}${place.within ? "，" + place.within : ""}${place.approximate ? "，示意位置" : ""}）`;
  $("#map").contentWindow.postMessage({ type: "siting:goto", name: place.name, lon: place.lon, lat: place.lat, bounds: place.bounds },
    window.location.origin);
}

// The planner's tab: a whole region classified for one industry and stage (GET /api/siting-map…).
// The map, the table and the downloads are one answer, cached by the server: only the first request computes.
function showPage(page) {
  document.body.dataset.page = page;
  for (const tab of document.querySelectorAll(".page-tabs [role=tab]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.page === page));
  }
  $("#planner").hidden = page !== "planner";
  $("#admin").hidden = page !== "admin";
  $("#planner-map").hidden = page !== "planner" || !$("#planner-map").getAttribute("src");
}

let regionTimer = null;
function suggestRegions() {
  clearTimeout(regionTimer);
  regionTimer = setTimeout(async () => {
    const query = $("#planner-region").value.trim();
    const response = await fetch(`/api/places?q=${encodeURIComponent(query || "市")}&limit=20`);
    if (!response.ok) return;
    const regions = (await response.json()).places.filter((place) => place.code && place.bounds && !place.approximate);
    $("#planner-region-list").replaceChildren(...regions.map((place) => {
      const option = document.createElement("option");
      option.value = place.name;
      option.label = `${place.kind}${place.within ? "，" + place.within : ""}（${place.code}）`;
      return option;
    }));
  }, 150);
}

function percent(share) {
  return `${(100 * share).toFixed(1)}%`;
}

function km2(value) {
  return value.toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

function showPlannerError(body) {
  const error = (body && body.error) || {};
  const field = String(error.field || "").replace(/^query\./, "");
  const holder = document.querySelector(`#planner-form [data-field="${field}"]`);
  const box = holder ? element("div", null, "field-error") : $("#planner-error");
  box.setAttribute("role", "alert");
  box.appendChild(element("p", error.message_zh || "请求失败。", "zh"));
  if (error.message_en) box.appendChild(element("p", error.message_en, "en"));
  if (error.field) box.dataset.field = field;
  if (holder) {
    holder.appendChild(box);
    holder.querySelector("input, select").setAttribute("aria-invalid", "true");
  } else {
    box.hidden = false;
  }
}

function clearPlanner() {
  $("#planner-error").hidden = true;
  $("#planner-error").replaceChildren();
  for (const node of document.querySelectorAll("#planner-form .field-error")) node.remove();
  for (const node of document.querySelectorAll("#planner-form [aria-invalid]")) node.removeAttribute("aria-invalid");
  $("#planner-result").hidden = true;
  for (const selector of ["#planner-title", "#planner-classes tbody", "#planner-counties tbody", "#planner-largest", "#planner-missing"]) {
    $(selector).replaceChildren();
  }
  for (const kind of ["gpkg", "tif", "csv"]) {
    $(`#planner-${kind}`).removeAttribute("href");
    $(`#planner-${kind}`).removeAttribute("download");
  }
  $("#planner-map").removeAttribute("src");
  $("#planner-map").hidden = true;
}

function tableRow(cells) {
  const row = document.createElement("tr");
  for (const cell of cells) row.appendChild(element("td", cell));
  return row;
}

function showPlanner(query, table) {
  $("#planner-title").textContent = `${table.region.name}　${table.industry}（${table.stage}）选址管控分类`
    + `（全域 ${km2(table.region.area_km2)} 平方千米）`;
  $("#planner-classes tbody").replaceChildren(...table.classes.map((c) => {
    const row = tableRow([c.class, km2(c.area_km2), percent(c.share), c.rules.join("、") || "—"]);
    row.dataset.verdict = c.verdict;
    return row;
  }));
  $("#planner-counties tbody").replaceChildren(...table.counties.map((r) => tableRow([r.county, r.class, km2(r.area_km2), percent(r.share)])));
  $("#planner-largest").replaceChildren(...table.largest_open_areas.map((a) => element("li",
    `${a.area_km2.toFixed(3)} 平方千米，中心 ${a.lon.toFixed(5)}°E ${a.lat.toFixed(5)}°N`)));
  $("#planner-missing").replaceChildren(...table.not_evaluated.map((n) => element("li",
    `${n.layer_name}：${n.rules.length} 条条款，${km2(n.area_km2)} 平方千米；${n.reason}`)));
  $("#planner-missing-box").hidden = table.not_evaluated.length === 0;
  for (const kind of ["gpkg", "tif", "csv"]) {
    const link = $(`#planner-${kind}`);
    link.href = `/api/siting-map/download?${query}&format=${kind}`;
    link.setAttribute("download", `${table.region.name}-${table.industry}-${table.stage}.${kind}`);
  }
  $("#planner-result").hidden = false;
}

let plannerRun = 0;
async function submitPlanner(event) {
  event.preventDefault();
  const mine = ++plannerRun;
  clearPlanner();
  const query = new URLSearchParams({
    region: $("#planner-region").value.trim(), industry: $("#planner-industry").value.trim(), stage: $("#planner-stage").value,
  }).toString();
  $("#planner-submit").disabled = true;
  $("#planner-busy").hidden = false;
  try {
    // The table computes the classification (or names the bad field); the map then comes from the server's cache.
    const response = await fetch(`/api/siting-map/table?${query}`);
    if (mine !== plannerRun) return;
    if (!response.ok) {
      showPlannerError(await response.json().catch(() => null));
      return;
    }
    showPlanner(query, await response.json());
    $("#planner-map").src = `/api/siting-map?${query}`;
    $("#planner-map").hidden = document.body.dataset.page !== "planner";
  } catch (error) {
    if (mine === plannerRun) showPlannerError({ error: { message_zh: "无法连接服务器，请稍后重试。", message_en: "the server cannot be reached." } });
  } finally {
    if (mine === plannerRun) {
      $("#planner-submit").disabled = false;
      $("#planner-busy").hidden = true;
    }
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("#check-form").addEventListener("submit", submitCheck);
  for (const tab of document.querySelectorAll(".tabs [role=tab]")) {
    tab.addEventListener("click", () => setMode(tab.dataset.mode));
  }
  $("#drawn-clear").addEventListener("click", () => setMode("coords"));
  $("#crs").addEventListener("change", () => { $("#crs-custom").hidden = $("#crs").value !== "custom"; });
  $("#industry").addEventListener("input", () => suggestIndustries());
  $("#industry").addEventListener("focus", () => suggestIndustries());
  for (const tab of document.querySelectorAll(".page-tabs [role=tab]")) {
    tab.addEventListener("click", () => showPage(tab.dataset.page));
  }
  $("#planner-form").addEventListener("submit", submitPlanner);
  const plannerIndustry = () => suggestIndustries($("#planner-industry"), $("#planner-industry-list"));
  $("#planner-industry").addEventListener("input", plannerIndustry);
  $("#planner-industry").addEventListener("focus", plannerIndustry);
  $("#planner-region").addEventListener("input", suggestRegions);
  $("#planner-region").addEventListener("focus", suggestRegions);
  $("#place").addEventListener("input", suggestPlaces);
  $("#place").addEventListener("keydown", (event) => { if (event.key === "Enter") { event.preventDefault(); goToPlace(); } });
  $("#place").addEventListener("change", goToPlace);
  $("#place-go").addEventListener("click", goToPlace);
  window.addEventListener("message", onMapMessage);
  document.body.dataset.ready = "true";
});
