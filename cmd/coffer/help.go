package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/coffer-vault/coffer/internal/app"
	"github.com/coffer-vault/coffer/internal/config"
)

// Every help text is generated from the commands table, each command's own
// flag set and the settings table: nothing here lists a flag by hand.

const exitStatus = "exit status: 0 done; 1 failed, or refused to start (a wrong key, a busy port); " +
	"2 the command line or configuration cannot be used (nothing was done)"

// helpCmd is `coffer help [COMMAND]`.
func helpCmd(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		printHelp(stdout)
		return nil
	}
	name := strings.Join(args, " ")
	if c := find(name); c != nil {
		printCommandHelp(stdout, c)
		return nil
	}
	if group := subcommands(name); len(group) > 0 {
		printGroupHelp(stdout, group)
		return nil
	}
	return usageError{fmt.Errorf("help: unknown command %q", name), commandList()}
}

// commandList is the usage line and every command's synopsis.
func commandList() string {
	var b strings.Builder
	b.WriteString("usage: coffer COMMAND [flags]\n\ncommands:\n")
	width := 0
	for _, c := range commands {
		width = max(width, len(synopsis(c)))
	}
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, synopsis(c), c.summary)
	}
	fmt.Fprintf(&b, "  %-*s  %s\n", width, "coffer help [COMMAND]", "this help, or a command's (also coffer COMMAND --help)")
	return b.String()
}

func synopsis(c *command) string {
	s := "coffer " + c.name
	if c.args != "" {
		s += " " + c.args
	}
	return s
}

// printHelp is `coffer help`: every command, every setting with the
// commands that read it, every command's own flags, the config file.
func printHelp(w io.Writer) {
	fmt.Fprintf(w, "coffer %s: card vault and tokenization gateway\n\n", app.Version)
	fmt.Fprint(w, commandList())
	fmt.Fprintln(w, "\nsettings: a flag of each command that reads it, an environment variable, and a config-file key (the flag's name);")
	fmt.Fprintln(w, "precedence: flag > environment variable > config file > default:")
	config.PrintTable(w, settings, readers)
	fmt.Fprintln(w, "\ncommand flags (command line only):")
	for _, c := range commands {
		fs, _, _ := (&command{name: c.name, setup: c.setup}).flagSet()
		var b bytes.Buffer
		config.PrintFlags[any](&b, fs, nil)
		if b.Len() == 0 {
			continue
		}
		fmt.Fprintf(w, "  %s:\n", c.name)
		body := strings.TrimPrefix(b.String(), "flags:\n")
		fmt.Fprint(w, indent(body, "  "))
	}
	fmt.Fprintf(w, "\n%s.\n\n%s.\n", config.FileFormat, exitStatus)
}

// printCommandHelp is `coffer COMMAND --help`.
func printCommandHelp(w io.Writer, c *command) {
	fs, set, _ := c.flagSet()
	fmt.Fprintf(w, "usage: %s [flags]\n\n%s.\n\n", synopsis(c), capitalize(c.summary))
	var b bytes.Buffer
	config.PrintFlags(&b, fs, set)
	if b.Len() == 0 {
		b.WriteString("no flags.\n")
	}
	fmt.Fprint(w, b.String())
	if set != nil {
		fmt.Fprintf(w, "\n%s.\n", config.FileFormat)
	}
	fmt.Fprintf(w, "\n%s.\n", exitStatus)
}

// printGroupHelp is `coffer merchant --help`: each subcommand's help.
func printGroupHelp(w io.Writer, group []*command) {
	for i, c := range group {
		if i > 0 {
			fmt.Fprintln(w, "\n"+strings.Repeat("-", 60))
		}
		printCommandHelp(w, c)
	}
}

// readers names the commands that read a setting of the given scope,
// a group once when all of it does.
func readers(s config.Scope) string {
	var names []string
	seen := map[string]bool{}
	for _, c := range commands {
		if c.scope&s == 0 {
			continue
		}
		name := c.name
		if group, _, ok := strings.Cut(c.name, " "); ok && len(subcommands(group)) > 1 && all(subcommands(group), s) {
			name = group
		}
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	return "read by " + strings.Join(names, ", ")
}

func all(cs []*command, s config.Scope) bool {
	for _, c := range cs {
		if c.scope&s == 0 {
			return false
		}
	}
	return true
}

func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "")
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
