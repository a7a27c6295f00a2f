// Coffer's card rules, shared by the hosted checkout page (checkout.js) and
// the drop-in card fields (fields.js), so both judge a card the same way:
// brands, lengths, the Luhn check, formatting and the messages a card holder
// reads. The server serves this file in front of each of those scripts.
var CofferCard = (function () {
  "use strict";

  // gaps: where a space goes in the formatted number; full: the usual
  // length, at which a wrong number is flagged while typing.
  var BRANDS = [
    { id: "amex", name: "American Express", re: /^3[47]/, lengths: [15], full: 15, gaps: [4, 10], cvc: 4 },
    { id: "diners", name: "Diners Club", re: /^3(0[0-5]|[689])/, lengths: [14, 16, 17, 18, 19], full: 14, gaps: [4, 10], cvc: 3 },
    { id: "jcb", name: "JCB", re: /^35(2[89]|[3-8])/, lengths: [16, 17, 18, 19], full: 16, gaps: [4, 8, 12], cvc: 3 },
    { id: "visa", name: "Visa", re: /^4/, lengths: [13, 16, 19], full: 16, gaps: [4, 8, 12, 16], cvc: 3 },
    { id: "mastercard", name: "Mastercard", re: /^(5[1-5]|222[1-9]|22[3-9]|2[3-6]|27[01]|2720)/, lengths: [16], full: 16, gaps: [4, 8, 12], cvc: 3 },
    { id: "discover", name: "Discover", re: /^(6011|64[4-9]|65)/, lengths: [16, 17, 18, 19], full: 16, gaps: [4, 8, 12, 16], cvc: 3 },
    { id: "unionpay", name: "UnionPay", re: /^62/, lengths: [16, 17, 18, 19], full: 16, gaps: [4, 8, 12, 16], cvc: 3 },
    { id: "maestro", name: "Maestro", re: /^(5[06-9]|6[37])/, lengths: [12, 13, 14, 15, 16, 17, 18, 19], full: 16, gaps: [4, 8, 12, 16], cvc: 3 }
  ];
  var UNKNOWN = { id: "", name: "", lengths: [12, 13, 14, 15, 16, 17, 18, 19], full: 16, gaps: [4, 8, 12, 16], cvc: 0 };

  function brandOf(digits) {
    for (var i = 0; i < BRANDS.length; i++) {
      if (BRANDS[i].re.test(digits)) {
        return BRANDS[i];
      }
    }
    return UNKNOWN;
  }

  function brandByID(id) {
    for (var i = 0; i < BRANDS.length; i++) {
      if (BRANDS[i].id === id) {
        return BRANDS[i];
      }
    }
    return UNKNOWN;
  }

  function maxLength(b) {
    return b.lengths[b.lengths.length - 1];
  }

  function group(digits, b) {
    var out = "";
    for (var i = 0; i < digits.length; i++) {
      if (i > 0 && b.gaps.indexOf(i) >= 0) {
        out += " ";
      }
      out += digits.charAt(i);
    }
    return out;
  }

  function luhn(digits) {
    var sum = 0;
    var double = false;
    for (var i = digits.length - 1; i >= 0; i--) {
      var n = digits.charCodeAt(i) - 48;
      if (double) {
        n *= 2;
        if (n > 9) {
          n -= 9;
        }
      }
      sum += n;
      double = !double;
    }
    return sum % 10 === 0;
  }

  function digitsOf(s) {
    return s.replace(/\D/g, "");
  }

  function numberProblem(digits) {
    var b = brandOf(digits);
    if (digits.length === 0) {
      return "Enter your card number.";
    }
    if (b.lengths.indexOf(digits.length) < 0) {
      return "Your card number is incomplete.";
    }
    if (!luhn(digits)) {
      return "This card number is not valid. Check it and try again.";
    }
    return "";
  }

  function expDigits(v) {
    // Autofill may write "12/2034" or "12/34".
    var m = /^\s*(\d{1,2})\s*[\/\-.]\s*(\d{2}|\d{4})\s*$/.exec(v);
    if (m) {
      return (m[1].length === 1 ? "0" + m[1] : m[1]) + m[2].slice(-2);
    }
    // "1/" is January.
    if (/^\s*\d\s*[\/\-.]/.test(v)) {
      return "0" + digitsOf(v);
    }
    return digitsOf(v);
  }

  // expiryOf returns {month, year} (year in four digits) of a typed
  // expiry, or null.
  function expiryOf(v) {
    var d = expDigits(v);
    if (d.length !== 4) {
      return null;
    }
    return { month: parseInt(d.slice(0, 2), 10), year: 2000 + parseInt(d.slice(2), 10) };
  }

  function expProblemOf(v) {
    var d = expDigits(v);
    if (d.length === 0) {
      return "Enter the expiry date.";
    }
    var month = parseInt(d.slice(0, 2), 10);
    if (d.length >= 2 && (month < 1 || month > 12)) {
      return "Enter a month from 01 to 12.";
    }
    var e = expiryOf(v);
    if (!e) {
      return "Enter the expiry date as MM / YY.";
    }
    var now = new Date();
    var y = now.getFullYear();
    var m = now.getMonth() + 1;
    if (e.year < y || (e.year === y && e.month < m)) {
      return "This card has expired.";
    }
    if (e.year > y + 20) {
      return "Check the expiry year.";
    }
    return "";
  }

  // cvcProblemOf judges a CVC against its brand's length (0: 3 or 4).
  function cvcProblemOf(v, wantLength) {
    if (v.length === 0) {
      return "Enter the security code.";
    }
    if (wantLength ? v.length !== wantLength : v.length < 3 || v.length > 4) {
      return "Enter the " + (wantLength || "3 or 4") + "-digit security code.";
    }
    return "";
  }

  // encrypt encrypts a card's JSON to a session's key (a JWK), the session
  // id as the OAEP label, and returns the base64 ciphertext. It throws
  // {field: "holder_name"} for a name too long to fit.
  async function encrypt(jwk, sessionId, card) {
    var key = await crypto.subtle.importKey("jwk", jwk, { name: "RSA-OAEP", hash: "SHA-256" }, false, ["encrypt"]);
    var enc = new TextEncoder();
    var plain = enc.encode(JSON.stringify(card));
    // RSA-OAEP with SHA-256 fits k - 2*32 - 2 bytes.
    if (plain.length > key.algorithm.modulusLength / 8 - 66) {
      throw { field: "holder_name", message: "The name is too long. Shorten it and try again." };
    }
    var ct = new Uint8Array(await crypto.subtle.encrypt({ name: "RSA-OAEP", label: enc.encode(sessionId) }, key, plain));
    var s = "";
    for (var i = 0; i < ct.length; i++) {
      s += String.fromCharCode(ct[i]);
    }
    return btoa(s);
  }

  return {
    BRANDS: BRANDS, UNKNOWN: UNKNOWN, brandOf: brandOf, brandByID: brandByID, maxLength: maxLength, group: group,
    luhn: luhn, digitsOf: digitsOf, numberProblem: numberProblem, expDigits: expDigits, expiryOf: expiryOf,
    expProblemOf: expProblemOf, cvcProblemOf: cvcProblemOf, encrypt: encrypt
  };
})();
