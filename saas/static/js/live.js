// Console regions poll with htmx ("every 5s"); nothing is fetched while the tab is hidden, and
// showing the tab again refreshes at once (the region's trigger also listens for
// visibilitychange). htmx runs with allowEval off (see the htmx-config meta), so this pause lives
// here rather than in an hx-trigger filter expression, which htmx would have to eval.
document.addEventListener("htmx:beforeRequest", function (event) {
  if (document.visibilityState !== "visible") event.preventDefault();
});
