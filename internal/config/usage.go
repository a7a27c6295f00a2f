package config

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

const configUsage = "config file of name = value lines, names as the flags' (see coffer help)"

// PrintFlags writes the help of every flag on fs, read from fs itself so
// that it lists exactly what the command accepts: first the command's own
// flags (command line only), then its settings, each with its default and
// environment variable, then the settings that have no flag. set is nil for
// a command without settings.
func PrintFlags[T any](w io.Writer, fs *flag.FlagSet, set *Set[T]) {
	var own []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if set == nil || !set.isSetting(f.Name) {
			own = append(own, f)
		}
	})
	if len(own) > 0 {
		fmt.Fprintln(w, "flags:")
		for _, f := range own {
			writeFlag(w, f)
		}
	}
	if set == nil {
		return
	}
	if len(own) > 0 {
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "settings (flag > environment variable > config file > default):")
	for _, st := range set.Settings() {
		writeSetting(w, st, "")
	}
	writeConfigFlag(w)
}

// PrintTable writes every setting of table with the commands that read it
// (readers names the commands of a scope), and the config file's flag.
func PrintTable[T any](w io.Writer, table []Setting[T], readers func(Scope) string) {
	for _, st := range table {
		writeSetting(w, st, readers(st.Scope))
	}
	writeConfigFlag(w)
}

func (s *Set[T]) isSetting(name string) bool {
	if name == ConfigFlag {
		return true
	}
	_, ok := s.lookup(name)
	return ok
}

func writeFlag(w io.Writer, f *flag.Flag) {
	kind, usage := flag.UnquoteUsage(f)
	head := "  --" + f.Name
	if kind != "" {
		head += " " + kind
	}
	var notes []string
	if d := f.DefValue; d != "" && d != "false" && d != "0" && d != "0s" {
		notes = append(notes, "default "+d)
	}
	writeEntry(w, head, usage, notes)
}

func writeSetting[T any](w io.Writer, st Setting[T], readBy string) {
	head := "  --" + st.Name + " " + st.Value.Kind
	if st.NoFlag {
		head = "  " + st.Name + " " + st.Value.Kind + " (no flag: environment or config file only)"
	}
	var notes []string
	if st.Default != "" {
		notes = append(notes, "default "+st.Default)
	}
	notes = append(notes, "env "+st.Env)
	if st.hidden() {
		notes = append(notes, "secret")
	}
	if readBy != "" {
		notes = append(notes, readBy)
	}
	writeEntry(w, head, st.Usage, notes)
}

func writeConfigFlag(w io.Writer) {
	writeEntry(w, "  --"+ConfigFlag+" FILE", configUsage, []string{"env " + ConfigEnv})
}

// writeEntry is Go's flag layout: the flag, then its usage indented with
// the notes in parentheses.
func writeEntry(w io.Writer, head, usage string, notes []string) {
	fmt.Fprintln(w, head)
	line := "        " + usage
	if len(notes) > 0 {
		line += " (" + strings.Join(notes, "; ") + ")"
	}
	fmt.Fprintln(w, line)
}
