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
  function poll() {
    var timer = setInterval(function () {
      fetch(box.dataset.progressUrl, {credentials: "same-origin"})
        .then(function (response) { return response.json(); })
        .then(function (state) { if (show(state)) clearInterval(timer); });
    }, 1000);
  }
  if (!window.EventSource) return poll();
  var source = new EventSource(box.dataset.eventsUrl);
  var failures = 0;
  source.onmessage = function (event) {
    failures = 0;
    if (show(JSON.parse(event.data))) source.close();
  };
  source.addEventListener("done", function () { source.close(); });
  source.onerror = function () {
    if (++failures >= 3) { source.close(); poll(); }
  };
})();
