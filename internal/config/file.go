package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// FileFormat describes the config file for the help.
const FileFormat = "config file (--config FILE or " + ConfigEnv + "): one `name = value` per line, names as the flags " +
	"(without --); blank lines and lines starting with # are ignored; a value may be double-quoted (Go syntax); " +
	"relative paths are from the working folder, not the file's; an unknown name is an error"

// maxFileSize bounds what is read: a config file is a few lines, and a
// mistaken path (a database, a log) should fail fast, not fill memory.
const maxFileSize = 1 << 20

// FileValue is one value of the config file.
type FileValue struct {
	Value string
	Line  int
}

// ReadFile reads a config file whose names must be among known.
func ReadFile(path string, known []string) (map[string]FileValue, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, cause(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, cause(err))
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("config file %s: larger than %d bytes", path, maxFileSize)
	}
	vals, err := ParseFile(b, known)
	if err != nil {
		return nil, fmt.Errorf("config file %s %w", path, err)
	}
	return vals, nil
}

// ParseFile parses `name = value` lines. Values are taken verbatim after
// trimming spaces (a URL may hold a #), or unquoted when double-quoted. A
// name not in known, a name given twice or a line without = is an error
// naming its line: a typo must not silently leave a default in force.
func ParseFile(b []byte, known []string) (map[string]FileValue, error) {
	vals := map[string]FileValue{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), maxFileSize)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if line == 1 {
			text = strings.TrimPrefix(text, "\uFEFF") // an editor's byte-order mark
		}
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		name, value, ok := strings.Cut(text, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" {
			return nil, fmt.Errorf("line %d: want name = value", line)
		}
		name = strings.TrimPrefix(name, "--")
		if !slices.Contains(known, name) {
			return nil, fmt.Errorf("line %d: unknown key %q (known: %s)", line, name, strings.Join(known, ", "))
		}
		if prev, dup := vals[name]; dup {
			return nil, fmt.Errorf("line %d: %s is already set on line %d", line, name, prev.Line)
		}
		if strings.HasPrefix(value, `"`) {
			uq, err := strconv.Unquote(value)
			if err != nil {
				return nil, fmt.Errorf("line %d: %s: a quoted value must be one Go string literal", line, name)
			}
			value = uq
		}
		vals[name] = FileValue{Value: value, Line: line}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return vals, nil
}

// cause drops the *PathError's repetition of the path already named.
func cause(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}
