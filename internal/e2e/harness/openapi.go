package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/coffer-vault/coffer/api"
)

// The spec is parsed and its router built once per test binary: checking
// an answer then costs a route lookup and a walk of its schema.
var spec struct {
	once   sync.Once
	router routers.Router
	err    error
}

// specOptions make a check strict: a status the operation does not list
// fails, every schema error is reported, and messages name the path and
// the rule but never quote the value (an answer may hold a secret).
var specOptions = &openapi3filter.Options{
	IncludeResponseStatus:   true,
	MultiError:              true,
	SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()},
}

func specRouter() (routers.Router, error) {
	spec.once.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromData(api.Spec)
		if err != nil {
			spec.err = fmt.Errorf("api/openapi.yaml: %w", err)
			return
		}
		// Routed by path alone: test servers listen on any loopback port,
		// not on the document's server address.
		doc.Servers = nil
		spec.router, spec.err = legacy.NewRouter(doc)
	})
	return spec.router, spec.err
}

// CheckResponse checks one answer of the native API against
// api/openapi.yaml: its status must be one the operation lists and its
// body must match that response's schema. Requests outside /v1, and
// routes the document does not describe, are not checked (the route
// table's own test keeps the two lists equal). The error names the
// operation, the status and each schema error.
func CheckResponse(req *http.Request, status int, header http.Header, body []byte) error {
	if !strings.HasPrefix(req.URL.Path, "/v1/") {
		return nil
	}
	router, err := specRouter()
	if err != nil {
		return err
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		return nil
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                specOptions,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return fmt.Errorf("openapi: %s (%s %s) answered %d, not as api/openapi.yaml says: %s",
			route.Operation.OperationID, route.Method, route.Path, status, describe(err))
	}
	return nil
}

// describe lists a validation failure's schema errors one per line.
func describe(err error) string {
	var re *openapi3filter.ResponseError
	if !errors.As(err, &re) || re.Err == nil {
		return err.Error()
	}
	var me openapi3.MultiError
	if !errors.As(re.Err, &me) {
		return re.Error()
	}
	lines := make([]string, 0, len(me))
	for _, e := range me {
		lines = append(lines, "\n\t"+e.Error())
	}
	return re.Reason + ":" + strings.Join(lines, "")
}
