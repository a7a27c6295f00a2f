package event

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coffer-vault/coffer/internal/logging"
)

// AddressError says why a webhook may not go to an address. Its text is
// shown to merchants (CheckURL) and kept in the delivery log, so it names
// the address and the rule, nothing else.
type AddressError struct {
	Host   string // the host as written, or the IP being dialed
	Reason string // e.g. "a loopback address"
	// Private: the operator may allow it (private and loopback ranges);
	// otherwise it is refused whatever the configuration.
	Private bool
}

func (e *AddressError) Error() string {
	// A "host" of bare digits can be a card number someone typed: the text
	// reaches API responses and logs, so such runs are masked.
	s := logging.Redact(e.Host) + " is " + e.Reason
	if e.Private {
		s += " (private and loopback addresses are allowed only when the operator enables them)"
	}
	return s
}

// The special-purpose address registries (IANA's iana-ipv4-special-registry
// and iana-ipv6-special-registry, plus multicast and the deprecated ranges):
// no webhook, callback or relay receiver is legitimately at any of these, and
// several reach this machine, its network or its cloud's control plane. Each
// rule names the range's purpose for the error text; private marks the ones
// an operator may allow (development and private-network setups).
type addrRule struct {
	prefix  netip.Prefix
	reason  string
	private bool
}

func rule(cidr, reason string, private bool) addrRule {
	return addrRule{netip.MustParsePrefix(cidr), reason, private}
}

const (
	whyUnspecified = "an unspecified address"
	whyReserved    = "a reserved address"
	whyProtocol    = "an address reserved for IETF protocol assignments"
	whyDocs        = "a documentation address"
	whyAnycast     = "a special-purpose anycast address"
)

var (
	metadataV4       = netip.MustParseAddr("169.254.169.254") // AWS, GCP, Azure, OpenStack…
	metadataV6       = netip.MustParseAddr("fd00:ec2::254")   // AWS over IPv6
	metadataAlicloud = netip.MustParseAddr("100.100.100.200") // Alibaba Cloud

	specialV4 = []addrRule{
		rule("0.0.0.0/8", whyUnspecified, false), // "this network" (RFC 791); 0.0.0.0 is this host
		rule("10.0.0.0/8", "a private address", true),
		rule("100.64.0.0/10", "a shared (carrier-grade NAT) address", true),
		rule("127.0.0.0/8", "a loopback address", true),
		rule("169.254.0.0/16", "a link-local address", false),
		rule("172.16.0.0/12", "a private address", true),
		rule("192.0.0.0/24", whyProtocol, false),   // DS-Lite, NAT64 discovery, PCP/TURN anycast…
		rule("192.0.2.0/24", whyDocs, false),       // TEST-NET-1
		rule("192.31.196.0/24", whyAnycast, false), // AS112-v4
		rule("192.52.193.0/24", whyAnycast, false), // AMT
		rule("192.88.99.0/24", "a deprecated 6to4 relay address", false),
		rule("192.168.0.0/16", "a private address", true),
		rule("192.175.48.0/24", whyAnycast, false), // AS112 direct delegation
		rule("198.18.0.0/15", "a benchmarking address", false),
		rule("198.51.100.0/24", whyDocs, false), // TEST-NET-2
		rule("203.0.113.0/24", whyDocs, false),  // TEST-NET-3
		rule("224.0.0.0/4", "a multicast address", false),
		rule("255.255.255.255/32", "the broadcast address", false), // before 240/4, which holds it
		rule("240.0.0.0/4", whyReserved, false),
	}
	specialV6 = []addrRule{
		rule("::/128", whyUnspecified, false),
		rule("::1/128", "a loopback address", true),
		rule("64:ff9b:1::/48", "a local-use IPv4/IPv6 translation address", false),
		rule("100::/64", "a discard-only address", false),
		rule("100:0:0:1::/64", "a dummy IPv6 prefix address", false),
		rule("2001:db8::/32", whyDocs, false),
		rule("2001::/23", whyProtocol, false), // Teredo, benchmarking, ORCHID, AMT, AS112…
		rule("2620:4f:8000::/48", whyAnycast, false),
		rule("3fff::/20", whyDocs, false),
		rule("5f00::/16", "a segment-routing (SRv6) address", false),
		rule("fc00::/7", "a private address", true), // unique local
		rule("fe80::/10", "a link-local address", false),
		rule("fec0::/10", "a private address", true), // deprecated site-local
		rule("ff00::/8", "a multicast address", false),
	}
	// Only 2000::/3 holds global unicast addresses; the rest of the IPv6
	// space is unassigned or reserved (the forms that carry an IPv4 address
	// are judged by that address before this applies).
	globalUnicastV6 = netip.MustParsePrefix("2000::/3")

	// IPv6 forms that carry an IPv4 address the packet really goes to: a
	// NAT64 gateway would forward 64:ff9b::a9fe:a9fe to the metadata
	// service, and a 6to4 relay 2002:a9fe:a9fe:: likewise, so the embedded
	// address is what must be judged.
	nat64   = netip.MustParsePrefix("64:ff9b::/96")
	sixToV4 = netip.MustParsePrefix("2002::/16")
)

// embeddedV4 returns the IPv4 address an IPv6 address carries, if it is of
// a form that carries one.
func embeddedV4(a netip.Addr) (netip.Addr, bool) {
	b := a.As16()
	switch {
	case nat64.Contains(a):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToV4.Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

// classify returns why an address is refused ("" when it is public), and
// whether that refusal is one the operator may lift.
func classify(a netip.Addr) (reason string, private bool) {
	a = a.WithZone("")
	if a.Is4In6() {
		a = a.Unmap() // ::ffff:0:0/96 is the IPv4 address itself to the dialer
	}
	if a.Is6() {
		if v4, ok := embeddedV4(a); ok {
			r, p := classify(v4)
			if r != "" {
				r += " (embedded in an IPv6 address)"
			}
			return r, p
		}
	}
	if a == metadataV4 || a == metadataV6 || a == metadataAlicloud {
		return "a cloud metadata service address", false
	}
	rules := specialV4
	if a.Is6() {
		rules = specialV6
	}
	for _, r := range rules {
		if r.prefix.Contains(a) {
			return r.reason, r.private
		}
	}
	if a.Is6() && !globalUnicastV6.Contains(a) {
		return whyReserved, false
	}
	return "", false
}

func checkAddr(host string, a netip.Addr, allowPrivate bool) error {
	r, private := classify(a)
	if r == "" || (private && allowPrivate) {
		return nil
	}
	return &AddressError{Host: host, Reason: r, Private: private}
}

// CheckURL says whether webhooks may be sent to raw: an absolute http(s)
// URL with a host that is not, literally, a forbidden address. Names are
// not resolved here (DNS answers change); the dispatcher checks the address
// it actually connects to.
func CheckURL(raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("the URL cannot be parsed")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("the URL must start with http:// or https://")
	}
	host := u.Hostname()
	if host == "" {
		return errors.New("the URL has no host")
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return checkAddr(host, a, allowPrivate)
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		// RFC 6761: these names always mean the local machine.
		if allowPrivate {
			return nil
		}
		return &AddressError{Host: host, Reason: "a loopback name", Private: true}
	}
	if looksNumeric(name) {
		// "2130706433", "0x7f.1" or "127.1" are not valid names, but some
		// resolvers (inet_aton) read them as IP addresses: refusing them
		// keeps the literal-address rules above from being sidestepped.
		return &AddressError{Host: host, Reason: "an IP address in a non-standard form"}
	}
	return nil
}

// looksNumeric reports whether the last label of a name is numeric
// (decimal, octal or 0x-hex), which no top-level domain is.
func looksNumeric(name string) bool {
	last := name[strings.LastIndexByte(name, '.')+1:]
	if last == "" {
		return false
	}
	if h, ok := strings.CutPrefix(last, "0x"); ok {
		return strings.Trim(h, "0123456789abcdef") == ""
	}
	return strings.Trim(last, "0123456789") == ""
}

// loopbackOnly, once set, confines every outbound connection of this
// process to loopback, whatever a merchant configured or the address policy
// allows: see LoopbackOnly.
var loopbackOnly atomic.Bool

// LoopbackOnly confines every connection this process makes to a webhook,
// callback, relay destination or processor account to loopback addresses,
// for good. Test processes call it (internal/e2e/harness does): their
// refusal tests name addresses off the machine, and should a refusal ever
// regress, the server they run must still not send a byte there.
func LoopbackOnly() { loopbackOnly.Store(true) }

// dialControl refuses connections to forbidden addresses at the moment of
// connecting, after DNS: a name that passed CheckURL may resolve (or be
// re-pointed, DNS rebinding) to a loopback or metadata address.
func dialControl(allowPrivate bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			host, _, _ := net.SplitHostPort(address)
			return &AddressError{Host: host, Reason: "not an IP address", Private: false}
		}
		host := ap.Addr().WithZone("").Unmap().String()
		if loopbackOnly.Load() && !ap.Addr().Unmap().IsLoopback() {
			return &AddressError{Host: host, Reason: "off this machine (this process dials loopback only)"}
		}
		return checkAddr(host, ap.Addr(), allowPrivate)
	}
}

// OutboundClient is an HTTP client for any call Coffer makes to an address
// a merchant chose (a processor account's base_url, a relay destination):
// the same rules as webhooks, applied to the address it actually connects
// to, no proxy from the environment, no redirects followed (a 3xx is the
// answer), and every call bounded by timeout.
func OutboundClient(allowPrivate bool, timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: dialControl(allowPrivate)}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            dialer.DialContext,
			ForceAttemptHTTP2:      true,
			TLSHandshakeTimeout:    timeout,
			ResponseHeaderTimeout:  timeout,
			MaxResponseHeaderBytes: 64 << 10,
			MaxIdleConnsPerHost:    16,
			IdleConnTimeout:        90 * time.Second,
		},
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
