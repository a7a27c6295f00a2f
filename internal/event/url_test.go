package event

import (
	"net/netip"
	"strings"
	"testing"
)

// specialRanges is IANA's special-purpose registries (IPv4 and IPv6), plus
// multicast and the deprecated ranges, written out here independently of
// url.go so a range missing there fails. liftable: the operator's
// allow-private setting may allow it (loopback and private networks).
var specialRanges = []struct {
	cidr     string
	liftable bool
}{
	{"0.0.0.0/8", false},
	{"10.0.0.0/8", true},
	{"100.64.0.0/10", true},
	{"127.0.0.0/8", true},
	{"169.254.0.0/16", false},
	{"172.16.0.0/12", true},
	{"192.0.0.0/24", false},
	{"192.0.0.0/29", false},
	{"192.0.0.8/32", false},
	{"192.0.0.9/32", false},
	{"192.0.0.10/32", false},
	{"192.0.0.170/31", false},
	{"192.0.2.0/24", false},
	{"192.31.196.0/24", false},
	{"192.52.193.0/24", false},
	{"192.88.99.0/24", false},
	{"192.168.0.0/16", true},
	{"192.175.48.0/24", false},
	{"198.18.0.0/15", false},
	{"198.51.100.0/24", false},
	{"203.0.113.0/24", false},
	{"224.0.0.0/4", false},
	{"240.0.0.0/4", false},
	{"255.255.255.255/32", false},

	{"::/128", false},
	{"::1/128", true},
	{"::/96", false}, // deprecated IPv4-compatible
	{"64:ff9b:1::/48", false},
	{"100::/64", false},
	{"100:0:0:1::/64", false},
	{"2001::/23", false},
	{"2001::/32", false}, // Teredo
	{"2001:1::1/128", false},
	{"2001:2::/48", false},
	{"2001:3::/32", false},
	{"2001:4:112::/48", false},
	{"2001:10::/28", false},
	{"2001:20::/28", false},
	{"2001:30::/28", false},
	{"2001:db8::/32", false},
	{"2620:4f:8000::/48", false},
	{"3fff::/20", false},
	{"5f00::/16", false},
	{"fc00::/7", true},
	{"fe80::/10", false},
	{"fec0::/10", true},
	{"ff00::/8", false},
	{"4000::/3", false}, // outside global unicast 2000::/3
	{"8000::/1", false},
}

// lastAddr is the highest address of a prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// v4Forms are the IPv6 addresses that carry a (public or special) IPv4
// address: each is judged as the IPv4 address it carries.
func v4Forms(v4 netip.Addr) []netip.Addr {
	b := v4.As4()
	mapped := netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: b[0], 13: b[1], 14: b[2], 15: b[3]})
	nat64 := netip.AddrFrom16([16]byte{0: 0x00, 1: 0x64, 2: 0xff, 3: 0x9b, 12: b[0], 13: b[1], 14: b[2], 15: b[3]})
	six2four := netip.AddrFrom16([16]byte{0: 0x20, 1: 0x02, 2: b[0], 3: b[1], 4: b[2], 5: b[3], 15: 1})
	return []netip.Addr{mapped, nat64, six2four}
}

func urlOf(a netip.Addr) string {
	if a.Is4() {
		return "http://" + a.String() + "/hook"
	}
	return "http://[" + a.String() + "]/hook"
}

// TestSpecialPurposeAddresses: every special-purpose range is refused, at
// its first and last address, as a URL literal (creation) and as the
// address dialled (after DNS), and in each IPv6 form that carries an IPv4
// address; loopback and private ranges only until the operator allows
// them. Public addresses next to the ranges are accepted.
func TestSpecialPurposeAddresses(t *testing.T) {
	check := func(a netip.Addr, liftable bool, what string) {
		t.Helper()
		for _, allow := range []bool{false, true} {
			wantOK := liftable && allow
			errURL := CheckURL(urlOf(a), allow)
			errDial := dialControl(allow)("tcp", netip.AddrPortFrom(a, 443).String(), nil)
			for how, err := range map[string]error{"CheckURL": errURL, "dial": errDial} {
				switch {
				case wantOK && err != nil:
					t.Errorf("%s %s (%s), allowPrivate=%v: refused: %v", how, a, what, allow, err)
				case !wantOK && err == nil:
					t.Errorf("%s %s (%s), allowPrivate=%v: allowed", how, a, what, allow)
				case err != nil && !strings.Contains(err.Error(), " is a") && !strings.Contains(err.Error(), " is the"):
					t.Errorf("%s %s: unclear refusal %q", how, a, err)
				}
			}
		}
	}
	for _, r := range specialRanges {
		p := netip.MustParsePrefix(r.cidr)
		for _, a := range []netip.Addr{p.Addr(), lastAddr(p)} {
			check(a, r.liftable, r.cidr)
			if a.Is4() {
				for _, f := range v4Forms(a) {
					check(f, r.liftable, r.cidr+" embedded in "+f.String())
				}
			}
		}
	}

	for _, s := range []string{
		"8.8.8.8", "1.1.1.1", "93.184.216.34",
		"9.255.255.255", "11.0.0.0", // around 10/8
		"100.63.255.255", "100.128.0.0", // around 100.64/10
		"126.255.255.255", "128.0.0.0", // around 127/8
		"172.15.255.255", "172.32.0.0", // around 172.16/12
		"192.0.1.0", "192.0.3.0", "192.88.98.255", "192.88.100.0",
		"192.167.255.255", "192.169.0.0",
		"198.17.255.255", "198.20.0.0", // around 198.18/15
		"198.51.99.255", "198.51.101.0", "203.0.112.255", "203.0.114.0",
		"223.255.255.255", // below 224/4

		"2606:2800:220:1:248:1893:25c8:1946", "2a00:1450:4001:80b::200e",
		"2001:200::1",           // just past 2001::/23
		"2001:db7:ffff:ffff::1", // below 2001:db8::/32
		"2001:db9::1",           // above it
		"3ffe:ffff::1",          // below 3fff::/20
		"3fff:1000::1",          // above it
		"2620:4f:8001::1",       // past the AS112 /48
		"64:ff9b::808:808",      // NAT64 to 8.8.8.8
		"::ffff:8.8.8.8",        // IPv4-mapped 8.8.8.8
		"2002:808:808::1",       // 6to4 of 8.8.8.8
		"3ff0::1", "2000::1",    // global unicast space, not special
	} {
		a := netip.MustParseAddr(s)
		for _, allow := range []bool{false, true} {
			if err := CheckURL(urlOf(a), allow); err != nil {
				t.Errorf("public %s refused by CheckURL (allowPrivate=%v): %v", s, allow, err)
			}
			if err := dialControl(allow)("tcp", netip.AddrPortFrom(a, 443).String(), nil); err != nil {
				t.Errorf("public %s refused at dial (allowPrivate=%v): %v", s, allow, err)
			}
		}
	}
}

// TestLoopbackOnly: once a process is confined to loopback, no dial leaves
// the machine, even to an address the policy would allow (private, with
// allowPrivate) or a public one; loopback still connects.
func TestLoopbackOnly(t *testing.T) {
	was := loopbackOnly.Load()
	t.Cleanup(func() { loopbackOnly.Store(was) })
	ctl := dialControl(true)
	if err := ctl("tcp", "10.0.0.1:443", nil); err != nil && !was {
		t.Fatalf("before: a private address with allowPrivate refused: %v", err)
	}
	LoopbackOnly()
	for _, a := range []string{"10.0.0.1:443", "93.184.216.34:443", "169.254.169.254:80", "[2001:db8::1]:443", "[::ffff:10.0.0.1]:80"} {
		if err := ctl("tcp", a, nil); err == nil {
			t.Errorf("dial to %s allowed in a loopback-only process", a)
		}
	}
	for _, a := range []string{"127.0.0.1:8080", "127.8.9.10:1", "[::1]:8080", "[::ffff:127.0.0.1]:80"} {
		if err := ctl("tcp", a, nil); err != nil {
			t.Errorf("loopback %s refused: %v", a, err)
		}
	}
}
