// Sync: send each visit still waiting on the phone, one request per visit with its photos and
// signatures. The server stores a visit once per client id, so a request cut halfway (signal
// lost, server restarted) is simply sent again. One sync at a time per browser (Web Locks),
// and two tabs racing on the same visit are answered by the server as already stored.
import * as store from "./store.js";

export class SignInNeeded extends Error {}

async function csrf(session, force) {
  if (session.csrf_token && !force) return session.csrf_token;
  const r = await fetch("/api/m/campaigns", { credentials: "same-origin" });
  if (r.status === 401) throw new SignInNeeded("登录已过期，请重新登录后再同步");
  if (!r.ok) throw new Error(`服务器暂时无法连接（${r.status}）`);
  const me = await r.json();
  session.csrf_token = me.csrf_token;
  await store.put("meta", { ...session, csrf_token: me.csrf_token }, "session");
  return me.csrf_token;
}

async function sendOne(session, visit, token) {
  const files = await store.all("files", "visit", visit.client_id);
  const body = new FormData();
  const data = {
    client_id: visit.client_id, household_id: visit.household_id, mode: visit.mode,
    answered_by: visit.answered_by, findings: visit.findings, facts: visit.facts,
    recorded_at: visit.recorded_at, position: visit.position,
    files: files.map((f) => ({ client_id: f.client_id, kind: f.kind, taken_at: f.taken_at })),
  };
  body.append("visit", JSON.stringify(data));
  body.append("sent_at", new Date().toISOString());
  for (const f of files) body.append("file", f.blob, f.client_id);
  return fetch(`/api/m/campaigns/${visit.campaign}/visits`, {
    method: "POST", body, credentials: "same-origin", headers: { "X-CSRF-Token": token },
  });
}

// Send every waiting visit of a campaign; `progress(done, total, visit)` after each.
export async function syncAll(campaign, progress) {
  const run = async () => {
    const session = await store.get("meta", "session");
    const waiting = (await store.all("visits", "campaign", campaign))
      .filter((v) => v.state === "pending")
      .sort((a, b) => a.recorded_at.localeCompare(b.recorded_at));
    let token = await csrf(session, false);
    let n = 0;
    for (const visit of waiting) {
      let r = await sendOne(session, visit, token);
      if (r.status === 403) { // the CSRF token of an older session: fetch a fresh one
        token = await csrf(session, true);
        r = await sendOne(session, visit, token);
      }
      if (r.status === 401) throw new SignInNeeded("登录已过期，请重新登录后再同步");
      if (!r.ok) {
        let message = `服务器错误（${r.status}）`;
        try { message = (await r.json()).error || message; } catch (e) { /* not JSON */ }
        throw new Error(message);
      }
      const answer = await r.json();
      const latest = (await store.get("visits", visit.client_id)) || visit;
      latest.state = answer.status === "accepted" ? "accepted" : "refused";
      latest.answer = answer;
      latest.synced_at = new Date().toISOString();
      await store.put("visits", latest);
      n += 1;
      if (progress) progress(n, waiting.length, latest);
    }
    return n;
  };
  if (navigator.locks && navigator.locks.request) {
    return navigator.locks.request(`duban-sync-${campaign}`, run);
  }
  return run();
}
