package router

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
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
// application/wasm or application/octet-stream), at most MaxAdapterBytes,
// or as multipart/form-data with a "module" part and an optional
// "fixtures" part (NAME.tests.json, at most MaxBody): the fixtures are
// installed with the module and must pass before it is published.
func (a *API) addAdapter(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	mt, params := "application/wasm", map[string]string(nil)
	if ct := r.Header.Get("Content-Type"); ct != "" {
		var err error
		mt, params, err = mime.ParseMediaType(ct)
		if err != nil || (mt != "application/wasm" && mt != "application/octet-stream" && mt != "multipart/form-data") {
			return apiError(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, fmt.Sprintf("Content-Type %q: send the module as application/wasm, or multipart/form-data with module and fixtures parts", ct))
		}
	}
	filename := r.URL.Query().Get("filename")
	if len(filename) > 255 {
		return apiError(http.StatusBadRequest, CodeBadRequest, "filename over 255 characters")
	}
	if a.cfg.AdapterFiles == nil {
		return notImplemented("adding adapters over the API is not wired into this agent yet; copy the .wasm into the adapters directory")
	}
	b, err := a.readBody(w, r, a.cfg.MaxAdapterBytes+MaxBody)
	if err != nil {
		return err
	}
	wasm, fixtures := b, []byte(nil)
	if mt == "multipart/form-data" {
		if wasm, fixtures, err = adapterParts(b, params["boundary"]); err != nil {
			return err
		}
	}
	if len(wasm) == 0 {
		return apiError(http.StatusBadRequest, CodeBadRequest, "the module is empty; send the .wasm module")
	}
	if int64(len(wasm)) > a.cfg.MaxAdapterBytes {
		return apiError(http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("the module is over %d bytes", a.cfg.MaxAdapterBytes))
	}
	info, err := a.cfg.AdapterFiles.Add(r.Context(), filename, wasm, fixtures)
	if err != nil {
		return fmt.Errorf("add adapter %s: %w", filename, err)
	}
	return reply(w, http.StatusCreated, info)
}

// adapterUpload documents the parts of a multipart POST /adapters.
type adapterUpload struct {
	Module   []byte `json:"module"`   // the .wasm
	Fixtures []byte `json:"fixtures"` // NAME.tests.json (optional)
}

// adapterParts reads the "module" and "fixtures" parts of a multipart
// upload.
func adapterParts(body []byte, boundary string) (wasm, fixtures []byte, err error) {
	bad := func(msg string) error {
		return apiError(http.StatusBadRequest, CodeBadRequest, "multipart upload: "+msg)
	}
	if boundary == "" {
		return nil, nil, bad("no boundary in the Content-Type")
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	seen := map[string]bool{}
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, bad(err.Error())
		}
		name := p.FormName()
		if name != "module" && name != "fixtures" {
			return nil, nil, bad(fmt.Sprintf("unknown part %q (want module and fixtures)", name))
		}
		if seen[name] {
			return nil, nil, bad(fmt.Sprintf("part %q twice", name))
		}
		seen[name] = true
		b, err := io.ReadAll(p)
		if err != nil {
			return nil, nil, bad(err.Error())
		}
		if name == "module" {
			wasm = b
		} else {
			if len(b) > MaxBody {
				return nil, nil, apiError(http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("the fixtures are over %d bytes", MaxBody))
			}
			fixtures = b
		}
	}
	if !seen["module"] {
		return nil, nil, bad(`no "module" part`)
	}
	return wasm, fixtures, nil
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
