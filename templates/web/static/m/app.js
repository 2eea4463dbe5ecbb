// 督办 · 入户走访: the phone app (issue 18). Plain JavaScript modules, no build step.
// Works offline: households and visits are kept in IndexedDB (store.js); visits are sent when
// the signal is back (sync.js); photos are resized on the phone (image.js).
import * as store from "./store.js";
import { resizePhoto, SignaturePad } from "./image.js";
import { syncAll, SignInNeeded } from "./sync.js";

const main = document.getElementById("main");
const bar = document.getElementById("status");
const state = { session: null, signedIn: false };

// ---- small helpers ----------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function show(title, back, ...nodes) {
  document.title = `${title} · 入户走访`;
  const head = h("header", { class: "bar" },
    back ? h("a", { href: back, class: "back", "aria-label": "返回" }, "‹ 返回") : h("span"),
    h("h1", {}, title));
  main.replaceChildren(head, ...nodes);
  window.scrollTo(0, 0);
}

let toastTimer = null;
function toast(text, bad = false) {
  const el = document.getElementById("toast");
  el.textContent = text;
  el.className = bad ? "toast bad" : "toast";
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 4000);
}

function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

async function api(path, options = {}) {
  const r = await fetch(path, { credentials: "same-origin", ...options });
  if (r.status === 401) throw new SignInNeeded("未登录或登录已过期");
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (!r.ok) throw new Error((body && body.error) || `服务器错误（${r.status}）`);
  return body;
}

function loginUrl() {
  return `/login?next=${encodeURIComponent("/m/" + location.hash)}`;
}

async function pendingCount(campaign) {
  const visits = await store.all("visits", "campaign", campaign);
  return visits.filter((v) => v.state === "pending").length;
}

async function paintStatus() {
  const online = navigator.onLine;
  const cid = currentCampaign();
  const waiting = cid ? await pendingCount(cid) : 0;
  bar.replaceChildren(
    h("span", { class: online ? "dot on" : "dot off" }), online ? "在线" : "离线",
    state.session ? h("span", { class: "who" }, `${state.session.name}（${state.session.role_label}）`) : "",
    cid ? h("a", { href: `#/c/${cid}/sync`, class: waiting ? "waiting" : "" },
      waiting ? `待同步 ${waiting} 条` : "同步") : "",
    state.signedIn || !state.session ? "" : h("a", { href: loginUrl(), class: "warn" }, "登录"),
  );
}

function currentCampaign() {
  const m = location.hash.match(/^#\/c\/(\d+)/);
  return m ? Number(m[1]) : null;
}

// ---- start -------------------------------------------------------------------------------

async function boot() {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/m/sw.js", { scope: "/m/" }).catch(() => {});
  }
  store.persist();
  state.session = await store.get("meta", "session");
  try {
    const me = await api("/api/m/campaigns");
    state.session = { ...me.user, csrf_token: me.csrf_token, campaigns: me.campaigns,
      server_time: me.server_time, checked_at: new Date().toISOString() };
    await store.put("meta", state.session, "session");
    state.signedIn = true;
  } catch (e) {
    if (e instanceof SignInNeeded && !state.session) { location.href = loginUrl(); return; }
    if (!state.session) {
      show("入户走访", null, h("p", { class: "card" },
        "无法连接服务器。首次使用须联网登录并下载农户，之后可离线走访。"),
        h("button", { onclick: () => location.reload() }, "重试"));
      return;
    }
    state.signedIn = false; // offline, or signed out: work with what the phone keeps
  }
  window.addEventListener("hashchange", route);
  window.addEventListener("online", () => { paintStatus(); autoSync(); });
  window.addEventListener("offline", paintStatus);
  await route();
  autoSync();
}

async function autoSync() {
  const cid = currentCampaign();
  if (!cid || !navigator.onLine || !state.signedIn) return;
  if (!(await pendingCount(cid))) return;
  try {
    await syncAll(cid);
  } catch (e) { /* shown when the user opens 同步 */ }
  paintStatus();
  if (location.hash.endsWith("/sync")) route();
}

async function route() {
  const hash = location.hash || "#/";
  let m;
  try {
    if ((m = hash.match(/^#\/c\/(\d+)\/v\/([^/]+)$/))) await villagePage(+m[1], decodeURIComponent(m[2]));
    else if ((m = hash.match(/^#\/c\/(\d+)\/h\/([^/]+)\/([^/]+)$/))) await visitForm(+m[1], decodeURIComponent(m[2]), decodeURIComponent(m[3]), null);
    else if ((m = hash.match(/^#\/c\/(\d+)\/edit\/([^/]+)$/))) await editVisit(+m[1], m[2]);
    else if ((m = hash.match(/^#\/c\/(\d+)\/sync$/))) await syncPage(+m[1]);
    else if ((m = hash.match(/^#\/c\/(\d+)\/rectify\/(\d+)$/))) await rectifyForm(+m[1], +m[2]);
    else if ((m = hash.match(/^#\/c\/(\d+)\/rectify$/))) await rectifyList(+m[1]);
    else if ((m = hash.match(/^#\/c\/(\d+)$/))) await campaignPage(+m[1]);
    else await home();
  } catch (e) {
    if (e instanceof SignInNeeded) {
      state.signedIn = false;
      show("需要登录", "#/", h("p", { class: "card" }, "登录已过期。已保存在手机上的走访不会丢失。"),
        h("a", { class: "button", href: loginUrl() }, "重新登录"));
    } else {
      show("出错了", "#/", h("p", { class: "card bad" }, e.message || String(e)));
    }
  }
  paintStatus();
}

async function home() {
  const campaigns = (state.session && state.session.campaigns) || [];
  if (campaigns.length === 1) { location.replace(`#/c/${campaigns[0].id}`); return; }
  show("选择行动", null,
    campaigns.length ? h("ul", { class: "list" }, campaigns.map((c) =>
      h("li", {}, h("a", { href: `#/c/${c.id}` }, c.name)))) :
      h("p", { class: "card" }, "暂无可用的行动。"));
}

// ---- a campaign: the villages ------------------------------------------------------------

async function setupOf(cid) {
  if (navigator.onLine && state.signedIn) {
    try {
      const setup = await api(`/api/m/campaigns/${cid}/setup`);
      await store.put("meta", setup, `setup:${cid}`);
      return setup;
    } catch (e) {
      if (e instanceof SignInNeeded) state.signedIn = false;
    }
  }
  const kept = await store.get("meta", `setup:${cid}`);
  if (!kept) throw new Error("此行动尚未下载，请联网后打开。");
  return kept;
}

async function campaignPage(cid) {
  const setup = await setupOf(cid);
  const rows = [];
  for (const v of setup.villages) {
    const kept = await store.get("villages", `${cid}:${v.code}`);
    rows.push(h("li", { class: "village" },
      h("div", {}, h("b", {}, v.name), h("span", { class: "muted" }, ` ${v.town_name} · ${v.households}户`),
        kept ? h("div", { class: "small muted" }, `已下载 ${kept.households.length} 户（${fmtTime(kept.downloaded_at)}）`) : ""),
      h("div", { class: "actions" },
        kept ? h("a", { class: "button", href: `#/c/${cid}/v/${encodeURIComponent(v.code)}` }, "走访") : "",
        h("button", { class: kept ? "plain" : "", onclick: (e) => download(cid, v, e.target) },
          kept ? "更新" : "下载"))));
  }
  const office = state.session && state.session.role === "office";
  show(setup.campaign_name, (state.session.campaigns || []).length > 1 ? "#/" : null,
    office ? h("p", { class: "card" }, h("a", { class: "button", href: `#/c/${cid}/rectify` }, "整改提交（拍整改前后照片）")) : "",
    setup.villages.length ? h("h2", {}, "我负责的村") : "",
    setup.villages.length ? h("ul", { class: "list" }, rows) :
      (office ? "" : h("p", { class: "card" }, "没有分配给您的村。")),
    h("p", { class: "small muted" }, `走访期间：${setup.form.window[0]} 至 ${setup.form.window[1]}`));
}

async function download(cid, village, button) {
  if (!navigator.onLine) { toast("离线时无法下载，请联网后再试", true); return; }
  button.disabled = true;
  button.textContent = "下载中…";
  try {
    const data = await api(`/api/m/campaigns/${cid}/villages/${encodeURIComponent(village.code)}`);
    data.downloaded_at = new Date().toISOString();
    await store.put("villages", data, `${cid}:${village.code}`);
    toast(`已下载${data.village_name}${data.households.length}户`);
    await campaignPage(cid);
  } catch (e) {
    button.disabled = false;
    button.textContent = "下载";
    toast(e.message, true);
  }
}

// ---- a village: the households -----------------------------------------------------------

async function localVisits(cid) {
  const byHousehold = new Map();
  for (const v of await store.all("visits", "campaign", cid)) {
    if (!byHousehold.has(v.household_id)) byHousehold.set(v.household_id, []);
    byHousehold.get(v.household_id).push(v);
  }
  return byHousehold;
}

async function villagePage(cid, code) {
  const data = await store.get("villages", `${cid}:${code}`);
  if (!data) { location.replace(`#/c/${cid}`); return; }
  const mine = await localVisits(cid);
  const list = h("ul", { class: "list households" });
  const search = h("input", { type: "search", placeholder: "搜索户主姓名或户编号", class: "search" });
  const paint = () => {
    const q = search.value.trim();
    const items = data.households.filter((hh) => !q || hh.head.includes(q) || hh.id.includes(q));
    list.replaceChildren(...items.map((hh) => {
      const here = mine.get(hh.id) || [];
      const waiting = here.filter((v) => v.state === "pending").length;
      const refused = here.filter((v) => v.state === "refused").length;
      const done = here.filter((v) => v.state === "accepted").length + hh.visits.count;
      return h("li", {}, h("a", { href: `#/c/${cid}/h/${encodeURIComponent(code)}/${encodeURIComponent(hh.id)}`, class: "row" },
        h("span", {}, h("b", {}, hh.head), h("span", { class: "muted small" }, ` ${hh.id}`)),
        h("span", { class: "badges" },
          hh.problems.length ? h("span", { class: "badge red" }, `问题${hh.problems.length}`) : "",
          waiting ? h("span", { class: "badge orange" }, "待同步") : "",
          refused ? h("span", { class: "badge red" }, "未通过") : "",
          done ? h("span", { class: "badge green" }, `已走访${done}`) : "")));
    }));
  };
  search.addEventListener("input", paint);
  paint();
  show(`${data.village_name}（${data.households.length}户）`, `#/c/${cid}`, search, list);
}

// ---- the visit form ----------------------------------------------------------------------

function factInput(field, value) {
  const name = `fact-${field.key}`;
  if (field.type === "choice" && field.multiple) {
    const chosen = new Set((value || "").split("、").filter(Boolean));
    return h("div", { class: "checks", "data-key": field.key, "data-multiple": "1" },
      field.values.map((v) => h("label", {}, h("input", { type: "checkbox", value: v, checked: chosen.has(v) }), v)));
  }
  if (field.type === "choice" || field.type === "yes_no") {
    return h("select", { name, "data-key": field.key },
      h("option", { value: "" }, "（未填）"),
      field.values.map((v) => h("option", { value: v, selected: v === value }, v)));
  }
  if (field.type === "integer") {
    return h("input", { name, "data-key": field.key, type: "number", inputmode: "numeric",
      min: field.minimum ?? 0, max: field.maximum ?? null, value: value ?? "" });
  }
  if (field.type === "date") {
    return h("input", { name, "data-key": field.key, type: "date", value: value ?? "" });
  }
  return h("input", { name, "data-key": field.key, type: "text", value: value ?? "" });
}

function readFacts(form) {
  const out = {};
  for (const el of form.querySelectorAll("[data-key]")) {
    if (el.dataset.multiple) {
      out[el.dataset.key] = [...el.querySelectorAll("input:checked")].map((i) => i.value).join("、");
    } else {
      out[el.dataset.key] = el.value.trim();
    }
  }
  return out;
}

// The household's facts as the phone knows them: downloaded, then its own visits on top.
function knownFacts(household, visits, except) {
  const facts = { ...household.facts };
  for (const v of visits.filter((x) => x.state !== "refused" && x.client_id !== except)
    .sort((a, b) => a.recorded_at.localeCompare(b.recorded_at))) Object.assign(facts, v.facts);
  return facts;
}

async function editVisit(cid, clientId) {
  const visit = await store.get("visits", clientId);
  if (!visit) { location.replace(`#/c/${cid}/sync`); return; }
  await visitForm(cid, visit.village, visit.household_id, visit);
}

async function visitForm(cid, code, hid, existing) {
  const setup = await setupOf(cid);
  const village = await store.get("villages", `${cid}:${code}`);
  const household = village && village.households.find((x) => x.id === hid);
  if (!household) throw new Error("本机没有这户农户，请先下载该村");
  const mine = (await localVisits(cid)).get(hid) || [];
  const facts = existing ? { ...knownFacts(household, mine, existing.client_id), ...existing.facts }
    : knownFacts(household, mine, null);
  const form = setup.form;
  const photos = []; // {client_id, blob, taken_at, url}
  let keptFiles = existing ? await store.all("files", "visit", existing.client_id) : [];
  for (const f of keptFiles.filter((x) => x.kind === "photo")) {
    photos.push({ ...f, url: URL.createObjectURL(f.blob) });
  }
  let position = existing ? existing.position : null;

  const modeBox = h("div", { class: "modes" }, form.modes.map((m, i) =>
    h("label", {}, h("input", { type: "radio", name: "mode", value: m,
      checked: existing ? existing.mode === m : i === 0 }), m)));
  const answered = h("input", { type: "text", name: "answered_by", placeholder: "代答人姓名及与户主关系",
    value: existing ? existing.answered_by : "" });
  const answeredRow = h("label", { class: "field" }, "代答人", answered);
  const findings = h("textarea", { name: "findings", rows: 3, placeholder: "走访中发现的情况、群众诉求" },
    existing ? existing.findings : "");
  const factsBox = h("div", { class: "facts" }, form.fields.map((f) =>
    h("label", { class: "field" }, h("span", {}, f.label, f.rules.length ? h("small", { class: "muted" }, `（${f.rules.join("；")}）`) : ""),
      factInput(f, facts[f.key]))));
  const photoList = h("div", { class: "photos" });
  const paintPhotos = () => photoList.replaceChildren(...photos.map((p, i) =>
    h("figure", {}, h("img", { src: p.url, alt: `照片${i + 1}` }),
      h("button", { type: "button", class: "plain small", onclick: () => { photos.splice(i, 1); paintPhotos(); } }, "删除"))));
  paintPhotos();
  const camera = h("input", { type: "file", accept: "image/*", capture: "environment", multiple: true, class: "camera" });
  camera.addEventListener("change", async () => {
    for (const file of camera.files) {
      if (photos.length >= form.max_photos) { toast(`最多${form.max_photos}张照片`, true); break; }
      try {
        const blob = await resizePhoto(file, form.photo_max_kb * 1024);
        photos.push({ client_id: store.newId(), blob, taken_at: new Date().toISOString(), url: URL.createObjectURL(blob) });
      } catch (e) { toast(e.message, true); }
    }
    camera.value = "";
    paintPhotos();
  });
  const where = h("span", { class: "small muted" }, position ? `位置已获取（±${Math.round(position.accuracy || 0)}米）` : "正在获取位置…");
  if (!position && navigator.geolocation) {
    navigator.geolocation.getCurrentPosition((p) => {
      position = { latitude: p.coords.latitude, longitude: p.coords.longitude, accuracy: p.coords.accuracy };
      where.textContent = `位置已获取（±${Math.round(p.coords.accuracy)}米）`;
    }, () => { where.textContent = "未获取位置（未授权或不可用），不影响保存"; },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  } else if (!position) where.textContent = "此手机不提供位置";

  const visitorCanvas = h("canvas", { class: "sign", "aria-label": "走访人签名" });
  const householdCanvas = h("canvas", { class: "sign", "aria-label": "农户签名" });
  const householdBox = h("div", { class: "sign-box" }, h("div", { class: "field" }, "农户签名（户主或家庭成员）"), householdCanvas,
    h("button", { type: "button", class: "plain small", onclick: () => pads.household.clear() }, "重签"));
  const save = h("button", { type: "submit", class: "primary" }, "保存走访");
  const el = h("form", { class: "visit", novalidate: true },
    h("section", { class: "card" },
      h("div", {}, h("b", {}, household.head), h("span", { class: "muted" }, ` 户编号 ${household.id}`)),
      household.problems.length ? h("ul", { class: "problems" }, household.problems.map((p) =>
        h("li", {}, h("b", {}, `${p.category}`), ` ${p.description}`, h("span", { class: "small muted" }, `（${p.status}${p.deadline ? "，时限" + p.deadline : ""}）`)))) :
        h("div", { class: "small muted" }, "暂无在办问题")),
    h("section", { class: "card" }, h("h2", {}, "走访方式"), modeBox, answeredRow),
    h("section", { class: "card" }, h("h2", {}, "农户情况（按方案排查）"), factsBox),
    h("section", { class: "card" }, h("h2", {}, "走访发现"), findings),
    h("section", { class: "card" }, h("h2", {}, "照片"),
      h("label", { class: "button" }, "拍照 / 选照片", camera),
      h("div", { class: "small muted" }, `最多${form.max_photos}张，自动压缩到${form.photo_max_kb}KB以内`), photoList),
    h("section", { class: "card" }, h("h2", {}, "签字"),
      h("div", { class: "sign-box" }, h("div", { class: "field" }, `走访人签名（${state.session.name}）`), visitorCanvas,
        h("button", { type: "button", class: "plain small", onclick: () => pads.visitor.clear() }, "重签")),
      form.household_signature ? householdBox : ""),
    h("p", {}, where),
    save);
  show(existing ? `修改走访：${household.head}` : `走访：${household.head}`,
    existing ? `#/c/${cid}/sync` : `#/c/${cid}/v/${encodeURIComponent(code)}`, el);
  const pads = { visitor: new SignaturePad(visitorCanvas), household: new SignaturePad(householdCanvas) };
  const keptSign = (kind) => keptFiles.find((f) => f.kind === kind);
  const paintMode = () => {
    const mode = el.querySelector("input[name=mode]:checked").value;
    answeredRow.hidden = mode !== "代答";
    householdBox.hidden = !form.household_signature || mode === "电访";
  };
  modeBox.addEventListener("change", paintMode);
  paintMode();
  if (keptSign("visitor_signature")) visitorCanvas.after(h("div", { class: "small muted" }, "已有签名；重新签写则替换"));

  el.addEventListener("submit", async (e) => {
    e.preventDefault();
    const mode = el.querySelector("input[name=mode]:checked").value;
    const wrong = [];
    if (mode === "代答" && !answered.value.trim()) wrong.push("走访方式为代答时须填写代答人");
    if (pads.visitor.empty && !keptSign("visitor_signature")) wrong.push("请走访人签名");
    const needsHousehold = form.household_signature && mode !== "电访";
    if (needsHousehold && pads.household.empty && !keptSign("household_signature")) wrong.push("方案要求农户签字，请农户签名");
    if (wrong.length) { toast(wrong.join("；"), true); return; }
    save.disabled = true;
    const now = new Date().toISOString();
    const clientId = existing ? existing.client_id : store.newId();
    const written = readFacts(el);
    const changed = {};
    for (const [k, v] of Object.entries(written)) if ((household.facts[k] || "") !== v) changed[k] = v;
    const files = photos.map((p) => ({ client_id: p.client_id, visit: clientId, kind: "photo", blob: p.blob, taken_at: p.taken_at }));
    const dropped = keptFiles.filter((f) => f.kind === "photo" && !photos.some((p) => p.client_id === f.client_id)).map((f) => f.client_id);
    for (const [kind, pad, needed] of [["visitor_signature", pads.visitor, true], ["household_signature", pads.household, needsHousehold]]) {
      const old = keptSign(kind);
      if (!pad.empty) {
        if (old) dropped.push(old.client_id);
        files.push({ client_id: store.newId(), visit: clientId, kind, blob: await pad.blob(), taken_at: now });
      } else if (old && !needed) dropped.push(old.client_id);
    }
    const visit = {
      client_id: clientId, campaign: cid, village: code, household_id: hid, head: household.head,
      mode, answered_by: mode === "代答" ? answered.value.trim() : "", findings: findings.value.trim(),
      facts: changed, recorded_at: existing ? existing.recorded_at : now, saved_at: now,
      position, state: "pending", answer: null,
    };
    try {
      await store.saveVisit(visit, files, dropped);
    } catch (err) {
      save.disabled = false;
      toast(`保存失败：${err.message || err}（手机存储空间不足？）`, true);
      return;
    }
    toast("已保存在手机上，联网后同步");
    location.hash = existing ? `#/c/${cid}/sync` : `#/c/${cid}/v/${encodeURIComponent(code)}`;
    if (navigator.onLine) autoSync();
  });
}

// ---- sync ----------------------------------------------------------------------------------

async function syncPage(cid) {
  const visits = (await store.all("visits", "campaign", cid))
    .sort((a, b) => b.recorded_at.localeCompare(a.recorded_at));
  const groups = [["pending", "待同步"], ["refused", "未通过（请修改后重新同步）"], ["accepted", "已同步"]];
  const progress = h("p", { class: "small muted", id: "sync-progress" });
  const button = h("button", { class: "primary", id: "sync-now", onclick: async () => {
    if (!navigator.onLine) { toast("当前离线，联网后再同步", true); return; }
    button.disabled = true;
    progress.textContent = "正在同步…";
    try {
      const n = await syncAll(cid, (done, total) => { progress.textContent = `正在同步 ${done}/${total}`; });
      state.signedIn = true;
      toast(n ? `同步完成：${n}条` : "没有待同步的走访");
    } catch (e) {
      if (e instanceof SignInNeeded) { state.signedIn = false; toast(e.message, true); }
      else toast(`同步中断：${e.message || e}。未同步的走访仍在手机上，可再次同步`, true);
    }
    await syncPage(cid);
    paintStatus();
  } }, "立即同步");
  const sections = groups.map(([key, label]) => {
    const items = visits.filter((v) => v.state === key);
    if (!items.length) return "";
    return h("section", { class: "card", "data-state": key }, h("h2", {}, `${label}（${items.length}）`),
      h("ul", { class: "list" }, items.map((v) => h("li", { class: "visit-line" },
        h("div", {}, h("b", {}, v.head), ` ${v.mode} · ${fmtTime(v.recorded_at)}`),
        v.state === "refused" ? h("div", { class: "bad reason" }, v.answer.reason) : "",
        v.state === "accepted" && v.answer.problems.length ? h("div", { class: "small" },
          "发现问题：", v.answer.problems.map((p) => `${p.code} ${p.description}`).join("；")) : "",
        v.state === "accepted" && v.answer.notes && v.answer.notes.length ? h("div", { class: "small muted" }, v.answer.notes.join("；")) : "",
        v.state !== "accepted" ? h("div", { class: "actions" },
          h("a", { class: "button plain small", href: `#/c/${cid}/edit/${v.client_id}` }, "修改"),
          h("button", { class: "plain small", onclick: async () => {
            if (!confirm("删除这条走访？删除后无法恢复。")) return;
            await store.deleteVisit(v.client_id);
            syncPage(cid);
          } }, "删除")) : ""))));
  });
  show("同步", `#/c/${cid}`, h("p", {}, button), progress, ...sections,
    visits.length ? "" : h("p", { class: "card" }, "手机上还没有走访记录。"));
}

// ---- rectification by an office's field staff (online) ----------------------------------

async function rectifyList(cid) {
  const page = await api(`/api/problems?campaign=${cid}&pending=true&per_page=100&sort=deadline`);
  const items = page.items.filter((p) => ["routed", "rectifying"].includes(p.status));
  show("整改提交", `#/c/${cid}`,
    items.length ? h("ul", { class: "list" }, items.map((p) => h("li", {},
      h("a", { class: "row", href: `#/c/${cid}/rectify/${p.id}` },
        h("span", {}, h("b", {}, p.code), ` ${p.description}`),
        h("span", { class: "badge orange" }, `${p.status_label}${p.deadline ? " · " + p.deadline : ""}`))))) :
      h("p", { class: "card" }, "没有待整改的问题。"));
}

async function rectifyForm(cid, pid) {
  const d = await api(`/api/problems/${pid}`);
  const p = d.problem;
  const before = [];
  const after = [];
  const picker = (list, label) => {
    const box = h("div", { class: "photos" });
    const input = h("input", { type: "file", accept: "image/*", capture: "environment", multiple: true, class: "camera" });
    input.addEventListener("change", async () => {
      for (const file of input.files) {
        try { list.push(await resizePhoto(file, 2048 * 1024)); } catch (e) { toast(e.message, true); }
      }
      input.value = "";
      box.replaceChildren(...list.map((b, i) => h("img", { src: URL.createObjectURL(b), alt: `${label}${i + 1}` })));
    });
    return [h("label", { class: "button" }, `拍${label}`, input), box];
  };
  const note = h("textarea", { rows: 3, placeholder: "整改措施和结果" });
  const accept = d.allowed_actions.includes("accept");
  const submit = d.allowed_actions.includes("submit");
  const move = async (action, payload) => api(`/api/problems/${pid}/moves`, {
    method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": state.session.csrf_token },
    body: JSON.stringify({ action, expected_version: p.version, ...payload }) });
  const upload = async (blobs, phase) => {
    if (!blobs.length) return [];
    const body = new FormData();
    body.append("phase", phase);
    blobs.forEach((b, i) => body.append("files", b, `${phase === "before" ? "整改前" : "整改后"}${i + 1}.jpg`));
    return api(`/api/problems/${pid}/evidence`, { method: "POST", body, headers: { "X-CSRF-Token": state.session.csrf_token } });
  };
  const go = h("button", { class: "primary", onclick: async () => {
    if (!after.length) { toast("请拍整改后照片", true); return; }
    if (!note.value.trim()) { toast("请填写整改情况", true); return; }
    go.disabled = true;
    try {
      const hashes = [...(await upload(before, "before")), ...(await upload(after, "after"))];
      await move("submit", { note: note.value.trim(), evidence: hashes });
      toast("已提交整改，等待复核");
      location.hash = `#/c/${cid}/rectify`;
    } catch (e) { go.disabled = false; toast(e.message, true); }
  } }, "提交整改");
  show(`整改：${p.code}`, `#/c/${cid}/rectify`,
    h("section", { class: "card" }, h("div", {}, p.description),
      h("div", { class: "small muted" }, `${p.status_label}${p.deadline ? "，整改时限 " + p.deadline : ""}；排查人：${d.found_by}`)),
    accept ? h("p", {}, h("button", { onclick: async (e) => {
      e.target.disabled = true;
      try { await move("accept", {}); toast("已签收"); rectifyForm(cid, pid); } catch (err) { toast(err.message, true); e.target.disabled = false; }
    } }, "签收")) : "",
    submit ? h("section", { class: "card" }, h("h2", {}, "整改前"), ...picker(before, "整改前照片"),
      h("h2", {}, "整改后"), ...picker(after, "整改后照片"), h("h2", {}, "整改情况"), note, go) :
      (accept ? "" : h("p", { class: "card" }, "此问题当前无需您提交整改。")));
}

boot();
