// Package config resolves Coffer's settings from the command line, the
// environment and an optional config file, and prints them: each flag's
// usage with its default and environment variable, and for `coffer config
// check` each effective value with where it came from, secrets redacted.
//
// A setting is declared once, as one row of a table of Setting (Coffer's is
// in cmd/coffer/settings.go); its flag, environment variable, config-file
// key, default, usage text and secrecy all come from that row, so the help,
// the parsing and the check can never disagree.
//
// Precedence: flag > environment > config file > default. The config file
// holds `name = value` lines whose names are the flag names (see ParseFile).
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"
)

// ConfigFlag and ConfigEnv name the config file; they are not settings
// themselves (a config file cannot name another one).
const (
	ConfigFlag = "config"
	ConfigEnv  = "COFFER_CONFIG"
)

// Scope is a set of commands, as bits the caller defines; a command reads
// the settings whose Scope shares a bit with its own.
type Scope uint

// Setting is one option of T (the configuration a command fills).
type Setting[T any] struct {
	Name    string // flag name and config-file key
	Env     string // environment variable
	Default string // used when no source sets it; "" leaves T's field alone
	Usage   string // one line for the help
	Scope   Scope  // which commands read it
	Value   Value[T]

	// Secret hides the whole value in `config check`. Names that look
	// secret (see secretName) are hidden even without it.
	Secret bool
	// Redact shows a value with only its secret parts hidden (a database
	// URL's password) instead of Secret's all or nothing.
	Redact func(string) string
	// NoFlag leaves the setting to the environment and the config file: a
	// secret given as a flag shows in every process listing.
	NoFlag bool
	// Check refuses a value that parses but cannot work (an address
	// without a port), before any command acts on it.
	Check func(string) error
}

// Value parses a setting's text into its field of T.
type Value[T any] struct {
	// Kind is the value's placeholder in the help ("string", "true|false").
	Kind string
	set  func(dst *T, v string) error
}

// String is a text field.
func String[T any](field func(*T) *string) Value[T] {
	return Value[T]{Kind: "string", set: func(dst *T, v string) error { *field(dst) = v; return nil }}
}

// Bool is a true|false field.
func Bool[T any](field func(*T) *bool) Value[T] {
	return Value[T]{Kind: "true|false", set: func(dst *T, v string) error {
		b, err := parseBool(v)
		*field(dst) = b
		return err
	}}
}

// OptionalBool is a true|false field whose nil means "not said": the
// program decides (webhooks to private addresses: yes in development).
func OptionalBool[T any](field func(*T) **bool) Value[T] {
	return Value[T]{Kind: "true|false", set: func(dst *T, v string) error {
		b, err := parseBool(v)
		*field(dst) = &b
		return err
	}}
}

// Duration is a Go duration field (10s, 1m30s).
func Duration[T any](field func(*T) *time.Duration) Value[T] {
	return Value[T]{Kind: "duration", set: func(dst *T, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return errors.New("want a duration such as 10s or 1m30s")
		}
		*field(dst) = d
		return nil
	}}
}

// Int is a whole-number field.
func Int[T any](field func(*T) *int) Value[T] {
	return Value[T]{Kind: "int", set: func(dst *T, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errors.New("want a whole number")
		}
		*field(dst) = n
		return nil
	}}
}

func parseBool(v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errors.New("want true or false")
	}
	return b, nil
}

// HostPort is a Check for listen addresses: host:port, the host may be empty.
func HostPort(v string) error {
	if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
		return errors.New("want host:port, such as 127.0.0.1:8080 or :8080")
	}
	return nil
}

// NonNegative is a Check for counts and rates where 0 means "none" or
// "off": a whole number, 0 or more.
func NonNegative(v string) error {
	if n, err := strconv.Atoi(v); err != nil || n < 0 {
		return errors.New("want a whole number, 0 or more")
	}
	return nil
}

// HTTPURL is a Check for base URLs: empty, or absolute http(s) with a host.
func HTTPURL(v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an absolute http:// or https:// URL")
	}
	return nil
}

// apply parses v into dst, naming where v came from in any error, and
// quoting v only when it is not secret.
func (s *Setting[T]) apply(dst *T, v, from string) error {
	err := s.Value.set(dst, v)
	if err == nil && s.Check != nil {
		err = s.Check(v)
	}
	if err == nil {
		return nil
	}
	if s.hidden() {
		return fmt.Errorf("%s: invalid value: %v", from, err)
	}
	return fmt.Errorf("%s: invalid value %q: %v", from, v, err)
}
