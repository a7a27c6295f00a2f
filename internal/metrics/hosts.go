package metrics

import (
	"net"
	"strings"
	"sync"

	"github.com/coffer-vault/coffer/internal/logging"
)

// maxHosts bounds the host label's values: endpoints are the merchants'
// choice, and every new host would be a new series kept for the life of
// the process.
const maxHosts = 100

// Host label values besides real hosts.
const (
	HostOther   = "other"   // past maxHosts
	HostInvalid = "invalid" // not a plain host name or address
)

// hostSet hands out host labels, at most maxHosts distinct ones.
type hostSet struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (s *hostSet) label(host string) string {
	h := cleanHost(host)
	if h == HostInvalid {
		return h
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[h] {
		return h
	}
	if len(s.seen) >= maxHosts {
		return HostOther
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	s.seen[h] = true
	return h
}

// cleanHost admits an IP address, or a host name as a label: letters,
// digits, dots and dashes, at most 253 bytes, lower-cased, with no run of
// 6 digits or more and no 12 digits joined by separators (a host name can
// be made of a card number). Anything else is HostInvalid.
func cleanHost(h string) string {
	if ip := net.ParseIP(strings.Trim(h, "[]")); ip != nil {
		return ip.String()
	}
	if h == "" || len(h) > 253 || logging.MaskDigitRuns(h, 12) != h {
		return HostInvalid
	}
	run := 0
	for i := 0; i < len(h); i++ {
		c := h[i]
		if c >= '0' && c <= '9' {
			if run++; run >= 6 {
				return HostInvalid
			}
			continue
		}
		run = 0
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '-') {
			return HostInvalid
		}
	}
	return strings.ToLower(h)
}
