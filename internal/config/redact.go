package config

import (
	"net/url"
	"regexp"
	"strings"
)

// Redacted stands for a hidden value.
const Redacted = "<redacted>"

// dsnPassword finds password=… in a keyword/value connection string
// (host=db password='x y' dbname=coffer), quoted or not.
var dsnPassword = regexp.MustCompile(`(?i)\b((?:ssl)?password)\s*=\s*(?:'(?:[^'\\]|\\.)*'|\S+)`)

// RedactURL hides the password of a database URL
// (postgres://user:pass@host/db, …?password=…) or of a keyword/value
// connection string, keeping the rest readable for `config check`.
// Anything it cannot read is hidden whole.
func RedactURL(v string) string {
	if !strings.Contains(v, "://") {
		if strings.Contains(v, "=") {
			return dsnPassword.ReplaceAllString(v, "${1}="+Redacted)
		}
		return Redacted
	}
	u, err := url.Parse(v)
	// A password holding / ? or # unescaped is misread as the host or
	// a fragment: hidden whole rather than shown in part.
	if err != nil || u.Fragment != "" || u.User == nil && strings.Contains(v, "@") {
		return Redacted
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "REDACTED")
	}
	if q := u.Query(); len(q) > 0 {
		for k := range q {
			if secretName(k) || strings.Contains(strings.ToLower(k), "password") {
				q.Set(k, "REDACTED")
			}
		}
		u.RawQuery = q.Encode()
	}
	return strings.ReplaceAll(u.String(), "REDACTED", Redacted)
}
