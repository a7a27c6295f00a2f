package keys

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCreateLoadRotate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	r1, err := CreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %o, want 600", fi.Mode().Perm())
	}
	if _, err := CreateFile(path); err == nil {
		t.Fatal("CreateFile must never overwrite a key file")
	}
	v, err := RotateFile(path)
	if err != nil || v != 2 {
		t.Fatalf("rotate: %d %v", v, err)
	}
	r2, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cur, k2 := r2.Current()
	old, ok := r2.Key(1)
	_, k1 := r1.Current()
	if cur != 2 || !ok || !bytes.Equal(old, k1) || bytes.Equal(k1, k2) {
		t.Fatal("rotation must add a new current version and keep the old one")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatal("rotation must keep the file private")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable key file must be refused: %v", err)
	}
}

func TestProviderReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k")
	if _, err := CreateFile(path); err != nil {
		t.Fatal(err)
	}
	p, err := FileProvider(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RotateFile(path); err != nil {
		t.Fatal(err)
	}
	if v, _ := p.Ring().Current(); v != 1 {
		t.Fatal("provider must not change before reload")
	}
	if err := p.Reload(); err != nil {
		t.Fatal(err)
	}
	if v, _ := p.Ring().Current(); v != 2 {
		t.Fatal("reload must pick up the new version")
	}
	os.WriteFile(path, []byte("{broken"), 0o600)
	if err := p.Reload(); err == nil {
		t.Fatal("a broken file must fail to reload")
	}
	if v, _ := p.Ring().Current(); v != 2 {
		t.Fatal("a failed reload must keep the previous ring")
	}
}

func TestParseEnv(t *testing.T) {
	k := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	k2 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
	r, err := ParseEnv(k)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := r.Current(); v != 1 {
		t.Fatal("a single key is version 1")
	}
	r, err = ParseEnv("1:" + k + ", 3:" + k2)
	if err != nil {
		t.Fatal(err)
	}
	if v, key := r.Current(); v != 3 || key[0] != 9 {
		t.Fatal("the highest version is current")
	}
	for _, bad := range []string{"", "notbase64!", base64.StdEncoding.EncodeToString([]byte("short")), "0:" + k, "1:" + k + ",1:" + k2, "x:" + k} {
		if _, err := ParseEnv(bad); err == nil {
			t.Fatalf("%q must be refused", bad)
		}
	}
	if _, err := ParseEnv("1:" + k); err != nil || strings.Contains(err2s(err), k) {
		t.Fatal(err)
	}
}

func err2s(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
