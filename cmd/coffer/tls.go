package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/coffer-vault/coffer/internal/app"
)

// tlsFlags binds serve's --tls-cert and --tls-key (COFFER_TLS_CERT,
// COFFER_TLS_KEY). The returned check, run after parsing, makes one without
// the other a usage error: half a TLS set-up must not start a plain HTTP
// server the operator believes is HTTPS.
func tlsFlags(fs *flag.FlagSet, cfg *app.Config, getenv func(string) string, stderr io.Writer) func() error {
	fs.StringVar(&cfg.TLSCert, "tls-cert", getenv("COFFER_TLS_CERT"), "PEM certificate (chain) file: serve HTTPS with HTTP/2; reloaded on SIGHUP")
	fs.StringVar(&cfg.TLSKey, "tls-key", getenv("COFFER_TLS_KEY"), "PEM private key file of --tls-cert")
	return func() error {
		if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
			fmt.Fprintln(stderr, "coffer serve: --tls-cert and --tls-key (COFFER_TLS_CERT, COFFER_TLS_KEY) go together: give both or neither")
			return usageError{errors.New("--tls-cert and --tls-key go together")}
		}
		return nil
	}
}
