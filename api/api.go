// Package api holds the native API's OpenAPI document. It is embedded so
// that the server serves, and the tests check, the very same bytes.
package api

import _ "embed"

// Spec is api/openapi.yaml: the native API (OpenAPI 3.0.3) as GET
// /openapi.yaml serves it.
//
//go:embed openapi.yaml
var Spec []byte
