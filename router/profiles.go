package router

import (
	"fmt"
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/rigd/rigd/agent/miner"
)

// validID checks a document id from a path: 1-64 characters of
// [A-Za-z0-9_-] (UUIDs and node ids fit).
func validID(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("%w: id must be 1-64 characters", miner.ErrInvalidInput)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w: id %q (use A-Z, a-z, 0-9, '-' and '_')", miner.ErrInvalidInput, id)
		}
	}
	return nil
}

func (a *API) profiles() (Profiles, error) {
	if a.cfg.Profiles == nil {
		return nil, notImplemented("profiles need storage, which is not wired into this agent yet")
	}
	return a.cfg.Profiles, nil
}

func (a *API) listProfiles(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	p, err := a.profiles()
	if err != nil {
		return err
	}
	list, err := p.List(r.Context())
	if err != nil {
		return fmt.Errorf("list profiles: %w", err)
	}
	if list == nil {
		list = []miner.StoredProfile{}
	}
	return reply(w, http.StatusOK, list)
}

// ProfileBody is a profile as a client sends it: the fields of
// miner.ProfileInput, and the read-only ones of a profile read back, which
// are ignored, so that a GET, edited, can be PUT back as it is.
type ProfileBody struct {
	miner.ProfileInput
	ID        string     `json:"id,omitempty"`
	CreatedAt *time.Time `json:"created_at,omitempty"`
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
}

func (a *API) createProfile(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	var body ProfileBody
	if err := a.decode(w, r, &body); err != nil {
		return err
	}
	in := body.ProfileInput
	p, err := a.profiles()
	if err != nil {
		return err
	}
	sp, err := p.Create(r.Context(), in)
	if err != nil {
		return fmt.Errorf("create profile %q: %w", in.Name, err)
	}
	return reply(w, http.StatusCreated, sp)
}

func (a *API) getProfile(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	id := ps.ByName("id")
	if err := validID(id); err != nil {
		return err
	}
	p, err := a.profiles()
	if err != nil {
		return err
	}
	sp, err := p.Get(r.Context(), id)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, sp)
}

func (a *API) updateProfile(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	id := ps.ByName("id")
	if err := validID(id); err != nil {
		return err
	}
	var body ProfileBody
	if err := a.decode(w, r, &body); err != nil {
		return err
	}
	if body.ID != "" && body.ID != id {
		return apiError(http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("the body's id %q is not the path's %q", body.ID, id))
	}
	p, err := a.profiles()
	if err != nil {
		return err
	}
	sp, err := p.Update(r.Context(), id, body.ProfileInput)
	if err != nil {
		return fmt.Errorf("update profile %s: %w", id, err)
	}
	return reply(w, http.StatusOK, sp)
}

func (a *API) deleteProfile(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	id := ps.ByName("id")
	if err := validID(id); err != nil {
		return err
	}
	p, err := a.profiles()
	if err != nil {
		return err
	}
	if err := p.Delete(r.Context(), id); err != nil {
		return fmt.Errorf("delete profile %s: %w", id, err)
	}
	return reply(w, http.StatusOK, Deleted{Deleted: id})
}

func (a *API) startProfile(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	id := ps.ByName("id")
	var o ProfileStartRequest
	if err := a.decodeOptional(w, r, &o); err != nil {
		return err
	}
	req, err := a.profileStart(r.Context(), id, o)
	if err != nil {
		return err
	}
	info, err := a.cfg.Miners.Start(r.Context(), req)
	if err != nil {
		return fmt.Errorf("start profile %s: %w", id, err)
	}
	return reply(w, http.StatusCreated, info)
}
