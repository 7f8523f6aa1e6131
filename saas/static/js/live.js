// Console pages refresh in place: each element with data-live is replaced, every
// data-live-interval seconds (default 5), by what its URL answers (the same markup, rendered
// by the server). Nothing is fetched while the tab is hidden; showing it again refreshes at once.
(function () {
  var regions = Array.prototype.slice.call(document.querySelectorAll("[data-live]"));
  if (!regions.length) return;
  function refresh(region) {
    if (document.visibilityState !== "visible" || region.dataset.busy) return;
    region.dataset.busy = "1";
    fetch(region.dataset.live, {credentials: "same-origin", headers: {"X-Live": "1"}})
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html !== null) region.innerHTML = html;
        region.dataset.refreshedAt = String(Date.now());
      })
      .catch(function () {})
      .then(function () { delete region.dataset.busy; });
  }
  regions.forEach(function (region) {
    var seconds = Number(region.dataset.liveInterval || 5);
    setInterval(function () { refresh(region); }, seconds * 1000);
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") regions.forEach(refresh);
  });
})();
