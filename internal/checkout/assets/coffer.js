// coffer.js: Coffer's drop-in card fields for a merchant's own page.
//
//   const coffer = Coffer("pk_…", {base: "https://coffer.example"});
//   const card = coffer.cardFields("#card", {style: {color: "#222"}});
//   card.on("change", (e) => …);               // {field, brand, complete, empty, error}
//   const r = await card.confirm({session: "ps_…", clientSecret: "…"});
//
// Each field is an iframe served by Coffer: this page (and any script on
// it) never sees the digits. It hears only what the frames choose to say —
// brands, completeness, messages — and only from Coffer's origin and from
// its own frames. 3-D Secure, when the bank asks for it, opens in a modal
// iframe (Coffer's challenge page) and confirm resolves once it is over.
(function (global) {
  "use strict";

  var TAG = "coffer-fields";
  var FIELDS = ["number", "expiry", "cvc", "name"];
  var TITLES = { number: "Card number", expiry: "Card expiry date", cvc: "Card security code", name: "Name on card" };
  var STYLE_KEYS = { color: "color", placeholderColor: "placeholder_color", invalidColor: "invalid_color", background: "background", fontSize: "font_size", fontFamily: "font_family" };
  var scriptOrigin = "";
  try {
    scriptOrigin = new URL(document.currentScript.src).origin;
  } catch (e) {
    scriptOrigin = "";
  }

  function randomID() {
    var a = new Uint8Array(16);
    crypto.getRandomValues(a);
    var s = "";
    for (var i = 0; i < a.length; i++) {
      s += ("0" + a[i].toString(16)).slice(-2);
    }
    return s;
  }

  // Coffer is the entry point: Coffer(publishableKey, {base}).
  function Coffer(pk, opts) {
    if (!(this instanceof Coffer)) {
      return new Coffer(pk, opts);
    }
    if (typeof pk !== "string" || pk.indexOf("pk_") !== 0) {
      throw new Error("Coffer: pass your publishable key (pk_…), never a secret key.");
    }
    var base = (opts && opts.base) || scriptOrigin;
    if (!base) {
      throw new Error("Coffer: pass {base: \"https://your-coffer\"}.");
    }
    this.pk = pk;
    this.origin = new URL(base).origin;
  }

  // cardFields mounts the number, expiry, CVC and name fields into the
  // element (or the first match of the selector).
  Coffer.prototype.cardFields = function (selector, opts) {
    return new CardFields(this, selector, opts || {});
  };

  function CardFields(coffer, selector, opts) {
    var root = typeof selector === "string" ? document.querySelector(selector) : selector;
    if (!root) {
      throw new Error("Coffer: no element matches " + selector);
    }
    this._coffer = coffer;
    this._origin = coffer.origin;
    this._channel = randomID();
    this._handlers = {};
    this._frames = {};
    this._state = {};
    this._ready = {};
    this._pending = {};
    this._seq = 0;
    this._opts = opts;
    this._modal = null;
    this._root = root;
    this._listener = this._onMessage.bind(this);
    global.addEventListener("message", this._listener);
    this._mount(root, opts.style || {});
    // A frame Coffer refused (this page's origin not in the merchant's
    // frame_ancestors, a wrong key) never says ready, and the browser tells
    // this page nothing more: say so once, rather than leave it waiting.
    var self = this;
    this._loadTimer = setTimeout(function () {
      if (Object.keys(self._ready).length !== FIELDS.length) {
        self._emit("error", {
          type: "integration_error",
          message: "Coffer: the card fields did not load. Is this page's origin in the merchant's frame_ancestors, and the key a publishable key?"
        });
      }
    }, opts.loadTimeout > 0 ? opts.loadTimeout : 10000);
  }

  CardFields.prototype._src = function (field, style) {
    var q = new URLSearchParams({ pk: this._coffer.pk, origin: location.origin, channel: this._channel });
    for (var k in STYLE_KEYS) {
      if (Object.prototype.hasOwnProperty.call(style, k) && style[k]) {
        q.set(STYLE_KEYS[k], String(style[k]));
      }
    }
    return this._origin + "/v1/fields/" + field + "?" + q.toString();
  };

  CardFields.prototype._mount = function (root, style) {
    var wrap = document.createElement("div");
    wrap.className = "coffer-card-fields";
    wrap.style.display = "grid";
    wrap.style.gridTemplateColumns = "1fr 1fr";
    wrap.style.columnGap = "12px";
    for (var i = 0; i < FIELDS.length; i++) {
      var f = FIELDS[i];
      var frame = document.createElement("iframe");
      frame.src = this._src(f, style);
      frame.title = TITLES[f];
      frame.name = "coffer-" + f + "-" + this._channel;
      frame.setAttribute("data-coffer-field", f);
      frame.setAttribute("scrolling", "no");
      frame.setAttribute("referrerpolicy", "no-referrer");
      frame.style.border = "0";
      frame.style.width = "100%";
      frame.style.height = "96px";
      frame.style.display = "block";
      frame.style.background = "transparent";
      frame.style.gridColumn = f === "expiry" || f === "cvc" ? "auto" : "1 / -1";
      this._frames[f] = frame;
      wrap.appendChild(frame);
    }
    root.appendChild(wrap);
    this._wrap = wrap;
  };

  // on registers a handler for "ready", "change" or "error".
  CardFields.prototype.on = function (name, fn) {
    (this._handlers[name] = this._handlers[name] || []).push(fn);
    return this;
  };

  CardFields.prototype._emit = function (name, ev) {
    var hs = this._handlers[name] || [];
    for (var i = 0; i < hs.length; i++) {
      try {
        hs[i](ev);
      } catch (e) {
        setTimeout(function () { throw e; });
      }
    }
  };

  CardFields.prototype._fieldOf = function (source) {
    for (var f in this._frames) {
      if (this._frames[f].contentWindow === source) {
        return f;
      }
    }
    return "";
  };

  // _onMessage takes only messages from Coffer's origin, from one of this
  // mount's own frames, on this mount's channel.
  CardFields.prototype._onMessage = function (ev) {
    if (ev.origin !== this._origin) {
      return;
    }
    var d = ev.data;
    var from = this._fieldOf(ev.source);
    if (!from || !d || typeof d !== "object" || d.tag !== TAG || d.channel !== this._channel || d.field !== from) {
      return;
    }
    switch (d.type) {
      case "ready":
        this._ready[from] = true;
        if (Object.keys(this._ready).length === FIELDS.length) {
          clearTimeout(this._loadTimer);
          this._emit("ready", {});
        }
        break;
      case "change":
        this._state[from] = { complete: !!d.complete, empty: !!d.empty, error: d.error || "" };
        if (from === "number") {
          this._brand = d.brand || "";
        }
        var all = true;
        for (var i = 0; i < FIELDS.length; i++) {
          all = all && !!(this._state[FIELDS[i]] && this._state[FIELDS[i]].complete);
        }
        this._emit("change", { field: from, brand: this._brand || "", complete: all, empty: !!d.empty, error: d.error || "" });
        break;
      case "challenge":
        if (from === "number") {
          this._openChallenge(d.url);
        }
        break;
      case "challenge_done":
        if (from === "number") {
          this._closeChallenge();
        }
        break;
      case "result":
        var p = this._pending[d.id];
        if (from !== "number" || !p) {
          return;
        }
        delete this._pending[d.id];
        if (d.error) {
          var err = new Error(d.error.message);
          err.type = d.error.type;
          err.code = d.error.code;
          err.field = d.error.field;
          this._emit("error", { type: err.type, code: err.code, message: err.message, field: err.field });
          p.reject(err);
        } else {
          p.resolve(d.result);
        }
        break;
    }
  };

  // _openChallenge shows Coffer's 3-D Secure page in a modal; only a page
  // of Coffer's own origin is ever framed.
  CardFields.prototype._openChallenge = function (url) {
    var u;
    try {
      u = new URL(url, this._origin);
    } catch (e) {
      return;
    }
    if (u.origin !== this._origin) {
      return;
    }
    this._closeChallenge();
    var overlay = document.createElement("div");
    overlay.className = "coffer-challenge";
    overlay.setAttribute("role", "dialog");
    overlay.setAttribute("aria-modal", "true");
    overlay.setAttribute("aria-label", "Verify your payment with your bank");
    var s = overlay.style;
    s.position = "fixed";
    s.inset = "0";
    s.zIndex = "2147483647";
    s.background = "rgba(15, 18, 22, 0.6)";
    s.display = "flex";
    s.alignItems = "center";
    s.justifyContent = "center";
    var frame = document.createElement("iframe");
    frame.src = u.href;
    frame.title = "3-D Secure verification";
    frame.setAttribute("referrerpolicy", "no-referrer");
    frame.style.border = "0";
    frame.style.borderRadius = "10px";
    frame.style.background = "#fff";
    frame.style.width = "min(440px, 96vw)";
    frame.style.height = "min(640px, 92vh)";
    // The challenge page's second load is wherever answering it led (the
    // session's return page): the holder is done, so the modal hides while
    // confirm waits for the session's outcome.
    var loads = 0;
    frame.addEventListener("load", function () {
      if (++loads > 1) {
        overlay.style.display = "none";
      }
    });
    // Closing gives up waiting for the verification: confirm rejects with
    // authentication_canceled, and the session stays requires_action until
    // its challenge expires on the server.
    var close = document.createElement("button");
    close.type = "button";
    close.className = "coffer-challenge-close";
    close.textContent = "\u00d7";
    close.setAttribute("aria-label", "Close the verification");
    var cs = close.style;
    cs.position = "absolute";
    cs.top = "8px";
    cs.right = "8px";
    cs.width = "44px";
    cs.height = "44px";
    cs.border = "0";
    cs.borderRadius = "22px";
    cs.background = "#ffffff";
    cs.color = "#14171c";
    cs.fontSize = "24px";
    cs.cursor = "pointer";
    var fields = this;
    close.addEventListener("click", function () {
      fields._closeChallenge();
      fields._send("number", { type: "abandon" });
    });
    overlay.appendChild(frame);
    overlay.appendChild(close);
    document.body.appendChild(overlay);
    this._modal = overlay;
    frame.focus();
  };

  CardFields.prototype._closeChallenge = function () {
    if (this._modal) {
      this._modal.remove();
      this._modal = null;
    }
  };

  CardFields.prototype._send = function (field, msg) {
    msg.tag = TAG;
    msg.channel = this._channel;
    var w = this._frames[field] && this._frames[field].contentWindow;
    if (w) {
      w.postMessage(msg, this._origin);
    }
  };

  CardFields.prototype._run = function (mode, opts) {
    opts = opts || {};
    var session = opts.session || this._opts.session;
    var secret = opts.clientSecret || this._opts.clientSecret;
    var self = this;
    var id = ++this._seq;
    return new Promise(function (resolve, reject) {
      if (Object.keys(self._ready).length !== FIELDS.length) {
        reject(new Error("Coffer: the card fields are not ready yet; wait for the ready event."));
        return;
      }
      self._pending[id] = { resolve: resolve, reject: reject };
      self._send("number", { type: "confirm", id: id, mode: mode, session: session, clientSecret: secret });
    });
  };

  // confirm pays (or saves) the session with the card in the fields and
  // resolves to {status, session, payment?, token?}.
  CardFields.prototype.confirm = function (opts) {
    return this._run("confirm", opts);
  };

  // tokenize saves the card through a card-saving session ({session,
  // clientSecret}, here or given to cardFields) and resolves to {token}.
  CardFields.prototype.tokenize = function (opts) {
    return this._run("tokenize", opts).then(function (r) {
      if (!r.token) {
        var e = new Error("Coffer: the session ended " + r.status + " without a token.");
        e.type = "invalid_request_error";
        throw e;
      }
      return { token: r.token };
    });
  };

  // focus moves the focus into a field ("number" by default).
  CardFields.prototype.focus = function (field) {
    this._send(field || "number", { type: "focus" });
  };

  // clear empties every field.
  CardFields.prototype.clear = function () {
    for (var i = 0; i < FIELDS.length; i++) {
      this._send(FIELDS[i], { type: "clear" });
    }
  };

  // destroy removes the fields and stops listening.
  CardFields.prototype.destroy = function () {
    clearTimeout(this._loadTimer);
    global.removeEventListener("message", this._listener);
    this._closeChallenge();
    if (this._wrap) {
      this._wrap.remove();
    }
  };

  global.Coffer = Coffer;
})(window);
