// energy-forecast dashboard: talks to the public JSON API only, so it shows what clients get.
// No framework and no build step; uPlot (vendored) draws the chart.
"use strict";

(function () {
  const TERMINAL = new Set(["SUCCESS", "FAILURE", "CANCELLED"]);
  const HOUR_MS = 3600 * 1000;

  function pageData() {
    const node = document.getElementById("page-data");
    return node ? JSON.parse(node.textContent) : null;
  }

  // --- API key ------------------------------------------------------------------------------------
  // The key lives in this tab's sessionStorage only: not localStorage (it would outlive the tab),
  // not a cookie (sent to and logged by whatever sits in front), never in a URL. It travels as the
  // X-API-Key header of the dashboard's own requests, which the CSP confines to this origin.

  const KEY_ITEM = "energy-forecast.api-key";

  function storedKey() {
    try {
      return window.sessionStorage.getItem(KEY_ITEM) || "";
    } catch (_error) {
      return ""; // storage disabled: the key form asks again on each page
    }
  }

  function storeKey(key) {
    try {
      if (key) window.sessionStorage.setItem(KEY_ITEM, key);
      else window.sessionStorage.removeItem(KEY_ITEM);
    } catch (_error) {
      // storage disabled: nothing to keep or to forget
    }
    showForgetControl();
  }

  function withKey(headers) {
    const key = storedKey();
    return key ? { ...headers, "X-API-Key": key } : headers;
  }

  function showForgetControl() {
    const button = document.getElementById("forget-key");
    if (button) button.hidden = !storedKey();
  }

  // Open the key form with the reason (the API's own message for a 401, ours for a 403).
  function askForKey(reason) {
    const panel = document.getElementById("key-panel");
    if (!panel) return;
    document.getElementById("key-reason").textContent = reason || "";
    panel.hidden = false;
    document.getElementById("key-input").focus();
  }

  function writeKeyNeeded(error) {
    return (
      "Training needs an API key with write scope; the key of this tab can only read " +
      `(${error.message}). Enter a write key above, then press “Train model” again.`
    );
  }

  // fetch JSON; a non-2xx answer becomes an Error carrying the API's own message and status.
  // A 401 also opens the key form: the key is missing, wrong or revoked.
  async function api(path, options) {
    const { headers, ...rest } = options || {};
    const response = await fetch(path, {
      ...rest,
      headers: withKey({ "content-type": "application/json", accept: "application/json", ...headers }),
    });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      let detail = body && body.detail;
      if (Array.isArray(detail)) detail = detail.map((d) => d.msg).join("; ");
      const error = new Error(detail || `${response.status} ${response.statusText}`);
      error.status = response.status;
      if (response.status === 401) askForKey(storedKey() ? `The API refused this key: ${error.message}` : "");
      throw error;
    }
    return body;
  }

  // Read a text/event-stream response with fetch (EventSource cannot send a header), calling
  // onEvent(data) per data event, as EventSource's onmessage would, until it returns true or the
  // stream ends. Like EventSource, it remembers the last event id and, when the stream breaks,
  // reconnects with Last-Event-ID so the server resumes after that event (at most `attempts` times).
  async function readEvents(path, onEvent, attempts = 3) {
    let lastEventId = "";
    for (let attempt = 0; ; attempt++) {
      const headers = { accept: "text/event-stream" };
      if (lastEventId) headers["last-event-id"] = lastEventId;
      let finished = false;
      try {
        finished = await readEventStream(path, headers, (id) => { lastEventId = id; }, onEvent);
      } catch (error) {
        if (error.status || attempt + 1 >= attempts) throw error;
      }
      if (finished) return true;
      if (attempt + 1 >= attempts) return false;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  async function readEventStream(path, headers, onId, onEvent) {
    const response = await fetch(path, { headers: withKey(headers), cache: "no-store" });
    if (!response.ok || !response.body) {
      const error = new Error(`${response.status} ${response.statusText}`);
      error.status = response.status;
      throw error;
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return false;
        buffer += value.replace(/\r\n?/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let name = "message";
          const data = [];
          for (const line of block.split("\n")) {
            if (line.startsWith("event:")) name = line.slice(6).trim();
            else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
            else if (line.startsWith("id:")) onId(line.slice(3).trim());
          }
          if (name === "message" && data.length && onEvent(data.join("\n"))) return true;
          // One task per event, as EventSource dispatches them: each stage is rendered on its own.
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  function fmt(value, digits) {
    return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
  }

  function ago(iso) {
    if (!iso) return "";
    const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (seconds >= 86400) return `${Math.floor(seconds / 86400)} d ago`;
    if (seconds >= 3600) return `${Math.floor(seconds / 3600)} h ago`;
    if (seconds >= 60) return `${Math.floor(seconds / 60)} min ago`;
    return "just now";
  }

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  // --- live task progress -------------------------------------------------------------------------

  function renderProgress(root, record) {
    const bar = root.querySelector(".progress");
    const percent = Number(record.progress) || 0;
    bar.setAttribute("aria-valuenow", String(percent));
    bar.dataset.status = record.status;
    bar.querySelector(".progress-fill").style.width = `${percent}%`;
    bar.querySelector(".progress-text").textContent = `${percent} %`;

    const items = Array.from(root.querySelectorAll(".stages li"));
    const states = items.map((li) => li.dataset.state);
    let current = states.indexOf(record.status);
    if (current < 0) {
      // FAILURE / CANCELLED keep the percentage reached: mark the last stage at or below it.
      const reached = items.map((li) => Number(li.querySelector(".stage-pct").textContent.replace(/\D/g, "")));
      current = reached.filter((p) => p <= percent).length - 1;
    }
    items.forEach((li, i) => {
      li.classList.toggle("done", i < current || record.status === "SUCCESS");
      li.classList.toggle("current", i === current && record.status !== "SUCCESS");
      li.classList.toggle("failed", i === current && (record.status === "FAILURE" || record.status === "CANCELLED"));
      if (i === current) li.setAttribute("aria-current", "step");
      else li.removeAttribute("aria-current");
    });

    const message = root.querySelector(".task-message");
    let text = `${record.status.replace(/_/g, " ").toLowerCase()}: ${record.message || ""}`;
    // A queued task says why it waits (the tasks ahead of it in its queue).
    if (record.status === "PENDING" && record.waiting) text += ` (${record.waiting})`;
    if (record.status === "FAILURE") {
      const error = record.error || record.details || {};
      text = `Training failed (${error.error_type || "error"}): ${error.error || record.message}`;
    }
    message.textContent = text;
    message.classList.toggle("error", record.status === "FAILURE");
  }

  // Follow a task through its Server-Sent Events; if the stream breaks, poll the status instead.
  async function trackTask(taskId, onUpdate) {
    const statusPath = `/trainmodel/status/${encodeURIComponent(taskId)}`;
    let last = null;
    try {
      const ended = await readEvents(`/trainmodel/stream/${encodeURIComponent(taskId)}`, (data) => {
        last = JSON.parse(data);
        onUpdate(last);
        return TERMINAL.has(last.status);
      });
      // The final event carries the same result or error record as the status route.
      if (ended && last) return last;
    } catch (_error) {
      // stream refused or broken: the polling below picks up from the stored status
    }
    for (;;) {
      try {
        // The final status also carries the result or the error record.
        const record = await api(statusPath);
        onUpdate(record);
        if (TERMINAL.has(record.status)) return record;
      } catch (error) {
        if (error.status === 404 || error.status === 401 || error.status === 403) {
          return { status: "FAILURE", progress: last ? last.progress : 0, message: error.message };
        }
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  // --- forecast chart -----------------------------------------------------------------------------

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function chartSeries(points) {
    const xs = [], history = [], forecast = [], lower = [], upper = [];
    for (const p of points) {
      xs.push(Date.parse(p.datetime) / 1000);
      const isForecast = p.type === "forecast";
      history.push(isForecast ? null : p.value);
      forecast.push(isForecast ? p.value : null);
      // The P10-P90 band: the quantiles when the answer carries them, else lower/upper (the same levels).
      const q = (isForecast && p.quantiles) || {};
      const low = q.p10 !== undefined ? q.p10 : p.lower;
      const high = q.p90 !== undefined ? q.p90 : p.upper;
      lower.push(isForecast && low !== undefined ? low : null);
      upper.push(isForecast && high !== undefined ? high : null);
    }
    return [xs, history, forecast, lower, upper];
  }

  // 24-hour UTC labels: the date at midnight, the hour otherwise (readable across a room).
  function axisLabel(ts) {
    const d = new Date(ts * 1000);
    const pad = (n) => String(n).padStart(2, "0");
    if (d.getUTCHours() === 0) return `${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
    return `${pad(d.getUTCHours())}:00`;
  }

  function drawChart(container, data, unit) {
    container.textContent = "";
    const label = unit ? `consumption (${unit})` : "consumption";
    const band = cssVar("--band") || "rgba(255, 170, 60, 0.25)";
    const opts = {
      width: Math.max(320, container.clientWidth),
      height: Math.max(260, Math.min(520, Math.round(container.clientWidth * 0.42))),
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      scales: { x: { time: true } },
      axes: [
        {
          stroke: cssVar("--muted"),
          grid: { stroke: cssVar("--grid") },
          ticks: { stroke: cssVar("--grid") },
          values: (_u, splits) => splits.map(axisLabel),
        },
        { stroke: cssVar("--muted"), grid: { stroke: cssVar("--grid") }, ticks: { stroke: cssVar("--grid") }, label, size: 70 },
      ],
      series: [
        { label: "time (UTC)" },
        { label: "readings", stroke: cssVar("--history"), width: 2 },
        { label: "forecast (P50)", stroke: cssVar("--forecast"), width: 2.5, dash: [8, 4] },
        { label: "P10", stroke: cssVar("--bound"), width: 1 },
        { label: "P90", stroke: cssVar("--bound"), width: 1 },
        ...(data.length > 5 ? [{ label: "published", stroke: cssVar("--muted"), width: 1.5, dash: [2, 3] }] : []),
      ],
      bands: [{ series: [4, 3], fill: band }],
      legend: { live: true },
    };
    const plot = new uPlot(opts, data, container);
    const resize = new ResizeObserver(() => {
      const width = Math.max(320, container.clientWidth);
      plot.setSize({ width, height: Math.max(260, Math.min(520, Math.round(width * 0.42))) });
    });
    resize.observe(container);
    return { plot, resize };
  }

  function summarise(result) {
    const forecast = result.forecast_data.filter((p) => p.type === "forecast");
    const history = result.forecast_data.filter((p) => p.type === "historical");
    if (!forecast.length) return `${history.length} hourly readings; no forecast hours in this window.`;
    const peak = forecast.reduce((a, b) => (b.value > a.value ? b : a));
    const page = pageData();
    const unit = page.unit || "";
    // A rate (kW, L/s) is not summed as if it were energy: the total is rate x 1 h (kWh, L).
    const totals = page.total || { factor: 1, unit: unit, from_rate: false };
    const total = forecast.reduce((sum, p) => sum + p.value, 0) * totals.factor;
    const totalText = `${total.toLocaleString("en-US", { maximumFractionDigits: total >= 100 ? 0 : 2 })} ${totals.unit}`;
    const totalLabel = totals.from_rate
      ? `Forecast ${totals.quantity} ${totalText} (${unit} over each hour)`
      : `Forecast total ${totalText}`;
    const model =
      result.model === "group"
        ? `the sum of ${result.members} members' forecasts (${result.fallbacks} on their fallback)`
        : result.model === "global"
        ? "the global model of its type (a new meter)"
        : result.model_version
          ? `model v${result.model_version}${result.model === "ensemble" ? " in the ensemble (with the global model and a baseline)" : ""}`
          : "same-hour mean (no model)";
    return (
      `${history.length} hourly readings and ${forecast.length} forecast hours from ${model}. ` +
      `${totalLabel}, peak ${peak.value.toFixed(1)} ${unit} at ` +
      `${peak.datetime.slice(0, 16).replace("T", " ")} UTC. The line is the median (P50); the shaded band runs from P10 to P90 (about 80 % of hours fall inside).`
    );
  }

  async function loadChart(page, state) {
    const container = document.getElementById("chart");
    const summary = document.getElementById("chart-summary");
    const notice = document.getElementById("chart-notice");
    if (!page.last_reading) {
      container.dataset.state = "empty";
      summary.textContent = "This meter has no readings yet.";
      return;
    }
    const historyDays = Number(document.getElementById("history-days").value);
    const horizonDays = Number(document.getElementById("horizon-days").value);
    const last = Date.parse(page.last_reading);
    const body = {
      ...(page.group_id ? { group_id: page.group_id } : { meter_id: page.meter_id }),
      meter_type: page.meter_type,
      start_date: new Date(last - (historyDays * 24 - 1) * HOUR_MS).toISOString(),
      end_date: new Date(last + horizonDays * 24 * HOUR_MS).toISOString(),
    };
    container.dataset.state = "loading";
    try {
      const result = await api("/forecast/", { method: "POST", body: JSON.stringify(body) });
      if (state.chart) {
        state.chart.resize.disconnect();
        state.chart.plot.destroy();
      }
      const data = chartSeries(result.forecast_data);
      const published = await publishedSeries(page, data[0]);
      if (published) data.push(published.values);
      state.chart = drawChart(container, data, page.unit);
      container.dataset.state = "ready";
      container.dataset.modelVersion = result.model_version === null ? "" : String(result.model_version);
      container.dataset.forecastPoints = String(data[2].filter((v) => v !== null).length);
      container.dataset.historyPoints = String(data[1].filter((v) => v !== null).length);
      summary.textContent = summarise(result);
      const tile = document.getElementById("published");
      if (published && tile) {
        const p = published.published;
        const live = p.live_cv_rmse_percent === null ? "–" : `${fmt(p.live_cv_rmse_percent, 1)} %`;
        tile.textContent = ago(p.issued_at);
        document.getElementById("published-detail").textContent =
          `by ${p.model_version}, ${p.points.length} hours; live CV(RMSE) ${live}`;
        container.dataset.publishedPoints = String(p.points.length);
        summary.textContent += ` The dotted line is the last published forecast (issued ${ago(p.issued_at)} by ${p.model_version}).`;
      }
      const notes = [];
      if (result.substituted) notes.push(`No usable model: ${result.substitution_reason || "showing the same-hour mean"}.`);
      notes.push(...(result.notes || []));
      notice.textContent = notes.join(" ");
      notice.hidden = notes.length === 0;
    } catch (error) {
      container.dataset.state = "error";
      container.textContent = "";
      summary.textContent = `The forecast could not be loaded: ${error.message}`;
    }
  }

  // --- model card ---------------------------------------------------------------------------------

  async function loadModel(page) {
    const tbody = document.querySelector("#versions tbody");
    let history;
    if (!page.has_model) {
      // Known from the page itself: no request that could only answer 404.
      tbody.textContent = "";
      cell(tbody.insertRow(), "No model trained yet: press “Train model”.").colSpan = 9;
      return;
    }
    try {
      history = await api(`/models/${page.meter_type}/${encodeURIComponent(page.meter_id)}`);
    } catch (error) {
      tbody.textContent = "";
      const row = tbody.insertRow();
      const td = cell(row, error.status === 404 ? "No model trained yet: press “Train model”." : error.message);
      td.colSpan = 9;
      return;
    }
    tbody.textContent = "";
    for (const v of history.versions.slice().reverse()) {
      const row = tbody.insertRow();
      if (v.active) row.className = "active";
      cell(row, `v${v.version}`);
      cell(row, v.saved_at ? `${v.saved_at.slice(0, 16).replace("T", " ")} UTC` : "–");
      const window = v.training_window || {};
      cell(row, window.start ? `${window.start.slice(0, 10)} → ${(window.end || "").slice(0, 10)}` : "–");
      cell(row, v.data_points === null ? "–" : v.data_points.toLocaleString("en"), "num");
      cell(row, fmt(v.metrics.cv_rmse_percent, 1), "num");
      cell(row, fmt(v.metrics.r2, 2), "num");
      cell(row, fmt(v.metrics.mape_percent, 1), "num");
      cell(row, fmt(v.metrics.coverage_percent, 0), "num");
      const status = cell(row, v.status === "rejected" ? "" : v.status || (v.active ? "active" : ""));
      if (v.status === "rejected") {
        const badge = document.createElement("span");
        badge.className = "badge badge-rejected";
        badge.textContent = "rejected";
        badge.title = v.reason || "";
        status.appendChild(badge);
      }
      if (v.reason) status.title = v.reason;
    }
    const active = history.versions.find((v) => v.active);
    if (active) {
      document.getElementById("model-version").textContent = `v${active.version}`;
      document.getElementById("model-age").textContent = active.saved_at ? `saved ${ago(active.saved_at)}` : "";
      document.getElementById("model-cv-rmse").textContent = `${fmt(active.metrics.cv_rmse_percent, 1)} %`;
      document.getElementById("model-r2").textContent = fmt(active.metrics.r2, 2);
    }
  }

  // --- pages --------------------------------------------------------------------------------------

  function groupPage(page) {
    const state = { chart: null };
    loadChart(page, state);
    document.getElementById("chart-controls").addEventListener("change", () => loadChart(page, state));
  }

  function meterPage(page) {
    const state = { chart: null };
    const card = document.getElementById("train-card");
    const form = document.getElementById("train-form");
    const button = document.getElementById("train-button");
    const link = document.getElementById("task-link");
    loadChart(page, state);
    loadModel(page);
    document.getElementById("chart-controls").addEventListener("change", () => loadChart(page, state));

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      button.disabled = true;
      button.textContent = "Training…";
      card.dataset.taskStatus = "PENDING";
      try {
        const accepted = await api("/trainmodel/v2/", {
          method: "POST",
          body: JSON.stringify({
            meter_id: page.meter_id,
            meter_type: page.meter_type,
            start_date: `${form.start_date.value}T00:00:00Z`,
            end_date: `${form.end_date.value}T23:00:00Z`,
          }),
        });
        card.dataset.taskId = accepted.task_id;
        link.href = `/dashboard/tasks/${encodeURIComponent(accepted.task_id)}`;
        link.hidden = false;
        renderProgress(card, accepted);
        const final = await trackTask(accepted.task_id, (record) => {
          card.dataset.taskStatus = record.status;
          renderProgress(card, record);
        });
        card.dataset.taskStatus = final.status;
        if (final.status === "SUCCESS") {
          page.has_model = true;
          await Promise.all([loadModel(page), loadChart(page, state)]);
        }
      } catch (error) {
        if (error.status === 403) {
          // Nothing was queued: say which key is needed instead of showing a failed training.
          delete card.dataset.taskStatus;
          const message = card.querySelector(".task-message");
          message.textContent = writeKeyNeeded(error);
          message.classList.add("error");
          askForKey("Training needs an API key with write scope.");
          return;
        }
        card.dataset.taskStatus = "FAILURE";
        renderProgress(card, { status: "FAILURE", progress: 0, message: error.message });
      } finally {
        button.disabled = false;
        button.textContent = "Train model";
      }
    });
  }

  async function taskPage(page) {
    const card = document.getElementById("task-card");
    const meter = document.getElementById("task-meter");
    const update = (record) => {
      card.dataset.taskStatus = record.status;
      renderProgress(card, record);
      const details = record.details || {};
      if (details.meter_id && !meter.childElementCount) {
        const a = document.createElement("a");
        a.href = `/dashboard/meters/${encodeURIComponent(details.meter_type)}/${encodeURIComponent(details.meter_id)}`;
        a.textContent = `${details.meter_type} meter ${details.meter_id}`;
        meter.append("Meter: ", a);
      }
    };
    try {
      update(await api(`/trainmodel/status/${encodeURIComponent(page.task_id)}`));
      await trackTask(page.task_id, update);
    } catch (error) {
      renderProgress(card, { status: "FAILURE", progress: 0, message: error.message });
    }
  }

  // Fleet page: list tasks queued or running, refreshed every few seconds.
  let tasksTimer = null;
  function activeTasks(section) {
    const list = section.querySelector("ul");
    const refresh = async () => {
      let tasks;
      try {
        tasks = await api(section.dataset.endpoint);
      } catch (_error) {
        section.hidden = true; // no task queue in this process: nothing to show
        return;
      }
      list.textContent = "";
      for (const task of tasks) {
        const li = document.createElement("li");
        const a = document.createElement("a");
        const details = task.details || {};
        a.href = `/dashboard/tasks/${encodeURIComponent(task.task_id)}`;
        a.textContent = `${details.meter_id || task.task_id}: ${task.status.replace(/_/g, " ").toLowerCase()} (${task.progress} %)`;
        li.appendChild(a);
        list.appendChild(li);
      }
      section.hidden = tasks.length === 0;
    };
    refresh();
    if (tasksTimer !== null) clearInterval(tasksTimer);
    tasksTimer = setInterval(refresh, 5000);
  }

  // --- fleet accuracy over time ----------------------------------------------------------------

  async function fleetAccuracy(container) {
    let points;
    try {
      points = await api(container.dataset.endpoint);
    } catch (error) {
      container.dataset.state = "error";
      container.textContent = `The accuracy history could not be loaded: ${error.message}`;
      return;
    }
    const rows = points.filter((p) => p.live_median !== null || p.holdout_median !== null);
    if (!rows.length || typeof uPlot === "undefined") {
      container.dataset.state = "empty";
      container.textContent = "No live accuracy yet: it appears once readings arrive for published hours.";
      return;
    }
    const data = [
      rows.map((p) => Date.parse(p.at) / 1000),
      rows.map((p) => p.live_median),
      rows.map((p) => p.holdout_median),
    ];
    container.textContent = "";
    const opts = {
      width: Math.max(320, container.clientWidth),
      height: 220,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      scales: { x: { time: true } },
      axes: [
        { stroke: cssVar("--muted"), grid: { stroke: cssVar("--grid") } },
        { stroke: cssVar("--muted"), grid: { stroke: cssVar("--grid") }, label: "CV(RMSE) %", size: 60 },
      ],
      series: [
        { label: "time (UTC)" },
        { label: "live (median)", stroke: cssVar("--forecast"), width: 2 },
        { label: "hold-out (median)", stroke: cssVar("--history"), width: 2, dash: [6, 4] },
      ],
    };
    new uPlot(opts, data, container);
    container.dataset.state = "ready";
    container.dataset.points = String(rows.length);
  }

  // --- published forecast on the meter page ----------------------------------------------------

  async function publishedSeries(page, xs) {
    if (!page.has_publication) return null; // known from the page: no request that could only 404
    try {
      const published = await api(`/forecasts/${page.meter_type}/${encodeURIComponent(page.meter_id)}/latest`);
      const byTime = new Map(published.points.map((p) => [Date.parse(p.datetime) / 1000, p.value]));
      return { published, values: xs.map((x) => (byTime.has(x) ? byTime.get(x) : null)) };
    } catch (error) {
      return null; // never published (404) or no task queue here: the chart shows the live forecast only
    }
  }

  // --- Monthly peak and cost: POST /peaks/ and POST /cost/ (the attached tariff) ------------------

  function amount(value, digits = 1) {
    return value == null ? "–" : value.toLocaleString("en-US", { maximumFractionDigits: digits });
  }

  function share(value) {
    return value == null ? "–" : `${Math.round(value * 100)} %`;
  }

  function localHour(hour) {
    return hour ? hour.local.slice(0, 16).replace("T", " ") : "–";
  }

  async function peakCost(section) {
    const data = section.dataset;
    const subject = data.groupId ? { group_id: data.groupId } : { meter_id: data.meterId };
    const body = { ...subject, meter_type: data.meterType };
    const peakText = document.getElementById("peak-summary");
    const costText = document.getElementById("cost-summary");
    const page = pageData();
    if (!page || !page.last_reading) {
      peakText.textContent = "No readings yet: the peak and cost forecasts start from the readings.";
      costText.textContent = "";
      return;
    }
    try {
      const answer = await api("/peaks/", { method: "POST", body: JSON.stringify({ ...body, period: "month" }) });
      const month = answer.peaks[0];
      const q = month.quantiles;
      const unit = answer.unit || "";
      const next = answer.days.find((d) => d.observed_max == null) || answer.days[0];
      document.getElementById("peak-p50").textContent = `${amount(q.p50)} ${unit}`;
      document.getElementById("peak-hour").textContent = localHour(month.likely_hour);
      document.getElementById("peak-next").textContent = next ? share(next.new_monthly_peak_probability) : "–";
      document.getElementById("peak-next-day").textContent = next ? next.day : "";
      peakText.textContent =
        `Peak of ${month.period}: P10 ${amount(q.p10)} – P90 ${amount(q.p90)} ${unit}` +
        (month.observed.peak != null
          ? `; so far ${amount(month.observed.peak)} ${unit} at ${localHour(month.observed.at)}, ` +
            `still the peak in ${share(month.observed_peak_stands_probability)} of scenarios`
          : "") +
        `. Most likely hour ${localHour(month.likely_hour)} (${share(month.hours[0].probability)} of ` +
        `${answer.scenarios.size} scenarios from the ${answer.model} forecast).`;
    } catch (error) {
      peakText.textContent = `No peak forecast: ${error.message}`;
    }
    // Ask for a cost only under an attached tariff (the list says which): no request that must fail.
    const key = data.groupId ? `group:${data.groupId}` : `meter:${data.meterType}:${data.meterId}`;
    try {
      const listed = await api("/tariffs/");
      const tariff = listed.tariffs.find((t) => t.attached_to.includes(key));
      if (!tariff) {
        costText.textContent =
          "No tariff attached: store one with PUT /tariffs/{id} and attach it with PUT /tariffs/{id}/attach.";
        return;
      }
      const cost = await api("/cost/", { method: "POST", body: JSON.stringify({ ...body, tariff_id: tariff.id }) });
      const money = (v) => `${amount(v, 0)} ${cost.currency}`.trim();
      document.getElementById("cost-p50").textContent = money(cost.total.p50);
      const rows = document.querySelector("#cost-table tbody");
      rows.replaceChildren();
      for (const [name, values] of [...Object.entries(cost.components), ["total", cost.total]]) {
        const row = rows.insertRow();
        row.insertCell().textContent = name;
        for (const key of ["p10", "p50", "p90"]) {
          const cell = row.insertCell();
          cell.className = "num";
          cell.textContent = money(values[key]);
        }
      }
      document.getElementById("cost-table").hidden = false;
      const drivers = cost.demand_hours.map((h) => `${localHour(h)} (${share(h.probability)})`).join(", ");
      costText.textContent =
        `Tariff ${cost.tariff_id || "given"}, billing month ${cost.period}: ${cost.hours.observed} hours read, ` +
        `${cost.hours.forecast} forecast; so far ${money(cost.so_far.energy + cost.so_far.demand)}.` +
        (drivers ? ` Hours most likely to set the demand charge: ${drivers}.` : "");
    } catch (error) {
      costText.textContent = `No cost forecast: ${error.message}`;
    }
  }

  function start() {
    const page = pageData();
    if (page && page.meter_id) meterPage(page);
    else if (page && page.group_id) groupPage(page);
    else if (page && page.task_id) taskPage(page);
    const tasks = document.getElementById("active-tasks");
    if (tasks) activeTasks(tasks);
    const accuracy = document.getElementById("fleet-accuracy");
    if (accuracy) fleetAccuracy(accuracy);
    const outlook = document.getElementById("peak-cost");
    if (outlook) peakCost(outlook);
  }

  // A page opened without a key answers 401 with no data (the "locked page"): fetch the same URL
  // again with the key and put its <main> in place, then start the page as if loaded directly.
  async function unlock() {
    const status = document.getElementById("locked-status");
    const shown = status.textContent;
    status.textContent = "Loading with the API key of this tab…";
    let response;
    try {
      response = await fetch(window.location.pathname + window.location.search, {
        headers: withKey({ accept: "text/html" }),
        cache: "no-store",
      });
    } catch (error) {
      status.textContent = `The page could not be loaded: ${error.message}`;
      return;
    }
    const html = (response.headers.get("content-type") || "").startsWith("text/html");
    if (!html) {
      const body = await response.json().catch(() => null);
      const detail = (body && body.detail) || `${response.status} ${response.statusText}`;
      if (response.status === 401 || response.status === 403) {
        storeKey(""); // wrong or revoked: do not send it again
        status.textContent = shown;
        askForKey(`The API refused this key: ${detail}`);
      } else {
        status.textContent = `The page could not be loaded: ${detail}`;
      }
      return;
    }
    const fetched = new DOMParser().parseFromString(await response.text(), "text/html");
    const main = fetched.querySelector("main");
    if (!main || fetched.getElementById("locked-page")) {
      status.textContent = shown;
      askForKey("");
      return;
    }
    document.title = fetched.title;
    document.querySelector("main").replaceWith(document.importNode(main, true));
    document.getElementById("key-panel").hidden = true;
    start();
  }

  document.addEventListener("DOMContentLoaded", () => {
    showForgetControl();
    document.getElementById("forget-key").addEventListener("click", () => {
      storeKey("");
      window.location.reload(); // drops whatever the key showed
    });
    document.getElementById("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = document.getElementById("key-input");
      const key = input.value.trim();
      input.value = "";
      if (!key) return;
      storeKey(key);
      document.getElementById("key-panel").hidden = true;
      if (document.getElementById("locked-page")) unlock();
      else window.location.reload(); // every request of the page again, with the new key
    });
    if (!document.getElementById("locked-page")) start();
    else if (storedKey()) unlock();
    else askForKey("");
  });
})();
