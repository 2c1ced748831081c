// Progressive enhancements for every portal page. Pages work without this file.
(function () {
  "use strict";

  function cookie(name) {
    var match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }

  // Sessions: access tokens live 15 minutes. When the page was rendered with an expired one
  // (data-session="stale"), or every 10 minutes while a page stays open, trade the refresh
  // token for new ones. A page rendered signed-out reloads once when that works.
  var refreshing = null;
  function refresh() {
    if (refreshing) return refreshing;
    refreshing = fetch("/api/auth/refresh", {
      method: "POST",
      credentials: "same-origin",
      headers: { "x-csrf-token": cookie("csrf_token") },
    }).then(function (r) { refreshing = null; return r.ok; }, function () { refreshing = null; return false; });
    return refreshing;
  }
  if (document.body && document.body.dataset.session === "stale" && !sessionStorage.getItem("refreshed")) {
    refresh().then(function (ok) {
      if (ok) { sessionStorage.setItem("refreshed", "1"); location.reload(); }
    });
  } else {
    sessionStorage.removeItem("refreshed");
  }
  if (document.querySelector(".usermenu")) setInterval(refresh, 10 * 60 * 1000);

  // Countdowns on offers: "2 h 14 min", updated every second; the exact time stays in the title.
  var countdowns = document.querySelectorAll("time[data-countdown]");
  function tick() {
    var now = Date.now();
    countdowns.forEach(function (el) {
      var left = Math.max(0, Date.parse(el.getAttribute("datetime")) - now) / 1000;
      var d = Math.floor(left / 86400), h = Math.floor(left % 86400 / 3600), m = Math.floor(left % 3600 / 60), s = Math.floor(left % 60);
      el.textContent = d > 0 ? d + " d " + h + " h" : h > 0 ? h + " h " + m + " min" : m + " min " + s + " s";
    });
  }
  if (countdowns.length) { tick(); setInterval(tick, 1000); }

  // One-time codes: six boxes with paste, backspace, arrows and auto-advance. The real field
  // (name="otp") stays in the form, hidden, and receives the six digits.
  document.querySelectorAll("input[data-otp]").forEach(function (field) {
    var boxes = document.createElement("div");
    boxes.className = "otp-boxes";
    boxes.setAttribute("role", "group");
    boxes.setAttribute("aria-label", "6-digit code");
    var inputs = [];
    for (var i = 0; i < 6; i++) {
      var box = document.createElement("input");
      box.type = "text";
      box.inputMode = "numeric";
      box.maxLength = 1;
      box.autocomplete = i === 0 ? "one-time-code" : "off";
      box.setAttribute("aria-label", "Digit " + (i + 1) + " of 6");
      box.className = "otp-box";
      if (field.getAttribute("aria-invalid")) box.setAttribute("aria-invalid", "true");
      inputs.push(box);
      boxes.appendChild(box);
    }
    function sync() { field.value = inputs.map(function (b) { return b.value; }).join(""); }
    function fill(from, digits) {
      digits = digits.replace(/\D/g, "");
      for (var k = 0; k < digits.length && from + k < 6; k++) inputs[from + k].value = digits[k];
      sync();
      var next = Math.min(from + digits.length, 5);
      inputs[next].focus();
      if (field.value.length === 6 && field.form) field.form.requestSubmit ? field.form.requestSubmit() : field.form.submit();
    }
    inputs.forEach(function (box, index) {
      box.addEventListener("input", function () {
        var digits = box.value.replace(/\D/g, "");
        box.value = "";
        if (digits) fill(index, digits); else sync();
      });
      box.addEventListener("paste", function (e) {
        e.preventDefault();
        fill(index, (e.clipboardData || window.clipboardData).getData("text"));
      });
      box.addEventListener("keydown", function (e) {
        if (e.key === "Backspace" && !box.value && index > 0) { inputs[index - 1].value = ""; inputs[index - 1].focus(); sync(); e.preventDefault(); }
        else if (e.key === "ArrowLeft" && index > 0) { inputs[index - 1].focus(); e.preventDefault(); }
        else if (e.key === "ArrowRight" && index < 5) { inputs[index + 1].focus(); e.preventDefault(); }
      });
      box.addEventListener("focus", function () { box.select(); });
    });
    field.type = "hidden";
    field.removeAttribute("required");
    field.parentNode.insertBefore(boxes, field);
    var label = field.parentNode.querySelector("label[for='" + field.id + "']");
    if (label) label.setAttribute("for", "");
    inputs[0].focus();
  });
})();

// The product form's images: buttons to move an image earlier or later. The form posts the kept
// images in document order, so moving the tile is all it takes.
(function () {
  document.querySelectorAll("[data-reorder]").forEach(function (list) {
    list.querySelectorAll(".image-tile").forEach(function (tile) {
      var move = document.createElement("span");
      move.className = "move";
      [["←", "Move earlier", -1], ["→", "Move later", 1]].forEach(function (spec) {
        var button = document.createElement("button");
        button.type = "button";
        button.textContent = spec[0];
        button.setAttribute("aria-label", spec[1]);
        button.addEventListener("click", function () {
          if (spec[2] < 0 && tile.previousElementSibling) list.insertBefore(tile, tile.previousElementSibling);
          else if (spec[2] > 0 && tile.nextElementSibling) list.insertBefore(tile.nextElementSibling, tile);
          button.focus();
        });
        move.appendChild(button);
      });
      tile.appendChild(move);
    });
  });
})();

// Search suggestions: while typing in a search box marked data-suggest, ask the API for
// matching categories, shops and products and offer them in the box's datalist. Choosing a
// product or shop goes straight to its page.
(function () {
  "use strict";
  var input = document.querySelector("input[data-suggest]");
  if (!input || !input.list || !window.fetch) return;
  var list = input.list, timer = null, urls = {};
  input.addEventListener("input", function () {
    clearTimeout(timer);
    var typed = input.value.trim();
    if (urls[input.value]) { location.href = urls[input.value]; return; }
    if (typed.length < 2) { list.innerHTML = ""; return; }
    timer = setTimeout(function () {
      fetch("/api/products/suggest?q=" + encodeURIComponent(typed), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (suggestions) {
          list.innerHTML = "";
          urls = {};
          suggestions.forEach(function (s) {
            var option = document.createElement("option");
            option.value = s.text;
            option.label = s.kind === "product" ? "" : s.kind;
            if (s.kind !== "category") urls[s.text] = s.url;
            list.appendChild(option);
          });
        }, function () {});
    }, 150);
  });
})();

// Stripe's Payment Element on /pay/{id} when the marketplace takes payments with Stripe:
// Stripe.js (loaded by the page) collects the card and confirms the payment; the webhook then
// places the orders, and the return page waits for it.
window.addEventListener("load", function () {
  "use strict";
  var form = document.getElementById("stripe-pay");
  if (!form || !window.Stripe) return;
  var stripe = window.Stripe(form.dataset.stripeKey);
  var elements = stripe.elements({ clientSecret: form.dataset.clientSecret });
  elements.create("payment").mount("#payment-element");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var button = form.querySelector("button");
    button.disabled = true;
    stripe.confirmPayment({
      elements: elements,
      confirmParams: { return_url: location.origin + form.dataset.returnUrl },
    }).then(function (result) {
      if (result.error) {
        document.getElementById("stripe-error").textContent = result.error.message;
        button.disabled = false;
      }
    });
  });
});

// The notification bell: its unread count follows the server every few seconds while the page is
// visible (live push over the socket replaces this polling when it arrives).
(function () {
  "use strict";
  var bell = document.querySelector(".bell");
  if (!bell || !window.fetch) return;
  var badge = bell.querySelector(".count");
  function update() {
    if (document.hidden) return;
    fetch("/api/notifications?limit=1", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (list) {
        if (!list) return;
        var unread = list.unread;
        if (String(unread) === bell.dataset.unread) return;
        bell.dataset.unread = String(unread);
        badge.textContent = String(unread);
        badge.hidden = unread === 0;
        bell.setAttribute("aria-label", "Notifications: " + unread + " unread");
      })
      .catch(function () {});
  }
  setInterval(update, 5000);
  document.addEventListener("visibilitychange", update);
})();
