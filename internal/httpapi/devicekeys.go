package httpapi

import "net/http"

func (a accountHandlers) createDeviceKey(w http.ResponseWriter, r *http.Request) {
	var p struct {
		Name string `json:"name"`
	}
	if e := decode(r, &p, true); e != nil {
		writeError(w, e)
		return
	}
	v, err := a.svc.CreateDeviceKey(r.Context(), merchantOf(r).ID, p.Name)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 201, v)
}

func (a accountHandlers) listDeviceKeys(w http.ResponseWriter, r *http.Request) {
	v, err := a.svc.ListDeviceKeys(r.Context(), merchantOf(r).ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, list(v, false))
}

func (a accountHandlers) revokeDeviceKey(w http.ResponseWriter, r *http.Request) {
	v, err := a.svc.RevokeDeviceKey(r.Context(), merchantOf(r).ID, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, 200, v)
}
