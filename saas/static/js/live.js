// Console pages refresh in place: every data-live-interval seconds (default 5), each element
// with data-live gets the content of the element with its id in what its URL answers (the
// page itself when data-live is empty), or the whole answer (a partial). Nothing is fetched
// while the tab is hidden; showing it again refreshes at once.
(function () {
  var regions = Array.prototype.slice.call(document.querySelectorAll("[data-live]"));
  if (!regions.length) return;
  function refresh(region) {
    if (document.visibilityState !== "visible" || region.dataset.busy) return;
    region.dataset.busy = "1";
    fetch(region.dataset.live || window.location.href, {credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(region.id);
        region.innerHTML = fresh ? fresh.innerHTML : html;
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
