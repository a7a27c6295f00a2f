package httpapi

import (
	"net/http"

	"github.com/coffer-vault/coffer/internal/payment"
)

func (a accountHandlers) createProcessorAccount(w http.ResponseWriter, r *http.Request) {
	var p payment.ProcessorAccountParams
	if e := decode(r, &p, false); e != nil {
		writeError(w, e)
		return
	}
	v, err := a.svc.CreateProcessorAccount(r.Context(), merchantOf(r), p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 201, v)
}

func (a accountHandlers) listProcessorAccounts(w http.ResponseWriter, r *http.Request) {
	v, err := a.svc.ListProcessorAccounts(r.Context(), merchantOf(r).ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, list(v, false))
}

func (a accountHandlers) getProcessorAccount(w http.ResponseWriter, r *http.Request) {
	v, err := a.svc.GetProcessorAccount(r.Context(), merchantOf(r).ID, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, v)
}

func (a accountHandlers) deleteProcessorAccount(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := a.svc.DeleteProcessorAccount(r.Context(), merchantOf(r).ID, id); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]any{"id": id, "object": "processor_account", "deleted": true})
}
