// Coffer's hosted checkout page.
//
// Formats and checks the card as it is typed (brand, Luhn, expiry, CVC),
// then encrypts it in the browser with WebCrypto (RSA-OAEP, SHA-256) to the
// session's key, with the session id as the OAEP label, and posts only the
// ciphertext as JSON to /pay/{id}/confirm. The form has no action and its
// inputs have no name: the card never travels as a form field.
//
// Plain JavaScript, no framework, nothing loaded from anywhere else.
(function () {
  "use strict";

  var main = document.querySelector("main[data-state=open]");
  var form = document.getElementById("pay-form");
  if (!main || !form) {
    return;
  }

  function $(id) {
    return document.getElementById(id);
  }

  var sessionId = main.getAttribute("data-session");
  var base = main.getAttribute("data-base");
  var saveMode = main.getAttribute("data-save");
  var number = $("number");
  var exp = $("exp");
  var cvc = $("cvc");
  var cvcHelp = $("cvc-help");
  var holder = $("name");
  var save = $("save");
  var pay = $("pay");
  var formError = $("form-error");
  var badge = $("number-brand");
  var newFields = $("new-card-fields");
  var savedCVC = $("saved-cvc");
  var savedCVCField = $("saved-cvc-field");
  var cancelForm = $("cancel-form");
  var cancelButton = $("cancel");
  var payLabel = pay.textContent;
  var busy = false;

  // ---- Card brands -------------------------------------------------------

  // The card rules are card.js's (CofferCard), shared with the drop-in
  // card fields; these names keep this file reading as before.
  var C = CofferCard;
  var brandOf = C.brandOf;
  var maxLength = C.maxLength;
  var group = C.group;
  var digitsOf = C.digitsOf;
  var numberProblem = C.numberProblem;
  var expDigits = C.expDigits;

  // expiry returns {month, year} (year in four digits) or null.
  function expiry() {
    return C.expiryOf(exp.value);
  }

  function expProblem() {
    return C.expProblemOf(exp.value);
  }

  function cvcProblem(input, wantLength) {
    return C.cvcProblemOf(input.value, wantLength);
  }

  // encryptCard encrypts the card's JSON to the session key, the session id
  // as the OAEP label. It throws {field, message} for a name too long to fit.
  function encryptCard(card) {
    return C.encrypt(JSON.parse($("session-key").textContent), sessionId, card);
  }

  // ---- Errors ------------------------------------------------------------

  // fieldError shows (or with "" clears) the error tied to an input by
  // aria-describedby: <p id="<input id>-error" role="alert">.
  function fieldError(input, message) {
    if (!input) {
      return;
    }
    var el = $(input.id + "-error");
    if (el) {
      el.textContent = message;
      el.hidden = !message;
    }
    if (message) {
      input.setAttribute("aria-invalid", "true");
    } else {
      input.removeAttribute("aria-invalid");
    }
  }

  function showFormError(message) {
    formError.textContent = message;
    formError.hidden = !message;
  }

  // ---- Card number -------------------------------------------------------

  // setCaret puts the caret after the n-th digit of the input's value.
  function setCaret(input, n) {
    if (document.activeElement !== input) {
      return;
    }
    var v = input.value;
    var pos = 0;
    var seen = 0;
    while (pos < v.length && seen < n) {
      if (v.charAt(pos) >= "0" && v.charAt(pos) <= "9") {
        seen++;
      }
      pos++;
    }
    input.setSelectionRange(pos, pos);
  }

  function showBrand(b) {
    if (!badge) {
      return;
    }
    badge.textContent = b.name;
    badge.hidden = !b.name;
    if (cvcHelp) {
      cvcHelp.textContent = b.id === "amex" ? "4 digits on the front" : "3 digits on the back";
    }
    if (cvc) {
      cvc.maxLength = b.cvc || 4;
      cvc.placeholder = b.cvc === 4 ? "1234" : "CVC";
    }
  }

  function formatNumber(ev) {
    var v = number.value;
    var caretDigits = digitsOf(v.slice(0, number.selectionStart || 0)).length;
    var digits = digitsOf(v);
    var b = brandOf(digits);
    digits = digits.slice(0, maxLength(b));
    number.value = group(digits, b);
    setCaret(number, Math.min(caretDigits, digits.length));
    showBrand(b);

    var inserting = ev && ev.inputType && ev.inputType.indexOf("insert") === 0;
    var problem = numberProblem(digits);
    // A number is judged once it has its brand's usual length (or on
    // blur); once flagged, the error follows every change until it is
    // right, but a shorter number is not nagged about while being typed.
    var complete = digits.length >= b.full;
    if (number.getAttribute("aria-invalid") === "true") {
      fieldError(number, complete || problem === "" ? problem : "");
    } else if (complete && problem) {
      fieldError(number, problem);
    }
    if (inserting && problem === "" && number.selectionStart === number.value.length &&
      (digits.length === maxLength(b) || digits.length === b.full)) {
      exp.focus();
    }
    cvcCheckLive();
  }

  // Backspace (or Delete) next to a space removes the digit beyond it, as
  // people expect, instead of the space that formatting puts straight back.
  function skipSpaces(ev) {
    if (ev.key !== "Backspace" && ev.key !== "Delete") {
      return;
    }
    var v = number.value;
    var s = number.selectionStart;
    if (s !== number.selectionEnd) {
      return;
    }
    var at = ev.key === "Backspace" ? s - 1 : s;
    if (v.charAt(at) !== " ") {
      return;
    }
    ev.preventDefault();
    var digitIdx = ev.key === "Backspace" ? at - 1 : at + 1;
    if (digitIdx < 0 || digitIdx >= v.length) {
      return;
    }
    var before = digitsOf(v.slice(0, digitIdx)).length;
    number.value = v.slice(0, digitIdx) + v.slice(digitIdx + 1);
    formatNumber(null);
    setCaret(number, before);
  }

  // ---- Expiry ------------------------------------------------------------

  function formatExp(ev) {
    var deleting = ev && ev.inputType && ev.inputType.indexOf("delete") === 0;
    var d = expDigits(exp.value);
    if (d.length === 1 && d > "1") {
      d = "0" + d; // "4" can only be April
    }
    d = d.slice(0, 4);
    var out = d;
    if (d.length > 2) {
      out = d.slice(0, 2) + " / " + d.slice(2);
    } else if (d.length === 2 && !deleting) {
      out = d + " / ";
    }
    exp.value = out;
    var problem = expProblem();
    if (exp.getAttribute("aria-invalid") === "true" || d.length === 4 || (d.length >= 2 && problem.indexOf("month") >= 0)) {
      fieldError(exp, d.length === 4 || (d.length >= 2 && problem.indexOf("month") >= 0) ? problem : "");
    }
    if (!deleting && d.length === 4 && problem === "" && exp.selectionStart === exp.value.length) {
      cvc.focus();
    }
  }

  // ---- CVC and name ------------------------------------------------------

  function currentCVCLength() {
    return brandOf(digitsOf(number.value)).cvc;
  }

  function onlyDigits(input) {
    var d = digitsOf(input.value).slice(0, input.maxLength > 0 ? input.maxLength : 4);
    if (d !== input.value) {
      input.value = d;
    }
  }

  function cvcCheckLive() {
    if (cvc && cvc.getAttribute("aria-invalid") === "true") {
      fieldError(cvc, cvcProblem(cvc, currentCVCLength()));
    }
  }

  function holderName() {
    return holder.value.replace(/\s+/g, " ").trim();
  }

  // ---- Saved cards -------------------------------------------------------

  function choice() {
    var checked = form.querySelector("input[name=choice]:checked");
    return checked ? checked : null; // null: no saved cards, a new card
  }

  function usingSaved() {
    var c = choice();
    return !!(c && c.value);
  }

  function onChoice() {
    var c = choice();
    var saved = !!(c && c.value);
    newFields.hidden = saved;
    if (savedCVCField) {
      savedCVCField.hidden = !saved;
      savedCVC.value = "";
      fieldError(savedCVC, "");
      if (saved) {
        var len = parseInt(c.getAttribute("data-cvc-length"), 10) || 3;
        savedCVC.maxLength = len;
        savedCVC.placeholder = len === 4 ? "1234" : "123";
        $("saved-cvc-help").textContent = "The " + len + "-digit code of your " + c.getAttribute("data-label");
      }
    }
    showFormError("");
  }

  // ---- Sending -----------------------------------------------------------

  function setBusy(on, label) {
    busy = on;
    pay.disabled = on;
    pay.textContent = on ? label || "Processing\u2026" : payLabel;
    if (on) {
      pay.setAttribute("aria-busy", "true");
    } else {
      pay.removeAttribute("aria-busy");
    }
    if (cancelButton) {
      cancelButton.disabled = on;
    }
  }

  // go follows a redirect the server gave, if it is a web address.
  function go(to) {
    var u;
    try {
      u = new URL(to, location.href);
    } catch (e) {
      return false;
    }
    if (u.protocol !== "https:" && u.protocol !== "http:") {
      return false;
    }
    location.assign(u.href);
    return true;
  }

  var NETWORK = "We could not reach the payment service. Check your connection and try again.";
  var GENERIC = "Something went wrong. Please try again.";

  async function post(path, body) {
    var init = {
      method: "POST",
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      cache: "no-store",
      redirect: "error",
      referrerPolicy: "no-referrer"
    };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    var res = await fetch(path, init);
    var out = null;
    try {
      out = await res.json();
    } catch (e) {
      out = null;
    }
    return { ok: res.ok, out: out || {} };
  }

  // showServerError puts a failed attempt's message where it belongs.
  function showServerError(err, saved) {
    var message = err.message || GENERIC;
    var target = null;
    switch (err.field) {
      case "number":
        target = number;
        break;
      case "expiry":
        target = exp;
        break;
      case "cvc":
        target = saved ? savedCVC : cvc;
        break;
      case "holder_name":
        target = holder;
        break;
    }
    if (target && (saved ? target === savedCVC : target !== savedCVC) && $(target.id + "-error")) {
      fieldError(target, message);
      target.focus();
      return;
    }
    showFormError(message);
    if (err.field === "card" && !saved) {
      // Declined: the holder may correct this card or type another.
      number.focus();
      number.select();
    }
  }

  // validateNewCard checks every field, shows every problem, focuses the
  // first one and returns the card, or null.
  function validateNewCard() {
    var digits = digitsOf(number.value);
    var checks = [
      [number, numberProblem(digits)],
      [exp, expProblem()],
      [cvc, cvcProblem(cvc, brandOf(digits).cvc)],
      [holder, holderName() ? "" : "Enter the name on the card."]
    ];
    var first = null;
    for (var i = 0; i < checks.length; i++) {
      fieldError(checks[i][0], checks[i][1]);
      if (checks[i][1] && !first) {
        first = checks[i][0];
      }
    }
    if (first) {
      first.focus();
      return null;
    }
    var e = expiry();
    return { number: digits, exp_month: e.month, exp_year: e.year, cvc: cvc.value, holder_name: holderName() };
  }

  async function submit(ev) {
    ev.preventDefault();
    if (busy) {
      return;
    }
    showFormError("");
    var saved = usingSaved();
    var body;
    if (saved) {
      body = { token: choice().value };
      if (savedCVC) {
        var len = parseInt(choice().getAttribute("data-cvc-length"), 10) || 3;
        var p = cvcProblem(savedCVC, len);
        fieldError(savedCVC, p);
        if (p) {
          savedCVC.focus();
          return;
        }
        if (!window.isSecureContext) {
          showFormError("This page was not opened over a secure (https) connection, so your security code cannot be sent. Nothing was sent.");
          return;
        }
        body.cvc = savedCVC.value;
      }
    } else {
      var card = validateNewCard();
      if (!card) {
        return;
      }
      if (!window.isSecureContext || !window.crypto || !crypto.subtle) {
        showFormError("This page cannot encrypt your card because it was not opened over a secure (https) connection. Nothing was sent.");
        return;
      }
      setBusy(true);
      try {
        body = {
          encrypted_card: await encryptCard(card),
          save_card: save ? save.checked : saveMode === "always"
        };
      } catch (e) {
        setBusy(false);
        if (e && e.field === "holder_name") {
          fieldError(holder, e.message);
          holder.focus();
        } else {
          showFormError("Your card could not be encrypted in this browser. Nothing was sent; try another browser.");
        }
        return;
      }
      card = null;
    }
    setBusy(true);
    var r;
    try {
      r = await post(base + "/confirm", body);
    } catch (e) {
      setBusy(false);
      showFormError(NETWORK);
      return;
    }
    if (r.out.redirect && go(r.out.redirect)) {
      setBusy(true, "Redirecting\u2026");
      return;
    }
    setBusy(false);
    if (r.out.error) {
      showServerError(r.out.error, saved);
      return;
    }
    if (r.ok) {
      location.reload(); // no next step given: the page shows where things stand
      return;
    }
    showFormError(GENERIC);
  }

  async function cancel(ev) {
    ev.preventDefault();
    if (busy) {
      return;
    }
    setBusy(true, payLabel);
    var r;
    try {
      r = await post(base + "/cancel");
    } catch (e) {
      setBusy(false);
      showFormError(NETWORK);
      return;
    }
    if (r.out.redirect && go(r.out.redirect)) {
      return;
    }
    setBusy(false);
    showFormError(r.out.error && r.out.error.message ? r.out.error.message : GENERIC);
  }

  // ---- Wiring ------------------------------------------------------------

  // A field is checked when the holder leaves it, but not when they leave
  // it by pressing a button or a choice: the error appearing would move
  // that button away between the press and the release, and the click
  // would be lost. Pay checks every field anyway.
  var pressing = false;
  document.addEventListener("pointerdown", function (ev) {
    pressing = !!(ev.target && ev.target.closest && ev.target.closest("button, .choice"));
  }, true);
  document.addEventListener("pointerup", function () {
    setTimeout(function () {
      pressing = false;
    }, 0);
  }, true);
  function onLeave(input, check) {
    input.addEventListener("blur", function () {
      if (!pressing) {
        check();
      }
    });
  }

  number.addEventListener("input", formatNumber);
  number.addEventListener("keydown", skipSpaces);
  onLeave(number, function () {
    var digits = digitsOf(number.value);
    if (digits.length > 0) {
      fieldError(number, numberProblem(digits));
    }
  });
  exp.addEventListener("input", formatExp);
  onLeave(exp, function () {
    if (exp.value) {
      fieldError(exp, expProblem());
    }
  });
  cvc.addEventListener("input", function () {
    onlyDigits(cvc);
    cvcCheckLive();
  });
  onLeave(cvc, function () {
    if (cvc.value) {
      fieldError(cvc, cvcProblem(cvc, currentCVCLength()));
    }
  });
  holder.addEventListener("input", function () {
    if (holder.getAttribute("aria-invalid") === "true" && holderName()) {
      fieldError(holder, "");
    }
  });
  if (savedCVC) {
    savedCVC.addEventListener("input", function () {
      onlyDigits(savedCVC);
      if (savedCVC.getAttribute("aria-invalid") === "true") {
        fieldError(savedCVC, "");
      }
    });
  }
  var choices = form.querySelectorAll("input[name=choice]");
  for (var i = 0; i < choices.length; i++) {
    choices[i].addEventListener("change", onChoice);
  }
  if (choices.length) {
    var serverMessage = formError.textContent; // why the last attempt failed
    onChoice();
    showFormError(serverMessage);
  }
  form.addEventListener("submit", submit);
  if (cancelForm) {
    cancelForm.addEventListener("submit", cancel);
  }
  pay.disabled = false;
})();
