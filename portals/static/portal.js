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

// The live socket: one per tab for signed-in pages. It keeps the bell and the inbox badge
// current, and hands chat and log frames to the page. A tab remembers the last chat position it
// saw (sessionStorage), so after a reload or a dropped connection it receives exactly what it
// missed. Browser errors are reported to /api/logs (a few per page at most).
(function () {
  "use strict";
  var body = document.body;
  function cookie(name) {
    var match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }

  var reported = 0;
  function report(level, message, fields) {
    if (reported >= 5) return;
    reported += 1;
    try {
      fetch("/api/logs", {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ lines: [{ level: level, message: String(message).slice(0, 2000), page: location.pathname, fields: fields || {} }] }),
        keepalive: true,
      });
    } catch (e) { /* reporting must never break the page */ }
  }
  window.addEventListener("error", function (e) {
    report("error", e.message || "script error", { source: String(e.filename || ""), line: String(e.lineno || "") });
  });
  window.addEventListener("unhandledrejection", function (e) {
    report("error", "unhandled promise rejection: " + (e.reason && e.reason.message || e.reason));
  });

  var handlers = {};
  var live = {
    on: function (type, fn) { (handlers[type] = handlers[type] || []).push(fn); },
    send: function (frame) {
      if (socket && socket.readyState === 1) { socket.send(JSON.stringify(frame)); return true; }
      return false;
    },
    state: "connecting",
  };
  window.marketplaceLive = live;
  if (!body || !body.dataset.live || !("WebSocket" in window)) return;

  function setCount(el, n) {
    if (!el) return;
    el.textContent = n;
    el.hidden = !n;
    var link = el.closest("a");
    if (!link) return;
    link.setAttribute("aria-label", link.getAttribute("aria-label").replace(/\d+ unread/, n + " unread"));
    if (link.dataset.unread !== undefined) link.dataset.unread = String(n);
  }
  live.on("hello", function (f) {
    setCount(document.querySelector("[data-bell-count]"), f.unread_notifications);
    setCount(document.querySelector("[data-chat-count]"), f.unread_chat);
  });
  live.on("message", function (f) { setCount(document.querySelector("[data-chat-count]"), f.unread.total); });
  live.on("read", function (f) { setCount(document.querySelector("[data-chat-count]"), f.unread.total); });
  live.on("notifications_read", function (f) { setCount(document.querySelector("[data-bell-count]"), f.unread_notifications); });
  live.on("notification", function (f) {
    setCount(document.querySelector("[data-bell-count]"), f.unread_notifications);
    toast(f.notification.title, f.notification.link);
  });

  function toast(text, link) {
    var box = document.querySelector(".toasts");
    if (!box) { box = document.createElement("div"); box.className = "toasts"; box.setAttribute("role", "status"); body.appendChild(box); }
    var item = document.createElement(link ? "a" : "div");
    item.className = "toast";
    item.textContent = text;
    if (link) item.href = link;
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, 6000);
  }
  live.toast = toast;

  var socket = null, attempts = 0, pinger = null;
  var key = "live-position";
  function connect() {
    var since = sessionStorage.getItem(key);
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws" + (since ? "?since=" + since : "");
    socket = new WebSocket(url);
    socket.onopen = function () {
      attempts = 0;
      live.state = "open";
      dispatch({ type: "state", state: "open" });
      pinger = setInterval(function () { live.send({ type: "ping" }); }, 25000);
    };
    socket.onmessage = function (e) {
      var frame;
      try { frame = JSON.parse(e.data); } catch (err) { return; }
      if (frame.type === "hello" && !sessionStorage.getItem(key)) sessionStorage.setItem(key, frame.position);
      if (frame.position && frame.type !== "hello") {
        var seen = Number(sessionStorage.getItem(key) || 0);
        if (frame.position > seen) sessionStorage.setItem(key, frame.position);
      }
      dispatch(frame);
    };
    socket.onclose = function () {
      clearInterval(pinger);
      live.state = "closed";
      dispatch({ type: "state", state: "closed" });
      attempts += 1;
      if (attempts <= 8) setTimeout(connect, Math.min(30000, 1000 * Math.pow(2, attempts - 1)));
    };
  }
  function dispatch(frame) {
    (handlers[frame.type] || []).forEach(function (fn) {
      try { fn(frame); } catch (err) { report("error", "live handler failed: " + err.message, { frame: frame.type }); }
    });
  }
  // Pages add their handlers first (their scripts run below this one).
  setTimeout(connect, 0);
  live.csrf = function () { return cookie("csrf_token"); };
})();

// A conversation: live messages, read marks, typing, presence, sending through the JSON API,
// image attachments, emoji and older pages.
(function () {
  "use strict";
  var chat = document.querySelector("[data-chat]");
  var live = window.marketplaceLive;
  if (!chat || !live) return;
  var id = chat.dataset.chat, side = chat.dataset.side;
  var log = chat.querySelector("[data-log]");
  var form = chat.querySelector(".composer");
  var text = form.querySelector("textarea");
  var error = form.querySelector("[data-error]");
  var typing = chat.querySelector("[data-typing]");
  var seen = chat.querySelector("[data-seen]");
  var readByOther = Number(chat.dataset.readByOther || 0);
  var image = null;

  function api(method, path, payload, isForm) {
    var headers = { "x-csrf-token": live.csrf() };
    if (!isForm) headers["content-type"] = "application/json";
    return fetch(path, { method: method, credentials: "same-origin", headers: headers, body: isForm ? payload : payload && JSON.stringify(payload) })
      .then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error(j.message || r.statusText); return j; }); });
  }
  function time(at) {
    var d = new Date(at);
    return d.toLocaleString(undefined, { month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit" });
  }
  function render(m) {
    var li = document.createElement("li");
    li.className = "msg " + (m.side === side ? "mine" : "theirs");
    li.dataset.id = m.id;
    li.dataset.position = m.position;
    if (m.image) {
      var a = document.createElement("a");
      a.href = m.image.zoom; a.target = "_blank"; a.rel = "noopener";
      var img = document.createElement("img");
      img.src = m.image.card; img.alt = "Image sent in the chat"; img.width = 240; img.loading = "lazy";
      a.appendChild(img); li.appendChild(a);
    }
    if (m.text) { var p = document.createElement("p"); p.textContent = m.text; li.appendChild(p); }
    var t = document.createElement("time");
    t.className = "small"; t.dateTime = m.at; t.textContent = time(m.at);
    li.appendChild(t);
    return li;
  }
  function add(m, atTop) {
    if (log.querySelector('[data-id="' + m.id + '"]')) return;
    var empty = chat.querySelector("[data-empty]");
    if (empty) empty.remove();
    var li = render(m);
    if (atTop) { log.insertBefore(li, log.firstChild); return; }
    // In position order, whatever order frames and answers arrive in.
    var after = null;
    log.querySelectorAll("li").forEach(function (el) { if (Number(el.dataset.position) > m.position && !after) after = el; });
    log.insertBefore(li, after);
    li.scrollIntoView({ block: "end" });
  }
  function showSeen() {
    var mine = log.querySelectorAll("li.mine");
    var last = mine[mine.length - 1];
    seen.hidden = !(last && Number(last.dataset.position) <= readByOther);
  }
  function markRead(position) {
    if (document.visibilityState === "visible") live.send({ type: "read", conversation: id, upto: position });
  }
  showSeen();
  var lastItem = log.lastElementChild;
  if (lastItem) lastItem.scrollIntoView({ block: "end" });

  live.on("message", function (f) {
    if (f.message.conversation !== id) return;
    add(f.message);
    if (f.message.side !== side) { typing.hidden = true; markRead(f.message.position); }
    showSeen();
  });
  live.on("read", function (f) {
    if (f.conversation !== id || f.side === side) return;
    readByOther = Math.max(readByOther, f.upto);
    showSeen();
  });
  var typingTimer = null;
  live.on("typing", function (f) {
    if (f.conversation !== id) return;
    typing.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(function () { typing.hidden = true; }, 4000);
  });
  live.on("presence", function (f) {
    if (f.conversation !== id) return;
    chat.querySelector("[data-presence-text]").textContent = f.online ? "Online" : "Last seen just now";
  });
  document.addEventListener("visibilitychange", function () {
    var theirs = log.querySelectorAll("li.theirs");
    var last = theirs[theirs.length - 1];
    if (last) markRead(Number(last.dataset.position));
  });

  var lastTyping = 0;
  text.addEventListener("input", function () {
    if (Date.now() - lastTyping > 1500 && live.send({ type: "typing", conversation: id })) lastTyping = Date.now();
  });
  text.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit ? form.requestSubmit() : form.submit(); }
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var payload = { text: text.value, id: crypto.randomUUID ? crypto.randomUUID() : undefined };
    if (image) payload.image = image;
    if (!payload.text.trim() && !image) return;
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    error.hidden = true;
    api("POST", "/api/conversations/" + id + "/messages", payload).then(function (m) {
      add(m);
      text.value = "";
      clearImage();
      showSeen();
    }, function (err) {
      error.textContent = err.message;
      error.hidden = false;
    }).then(function () { button.disabled = false; text.focus(); });
  });
  text.required = false;

  // Emoji and images need the script, so they appear with it.
  var emoji = form.querySelector("[data-emoji]");
  emoji.hidden = false;
  emoji.querySelectorAll("[data-insert]").forEach(function (b) {
    b.addEventListener("click", function () {
      var at = text.selectionStart || text.value.length;
      text.value = text.value.slice(0, at) + b.dataset.insert + text.value.slice(text.selectionEnd || at);
      text.focus();
      emoji.open = false;
    });
  });
  var attach = form.querySelector("[data-attach]");
  var preview = form.querySelector("[data-attachment]");
  attach.hidden = false;
  function clearImage() { image = null; preview.hidden = true; attach.querySelector("input").value = ""; }
  preview.querySelector("[data-remove-image]").addEventListener("click", clearImage);
  attach.querySelector("input").addEventListener("change", function (e) {
    var file = e.target.files[0];
    if (!file) return;
    var data = new FormData();
    data.append("file", file);
    error.hidden = true;
    api("POST", "/api/conversations/" + id + "/images", data, true).then(function (uploaded) {
      image = uploaded.id;
      preview.querySelector("img").src = uploaded.variants.thumb;
      preview.hidden = false;
    }, function (err) { error.textContent = err.message; error.hidden = false; });
  });

  var earlier = chat.querySelector("[data-earlier]");
  if (earlier) earlier.addEventListener("click", function () {
    api("GET", "/api/conversations/" + id + "/messages?before=" + earlier.dataset.earlier).then(function (page) {
      page.items.slice().reverse().forEach(function (m) { add(m, true); });
      if (page.next_before) earlier.dataset.earlier = page.next_before; else earlier.parentNode.remove();
    });
  });
})();

// The inbox list: unread badges, last lines and presence follow the socket.
(function () {
  "use strict";
  var inbox = document.querySelector("[data-inbox]");
  var live = window.marketplaceLive;
  if (!inbox || !live) return;
  function row(id) { return inbox.querySelector('[data-conversation="' + id + '"]'); }
  live.on("message", function (f) {
    var r = row(f.message.conversation);
    if (!r) { location.reload(); return; }
    r.querySelector("[data-last]").textContent = f.message.text || "📷 Image";
    var count = r.querySelector("[data-unread]");
    count.textContent = f.unread.count; count.hidden = !f.unread.count;
    r.classList.toggle("unread", f.unread.count > 0);
    inbox.insertBefore(r, inbox.firstChild);
  });
  live.on("read", function (f) {
    var r = row(f.conversation);
    if (!r) return;
    var count = r.querySelector("[data-unread]");
    count.textContent = f.unread.count; count.hidden = !f.unread.count;
    r.classList.toggle("unread", f.unread.count > 0);
  });
  live.on("presence", function (f) {
    var dot = inbox.querySelector('[data-presence="' + f.conversation + '"]');
    if (dot) { dot.classList.toggle("online", f.online); dot.title = f.online ? "Online" : "Offline"; }
  });
})();

// The admin's live log: follows the socket's stream, filters, pauses, and downloads a range.
(function () {
  "use strict";
  var panel = document.querySelector("[data-logs]");
  var live = window.marketplaceLive;
  if (!panel || !live) return;
  var rows = panel.querySelector("[data-log-rows]");
  var filters = panel.querySelector("[data-log-filters]");
  var pause = panel.querySelector("[data-pause]");
  var held = panel.querySelector("[data-held]");
  var levels = ["error", "warn", "info", "debug", "trace"];
  var paused = false, waiting = [];
  var MAX_ROWS = 1000;

  function keeps(tr) {
    var level = filters.level.value, source = filters.source.value, q = filters.q.value.trim().toLowerCase();
    return levels.indexOf(tr.dataset.level) <= levels.indexOf(level) &&
      (!source || tr.dataset.source === source) &&
      (!q || tr.textContent.toLowerCase().indexOf(q) >= 0);
  }
  function apply() { rows.querySelectorAll("tr").forEach(function (tr) { tr.hidden = !keeps(tr); }); }
  ["change", "input"].forEach(function (e) { filters.addEventListener(e, apply); });

  function row(line) {
    var tr = document.createElement("tr");
    tr.className = "level-" + line.level;
    tr.dataset.level = line.level;
    tr.dataset.source = line.source;
    var at = new Date(line.at);
    var cells = [
      at.toLocaleTimeString(undefined, { hour12: false }) + "." + String(at.getMilliseconds()).padStart(3, "0"),
      line.level, line.source,
    ];
    cells.forEach(function (text, i) {
      var td = document.createElement("td");
      if (i === 1) { var pill = document.createElement("span"); pill.className = "pill level"; pill.textContent = text; td.appendChild(pill); }
      else td.textContent = text;
      tr.appendChild(td);
    });
    var td = document.createElement("td");
    var msg = document.createElement("span"); msg.className = "log-message"; msg.textContent = line.message;
    var extra = document.createElement("span"); extra.className = "muted small";
    var fields = Object.keys(line.fields || {}).map(function (k) { return k + "=" + line.fields[k]; }).join(" ");
    extra.textContent = " " + line.target + (fields ? " · " + fields : "") + (line.spans || []).map(function (s) { return " · " + s; }).join("");
    td.appendChild(msg); td.appendChild(extra);
    tr.appendChild(td);
    tr.hidden = !keeps(tr);
    return tr;
  }
  // The newest line is at the bottom; the view follows it unless the reader scrolled up.
  var wrap = panel.querySelector(".log-table");
  wrap.scrollTop = wrap.scrollHeight;
  function show(line) {
    var following = wrap.scrollHeight - wrap.scrollTop - wrap.clientHeight < 40;
    rows.appendChild(row(line));
    while (rows.children.length > MAX_ROWS) rows.removeChild(rows.firstChild);
    if (following) wrap.scrollTop = wrap.scrollHeight;
    var none = panel.querySelector("[data-no-lines]");
    if (none) none.remove();
  }
  live.on("log", function (f) {
    if (paused) { waiting.push(f.line); held.textContent = waiting.length + " new while paused"; return; }
    show(f.line);
  });
  pause.addEventListener("click", function () {
    paused = !paused;
    pause.textContent = paused ? "Resume" : "Pause";
    pause.setAttribute("aria-pressed", String(paused));
    if (!paused) { waiting.forEach(show); waiting = []; held.textContent = ""; }
  });
  var dot = document.querySelector("[data-live-state]"), label = document.querySelector("[data-live-label]");
  live.on("state", function (f) {
    dot.classList.toggle("online", f.state === "open");
    label.textContent = f.state === "open" ? "Live" : "Reconnecting…";
    if (f.state === "open") live.send({ type: "logs", follow: true });
  });
  live.on("error", function (f) { if (f.code === "forbidden") label.textContent = f.message; });

  var download = document.querySelector("[data-log-download]");
  var now = new Date(), hourAgo = new Date(now.getTime() - 3600 * 1000);
  function local(d) { return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16); }
  download.querySelector('[data-local="from"]').value = local(hourAgo);
  download.querySelector('[data-local="to"]').value = local(now);
  download.addEventListener("submit", function () {
    ["from", "to"].forEach(function (name) {
      var value = download.querySelector('[data-local="' + name + '"]').value;
      download.elements[name].value = value ? new Date(value).toISOString() : "";
    });
  });
})();
