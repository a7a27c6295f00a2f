package httpapi

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/coffer-vault/coffer/api"
	"github.com/coffer-vault/coffer/internal/checkout"
)

// loadSpec parses and validates api/openapi.yaml (examples included: each
// must match its schema).
func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(api.Spec)
	if err != nil {
		t.Fatalf("api/openapi.yaml does not parse: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("api/openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi: %q, want 3.0.3", doc.OpenAPI)
	}
	return doc
}

// TestOpenAPIMatchesRoutes: every route of the table (the card holder's
// pages included) is an operation of api/openapi.yaml with the same
// method and path, and every operation there is routed; each says how it
// is guarded as the table does, and the POSTs under /v1 take
// Idempotency-Key. A route added without its spec, or a spec operation
// the server does not serve, fails here.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadSpec(t)
	ops := map[string]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops[method+" "+path] = op
		}
	}
	// A non-nil Pages only lets table list the pages' routes; none is called.
	routed := map[string]bool{}
	for _, rt := range (&API{pages: &checkout.Pages{}}).table() {
		if rt.pattern == "/" {
			continue // the unknown-route answer, described in info.description
		}
		routed[rt.pattern] = true
		op := ops[rt.pattern]
		if op == nil {
			t.Errorf("%s is routed but not in api/openapi.yaml", rt.pattern)
			continue
		}
		want := accessSchemes(rt.access)
		if rt.pattern == "GET /v1/sessions/{id}/stream" {
			// Open to the middleware; the handler takes either credential.
			want = []string{"secretKey", "sessionClientSecret"}
		}
		if got := schemes(doc, op); !slices.Equal(got, want) {
			t.Errorf("%s (%s): security %v, want %v", rt.pattern, op.OperationID, got, want)
		}
		if has := hasHeader(op, "Idempotency-Key"); has != rt.idempotent {
			t.Errorf("%s (%s): Idempotency-Key parameter %v, want %v", rt.pattern, op.OperationID, has, rt.idempotent)
		}
		checkScope(t, rt, op)
	}
	for key := range ops {
		if !routed[key] {
			t.Errorf("%s is in api/openapi.yaml but not routed", key)
		}
	}
}

// checkScope: an operation names in x-coffer-scope the scope its route
// needs, and one that takes a key lists the 403 of a key without it and
// the 429 of a key over its rate.
func checkScope(t *testing.T, rt route, op *openapi3.Operation) {
	t.Helper()
	got, _ := op.Extensions["x-coffer-scope"].(string)
	if got != rt.scope {
		t.Errorf("%s (%s): x-coffer-scope %q, want %q", rt.pattern, op.OperationID, got, rt.scope)
	}
	if rt.scope == noScope {
		return
	}
	for _, status := range []int{403, 429} {
		if op.Responses.Status(status) == nil {
			t.Errorf("%s (%s) takes a key but does not list %d", rt.pattern, op.OperationID, status)
		}
	}
}

// TestOpenAPIOperationIDs: every operation has a lowerCamel verb-noun
// operationId, unique, so generated clients get usable method names.
func TestOpenAPIOperationIDs(t *testing.T) {
	doc := loadSpec(t)
	lowerCamel := regexp.MustCompile(`^[a-z]+[A-Z][A-Za-z0-9]*$`)
	seen := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			key := method + " " + path
			if !lowerCamel.MatchString(op.OperationID) {
				t.Errorf("%s: operationId %q is not lowerCamel verb-noun", key, op.OperationID)
			}
			if prev, dup := seen[op.OperationID]; dup {
				t.Errorf("operationId %q is used by %s and %s", op.OperationID, prev, key)
			}
			seen[op.OperationID] = key
		}
	}
	for _, id := range []string{"createToken", "getToken", "listTokens", "deleteToken", "createPayment",
		"getPayment", "capturePayment", "cancelPayment", "createRefund", "createSession", "confirmSession",
		"rollMerchantKey", "listMerchantKeys", "createApiKey", "listApiKeys", "deleteApiKey"} {
		if seen[id] == "" {
			t.Errorf("no operation %s", id)
		}
	}
}

// schemes lists the security schemes that may authorize op ("" for none
// needed), the document's default applying when op sets none.
func schemes(doc *openapi3.T, op *openapi3.Operation) []string {
	reqs := doc.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	out := []string{}
	for _, req := range reqs {
		names := make([]string, 0, len(req))
		for name := range req {
			names = append(names, name)
		}
		slices.Sort(names)
		out = append(out, strings.Join(names, "+"))
	}
	slices.Sort(out)
	return out
}

func accessSchemes(a access) []string {
	switch a {
	case secretKey:
		return []string{"secretKey"}
	case sessionClient:
		return []string{"publishableKey", "secretKey"}
	}
	return []string{}
}

func hasHeader(op *openapi3.Operation, name string) bool {
	for _, p := range op.Parameters {
		if p.Value != nil && p.Value.In == openapi3.ParameterInHeader && p.Value.Name == name {
			return true
		}
	}
	return false
}
