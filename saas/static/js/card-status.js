// While the worker fetches the card from Stripe, poll its status and show the card when it lands.
(function () {
  var box = document.getElementById("card-details");
  if (box.dataset.sync !== "pending") return;
  function element(tag, text, attributes) {
    var node = document.createElement(tag);
    if (text) node.textContent = text;
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    return node;
  }
  function show(status) {
    box.replaceChildren();
    if (status.sync === "failed") {
      box.appendChild(element("p", "We could not fetch your card from Stripe; try again in a moment.", {"class": "note"}));
    }
    if (!status.card) {
      box.appendChild(element("p", "No card on file."));
      return;
    }
    var facts = element("dl", "", {"class": "facts"});
    facts.appendChild(element("dt", "Card"));
    facts.appendChild(element("dd", status.card.brand + " ending " + status.card.last4, {"data-testid": "card-summary"}));
    facts.appendChild(element("dt", "Expires"));
    facts.appendChild(element("dd", status.card.expires + (status.card.expiring_soon ? " (expires soon)" : "")));
    box.appendChild(facts);
    var banner = document.getElementById("expiring-card-banner");
    if (banner && !status.card.expiring_soon) banner.remove();
  }
  var timer = setInterval(function () {
    fetch(box.dataset.statusUrl, {credentials: "same-origin"})
      .then(function (response) { return response.json(); })
      .then(function (status) {
        if (status.sync === "pending") return;
        clearInterval(timer);
        box.dataset.sync = status.sync || "";
        show(status);
      });
  }, 1000);
})();
