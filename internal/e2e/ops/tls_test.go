package ops

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/e2e/harness"
)

// testCert is a self-signed certificate for 127.0.0.1 and its key, PEM.
type testCert struct {
	cert      *x509.Certificate
	certPEM   []byte
	keyPEM    []byte
	serialHex string
}

func newCert(t *testing.T, name string) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return testCert{cert: cert, serialHex: serial.Text(16),
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})}
}

// replace writes a file whole (temporary file, then rename), as a
// certificate renewal does.
func replace(t *testing.T, path string, b []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// served dials the server afresh and returns the serial of the certificate
// it presents and the protocol ALPN chose.
func served(addr string, cfg *tls.Config) (serial, proto string, err error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return "", "", err
	}
	defer c.Close()
	st := c.ConnectionState()
	return st.PeerCertificates[0].SerialNumber.Text(16), st.NegotiatedProtocol, nil
}

// TestTLS serves HTTPS from the built binary: HTTP/2 by ALPN (HTTP/1.1 still
// offered), TLS 1.1 refused, the API usable over it, 3-D Secure links on
// https; a new certificate pair is served after SIGHUP, and a bad one is
// refused with an error log while the previous certificate stays in service.
func TestTLS(t *testing.T) {
	t.Parallel()
	dir := harness.TempDir(t)
	one, two := newCert(t, "coffer-one"), newCert(t, "coffer-two")
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	replace(t, certFile, one.certPEM)
	replace(t, keyFile, one.keyPEM)
	pool := x509.NewCertPool()
	pool.AddCert(one.cert)
	pool.AddCert(two.cert)
	client := &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	s := serve(t, nil, "https", client, "--data", filepath.Join(dir, "data"), "--tls-cert", certFile, "--tls-key", keyFile)
	addr := strings.TrimPrefix(s.url, "https://")

	res, err := client.Get(s.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.ProtoMajor != 2 || res.TLS == nil || res.TLS.PeerCertificates[0].SerialNumber.Text(16) != one.serialHex {
		t.Fatalf("GET /healthz over TLS: %s, want HTTP/2 with the first certificate", res.Proto)
	}
	if serial, proto, err := served(addr, &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}}); err != nil || proto != "http/1.1" || serial != one.serialHex {
		t.Errorf("an HTTP/1.1-only client: protocol %q, err %v", proto, err)
	}
	if _, _, err := served(addr, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}); err == nil {
		t.Error("a TLS 1.1 handshake succeeded; the minimum is TLS 1.2")
	}

	sk := s.devMerchant(t)
	st, body, err := s.call("POST", "/v1/tokens", sk, map[string]any{"card": harness.Card("4242424242424242")})
	if err != nil || st != 201 {
		t.Fatalf("tokenize over HTTP/2: %d %s %v", st, body, err)
	}
	// A challenge link points where the browser reached the server: https.
	st, body, err = s.call("POST", "/v1/tokens", sk, map[string]any{"card": harness.Card("4000002500003155")})
	if u, _ := harness.Dig(decode(body), "next_action", "url").(string); err != nil || st != 201 || !strings.HasPrefix(u, s.url+"/") {
		t.Errorf("3-D Secure token: %d, next_action.url %q, want under %s", st, u, s.url)
	}

	// Renewal: new files, SIGHUP (to the process this test started).
	replace(t, certFile, two.certPEM)
	replace(t, keyFile, two.keyPEM)
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.waitLog(t, "INFO", "TLS certificate reloaded")
	if serial, proto, err := served(addr, &tls.Config{RootCAs: pool, NextProtos: []string{"h2", "http/1.1"}}); err != nil || serial != two.serialHex || proto != "h2" {
		t.Fatalf("after SIGHUP: serial %s (want the second, %s), protocol %q, err %v", serial, two.serialHex, proto, err)
	}

	// A bad renewal (a certificate with a key that is not its own) is
	// refused; the second certificate stays in service.
	replace(t, certFile, one.certPEM)
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.waitLog(t, "ERROR", "TLS certificate reload failed")
	replace(t, certFile, []byte("not a certificate\n"))
	if serial, _, err := served(addr, &tls.Config{RootCAs: pool}); err != nil || serial != two.serialHex {
		t.Fatalf("after a failed reload: serial %s, err %v; want the second certificate still served", serial, err)
	}
	client.CloseIdleConnections()
	if st, body, err := s.call("GET", "/healthz", "", nil); err != nil || st != 200 {
		t.Fatalf("after a failed reload: %d %s %v", st, body, err)
	}
	if strings.Contains(s.stderr.String(), "PRIVATE KEY") {
		t.Error("the log holds PEM key material")
	}
	s.stop(t)
}

// TestTLSFlags: one of --tls-cert / --tls-key without the other (by flag or
// environment) is a usage error, exit 2; a pair that does not load stops
// the start, exit 1. Neither creates the data folder.
func TestTLSFlags(t *testing.T) {
	t.Parallel()
	dir := harness.TempDir(t)
	c := newCert(t, "coffer-flags")
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	replace(t, certFile, c.certPEM)
	replace(t, keyFile, c.keyPEM)
	data := filepath.Join(dir, "data")
	serveArgs := []string{"serve", "--addr", "127.0.0.1:0", "--data", data}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
	}{
		{"cert flag only", nil, []string{"--tls-cert", certFile}},
		{"key flag only", nil, []string{"--tls-key", keyFile}},
		{"cert env only", []string{"COFFER_TLS_CERT=" + certFile}, nil},
		{"key env, empty cert flag", []string{"COFFER_TLS_KEY=" + keyFile}, []string{"--tls-cert", ""}},
	} {
		out, errOut, code := run(t, tc.env, append(serveArgs, tc.args...)...)
		if code != 2 || !strings.Contains(errOut, "--tls-cert and --tls-key") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 2 naming both flags", tc.name, code, out, errOut)
		}
		if _, err := os.Stat(data); err == nil {
			t.Fatalf("%s: the data folder was created", tc.name)
		}
	}
	// Both given but the certificate's key is not this key.
	other := newCert(t, "coffer-other")
	replace(t, keyFile, other.keyPEM)
	_, errOut, code := run(t, nil, append(serveArgs, "--tls-cert", certFile, "--tls-key", keyFile)...)
	if code != 1 || !strings.Contains(errOut, "TLS certificate") {
		t.Errorf("mismatched pair: exit %d, stderr %q; want exit 1 naming the TLS certificate", code, errOut)
	}
	if _, err := os.Stat(data); err == nil {
		t.Error("mismatched pair: the data folder was created")
	}
}
