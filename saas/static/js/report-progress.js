// Live progress: Server-Sent Events, falling back to polling if the stream cannot be used.
(function () {
  var box = document.getElementById("report");
  var finished = ["succeeded", "failed", "canceled", "expired"];
  var bar = document.getElementById("report-bar");
  bar.style.width = bar.dataset.percent + "%";  // set from the script: the CSP refuses style=""
  if (finished.indexOf(box.dataset.status) !== -1) return;
  function show(state) {
    document.getElementById("report-status").textContent = state.status;
    document.getElementById("report-stage").textContent = state.stage || "";
    document.getElementById("report-bar").style.width = state.percent + "%";
    document.getElementById("report-progress").setAttribute("aria-valuenow", state.percent);
    document.getElementById("report-percent").textContent = state.percent;
    document.getElementById("report-rows").textContent = state.processed + " of " + state.total;
    var error = document.getElementById("report-error");
    error.textContent = state.error || "";
    error.hidden = !state.error;
    document.getElementById("report-download").hidden = !state.download;
    document.getElementById("report-cancel-requested").hidden = !state.cancel_requested;
    document.getElementById("report-cancel").hidden =
      state.cancel_requested || ["queued", "running", "retrying"].indexOf(state.status) === -1;
    document.getElementById("report-retry").hidden = ["failed", "canceled"].indexOf(state.status) === -1;
    return finished.indexOf(state.status) !== -1;
  }
  // One request at a time, every 2 s; an answer that is not progress (a 429, a 503) is skipped.
  function poll() {
    function again() { setTimeout(check, 2000); }
    function check() {
      fetch(box.dataset.progressUrl, {credentials: "same-origin"})
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (state) { if (!state || !show(state)) again(); }, again);
    }
    again();
  }
  if (!window.EventSource) return poll();
  var source = new EventSource(box.dataset.eventsUrl);
  var failures = 0;
  source.onmessage = function (event) {
    failures = 0;
    if (show(JSON.parse(event.data))) source.close();
  };
  source.addEventListener("done", function () { source.close(); });
  // CLOSED: the server refused the stream (429 past the per-user cap of open streams, or any
  // error status), and EventSource never retries that: poll. CONNECTING: the stream ended (its
  // lifetime) or dropped and the browser reconnects by itself; after 3 failures in a row, poll.
  source.onerror = function () {
    if (source.readyState === EventSource.CLOSED || ++failures >= 3) {
      source.close();
      poll();
    }
  };
})();
