package miner

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rigd/rigd/sdk/abi"
)

// Profiles manages saved profiles. Every profile is checked by its
// adapter's build_command before it is saved, so a stored profile is one
// the adapter accepts.
type Profiles struct {
	store    Store
	adapters Adapters
	newID    func() string
	now      func() time.Time
}

// NewProfiles returns the profile service. newID generates document ids
// (UUIDs in the agent).
func NewProfiles(store Store, adapters Adapters, newID func() string, now func() time.Time) *Profiles {
	if now == nil {
		now = time.Now
	}
	return &Profiles{store: store, adapters: adapters, newID: newID, now: now}
}

// ProfileInput is what a client sends to create or replace a profile.
type ProfileInput struct {
	Name    string      `json:"name"`
	Type    string      `json:"type"`
	Profile abi.Profile `json:"profile"`
	// Watchdog tunes the watchdog of the miners started from the profile
	// (a start request's own watchdog section wins); nil: the defaults.
	Watchdog *WatchdogConfig `json:"watchdog,omitempty"`
}

// validate checks the input and asks the adapter to build a command from
// it with sample instance facts.
func (p *Profiles) validate(ctx context.Context, in ProfileInput) error {
	in.Name = strings.TrimSpace(in.Name)
	switch {
	case in.Name == "":
		return fmt.Errorf("%w: profile name is empty", ErrInvalidInput)
	case utf8.RuneCountInString(in.Name) > 128:
		return fmt.Errorf("%w: profile name over 128 characters", ErrInvalidInput)
	case !utf8.ValidString(in.Name) || strings.ContainsFunc(in.Name, unicode.IsControl):
		// It is printed in tables and terminals.
		return fmt.Errorf("%w: profile name has a control character or invalid UTF-8", ErrInvalidInput)
	case in.Type == "":
		return fmt.Errorf("%w: profile type is empty", ErrInvalidInput)
	}
	if in.Watchdog != nil {
		if err := in.Watchdog.Validate(); err != nil {
			return err
		}
	}
	_, err := p.adapters.BuildCommand(ctx, in.Type, abi.BuildRequest{
		Profile: in.Profile,
		Instance: abi.Instance{
			Name: DefaultName(in.Type, in.Profile.Algo), APIPort: 40000, APIToken: "validation",
			OS: runtime.GOOS, Arch: runtime.GOARCH,
		},
	})
	return err
}

// List returns every profile.
func (p *Profiles) List(ctx context.Context) ([]StoredProfile, error) {
	return p.store.ListProfiles(ctx)
}

// Get returns one profile; ErrNotFound if there is none.
func (p *Profiles) Get(ctx context.Context, id string) (StoredProfile, error) {
	sp, err := p.store.GetProfile(ctx, id)
	if errors.Is(err, ErrStoreNotFound) {
		return sp, fmt.Errorf("%w: profile %q", ErrNotFound, id)
	}
	return sp, err
}

// Create validates and saves a new profile.
func (p *Profiles) Create(ctx context.Context, in ProfileInput) (StoredProfile, error) {
	if err := p.validate(ctx, in); err != nil {
		return StoredProfile{}, err
	}
	now := p.now().UTC()
	sp := StoredProfile{ID: p.newID(), Name: strings.TrimSpace(in.Name), Type: in.Type, Profile: in.Profile, Watchdog: in.Watchdog, CreatedAt: now, UpdatedAt: now}
	if err := p.store.PutProfile(ctx, sp); err != nil {
		return StoredProfile{}, err
	}
	return sp, nil
}

// Update validates and replaces an existing profile.
func (p *Profiles) Update(ctx context.Context, id string, in ProfileInput) (StoredProfile, error) {
	old, err := p.Get(ctx, id)
	if err != nil {
		return StoredProfile{}, err
	}
	if err := p.validate(ctx, in); err != nil {
		return StoredProfile{}, err
	}
	sp := StoredProfile{ID: id, Name: strings.TrimSpace(in.Name), Type: in.Type, Profile: in.Profile, Watchdog: in.Watchdog, CreatedAt: old.CreatedAt, UpdatedAt: p.now().UTC()}
	if err := p.store.PutProfile(ctx, sp); err != nil {
		return StoredProfile{}, err
	}
	return sp, nil
}

// Delete removes a profile; ErrNotFound if there is none.
func (p *Profiles) Delete(ctx context.Context, id string) error {
	err := p.store.DeleteProfile(ctx, id)
	if errors.Is(err, ErrStoreNotFound) {
		return fmt.Errorf("%w: profile %q", ErrNotFound, id)
	}
	return err
}

// StartRequest turns a stored profile into a start request.
func (p *Profiles) StartRequest(ctx context.Context, id string) (StartRequest, error) {
	sp, err := p.Get(ctx, id)
	if err != nil {
		return StartRequest{}, err
	}
	return StartRequest{Type: sp.Type, Profile: sp.Profile, ProfileID: sp.ID, Watchdog: sp.Watchdog}, nil
}
