/* The runs page: start a run, and follow the user's runs live (user room). */
(function () {
  "use strict";
  const form = document.getElementById("start-form");
  const errorBox = document.getElementById("start-error");
  const picked = [];

  form.querySelectorAll('input[name="ticker"]').forEach((box) => {
    box.addEventListener("change", () => {
      const i = picked.indexOf(box.value);
      if (box.checked && i < 0) picked.push(box.value);
      if (!box.checked && i >= 0) picked.splice(i, 1);
    });
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errorBox.hidden = true;
    const extra = document.getElementById("extra-tickers").value.split(",").map((s) => s.trim()).filter(Boolean);
    const body = {
      tickers: picked.concat(extra),
      profile_id: Number(document.getElementById("profile-select").value),
      step_seconds: Number(document.getElementById("pace-select").value),
    };
    document.getElementById("start-btn").disabled = true;
    const r = await Realtime.postJSON("/start-automation", body);
    document.getElementById("start-btn").disabled = false;
    if (!r.ok) {
      errorBox.textContent = r.data.error || "Could not start the automation";
      errorBox.hidden = false;
      return;
    }
    window.location.href = r.data.url;
  });

  const STAGE_STATUS = { complete: "completed", cancelled: "cancelled", paused: "paused", error: "failed" };

  function row(id) { return document.querySelector('tr[data-run="' + id + '"]'); }
  function set(tr, field, text) { const el = tr.querySelector('[data-field="' + field + '"]'); if (el) el.textContent = text; }
  function setStatus(tr, status) {
    const el = tr.querySelector('[data-field="status"]');
    el.textContent = status;
    el.className = "badge status-" + status;
  }

  Realtime.create({
    onStatus: Realtime.setConnection,
    onResync() { window.location.reload(); },
    onEvent(event, data) {
      if (!data || !data.automation_id) return;
      const tr = row(data.automation_id);
      if (!tr) return;
      if (event === "automation_progress") {
        if (data.percent !== undefined) set(tr, "percent", data.percent + "%");
        set(tr, "message", data.message);
        setStatus(tr, STAGE_STATUS[data.stage] || "running");
      } else if (event === "automation_paused") { setStatus(tr, "paused"); set(tr, "message", data.message); }
      else if (event === "automation_resumed") { setStatus(tr, "queued"); set(tr, "message", data.message); }
      else if (event === "automation_cancelled") { setStatus(tr, "cancelled"); set(tr, "message", data.message); }
    },
  });
})();
