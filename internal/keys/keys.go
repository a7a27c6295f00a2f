// Package keys holds Coffer's key-encryption keys (KEKs): a versioned ring loaded
// from COFFER_MASTER_KEY or a key file. Every wrapped data key records the KEK
// version that wrapped it, so a new version can be added (rotation) while data
// wrapped under older versions stays readable until those versions are retired.
package keys

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// KeySize is the KEK length: AES-256.
const KeySize = 32

// Ring is an immutable set of KEK versions, one of which is current (used for new wraps).
type Ring struct {
	current uint32
	keys    map[uint32][]byte
}

// NewRing validates and builds a ring.
func NewRing(keys map[uint32][]byte, current uint32) (*Ring, error) {
	if len(keys) == 0 {
		return nil, errors.New("keys: empty key ring")
	}
	cp := make(map[uint32][]byte, len(keys))
	for v, k := range keys {
		if v == 0 {
			return nil, errors.New("keys: version 0 is not allowed")
		}
		if len(k) != KeySize {
			return nil, fmt.Errorf("keys: version %d is %d bytes, want %d", v, len(k), KeySize)
		}
		cp[v] = slices.Clone(k)
	}
	if _, ok := cp[current]; !ok {
		return nil, fmt.Errorf("keys: current version %d is not in the ring", current)
	}
	return &Ring{current: current, keys: cp}, nil
}

// Current returns the version and key used for new wraps.
func (r *Ring) Current() (uint32, []byte) { return r.current, r.keys[r.current] }

// Key returns the key of one version.
func (r *Ring) Key(version uint32) ([]byte, bool) {
	k, ok := r.keys[version]
	return k, ok
}

// Equal reports whether two rings hold the same versions, keys and current version.
func (r *Ring) Equal(o *Ring) bool {
	if r == nil || o == nil || r.current != o.current || len(r.keys) != len(o.keys) {
		return r == o
	}
	for v, k := range r.keys {
		if ok, found := o.keys[v]; !found || !bytes.Equal(k, ok) {
			return false
		}
	}
	return true
}

// Versions lists the versions held, ascending.
func (r *Ring) Versions() []uint32 {
	vs := make([]uint32, 0, len(r.keys))
	for v := range r.keys {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs
}

// ParseEnv reads COFFER_MASTER_KEY: either one base64 key (version 1), or a
// comma-separated list "1:<base64>,2:<base64>" whose highest version is current.
func ParseEnv(value string) (*Ring, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return nil, errors.New("keys: COFFER_MASTER_KEY is empty")
	}
	ks := map[uint32][]byte{}
	var current uint32
	if !strings.Contains(value, ":") {
		k, err := decodeKey(value)
		if err != nil {
			return nil, fmt.Errorf("keys: COFFER_MASTER_KEY: %w", err)
		}
		return NewRing(map[uint32][]byte{1: k}, 1)
	}
	for _, part := range strings.Split(value, ",") {
		vs, b64, ok := strings.Cut(strings.TrimSpace(part), ":")
		v, err := strconv.ParseUint(vs, 10, 32)
		if !ok || err != nil || v == 0 {
			return nil, errors.New("keys: COFFER_MASTER_KEY: each entry must be VERSION:BASE64 with VERSION ≥ 1")
		}
		k, err := decodeKey(b64)
		if err != nil {
			return nil, fmt.Errorf("keys: COFFER_MASTER_KEY version %d: %w", v, err)
		}
		if _, dup := ks[uint32(v)]; dup {
			return nil, fmt.Errorf("keys: COFFER_MASTER_KEY: version %d given twice", v)
		}
		ks[uint32(v)] = k
		current = max(current, uint32(v))
	}
	return NewRing(ks, current)
}

func decodeKey(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("not valid standard base64")
	}
	if len(k) != KeySize {
		return nil, fmt.Errorf("decodes to %d bytes, want %d", len(k), KeySize)
	}
	return k, nil
}

// fileFormat is the key file's JSON. Keys are base64 so the file is editable
// by an operator and diffable, never by Coffer anything but whole-file replaced.
type fileFormat struct {
	Current uint32      `json:"current"`
	Keys    []fileEntry `json:"keys"`
}

type fileEntry struct {
	Version uint32    `json:"version"`
	Key     string    `json:"key"`
	Created time.Time `json:"created"`
}

// LoadFile reads a key file. It refuses a file readable by group or others,
// because a KEK leaked through permissions defeats every other control.
func LoadFile(path string) (*Ring, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("keys: %s has mode %04o; it must not be readable by group or others (chmod 600)", path, fi.Mode().Perm())
	}
	f, err := readFile(path)
	if err != nil {
		return nil, err
	}
	ks := map[uint32][]byte{}
	for _, e := range f.Keys {
		k, err := decodeKey(e.Key)
		if err != nil {
			return nil, fmt.Errorf("keys: %s version %d: %w", path, e.Version, err)
		}
		ks[e.Version] = k
	}
	return NewRing(ks, f.Current)
}

func readFile(path string) (fileFormat, error) {
	var f fileFormat
	b, err := os.ReadFile(path)
	if err != nil {
		return f, fmt.Errorf("keys: %w", err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("keys: %s is not a Coffer key file: %v", path, err)
	}
	return f, nil
}

// CreateFile writes a new key file holding one fresh version. It never
// overwrites: an existing file is an error, since replacing a KEK loses data.
func CreateFile(path string) (*Ring, error) {
	k := make([]byte, KeySize)
	rand.Read(k)
	f := fileFormat{Current: 1, Keys: []fileEntry{{Version: 1, Key: base64.StdEncoding.EncodeToString(k), Created: time.Now().UTC()}}}
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("keys: %s already exists", path)
	}
	if err := writeFileAtomic(path, f); err != nil {
		return nil, err
	}
	return LoadFile(path)
}

// rotateMu serialises rotations within one process; across processes the
// rename is atomic and the last writer wins, which an operator avoids by
// running one rotation at a time.
var rotateMu sync.Mutex

// RotateFile adds a new current version to a key file and returns it.
func RotateFile(path string) (uint32, error) {
	rotateMu.Lock()
	defer rotateMu.Unlock()
	if _, err := LoadFile(path); err != nil { // also checks permissions
		return 0, err
	}
	f, err := readFile(path)
	if err != nil {
		return 0, err
	}
	var next uint32
	for _, e := range f.Keys {
		next = max(next, e.Version)
	}
	next++
	k := make([]byte, KeySize)
	rand.Read(k)
	f.Keys = append(f.Keys, fileEntry{Version: next, Key: base64.StdEncoding.EncodeToString(k), Created: time.Now().UTC()})
	f.Current = next
	if err := writeFileAtomic(path, f); err != nil {
		return 0, err
	}
	return next, nil
}

// writeFileAtomic writes via a 0600 temp file, fsyncs it, renames it over the
// target and fsyncs the directory, so a crash leaves either the old or the new
// file, never a torn one.
func writeFileAtomic(path string, f fileFormat) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".coffer-key-*")
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("keys: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("keys: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("keys: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Provider hands out the current ring and can reload it from its source, so a
// running server picks up a version added by `coffer keys rotate`.
type Provider struct {
	load  func() (*Ring, error)
	desc  string
	check func(*Ring) error // nil: any ring that loads

	mu   sync.RWMutex
	ring *Ring
}

// NewProvider loads a ring once from load and remembers how to reload it.
func NewProvider(desc string, load func() (*Ring, error)) (*Provider, error) {
	r, err := load()
	if err != nil {
		return nil, err
	}
	return &Provider{load: load, desc: desc, ring: r}, nil
}

// FileProvider is a provider backed by a key file.
func FileProvider(path string) (*Provider, error) {
	return NewProvider("key file "+path, func() (*Ring, error) { return LoadFile(path) })
}

// Ring returns the ring as last loaded.
func (p *Provider) Ring() *Ring {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.ring
}

// SetCheck makes every later Reload verify the ring it loads (against the
// store's key-check values, say) before using it.
func (p *Provider) SetCheck(check func(*Ring) error) {
	p.mu.Lock()
	p.check = check
	p.mu.Unlock()
}

// Reload re-reads the source. A failed reload keeps the previous ring: a
// half-edited key file, or one holding the wrong key, must not take a
// running vault down.
func (p *Provider) Reload() error {
	r, err := p.load()
	if err != nil {
		return err
	}
	p.mu.RLock()
	check, cur := p.check, p.ring
	p.mu.RUnlock()
	if check != nil && !r.Equal(cur) { // an unchanged ring was checked already
		if err := check(r); err != nil {
			return fmt.Errorf("keys: %s: %w", p.desc, err)
		}
	}
	p.mu.Lock()
	p.ring = r
	p.mu.Unlock()
	return nil
}

// String names the source without revealing key material.
func (p *Provider) String() string { return p.desc }
