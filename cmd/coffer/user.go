package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/coffer-vault/coffer/internal/app"
	"github.com/coffer-vault/coffer/internal/dashboard"
	"github.com/coffer-vault/coffer/internal/password"
)

// stdin is where --password-stdin reads; tests replace it.
var stdin io.Reader = os.Stdin

// userCreate is `coffer user create`: the password comes only from stdin,
// never a flag, so it stays out of shell history and the process list.
func userCreate(fs *flag.FlagSet) runFunc {
	mid := fs.String("merchant", "", "merchant id mer_… (required)")
	email := fs.String("email", "", "the user's e-mail, used to sign in (required)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin (required)")
	asJSON := fs.Bool("json", false, "print the user as one JSON object")
	return func(ctx context.Context, inv *invocation) error {
		switch {
		case *mid == "":
			return usageErrorf("user create: --merchant is required")
		case *email == "":
			return usageErrorf("user create: --email is required")
		case !*fromStdin:
			return usageErrorf("user create: --password-stdin is required (the password is never a flag)")
		}
		line, err := bufio.NewReader(io.LimitReader(stdin, password.MaxLength+2)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("user create: reading the password: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if err := dashboard.CheckUser(*mid, *email, pw); err != nil {
			return usageErrorf("user create: --%s: %s", flagName(err), reasonOf(err))
		}
		u, err := app.CreateDashboardUser(ctx, *inv.cfg, *mid, *email, pw)
		var ue *dashboard.UserError
		if errors.As(err, &ue) {
			return usageErrorf("user create: --%s: %s", flagName(err), ue.Reason)
		}
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(inv.stdout).Encode(map[string]string{"id": u.ID, "merchant": u.MerchantID, "email": u.Email})
		}
		fmt.Fprintf(inv.stdout, "user %s created for merchant %s: signs in at /dashboard as %s\n", u.ID, u.MerchantID, u.Email)
		return nil
	}
}

// flagName is the flag behind a refused user field.
func flagName(err error) string {
	var ue *dashboard.UserError
	if !errors.As(err, &ue) {
		return ""
	}
	if ue.Field == "password" {
		return "password-stdin"
	}
	return ue.Field
}

func reasonOf(err error) string {
	var ue *dashboard.UserError
	if errors.As(err, &ue) {
		return ue.Reason
	}
	return err.Error()
}
