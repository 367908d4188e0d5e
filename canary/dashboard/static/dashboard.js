// The dashboard's pages: live updates from server-sent events, charts (uPlot), actions.
// No polling: the server pushes every change it sees in its watch.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const state = { charts: {} };
  window.canaryDashboard = state; // read by the browser tests

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Times as the reader's clock shows them (the server writes ISO 8601 in UTC).
  function localTimes(root) {
    for (const node of root.querySelectorAll("time[datetime]")) {
      if (!node.dateTime) continue;
      const moment = new Date(node.dateTime);
      if (!isNaN(moment)) { node.title = node.dateTime; node.textContent = moment.toLocaleString(); }
    }
  }

  // A step, a check or a new phase: the page's timeline, checks and conditions, taken from the
  // page as the server renders it now, without asking Prometheus (one request per change shown;
  // nothing polls).
  async function refreshSections() {
    const answer = await fetch(location.pathname + "?metrics=no", {
      headers: { Accept: "text/html" }, credentials: "same-origin",
    });
    if (!answer.ok) return;
    const fresh = new DOMParser().parseFromString(await answer.text(), "text/html");
    for (const selector of ["#timeline", "table.checks tbody", "table.conditions tbody"]) {
      const now = document.querySelector(selector);
      const then = fresh.querySelector(selector);
      if (now && then) now.replaceChildren(...then.childNodes);
    }
    localTimes(document);
    state.refreshed = (state.refreshed || 0) + 1;
  }

  function liveStatus(text, kind) {
    const live = document.getElementById("live");
    if (!live) return;
    live.textContent = text;
    live.dataset.state = kind;
  }

  function listen(url, event, handle) {
    const source = new EventSource(url);
    source.onopen = () => liveStatus("live", "live");
    source.onerror = () => liveStatus("reconnecting…", "connecting");
    source.addEventListener(event, (message) => handle(JSON.parse(message.data)));
    source.addEventListener("problem", (message) => {
      liveStatus(JSON.parse(message.data).message, "problem");
      source.close();
    });
    return source;
  }

  // ---- the list -------------------------------------------------------------------------
  function listRow(row) {
    const tr = el("tr", { "data-key": row.namespace + "/" + row.name });
    tr.append(el("td", {}, row.namespace));
    const name = el("td");
    name.append(el("a", { href: "/canaries/" + encodeURIComponent(row.namespace) + "/" +
                          encodeURIComponent(row.name) }, row.name));
    tr.append(name);
    const phase = el("td");
    phase.append(el("span", { class: "phase phase-" + row.phase }, row.phase || "-"));
    if (row.paused) { phase.append(" "); phase.append(el("span", { class: "paused" }, "paused")); }
    tr.append(phase);
    const weight = el("td", { class: "weight" });
    weight.append(el("progress", { max: "100", value: String(row.weight) }));
    weight.append(" ");
    weight.append(el("span", {}, row.weight + "%"));
    tr.append(weight);
    tr.append(el("td", { class: row.failedChecks ? "failing" : "" },
                 row.failedChecks + "/" + row.threshold));
    const time = el("td");
    time.append(el("time", { datetime: row.lastTransitionTime || "" }, row.lastTransitionTime || "-"));
    tr.append(time);
    tr.append(el("td", { class: "message" }, row.message));
    return tr;
  }

  function startList(table) {
    state.rows = null;
    listen(table.dataset.live, "canaries", (rows) => {
      state.rows = rows;
      const body = table.tBodies[0];
      body.replaceChildren(...(rows.length ? rows.map(listRow)
        : [(() => { const tr = el("tr", { class: "empty" }); tr.append(el("td", { colspan: "7" }, "No canaries.")); return tr; })()]));
      localTimes(body);
    });
  }

  // ---- one Canary -----------------------------------------------------------------------
  function chart(container, title, series, data, options) {
    const width = Math.max(container.clientWidth || 0, 600);
    const plot = new uPlot(Object.assign({
      title: title, width: width, height: 220,
      scales: { x: { time: true } },
      series: [{}].concat(series),
    }, options || {}), data, container);
    return plot;
  }

  function weightData(points) {
    return [points.map((p) => p[0]), points.map((p) => p[1])];
  }

  function startDetail(page) {
    const canary = page.canary;
    const metrics = page.metrics;
    state.weights = canary.weights.slice();
    state.phase = canary.phase;
    state.shown = [canary.phase, canary.weight, canary.failedChecks, canary.message].join("|");
    const weightBox = document.getElementById("weight-chart");
    state.charts.weight = chart(weightBox, "canary weight (%)",
      [{ label: "canary weight", stroke: "#2e90fa", width: 2,
         paths: uPlot.paths.stepped({ align: 1 }), points: { show: true } }],
      weightData(state.weights), { scales: { x: { time: true }, y: { range: [0, 100] } } });

    const checks = document.getElementById("check-charts");
    for (const [name, found] of Object.entries(metrics.checks || {})) {
      const box = el("div", { class: "chart", "data-check": name });
      checks.append(box);
      if (found.problem) { box.append(el("p", { class: "problem" }, name + ": " + found.problem)); continue; }
      const latest = (canary.checks || []).find((c) => c.name === name) || {};
      const series = [{ label: name, stroke: "#7a5af8", width: 2 }];
      const data = [found.times, found.values];
      for (const [bound, label] of [[latest.min, "min"], [latest.max, "max"]]) {
        if (bound === null || bound === undefined) continue;
        series.push({ label: label, stroke: "#d92d20", dash: [6, 4], width: 1 });
        data.push(found.times.map(() => bound));
      }
      state.charts["check:" + name] = chart(box, name + " of the canary, against its range", series, data);
    }

    const golden = metrics.golden || {};
    const success = document.getElementById("success-chart");
    if (success && golden.successOverTime && !golden.successOverTime.problem) {
      const over = golden.successOverTime;
      state.charts.success = chart(success, "success rate (%)",
        [{ label: "primary", stroke: "#12b76a", width: 2 }, { label: "canary", stroke: "#f79009", width: 2 }],
        [over.times, over.primary, over.canary]);
    }

    const base = document.getElementById("actions").dataset.base;
    listen(base + "/live", "canary", (row) => {
      if (!row) { liveStatus("deleted", "problem"); return; }
      document.getElementById("phase").textContent = row.phase || "-";
      document.getElementById("phase").className = "phase phase-" + row.phase;
      document.getElementById("weight-bar").value = row.weight;
      document.getElementById("weight").textContent = row.weight + "%";
      document.getElementById("failed").textContent = row.failedChecks + "/" + row.threshold;
      document.getElementById("message").textContent = row.message;
      const last = state.weights[state.weights.length - 1];
      const now = Date.now() / 1000;
      if (!last || last[1] !== row.weight) state.weights.push([now, row.weight]);
      else state.weights[state.weights.length - 1] = [now, row.weight];
      state.charts.weight.setData(weightData(state.weights));
      for (const button of document.querySelectorAll("#actions button")) {
        button.hidden = !row.actions.includes(button.dataset.action);
      }
      const shown = [row.phase, row.weight, row.failedChecks, row.message].join("|");
      if (state.shown !== undefined && state.shown !== shown) refreshSections();
      state.shown = shown;
      state.phase = row.phase;
    });
    setUpActions(base);
  }

  function setUpActions(base) {
    const dialog = document.getElementById("confirm");
    const result = document.getElementById("result");
    let chosen = null;
    for (const button of document.querySelectorAll("#actions button")) {
      button.addEventListener("click", () => {
        chosen = button.dataset.action;
        document.getElementById("confirm-text").textContent =
          "Really " + chosen + " this canary? This is done as you: Kubernetes decides if you may.";
        dialog.showModal();
      });
    }
    dialog.addEventListener("close", async () => {
      if (dialog.returnValue !== "ok" || !chosen) return;
      result.textContent = chosen + "…";
      result.dataset.state = "pending";
      const answer = await fetch(base + "/" + chosen, {
        method: "POST", headers: { "X-CSRF-Token": csrf, Accept: "application/json" },
        credentials: "same-origin",
      });
      let message = "";
      try { message = (await answer.json()).message; } catch (e) { message = answer.statusText; }
      result.textContent = answer.ok ? message : "refused (" + answer.status + "): " + message;
      result.dataset.state = answer.ok ? "done" : "refused";
    });
  }

  localTimes(document);
  const table = document.getElementById("canaries");
  if (table) startList(table);
  const data = document.getElementById("page-data");
  if (data) startDetail(JSON.parse(data.textContent));
})();
