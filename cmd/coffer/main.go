// Command coffer is the card vault: `coffer serve | merchant | user | keys | bench
// | backup | restore | config check | version | help`. main only parses the command line, the
// environment and the config file (commands.go lists the commands,
// settings.go the settings) and calls internal/app.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"

	"github.com/coffer-vault/coffer/internal/app"
	"github.com/coffer-vault/coffer/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode reports err on one line and says how to exit: 0 for success, 2
// for a command line or configuration that could not be used (nothing was
// done), 1 for anything else — a refusal to start (a wrong or missing key,
// a busy port) or a failure.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "coffer:", err)
	var ue usageError
	if errors.As(err, &ue) {
		if ue.usage != "" {
			fmt.Fprint(stderr, ue.usage)
		}
		return 2
	}
	return 1
}

// usageError is a command line or configuration that could not be used.
type usageError struct {
	error
	usage string // printed after the reason: the commands, for a wrong command
}

func usageErrorf(format string, args ...any) error {
	return usageError{error: fmt.Errorf(format, args...)}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{errors.New("no command"), commandList()}
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		return helpCmd(args[1:], stdout)
	case "-v", "--version":
		args[0] = "version"
	}
	c, rest, err := lookup(args, stdout)
	if err != nil {
		return err
	}
	if c == nil { // a group's help: `coffer merchant --help`
		return nil
	}
	return c.invoke(ctx, rest, getenv, stdout, stderr)
}

// lookup finds the command args name; a command group without a known
// subcommand is a usage error unless it asks for help, which is printed.
func lookup(args []string, stdout io.Writer) (*command, []string, error) {
	if c := find(args[0]); c != nil {
		return c, args[1:], nil
	}
	if group := subcommands(args[0]); len(group) > 0 {
		if len(args) > 1 {
			if c := find(args[0] + " " + args[1]); c != nil {
				return c, args[2:], nil
			}
			if isHelp(args[1]) {
				printGroupHelp(stdout, group)
				return nil, nil, nil
			}
		}
		names := make([]string, len(group))
		for i, c := range group {
			names[i] = strings.TrimPrefix(c.name, args[0]+" ")
		}
		return nil, nil, usageError{fmt.Errorf("%s: want %s", args[0], strings.Join(names, " or ")), commandList()}
	}
	return nil, nil, usageError{fmt.Errorf("unknown command %q", args[0]), commandList()}
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

// invoke parses the command's flags, then its settings (flag, environment,
// config file, default), then runs it: every argument is checked before the
// command touches the disk.
func (c *command) invoke(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, set, runFn := c.flagSet()
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printCommandHelp(stdout, c)
			return nil
		}
		return usageErrorf("%s: %s (coffer %s --help lists the flags)", c.name, dashes(err), c.name)
	}
	if fs.NArg() > 0 {
		return usageErrorf("%s: unexpected argument %q", c.name, fs.Arg(0))
	}
	inv := &invocation{cfg: &app.Config{Stdout: stdout, Stderr: stderr}, stdout: stdout, stderr: stderr}
	if set != nil {
		res, err := set.Resolve(inv.cfg, getenv)
		if err == nil {
			err = checkTogether(inv.cfg, res)
		}
		if err != nil {
			return usageErrorf("%s: %v", c.name, err)
		}
		inv.res = res
	}
	return runFn(ctx, inv)
}

// flagDash is the flag package's "-name" in its error messages.
var flagDash = regexp.MustCompile(`(defined:|argument:|for flag|for) -([A-Za-z])`)

// dashes writes the flag package's -name as --name, the way the help
// spells flags.
func dashes(err error) string {
	return flagDash.ReplaceAllString(err.Error(), "$1 --$2")
}

// flagSet declares the command's settings and own flags on a new flag set
// that prints nothing: errors and help are printed by the caller.
func (c *command) flagSet() (*flag.FlagSet, *config.Set[app.Config], runFunc) {
	fs := flag.NewFlagSet("coffer "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var set *config.Set[app.Config]
	if c.scope != 0 {
		set = config.Register(fs, settings, c.scope)
	}
	return fs, set, c.setup(fs)
}
