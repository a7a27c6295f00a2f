package config

import (
	"flag"
	"fmt"
	"strings"
)

// Source is where a setting's value came from.
type Source int

// Sources, from the weakest.
const (
	FromDefault Source = iota
	FromFile
	FromEnv
	FromFlag
)

// Set is the settings one command reads, declared on its flag set.
type Set[T any] struct {
	table []Setting[T] // every setting: a shared config file may name any of them
	scope Scope
	given map[string]string // flag name → value, for the flags on the command line
}

// Register declares, on fs, a flag for every setting in scope (but those
// marked NoFlag) and --config. The flags only record what they are given:
// Resolve parses every value, whatever its source, the same way.
func Register[T any](fs *flag.FlagSet, table []Setting[T], scope Scope) *Set[T] {
	s := &Set[T]{table: table, scope: scope, given: map[string]string{}}
	for _, st := range s.Settings() {
		if st.NoFlag {
			continue
		}
		fs.Func(st.Name, st.Usage, s.record(st.Name))
	}
	fs.Func(ConfigFlag, configUsage, s.record(ConfigFlag))
	return s
}

func (s *Set[T]) record(name string) func(string) error {
	return func(v string) error { s.given[name] = v; return nil }
}

// Settings are the settings in the set's scope, in table order.
func (s *Set[T]) Settings() []Setting[T] {
	var out []Setting[T]
	for _, st := range s.table {
		if st.Scope&s.scope != 0 {
			out = append(out, st)
		}
	}
	return out
}

// lookup finds a setting in scope by name.
func (s *Set[T]) lookup(name string) (Setting[T], bool) {
	for _, st := range s.Settings() {
		if st.Name == name {
			return st, true
		}
	}
	return Setting[T]{}, false
}

// Resolved is one setting's effective value.
type Resolved struct {
	Name   string
	Value  string // as given; print Shown instead
	Source Source
	From   string // "--addr", "COFFER_ADDR", "config file line 3", "default"
	shown  string
}

// Shown is the value with its secrets redacted.
func (r Resolved) Shown() string { return r.shown }

// Resolution is what Resolve found.
type Resolution struct {
	File     string // the config file read, "" for none
	FileFrom string // "--config" or "COFFER_CONFIG"
	Values   []Resolved
}

// Resolve gives every setting in scope its value — the flag, else the
// environment variable (when not empty), else the config file, else the
// default — and stores it in dst. A bad value, an unreadable config file or
// a key in it that no setting has is an error naming where it came from;
// it never quotes a secret.
func (s *Set[T]) Resolve(dst *T, getenv func(string) string) (Resolution, error) {
	var res Resolution
	var file map[string]FileValue
	if path, from := s.configPath(getenv); path != "" {
		var err error
		if file, err = ReadFile(path, s.known()); err != nil {
			return res, fmt.Errorf("%s: %w", from, err)
		}
		res.File, res.FileFrom = path, from
	}
	for _, st := range s.Settings() {
		r := Resolved{Name: st.Name, Source: FromDefault, From: "default", Value: st.Default}
		if v, ok := s.given[st.Name]; ok {
			r.Value, r.Source, r.From = v, FromFlag, "--"+st.Name
		} else if v := getenv(st.Env); st.Env != "" && v != "" {
			r.Value, r.Source, r.From = v, FromEnv, st.Env
		} else if fv, ok := file[st.Name]; ok {
			r.Value, r.Source, r.From = fv.Value, FromFile, fmt.Sprintf("%s line %d: %s", res.File, fv.Line, st.Name)
		}
		// An empty default leaves the field as the program made it.
		if r.Source != FromDefault || r.Value != "" {
			if err := st.apply(dst, r.Value, r.From); err != nil {
				return res, err
			}
		}
		if r.Source == FromFile {
			r.From = fmt.Sprintf("config file line %d", file[st.Name].Line)
		}
		r.shown = st.show(r.Value)
		res.Values = append(res.Values, r)
	}
	return res, nil
}

// configPath is --config, else COFFER_CONFIG.
func (s *Set[T]) configPath(getenv func(string) string) (path, from string) {
	if v, ok := s.given[ConfigFlag]; ok {
		return v, "--" + ConfigFlag
	}
	if v := getenv(ConfigEnv); v != "" {
		return v, ConfigEnv
	}
	return "", ""
}

// known is every setting's name, in scope or not: one config file serves
// every command, each reading the settings it has.
func (s *Set[T]) known() []string {
	names := make([]string, len(s.table))
	for i, st := range s.table {
		names[i] = st.Name
	}
	return names
}

// show is a value as `config check` prints it.
func (s *Setting[T]) show(v string) string {
	switch {
	case v == "":
		return ""
	case s.Redact != nil:
		return s.Redact(v)
	case s.hidden():
		return Redacted
	}
	return v
}

// hidden reports whether a value is a secret in whole or in part.
func (s *Setting[T]) hidden() bool {
	return s.Secret || s.Redact != nil || secretName(s.Name)
}

// secretName catches a secret its row forgot to mark: a name that ends in
// "key" or mentions a secret, password or token is hidden. A path-valued
// setting so named (tls-key) is hidden too; seeing it is not worth the risk
// of a key pasted where its path belongs.
func secretName(name string) bool {
	n := strings.ToLower(name)
	return strings.HasSuffix(n, "key") || strings.Contains(n, "secret") || strings.Contains(n, "password") || strings.Contains(n, "token")
}
