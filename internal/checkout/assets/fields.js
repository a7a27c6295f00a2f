// One drop-in card field, inside a Coffer-served iframe on a merchant's page.
//
// The field's value never leaves Coffer's origin in clear: the merchant's
// page (cfg.origin, one of its frame_ancestors) hears only the brand,
// whether the field is complete and an error message. On confirm the number
// frame gathers the other fields from its sibling frames (every message
// checked to come from Coffer's own origin and the same channel), encrypts
// the card with WebCrypto (RSA-OAEP, SHA-256, the session id as label) to
// the session's key and confirms the session itself with the publishable key
// and the client secret. The card rules and the encryption are card.js's,
// which the hosted checkout page uses too: the same brands, Luhn check,
// formatting, messages and ciphertext.
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("config").textContent);
  var field = cfg.field;
  var parentOrigin = cfg.origin;
  var channel = cfg.channel;
  var self = location.origin;
  var pk = new URLSearchParams(location.search).get("pk") || "";
  var TAG = "coffer-fields";
  var input = document.getElementById("input");
  var errEl = document.getElementById("input-error");
  var badge = document.getElementById("brand");

  // ---- Card logic: card.js (CofferCard), as the checkout page has it -------

  var C = CofferCard;
  var UNKNOWN = C.UNKNOWN;
  var brandOf = C.brandOf;
  var brandByID = C.brandByID;
  var maxLength = C.maxLength;
  var group = C.group;
  var digitsOf = C.digitsOf;
  var numberProblem = C.numberProblem;
  var expDigits = C.expDigits;

  function expiry() {
    return C.expiryOf(input.value);
  }
  function expProblem() {
    return C.expProblemOf(input.value);
  }

  // ---- This field ----------------------------------------------------------

  var brand = UNKNOWN; // the number's brand (the CVC frame hears it from the number frame)
  var shown = ""; // the error on screen

  function problem() {
    switch (field) {
      case "number":
        return numberProblem(digitsOf(input.value));
      case "expiry":
        return expProblem();
      case "cvc":
        return C.cvcProblemOf(input.value, brand.cvc);
      default:
        return name() ? "" : "Enter the name on the card.";
    }
  }
  function name() {
    return input.value.replace(/\s+/g, " ").trim();
  }
  function showError(message) {
    shown = message;
    errEl.textContent = message;
    errEl.hidden = !message;
    if (message) {
      input.setAttribute("aria-invalid", "true");
    } else {
      input.removeAttribute("aria-invalid");
    }
  }

  function toParent(msg) {
    msg.tag = TAG;
    msg.channel = channel;
    msg.field = field;
    window.parent.postMessage(msg, parentOrigin);
  }
  // toSiblings posts to every frame of the merchant's page; only frames of
  // Coffer's own origin can receive it (the target origin), and of those
  // only the ones of this channel listen.
  function toSiblings(msg) {
    msg.tag = TAG;
    msg.channel = channel;
    msg.from = field;
    var frames = window.parent.frames;
    var n = Math.min(frames.length, 50);
    for (var i = 0; i < n; i++) {
      if (frames[i] !== window) {
        try {
          frames[i].postMessage(msg, self);
        } catch (e) {
          // a frame gone meanwhile
        }
      }
    }
  }
  function changed() {
    toParent({ type: "change", brand: field === "number" ? brand.id : undefined, complete: problem() === "", empty: input.value === "", error: shown });
  }

  function onInput(ev) {
    var deleting = ev && ev.inputType && ev.inputType.indexOf("delete") === 0;
    if (field === "number") {
      var digits = digitsOf(input.value);
      var b = brandOf(digits);
      digits = digits.slice(0, maxLength(b));
      input.value = group(digits, b);
      if (b !== brand) {
        brand = b;
        badge.textContent = b.name;
        badge.hidden = !b.name;
        toSiblings({ type: "brand", brand: b.id });
      }
      var p = numberProblem(digits);
      if (shown || (digits.length >= b.full && p)) {
        showError(digits.length >= b.full || p === "" ? p : "");
      }
    } else if (field === "expiry") {
      var d = expDigits(input.value);
      if (d.length === 1 && d > "1") {
        d = "0" + d;
      }
      d = d.slice(0, 4);
      input.value = d.length > 2 ? d.slice(0, 2) + " / " + d.slice(2) : d.length === 2 && !deleting ? d + " / " : d;
      var ep = expProblem();
      if (shown || d.length === 4 || (d.length >= 2 && ep.indexOf("month") >= 0)) {
        showError(d.length === 4 || (d.length >= 2 && ep.indexOf("month") >= 0) ? ep : "");
      }
    } else if (field === "cvc") {
      var c = digitsOf(input.value).slice(0, brand.cvc || 4);
      if (c !== input.value) {
        input.value = c;
      }
      if (shown) {
        showError(problem());
      }
    } else if (shown && name()) {
      showError("");
    }
    changed();
  }
  input.addEventListener("input", onInput);
  input.addEventListener("blur", function () {
    if (input.value) {
      showError(problem());
      changed();
    }
  });
  input.addEventListener("focus", function () {
    toParent({ type: "focus" });
  });

  // value is this field's part of the card, or null when it is not valid.
  function value() {
    var p = problem();
    showError(p);
    changed();
    if (p) {
      return { error: p };
    }
    switch (field) {
      case "number":
        return { value: digitsOf(input.value) };
      case "expiry":
        return { value: expiry() };
      case "cvc":
        return { value: input.value };
      default:
        return { value: name() };
    }
  }

  // ---- Messages ------------------------------------------------------------

  var waiting = null; // the number frame's collection under way
  var confirming = false; // the number frame's confirmation under way
  var abandon = null; // stops waiting on a 3-D Secure challenge the holder closed

  window.addEventListener("message", function (ev) {
    var d = ev.data;
    if (!d || typeof d !== "object" || d.tag !== TAG || d.channel !== channel) {
      return;
    }
    // The merchant's page: only the frame's own parent, from the origin the
    // merchant allowed (checked by the server against frame_ancestors).
    if (ev.source === window.parent && ev.origin === parentOrigin) {
      fromParent(d);
      return;
    }
    // A sibling: another frame of this channel, served by Coffer.
    if (ev.origin !== self || !ev.source || ev.source === window || ev.source === window.parent) {
      return;
    }
    var sibling = false;
    try {
      sibling = ev.source.parent === window.parent;
    } catch (e) {
      sibling = false;
    }
    if (sibling) {
      fromSibling(ev, d);
    }
  });

  function fromSibling(ev, d) {
    if (d.type === "brand" && d.from === "number") {
      brand = brandByID(d.brand);
      if (field === "cvc" && shown) {
        showError(problem());
      }
      return;
    }
    if (d.type === "collect" && d.from === "number" && field !== "number") {
      var v = value();
      ev.source.postMessage({ tag: TAG, channel: channel, from: field, type: "value", nonce: d.nonce, value: v.value, error: v.error }, self);
      return;
    }
    if (d.type === "value" && field === "number" && waiting && d.nonce === waiting.nonce && waiting.want[d.from]) {
      waiting.got[d.from] = d;
      if (Object.keys(waiting.got).length === 3) {
        waiting.done();
      }
    }
  }

  function fromParent(d) {
    if (d.type === "focus") {
      input.focus();
      return;
    }
    if (d.type === "abandon" && field === "number") {
      if (abandon) {
        abandon();
      }
      return;
    }
    if (d.type === "clear") {
      input.value = "";
      showError("");
      if (field === "number") {
        brand = UNKNOWN;
        badge.hidden = true;
      }
      changed();
      return;
    }
    if (d.type === "confirm" && field === "number") {
      var id = d.id;
      // One confirmation at a time: a second (a double click) would race the
      // first for the same session and the same sibling values.
      if (confirming) {
        toParent({ type: "result", id: id, error: publicError({ type: "invalid_request_error", message: "A confirmation is already under way." }) });
        return;
      }
      confirming = true;
      confirm(d).then(function (result) {
        confirming = false;
        toParent({ type: "result", id: id, result: result });
      }, function (err) {
        confirming = false;
        toParent({ type: "result", id: id, error: publicError(err) });
      });
    }
  }

  // publicError is what the merchant's page may learn of a failure: a type,
  // code, message and field, nothing of the card.
  function publicError(e) {
    e = e || {};
    return {
      type: String(e.type || "api_error"),
      code: e.code ? String(e.code) : undefined,
      message: String(e.message || "Something went wrong. Please try again."),
      field: e.field ? String(e.field) : undefined
    };
  }

  // collect asks the three other fields for their values (and has each show
  // its own error), waiting at most 3 seconds.
  function collect() {
    return new Promise(function (resolve, reject) {
      var nonce = String(Math.random()).slice(2) + String(Date.now());
      var timer = setTimeout(function () {
        waiting = null;
        reject({ type: "integration_error", message: "The card fields could not be read: mount all four fields on the page." });
      }, 3000);
      waiting = {
        nonce: nonce,
        want: { expiry: true, cvc: true, name: true },
        got: {},
        done: function () {
          clearTimeout(timer);
          var got = waiting.got;
          waiting = null;
          resolve(got);
        }
      };
      toSiblings({ type: "collect", nonce: nonce });
    });
  }

  // ---- Confirming ----------------------------------------------------------

  async function confirm(d) {
    if (typeof d.session !== "string" || !/^ps_[A-Za-z0-9]{1,60}$/.test(d.session) || typeof d.clientSecret !== "string" || !d.clientSecret) {
      throw { type: "invalid_request_error", message: "confirm needs {session: \"ps_…\", clientSecret: \"…\"}." };
    }
    if (!window.isSecureContext || !window.crypto || !crypto.subtle) {
      throw { type: "integration_error", message: "The card cannot be encrypted: the page was not opened over https." };
    }
    var own = value();
    var others = await collect();
    var bad = own.error ? "number" : ["expiry", "cvc", "name"].find(function (f) { return others[f].error; });
    if (bad) {
      throw { type: "validation_error", field: bad, message: bad === "number" ? own.error : others[bad].error };
    }
    var stream = openStream(d.session, d.clientSecret);
    try {
      var session = await stream.next(function () { return true; });
      if (session.status !== "open") {
        return outcome(session);
      }
      var card = {
        number: own.value, exp_month: others.expiry.value.month, exp_year: others.expiry.value.year,
        cvc: others.cvc.value, holder_name: others.name.value
      };
      var ct = await encrypt(session, card);
      card = null;
      var body = { encrypted_card: ct, client_secret: d.clientSecret };
      if (d.mode === "tokenize" || session.save_card === "always") {
        if (session.save_card === "off" && session.amount > 0) {
          throw { type: "invalid_request_error", message: "tokenize needs a session that saves the card (save_card optional or always)." };
        }
        if (session.save_card === "optional") {
          body.save_card = true;
        }
      }
      var mark = stream.mark();
      var res = await post(d.session, body);
      if (res.status === "requires_action" && res.next_action && res.next_action.url) {
        toParent({ type: "challenge", url: res.next_action.url });
        try {
          res = await Promise.race([
            stream.next(function (s) { return s.status !== "requires_action" && s.status !== "open" || !!s.last_error && s.status === "open"; }, mark),
            new Promise(function (resolve, reject) {
              abandon = function () {
                reject({ type: "authentication_canceled", message: "The verification with your bank was closed before it finished." });
              };
            })
          ]);
        } finally {
          abandon = null;
          toParent({ type: "challenge_done" });
        }
      }
      return outcome(res);
    } finally {
      stream.close();
    }
  }

  function outcome(s) {
    if (s.status === "open" && s.last_error) {
      throw { type: "card_error", code: s.last_error.code, message: s.last_error.message || "Your card was declined.", field: "number" };
    }
    var out = { status: s.status, session: s.id };
    if (s.payment) {
      out.payment = typeof s.payment === "string" ? s.payment : s.payment.id;
    }
    if (s.token) {
      out.token = typeof s.token === "string" ? s.token : s.token.id;
    }
    return out;
  }

  async function encrypt(session, card) {
    var jwk = session.encryption_key && session.encryption_key.jwk;
    if (!jwk) {
      throw { type: "api_error", message: "The session has no encryption key." };
    }
    try {
      return await C.encrypt(jwk, session.id, card);
    } catch (e) {
      if (e && e.field === "holder_name") {
        throw { type: "validation_error", field: "name", message: e.message };
      }
      throw { type: "integration_error", message: "The card could not be encrypted in this browser. Nothing was sent." };
    }
  }

  async function post(sessionID, body) {
    var res;
    try {
      res = await fetch(self + "/v1/sessions/" + encodeURIComponent(sessionID) + "/confirm", {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: "Bearer " + pk, "Idempotency-Key": "fields_" + crypto.randomUUID() },
        body: JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
        redirect: "error",
        referrerPolicy: "no-referrer"
      });
    } catch (e) {
      throw { type: "api_connection_error", message: "We could not reach the payment service. Check your connection and try again." };
    }
    var out = null;
    try {
      out = await res.json();
    } catch (e) {
      out = null;
    }
    if (!res.ok || !out || out.error) {
      var e = (out && out.error) || {};
      var f = String(e.param || "").replace(/^card\./, "");
      throw {
        type: e.type || "api_error", code: e.code, message: e.message,
        field: f === "exp_month" || f === "exp_year" ? "expiry" : f === "holder_name" ? "name" : ["number", "cvc"].indexOf(f) >= 0 ? f : undefined
      };
    }
    return out;
  }

  // openStream follows the session over its live stream (the client secret
  // authenticates it); next resolves with the first session object that
  // satisfies want, reopening the stream if it drops (at most 5 times) and
  // giving up after 20 minutes.
  function openStream(sessionID, clientSecret) {
    var latest = null;
    var count = 0; // session objects received
    var waiters = [];
    var ws = null;
    var closed = false;
    var reopens = 0;
    var url = self.replace(/^http/, "ws") + "/v1/sessions/" + encodeURIComponent(sessionID) + "/stream?client_secret=" + encodeURIComponent(clientSecret);
    function fail(err) {
      var ws2 = waiters;
      waiters = [];
      ws2.forEach(function (w) { w.reject(err); });
    }
    function connect() {
      ws = new WebSocket(url);
      ws.onmessage = function (ev) {
        var s;
        try {
          s = JSON.parse(ev.data);
        } catch (e) {
          return;
        }
        if (!s || s.object !== "session") {
          return;
        }
        latest = s;
        count++;
        waiters = waiters.filter(function (w) {
          if (count > w.since && w.want(s)) {
            w.resolve(s);
            return false;
          }
          return true;
        });
      };
      ws.onclose = function (ev) {
        if (closed) {
          return;
        }
        if (ev.code === 1006 && latest === null) {
          fail({ type: "authentication_error", message: "This session or its client secret is not valid." });
          return;
        }
        if (waiters.length && reopens < 5 && !(latest && /^(succeeded|failed|expired|canceled)$/.test(latest.status))) {
          reopens++;
          setTimeout(connect, 500 * reopens);
          return;
        }
        fail({ type: "api_connection_error", message: "The session's status could not be followed." });
      };
    }
    connect();
    return {
      // mark is how many session objects have arrived so far.
      mark: function () {
        return count;
      },
      // next resolves with the first session object after the since-th
      // that satisfies want.
      next: function (want, since) {
        return new Promise(function (resolve, reject) {
          var timer = setTimeout(function () {
            reject({ type: "api_connection_error", message: "Timed out waiting for the session." });
          }, 20 * 60 * 1000);
          var w = {
            want: want,
            since: since || 0,
            resolve: function (s) { clearTimeout(timer); resolve(s); },
            reject: function (e) { clearTimeout(timer); reject(e); }
          };
          if (latest && count > w.since && want(latest)) {
            w.resolve(latest);
            return;
          }
          waiters.push(w);
        });
      },
      close: function () {
        closed = true;
        if (ws) {
          ws.close();
        }
      }
    };
  }

  toParent({ type: "ready" });
})();
