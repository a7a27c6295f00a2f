package event

import (
	"errors"
	"github.com/coffer-vault/coffer/internal/logging"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
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

var (
	metadataV4       = netip.MustParseAddr("169.254.169.254") // AWS, GCP, Azure, OpenStack…
	metadataV6       = netip.MustParseAddr("fd00:ec2::254")   // AWS over IPv6
	metadataAlicloud = netip.MustParseAddr("100.100.100.200") // Alibaba Cloud
	thisNetwork      = netip.MustParsePrefix("0.0.0.0/8")
	sharedCGNAT      = netip.MustParsePrefix("100.64.0.0/10")
	reservedV4       = netip.MustParsePrefix("240.0.0.0/4")
	broadcast        = netip.MustParseAddr("255.255.255.255")
	siteLocalV6      = netip.MustParsePrefix("fec0::/10")
	// IPv6 forms that carry an IPv4 address the packet really goes to:
	// a NAT64 gateway would forward 64:ff9b::a9fe:a9fe to the metadata
	// service, so the embedded address is what must be judged.
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
	compatible = netip.MustParsePrefix("::/96")
)

// classify returns why an address is refused ("" when it is public), and
// whether that refusal is one the operator may lift.
func classify(a netip.Addr) (reason string, private bool) {
	a = a.WithZone("").Unmap()
	if a.Is6() && (nat64.Contains(a) || compatible.Contains(a)) && !a.IsUnspecified() && !a.IsLoopback() {
		b := a.As16()
		r, p := classify(netip.AddrFrom4([4]byte(b[12:])))
		if r != "" {
			r += " (embedded in an IPv6 address)"
		}
		return r, p
	}
	switch {
	case a == metadataV4 || a == metadataV6 || a == metadataAlicloud:
		return "a cloud metadata service address", false
	case a.IsUnspecified() || (a.Is4() && thisNetwork.Contains(a)):
		return "an unspecified address", false
	case a.IsLinkLocalUnicast():
		return "a link-local address", false
	case a.IsMulticast():
		return "a multicast address", false
	case a == broadcast:
		return "the broadcast address", false
	case a.Is4() && reservedV4.Contains(a):
		return "a reserved address", false
	case a.IsLoopback():
		return "a loopback address", true
	case a.IsPrivate() || siteLocalV6.Contains(a):
		return "a private address", true
	case sharedCGNAT.Contains(a):
		return "a shared (carrier-grade NAT) address", true
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
		return checkAddr(ap.Addr().WithZone("").Unmap().String(), ap.Addr(), allowPrivate)
	}
}
