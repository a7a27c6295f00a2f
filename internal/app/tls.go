package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

// certReloader serves the certificate last loaded from a pair of PEM files
// and loads them again on SIGHUP, so a renewed certificate (certbot, a
// cert-manager secret) takes effect without dropping a connection. A new
// pair that does not load keeps the old one in service: a renewal caught
// half-written must not take the server down.
type certReloader struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// loadTLS loads c's certificate pair, or returns nil for plain HTTP when
// neither file is set. One without the other is an error here as well as
// in the CLI: Config may come from elsewhere than the command line.
func loadTLS(c Config) (*certReloader, error) {
	if c.TLSCert == "" && c.TLSKey == "" {
		return nil, nil
	}
	return newCertReloader(c.TLSCert, c.TLSKey)
}

// newCertReloader loads the pair once; an error here stops the start.
func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("TLS needs both a certificate (--tls-cert) and its key (--tls-key)")
	}
	r := &certReloader{certFile: certFile, keyFile: keyFile}
	if err := r.reload(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *certReloader) reload() error {
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		// The error names the files and what is wrong with them; it never
		// holds key material.
		return fmt.Errorf("TLS certificate %s / key %s: %w", r.certFile, r.keyFile, err)
	}
	r.cur.Store(&c)
	return nil
}

func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cur.Load(), nil
}

// notAfter is when the served certificate expires (zero if unknown).
func (r *certReloader) notAfter() time.Time {
	if c := r.cur.Load(); c != nil && c.Leaf != nil {
		return c.Leaf.NotAfter
	}
	return time.Time{}
}

// config is the server's TLS configuration: TLS 1.2 at least, Go's default
// cipher suites (AEAD only for 1.2 with forward secrecy), the certificate
// from the reloader.
func (r *certReloader) config() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.getCertificate}
}

// watch reloads the pair on every SIGHUP until ctx ends. It subscribes
// before it returns: a SIGHUP sent once the server answers must not meet
// the default action, which ends the process.
func (r *certReloader) watch(ctx context.Context, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := r.reload(); err != nil {
					log.Error("TLS certificate reload failed; keeping the certificate in service", "error", err.Error(),
						"not_after", r.notAfter())
					continue
				}
				log.Info("TLS certificate reloaded", "cert", r.certFile, "not_after", r.notAfter())
			}
		}
	}()
}

// serveTLS switches srv to HTTPS with the reloader's certificate, speaking
// HTTP/2 and HTTP/1.1 (chosen by ALPN).
func serveTLS(srv *http.Server, r *certReloader) {
	srv.TLSConfig = r.config()
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	srv.Protocols = p
}

// serve runs srv on ln: HTTPS when certs is set (the certificate comes
// from srv.TLSConfig, set by serveTLS), plain HTTP otherwise.
func serve(srv *http.Server, ln net.Listener, certs *certReloader) error {
	if certs == nil {
		return srv.Serve(ln)
	}
	return srv.ServeTLS(ln, "", "")
}
