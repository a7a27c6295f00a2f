package httpapi

import (
	"net/http"

	"github.com/coffer-vault/coffer/api"
)

// openAPI serves api/openapi.yaml, so a client generator can be pointed at
// the running server; it holds nothing secret, so it needs no key.
func (a *API) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Write(api.Spec)
}
