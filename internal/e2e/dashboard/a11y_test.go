package dashboard

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/coffer-vault/coffer/internal/browsertest"
	"github.com/coffer-vault/coffer/internal/e2e/harness"
	"github.com/coffer-vault/coffer/internal/processor/simulator"
	"github.com/coffer-vault/coffer/internal/totp"
)

// a11yTimeout bounds the whole audit's use of the browser: about twenty
// pages, each looked at in four ways with every control tabbed through,
// take longer than harness.BrowserTimeout allows one test.
const a11yTimeout = 4 * time.Minute

// a11yView is one way of looking at a page: a window and a colour scheme.
type a11yView struct {
	width, height int64
	scheme        string // prefers-color-scheme; the stylesheet has both
}

var a11yViews = []a11yView{{1280, 900, "light"}, {1280, 900, "dark"}, {360, 740, "light"}, {360, 740, "dark"}}

// TestBrowserDashboardAccessibility, in headless Chromium (SQLite): every
// dashboard page — sign-in (and its error), the TOTP code step, overview,
// payments, a payment (refundable and authorized), customers, a customer,
// saved cards, webhooks, endpoints (and a new endpoint's secret), keys (and
// a new key), processors, settings (and its error), security (off, set-up,
// on) and the error page — is audited at 1280 and 360 px in the light and
// the dark scheme with JavaScript run in the page (a11yLib): every control
// has an accessible name, ids are unique, images have alt, SVG charts
// role=img and a <title>, one h1, html lang; Tab reaches every control in
// document order, each showing a focus outline that stands out 3:1; all
// text meets WCAG 2.1 AA contrast against the background it sits on;
// nothing scrolls sideways at 360 px. Each violation names the page, view,
// element and value.
func TestBrowserDashboardAccessibility(t *testing.T) {
	t.Parallel()
	s := harness.Start(t)
	sk := s.Dev.SecretKey
	const email = "ops@example.com"
	newUser(t, s, s.Dev.ID, email)
	rv := harness.NewReceiver(t)
	rv.Register(t, s, sk, "payment.succeeded", "token.created")
	cus := s.Call("POST", "/v1/customers", sk, map[string]any{"email": "siti@example.com", "name": "Siti Aminah", "reference": "crm-1042"}).Want(t, 201).Str("id")
	s.Call("POST", "/v1/customers", sk, map[string]any{"email": "ali@example.com", "name": "Ali Rahman"}).Want(t, 201)
	s.NewToken(t, sk, simulator.CardSuccessVisa, "customer", cus)
	s.NewToken(t, sk, simulator.CardSuccessMastercard)
	paid := pay(t, s, sk, simulator.CardSuccessVisa, 5000, "order_id", "ord-1001")
	pay(t, s, sk, simulator.CardSuccessMastercard, 2500, "order_id", "ord-1002")
	pay(t, s, sk, simulator.CardInsufficientFunds, 1200, "order_id", "ord-1003")
	held := harness.PaymentOK(t, s.CreatePayment(sk, harness.CardPayment(simulator.CardSuccessVisa, 7000, "capture", false)), 201, "requires_capture")["id"].(string)
	s.Call("POST", "/v1/api_keys", sk, map[string]any{"name": "nightly report", "scopes": []string{"payments:read"}}).Want(t, 201)
	s.Call("POST", "/v1/processor_accounts", sk, map[string]any{"type": "stripe", "name": "Stripe EU", "currencies": []string{"EUR"},
		"base_url": "http://127.0.0.1:9", "credentials": map[string]string{"secret_key": "sk_test_a11y0123456789"}}).Want(t, 201)

	ctx := browsertest.New(t, a11yTimeout)
	console := harness.WatchConsole(t, ctx)
	a := &auditor{t: t, ctx: ctx}
	a.view(a11yViews[0])
	open := func(path, state string) {
		t.Helper()
		harness.Open(t, ctx, s.URL+path)
		loaded(t, ctx, state)
	}

	open("/dashboard/signin", "signin")
	a.audit("sign-in")
	harness.Type(t, ctx, "email", email)
	harness.Type(t, ctx, "password", "not the password")
	harness.Click(t, ctx, "signin")
	harness.WaitJS(t, ctx, "the sign-in error", `!!document.getElementById("error")`)
	loaded(t, ctx, "signin")
	a.audit("sign-in, wrong password")
	harness.Type(t, ctx, "password", userPassword)
	harness.Click(t, ctx, "signin")
	loaded(t, ctx, "overview")
	a.audit("overview")

	for _, pg := range []struct{ name, path, state string }{
		{"payments", "/dashboard/payments", "payments"},
		{"a payment (refundable)", "/dashboard/payments/" + paid, "payment"},
		{"a payment (authorized)", "/dashboard/payments/" + held, "payment"},
		{"customers", "/dashboard/customers", "customers"},
		{"a customer", "/dashboard/customers/" + cus, "customer"},
		{"saved cards", "/dashboard/tokens", "tokens"},
		{"webhooks", "/dashboard/webhooks", "webhooks"},
		{"processors", "/dashboard/processors", "processors"},
		{"error page", "/dashboard/overview?days=5", "error"},
	} {
		open(pg.path, pg.state)
		a.audit(pg.name)
	}

	open("/dashboard/webhooks/endpoints", "endpoints")
	a.audit("endpoints")
	harness.Type(t, ctx, "url", rv.URL+"/second")
	harness.Click(t, ctx, "create-endpoint")
	loaded(t, ctx, "endpoint-secret")
	a.audit("new endpoint's secret")

	open("/dashboard/keys", "keys")
	a.audit("keys")
	harness.Type(t, ctx, "key-name", "a11y audit")
	harness.Steps(t, ctx, "tick a scope", chromedp.Click(chromedp.CSS(`#create-key-form .scopes input[type="checkbox"]`)))
	harness.Click(t, ctx, "create-key")
	loaded(t, ctx, "key-new")
	a.audit("new key")

	open("/dashboard/settings", "settings")
	a.audit("settings")
	harness.JS[bool](t, ctx, `(document.getElementById("relay_destinations").value = "http://api.partner.example", true)`)
	harness.Click(t, ctx, "save")
	harness.WaitJS(t, ctx, "the settings error", `!!document.getElementById("error")`)
	loaded(t, ctx, "settings")
	a.audit("settings, refused")

	// Security: off, the set-up (the QR image), on; then the code step of
	// the next sign-in.
	open("/dashboard/security", "security")
	a.audit("security, off")
	harness.Click(t, ctx, "totp-setup")
	harness.WaitJS(t, ctx, "the QR code, loaded", `(function(){ var i = document.getElementById("totp-qr");
		return !!i && i.complete && i.naturalWidth > 100; })()`)
	loaded(t, ctx, "security")
	a.audit("security, TOTP set-up")
	key, err := totp.DecodeSecret(harness.JS[string](t, ctx, `document.getElementById("totp-secret").textContent`))
	if err != nil {
		t.Fatalf("the TOTP key shown: %v", err)
	}
	code, last := codeFor(t, key, 0)
	harness.Type(t, ctx, "code", code)
	harness.Click(t, ctx, "totp-enable")
	harness.WaitJS(t, ctx, "TOTP on", `!!document.querySelector('#notice') && !!document.querySelector('[data-totp="on"]')`)
	loaded(t, ctx, "security")
	a.audit("security, TOTP on")
	harness.Click(t, ctx, "signout")
	loaded(t, ctx, "signin")
	harness.Type(t, ctx, "email", email)
	harness.Type(t, ctx, "password", userPassword)
	harness.Click(t, ctx, "signin")
	loaded(t, ctx, "signin-code")
	a.audit("sign-in, code step")
	code, _ = codeFor(t, key, last)
	harness.Type(t, ctx, "code", code)
	harness.Click(t, ctx, "verify")
	loaded(t, ctx, "overview")
	console("auditing every page")
	t.Logf("audited %d pages in %d views each", a.pages, len(a11yViews))
}

// loaded waits for the page of this state to have loaded whole: its
// data-state shows while a long page (the overview's charts) is still being
// parsed, and an audit then would see half a page.
func loaded(t *testing.T, ctx context.Context, state string) {
	t.Helper()
	harness.WaitJS(t, ctx, "the "+state+" page, loaded", `document.readyState === "complete" && !!document.querySelector('[data-state="`+state+`"]')`)
}

// auditor runs a11yLib's checks on the page in its tab.
type auditor struct {
	t     *testing.T
	ctx   context.Context
	pages int
}

// view sets the window's size and colour scheme.
func (a *auditor) view(v a11yView) {
	a.t.Helper()
	scheme := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v.scheme}}})
		return err
	})
	harness.Steps(a.t, a.ctx, fmt.Sprintf("a %d px window, %s scheme", v.width, v.scheme), chromedp.EmulateViewport(v.width, v.height), scheme)
}

// audit checks the page now in the tab in every view, reports each
// violation as an error naming the page and the view, and leaves the tab
// at 1280 px in the light scheme.
func (a *auditor) audit(page string) {
	a.t.Helper()
	a.pages++
	for _, v := range a11yViews {
		a.view(v)
		var found []string
		if v.scheme == "light" { // names, ids and layout do not change with the scheme
			found = append(found, a.call("A.statics()")...)
			if v.width == 360 {
				found = append(found, a.call("A.sideways()")...)
			}
		}
		found = append(found, a.call("A.contrast()")...)
		found = append(found, a.tab()...)
		for _, f := range found {
			a.t.Errorf("%s at %d px, %s: %s", page, v.width, v.scheme, f)
		}
	}
	a.view(a11yViews[0])
}

// tab presses Tab through the page, a bounded number of times: once per
// control and a few more for scroll boxes Chromium also stops on.
func (a *auditor) tab() []string {
	a.t.Helper()
	n := harness.JS[float64](a.t, a.ctx, a11yExpr("A.tabStart()"))
	presses := min(int(n)+8, 300)
	keys := make([]chromedp.Action[chromedp.Void], presses)
	for i := range keys {
		keys[i] = chromedp.KeyEvent(kb.Tab)
	}
	harness.Steps(a.t, a.ctx, fmt.Sprintf("press Tab %d times", presses), keys...)
	return a.call("A.tabEnd()")
}

func (a *auditor) call(fn string) []string {
	a.t.Helper()
	return harness.JS[[]string](a.t, a.ctx, a11yExpr(fn))
}

// a11yExpr evaluates fn with a11yLib loaded (each page load starts afresh).
func a11yExpr(fn string) string { return "(function(){" + a11yLib + "\nreturn " + fn + ";})()" }

// a11yLib is the accessibility audit that TestBrowserDashboardAccessibility
// runs in each page (through the DevTools protocol, which the page's CSP does
// not govern). It defines A; every check returns a list of readable
// violations naming the element and the value that failed, so a failing test
// says what to fix without a screenshot.
const a11yLib = `
var A = (function () {
  function desc(e) {
    var s = e.tagName.toLowerCase();
    if (e.id) s += '#' + e.id;
    else if (e.getAttribute('name')) s += '[name=' + e.getAttribute('name') + ']';
    else if (typeof e.className === 'string' && e.className.trim()) s += '.' + e.className.trim().split(/\s+/).join('.');
    var tx = (e.textContent || '').trim().replace(/\s+/g, ' ');
    if (tx) s += ' "' + (tx.length > 40 ? tx.slice(0, 40) + '…' : tx) + '"';
    return s;
  }
  // shown: rendered, not hidden, and bigger than the 1 px of .sr-only text.
  function shown(e) {
    if (!e.getClientRects().length) return false;
    var cs = getComputedStyle(e);
    if (cs.visibility !== 'visible' || cs.display === 'none') return false;
    var r = e.getBoundingClientRect();
    return r.width > 1 || r.height > 1;
  }
  function onScreen(e) {
    var r = e.getBoundingClientRect();
    return r.right > 0 && r.left < document.documentElement.clientWidth;
  }
  function rgb(s) {
    var m = /^rgba?\(([^)]*)\)$/.exec((s || '').trim());
    if (!m) return null;
    var p = m[1].split(/[\s,\/]+/).filter(function (x) { return x !== ''; }).map(parseFloat);
    if (p.length < 3) return null;
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  }
  function over(top, under) {
    var a = top[3];
    return [top[0] * a + under[0] * (1 - a), top[1] * a + under[1] * (1 - a), top[2] * a + under[2] * (1 - a), 1];
  }
  function canvas() { return matchMedia('(prefers-color-scheme: dark)').matches ? [18, 18, 18, 1] : [255, 255, 255, 1]; }
  // background: the colour behind e, blending from the first opaque
  // background up the tree (the canvas when there is none).
  function background(e) {
    var layers = [];
    for (var n = e; n; n = n.parentElement) {
      var c = rgb(getComputedStyle(n).backgroundColor);
      if (c && c[3] > 0) {
        layers.push(c);
        if (c[3] >= 1) break;
      }
    }
    var b = canvas();
    for (var i = layers.length - 1; i >= 0; i--) b = over(layers[i], b);
    return b;
  }
  function lum(c) {
    var v = c.slice(0, 3).map(function (x) {
      x /= 255;
      return x <= 0.04045 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
  }
  function ratio(a, b) {
    var x = lum(a), y = lum(b);
    return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
  }
  function css(c) { return 'rgb(' + c.slice(0, 3).map(Math.round).join(',') + ')'; }
  function text(ids) {
    return ids.split(/\s+/).filter(Boolean).map(function (id) {
      var r = document.getElementById(id);
      return r ? r.textContent : '';
    }).join(' ');
  }
  // accName: what a screen reader announces, from the sources the brief
  // allows (no title or placeholder).
  function accName(e) {
    var n = text(e.getAttribute('aria-labelledby') || '');
    if (!n.trim()) n = e.getAttribute('aria-label') || '';
    if (!n.trim() && e.labels) n = Array.prototype.map.call(e.labels, function (l) { return l.textContent; }).join(' ');
    if (!n.trim() && (e.tagName === 'BUTTON' || e.tagName === 'A')) {
      n = e.textContent;
      e.querySelectorAll('img[alt]').forEach(function (i) { n += i.alt; });
    }
    if (!n.trim() && e.tagName === 'INPUT' && /^(submit|button|reset)$/.test(e.type)) n = e.value;
    return n.trim();
  }

  function statics() {
    var out = [];
    if (!document.documentElement.lang) out.push('<html> has no lang');
    var h1 = document.querySelectorAll('h1');
    if (h1.length !== 1) out.push(h1.length + ' <h1> elements, want exactly one');
    var ids = {};
    document.querySelectorAll('[id]').forEach(function (e) { ids[e.id] = (ids[e.id] || 0) + 1; });
    Object.keys(ids).forEach(function (id) { if (ids[id] > 1) out.push('id "' + id + '" is used ' + ids[id] + ' times'); });
    document.querySelectorAll('[aria-labelledby], [aria-describedby], label[for]').forEach(function (e) {
      ['aria-labelledby', 'aria-describedby', 'for'].forEach(function (a) {
        (e.getAttribute(a) || '').split(/\s+/).filter(Boolean).forEach(function (id) {
          if (!document.getElementById(id)) out.push(desc(e) + ' ' + a + '="' + id + '" names no element of the page');
        });
      });
    });
    document.querySelectorAll('input, select, textarea, button').forEach(function (e) {
      if (e.type === 'hidden' || !shown(e)) return;
      if (!accName(e)) out.push(desc(e) + ' has no accessible name (label[for], wrapping label, aria-label or aria-labelledby)');
    });
    document.querySelectorAll('a[href]').forEach(function (e) {
      if (shown(e) && !accName(e)) out.push(desc(e) + ' (a link) has no text');
    });
    document.querySelectorAll('img').forEach(function (e) {
      if (!e.hasAttribute('alt')) out.push(desc(e) + ' has no alt');
    });
    document.querySelectorAll('svg').forEach(function (e) {
      if (e.parentElement && e.parentElement.closest('svg')) return;
      if (e.getAttribute('role') !== 'img') out.push(desc(e) + ' (an SVG) has role ' + JSON.stringify(e.getAttribute('role')) + ', want "img"');
      var t = e.querySelector(':scope > title');
      if (!t || !t.textContent.trim()) out.push(desc(e) + ' (an SVG) has no <title>');
    });
    return out;
  }

  // contrast: WCAG 2.1 AA for every shown text (SVG text by its fill), the
  // value and placeholder of every field; failures grouped by colours.
  function contrast() {
    var groups = {}, order = [];
    function check(e, fg, what) {
      if (!fg) return;
      var cs = getComputedStyle(e), bg = background(e);
      if (fg[3] < 1) fg = over(fg, bg);
      var fs = parseFloat(cs.fontSize), bold = parseInt(cs.fontWeight, 10) >= 700;
      var large = e.namespaceURI === 'http://www.w3.org/1999/xhtml' && (fs >= 24 || (bold && fs >= 18.66));
      var want = large ? 3 : 4.5, r = ratio(fg, bg);
      if (r >= want) return;
      var k = what + ' contrast ' + r.toFixed(2) + ' < ' + want + ': ' + css(fg) + ' on ' + css(bg) + ' (' + fs + 'px' + (bold ? ' bold' : '') + ')';
      if (!groups[k]) { groups[k] = []; order.push(k); }
      groups[k].push(desc(e));
    }
    var skip = /^(TITLE|DESC|STYLE|SCRIPT|OPTION|TEMPLATE|NOSCRIPT|title|desc|style|script)$/;
    var els = new Set();
    var w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    while (w.nextNode()) {
      var n = w.currentNode, p = n.parentElement;
      if (p && n.nodeValue.trim() && !skip.test(p.tagName)) els.add(p);
    }
    els.forEach(function (e) {
      if (!shown(e) || !onScreen(e) || e.closest('[disabled]')) return;
      var cs = getComputedStyle(e);
      if (e.namespaceURI === 'http://www.w3.org/2000/svg') check(e, rgb(cs.fill), 'text');
      else check(e, rgb(cs.color), 'text');
    });
    document.querySelectorAll('input, select, textarea').forEach(function (e) {
      if (e.type === 'hidden' || e.type === 'checkbox' || e.type === 'radio' || e.disabled || !shown(e)) return;
      check(e, rgb(getComputedStyle(e).color), 'field text');
      if (e.placeholder && !e.value) check(e, rgb(getComputedStyle(e, '::placeholder').color), 'placeholder');
    });
    return order.map(function (k) {
      var g = groups[k];
      return k + ' — ' + g.slice(0, 4).join(', ') + (g.length > 4 ? ' and ' + (g.length - 4) + ' more' : '');
    });
  }

  // sideways: the page must fit the window's width; names the elements
  // that stick out.
  function sideways() {
    var d = document.documentElement, cw = d.clientWidth;
    if (d.scrollWidth <= cw) return [];
    // An element sticks out by its box or by its content (a long word).
    function right(e) {
      var r = e.getBoundingClientRect();
      return getComputedStyle(e).overflowX === 'visible' ? Math.max(r.right, r.left + e.scrollWidth) : r.right;
    }
    var out = [];
    document.body.querySelectorAll('*').forEach(function (e) {
      if (shown(e) && right(e) > cw + 0.5) out.push(e);
    });
    // The innermost ones are the culprits; their ancestors only hold them.
    var wide = out.filter(function (e) {
      return !out.some(function (o) { return o !== e && e.contains(o); });
    }).slice(0, 4);
    return ['the page scrolls sideways: ' + d.scrollWidth + ' px wide in a ' + cw + ' px window; too wide: ' +
      wide.map(function (e) { return desc(e) + ' (right edge ' + Math.round(right(e)) + ' px)'; }).join(', ')];
  }

  // focusables: the controls Tab should reach, in document order. Of a
  // group of radio buttons Tab stops on the checked one (or the first).
  function focusables() {
    var all = [], groups = new Map();
    document.querySelectorAll('a[href], button, input, select, textarea, summary, iframe, [tabindex], [contenteditable]').forEach(function (e) {
      if (e.disabled || (e.tagName === 'INPUT' && e.type === 'hidden') || e.id === 'a11y-start') return;
      if (e.hasAttribute('tabindex') && e.tabIndex < 0) return;
      if (e.tagName === 'SUMMARY' && (e.parentElement.tagName !== 'DETAILS' || e.parentElement.querySelector('summary') !== e)) return;
      if (!e.getClientRects().length || getComputedStyle(e).visibility !== 'visible' || e.closest('[inert]')) return;
      if (e.type === 'radio' && e.name) {
        var k = (e.form ? e.form.id || e.form.action : '') + '|' + e.name;
        if (!groups.has(k)) groups.set(k, []);
        groups.get(k).push(e);
      }
      all.push(e);
    });
    return all.filter(function (e) {
      if (e.type !== 'radio' || !e.name) return true;
      var g = groups.get((e.form ? e.form.id || e.form.action : '') + '|' + e.name);
      var on = g.filter(function (r) { return r.checked; });
      return on.length ? on[0] === e : g[0] === e;
    });
  }

  // record: what a focused element shows. Its outline, drawn around it (the
  // stylesheet offsets it), must stand out 3:1 from the background there.
  function record(e, i) {
    var cs = getComputedStyle(e), p = '';
    var ring = cs.outlineStyle !== 'none' && (parseFloat(cs.outlineWidth) || 0) > 0;
    var shadow = cs.boxShadow && cs.boxShadow !== 'none';
    if (!ring && !shadow) {
      p = 'shows no focus indicator (outline ' + cs.outlineStyle + ' ' + cs.outlineWidth + ', box-shadow ' + cs.boxShadow + ')';
    } else if (ring) {
      var oc = rgb(cs.outlineColor), bg = background(e.parentElement || e);
      if (oc) {
        if (oc[3] < 1) oc = over(oc, bg);
        var k = ratio(oc, bg);
        if (k < 3) p = 'focus outline ' + css(oc) + ' on ' + css(bg) + ' has contrast ' + k.toFixed(2) + ' < 3';
      }
    }
    if (!shown(e) || !onScreen(e)) p = (p ? p + '; ' : '') + 'has focus but is not on screen';
    return { i: i, d: desc(e), p: p };
  }

  // tabStart lists the focusables, starts recording focus moves, and puts
  // the focus before the first control; it returns how many there are.
  function tabStart() {
    var list = focusables();
    var s = document.getElementById('a11y-start');
    if (!s) {
      s = document.createElement('span');
      s.id = 'a11y-start';
      s.tabIndex = -1;
      document.body.insertBefore(s, document.body.firstChild);
    }
    window.__a11yTab = { list: list, log: [] };
    if (!window.__a11yListening) {
      window.__a11yListening = true;
      document.addEventListener('focusin', function (ev) {
        var st = window.__a11yTab;
        if (st && ev.target.id !== 'a11y-start') st.log.push(record(ev.target, st.list.indexOf(ev.target)));
      }, true);
    }
    s.focus();
    return list.length;
  }

  // tabEnd reads the Tab presses' record up to where focus came round
  // again: each control reached in order, each showing its focus.
  function tabEnd() {
    var st = window.__a11yTab, out = [], prev = -1, reached = {}, told = {};
    window.__a11yTab = null;
    var s = document.getElementById('a11y-start');
    if (s) s.remove();
    if (document.activeElement) document.activeElement.blur();
    for (var j = 0; j < st.log.length; j++) {
      var x = st.log[j];
      if (x.i >= 0 && x.i <= prev) break; // round to the start again
      if (x.i >= 0) { reached[x.i] = true; prev = x.i; }
      if (x.p && !told[x.d]) { told[x.d] = true; out.push(x.d + ' ' + x.p); }
    }
    var missed = [];
    st.list.forEach(function (e, i) { if (!reached[i]) missed.push(desc(e) + ' (control ' + (i + 1) + ')'); });
    if (missed.length) {
      out.push('Tab reaches ' + (st.list.length - missed.length) + ' of ' + st.list.length + ' controls in document order; not: ' +
        missed.slice(0, 5).join(', ') + (missed.length > 5 ? ' and ' + (missed.length - 5) + ' more' : '') +
        '; focus went: ' + st.log.slice(0, 60).map(function (x) { return x.i; }).join(' '));
    }
    return out;
  }

  return { statics: statics, contrast: contrast, sideways: sideways, tabStart: tabStart, tabEnd: tabEnd };
})();
`
