package router

import (
	"fmt"
	"mime"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/rigd/rigd/agent/miner"
)

func (a *API) listAdapters(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if a.cfg.Adapters == nil {
		return notImplemented("the adapter catalog is not available")
	}
	list := a.cfg.Adapters.List()
	if list == nil {
		list = []miner.AdapterInfo{}
	}
	return reply(w, http.StatusOK, list)
}

// addAdapter takes the module as the raw body (Content-Type
// application/wasm or application/octet-stream), at most MaxAdapterBytes.
func (a *API) addAdapter(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/wasm" && mt != "application/octet-stream") {
			return apiError(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, fmt.Sprintf("Content-Type %q: send the module as application/wasm", ct))
		}
	}
	filename := r.URL.Query().Get("filename")
	if len(filename) > 255 {
		return apiError(http.StatusBadRequest, CodeBadRequest, "filename over 255 characters")
	}
	if a.cfg.AdapterFiles == nil {
		return notImplemented("adding adapters over the API is not wired into this agent yet; copy the .wasm into the adapters directory")
	}
	b, err := a.readBody(w, r, a.cfg.MaxAdapterBytes)
	if err != nil {
		return err
	}
	if len(b) == 0 {
		return apiError(http.StatusBadRequest, CodeBadRequest, "the body is empty; send the .wasm module")
	}
	info, err := a.cfg.AdapterFiles.Add(r.Context(), filename, b)
	if err != nil {
		return fmt.Errorf("add adapter %s: %w", filename, err)
	}
	return reply(w, http.StatusCreated, info)
}

func (a *API) removeAdapter(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	name, err := nameParam(ps)
	if err != nil {
		return err
	}
	if a.cfg.AdapterFiles == nil {
		return notImplemented("removing adapters over the API is not wired into this agent yet")
	}
	if err := a.cfg.AdapterFiles.Remove(r.Context(), name); err != nil {
		return fmt.Errorf("remove adapter %q: %w", name, err)
	}
	return reply(w, http.StatusOK, Deleted{Deleted: name})
}

func (a *API) rollbackAdapter(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	name, err := nameParam(ps)
	if err != nil {
		return err
	}
	if a.cfg.AdapterFiles == nil {
		return notImplemented("adapter rollback is not wired into this agent yet")
	}
	info, err := a.cfg.AdapterFiles.Rollback(r.Context(), name)
	if err != nil {
		return fmt.Errorf("roll back adapter %q: %w", name, err)
	}
	return reply(w, http.StatusOK, info)
}
