package event

import "testing"

// TestHostOf: the metrics hook is given the host alone, never the
// credentials, port, path or query a receiver's URL may carry.
func TestHostOf(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:pass@Hooks.Example.com:8443/p/tok?token=secret": "Hooks.Example.com",
		"http://127.0.0.1:9000/hooks":                                 "127.0.0.1",
		"http://[::1]:80/":                                            "::1",
		"::not a url":                                                 "",
	} {
		if got := hostOf(in); got != want {
			t.Errorf("hostOf(%q) = %q, want %q", in, got, want)
		}
	}
}
