/* The run page: rendered from the database, then follows run:{id} live. */
(function () {
  "use strict";
  const root = document.getElementById("run");
  const runId = Number(root.dataset.runId);
  const room = "run:" + runId;
  let state = JSON.parse(document.getElementById("run-initial").textContent);

  const $ = (id) => document.getElementById(id);
  const ACTIVE = ["queued", "running"];

  let lastLine = null; // [stage, message] of the newest entry: a pause or cancel is announced twice
  // (automation_paused, then the run's last automation_progress, both with the run's message)

  function log(stage, message, timestamp, before) {
    if (lastLine && lastLine[0] === stage && lastLine[1] === message && !before) return;
    if (!before) lastLine = [stage, message];
    const li = document.createElement("li");
    li.className = "log-entry log-" + stage;
    const time = document.createElement("span");
    time.className = "timestamp";
    time.textContent = (timestamp ? new Date(timestamp) : new Date()).toISOString().slice(11, 19); // UTC, as the server renders
    const text = document.createElement("span");
    text.className = "message";
    text.textContent = message;
    li.append(time, " ", text);
    const list = $("progress-log");
    if (before) list.insertBefore(li, before);
    else list.appendChild(li);
    while (list.children.length > 300) list.removeChild(list.firstChild);
    list.scrollTop = list.scrollHeight;
  }

  function card(ticker) {
    let el = document.querySelector('.ticker-card[data-ticker="' + CSS.escape(ticker) + '"]');
    if (!el) {
      el = document.createElement("div");
      el.dataset.ticker = ticker;
      el.innerHTML = '<div class="ticker-name"></div><div class="status-text"></div><div class="ticker-detail"></div>';
      el.querySelector(".ticker-name").textContent = ticker;
      $("ticker-cards").appendChild(el);
    }
    return el;
  }

  function renderTicker(t) {
    const el = card(t.ticker);
    el.className = "ticker-card status-" + t.status;
    el.querySelector(".status-text").textContent = t.status;
    el.querySelector(".ticker-detail").textContent = t.published_id || t.error || "";
  }

  function render() {
    $("run-status").textContent = state.requested ? state.status + " (" + state.requested + " requested)" : state.status;
    $("run-status").className = "badge status-" + state.status;
    $("progress-bar").style.width = state.percent + "%";
    $("progress-bar").className = "progress-bar stage-" + state.stage;
    document.querySelector(".progress").setAttribute("aria-valuenow", state.percent);
    $("progress-percent").textContent = state.percent + "%";
    $("run-stage").textContent = state.stage;
    $("progress-text").textContent = state.message;
    $("run-error").hidden = !state.error;
    $("run-error").textContent = state.error || "";
    (state.tickers || []).forEach(renderTicker);
    const counts = {};
    (state.tickers || []).forEach((t) => { counts[t.status] = (counts[t.status] || 0) + 1; });
    $("ticker-summary").textContent = Object.entries(counts).map(([k, v]) => v + " " + k).join(" · ");
    const left = (state.tickers || []).some((t) => ["failed", "pending", "processing"].includes(t.status));
    $("pause-btn").disabled = !(ACTIVE.includes(state.status) && !state.requested);
    $("resume-btn").disabled = !(state.status === "paused" || (ACTIVE.includes(state.status) && state.requested === "pause"));
    $("cancel-btn").disabled = !((ACTIVE.includes(state.status) || state.status === "paused") && state.requested !== "cancel");
    $("retry-btn").disabled = !(["completed", "failed"].includes(state.status) && left);
    root.dataset.status = state.status;
  }

  function setTicker(ticker, changes) {
    const t = (state.tickers || []).find((x) => x.ticker === ticker);
    if (t) Object.assign(t, changes);
  }

  const STAGE_STATUS = { complete: "completed", cancelled: "cancelled", paused: "paused", error: "failed" };

  let held = null; // events of our room that arrive while the state is reloaded over HTTP

  // The log line an event of the run's room writes: [stage, message, timestamp], or null.
  function lineFor(event, data) {
    if (event === "automation_progress") return [data.stage, data.message, data.timestamp];
    if (event === "automation_paused") return ["paused", data.message];
    if (event === "automation_resumed") return ["processing", data.message];
    if (event === "automation_cancelled") return ["cancelled", data.message];
    if (event === "automation_error") return ["error", data.message + (data.recoverable ? " (recoverable)" : ""), data.timestamp];
    return null;
  }

  function onEvent(event, data, fromRoom) {
    if (event === "error") { log("error", "Error: " + data.message); return; }
    if (fromRoom !== room) return; // the same events also reach our user room: follow the run's room only
    if (held) { held.push([event, data, fromRoom]); return; }
    if (event === "automation_progress") {
      state.stage = data.stage;
      state.message = data.message;
      if (data.percent !== undefined) state.percent = data.percent;
      if (STAGE_STATUS[data.stage]) {
        state.status = STAGE_STATUS[data.stage];
        state.requested = "";
      } else if (state.status === "queued" || state.status === "paused") {
        state.status = "running";
      }
      const d = data.data || {};
      if (d.states) Object.entries(d.states).forEach(([ticker, status]) => setTicker(ticker, { status: status }));
      if (d.ticker && d.status) setTicker(d.ticker, { status: d.status, published_id: d.post_id || "", error: d.error || "" });
      if (data.stage === "cancelled") (state.tickers || []).forEach((t) => { if (["pending", "processing"].includes(t.status)) t.status = "cancelled"; });
    } else if (event === "automation_paused") {
      Object.assign(state, { status: "paused", stage: "paused", requested: "", message: data.message });
    } else if (event === "automation_resumed") {
      Object.assign(state, { status: state.status === "paused" || state.status === "completed" || state.status === "failed" ? "queued" : state.status, requested: "", error: "", message: data.message });
      (state.tickers || []).forEach((t) => { if (t.status === "failed") Object.assign(t, { status: "pending", error: "" }); });
    } else if (event === "automation_cancelled") {
      Object.assign(state, { status: "cancelled", stage: "cancelled", requested: "", message: data.message });
    } else if (event === "automation_error") {
      if (data.ticker) setTicker(data.ticker, { status: "failed", error: data.message, recoverable: data.recoverable });
      else state.error = data.message;
    } else {
      return;
    }
    const line = lineFor(event, data);
    log(line[0], line[1], line[2]);
    render();
  }

  async function reload(reason) {
    // Events that arrive during the fetch are held and applied on top of the fetched state, in
    // order: one applied now could be overwritten by an older read and never corrected.
    held = held || [];
    try {
      const response = await fetch("/api/automation/" + runId, { credentials: "same-origin" });
      if (!response.ok) throw new Error("HTTP " + response.status);
      state = await response.json();
      log(state.stage, "State reloaded (" + reason + "): " + state.status + ", " + state.percent + "%");
    } catch (err) {
      log("error", "Could not reload the run (" + err.message + "): reload the page");
    } finally {
      const later = held;
      held = null;
      render();
      later.forEach(([event, data, fromRoom]) => onEvent(event, data, fromRoom));
    }
  }

  const rt = Realtime.create({
    onEvent: onEvent,
    onSnapshot(r, snapshot) { if (r === room && snapshot.run) { state = snapshot.run; render(); } },
    onResync(r, reason) { if (r === room) reload(reason); },
    onStatus: Realtime.setConnection,
  });
  // The run's history (its room's replay log, read by the page's view before the state): each
  // event's log line goes before "State loaded", then the room is followed from that position, so
  // what happened since the read is replayed on top of the state and nothing shows twice.
  const history = JSON.parse(document.getElementById("run-history").textContent);
  const loaded = $("progress-log").firstElementChild;
  let previous = null;
  history.events.forEach(([event, data]) => {
    const line = lineFor(event, data);
    if (!line || (previous && previous[0] === line[0] && previous[1] === line[1])) return;
    previous = line;
    log(line[0], line[1], line[2], loaded);
  });
  if (previous) lastLine = previous;
  rt.subscribe(room, history.position);

  async function control(action) {
    const event = action + "_automation";
    let answer;
    if (rt.socket.connected && action !== "retry") {
      answer = await rt.call(event, { automation_id: runId });
    } else {
      const r = await Realtime.postJSON("/api/automation/" + runId + "/" + action, {});
      answer = r.ok ? Object.assign({ ok: true }, r.data) : { ok: false, message: r.data.error };
    }
    if (!answer || !answer.ok) { log("error", "Could not " + action + ": " + (answer ? answer.message : "no answer")); return; }
    Object.assign(state, { status: answer.status, requested: answer.requested, message: answer.message });
    render();
  }
  $("pause-btn").addEventListener("click", () => control("pause"));
  $("resume-btn").addEventListener("click", () => control("resume"));
  $("cancel-btn").addEventListener("click", () => control("cancel"));
  $("retry-btn").addEventListener("click", () => control("retry"));
  render();
  window.runPage = { get state() { return state; }, realtime: rt };
})();
