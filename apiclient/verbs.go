package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// ReadAll reads every company the credentials may see (System-Admin only), sorted by ID.
func (c *Client) ReadAll(ctx context.Context) ([]Company, error) {
	resp, err := c.call(ctx, "read", "", Request{}, true)
	if err != nil {
		return nil, err
	}
	return resp.companies(), nil
}

// Read reads one company.
func (c *Client) Read(ctx context.Context, id string) (Company, error) {
	resp, err := c.call(ctx, "read", id, Request{Scope: &Scope{Company: id}}, true)
	if err != nil {
		return Company{}, err
	}
	return only(resp, "read", id)
}

// Lookup reads one company and reports whether it exists. The API tells an unknown
// company only by refusing the read, so a refusal counts as absent; use it with
// credentials that may read every company. It is how a caller checks, after a
// create or delete whose answer was lost, what the server did.
func (c *Client) Lookup(ctx context.Context, id string) (Company, bool, error) {
	co, err := c.Read(ctx, id)
	switch {
	case err == nil:
		return co, true, nil
	case IsRefused(err):
		return Company{}, false, nil
	}
	return Company{}, false, err
}

// Create creates a company, in a new container of its own, and sends the request
// exactly once: when the answer is lost the company may or may not exist, so the
// caller reads back (Lookup) before trying again, or uses CreateConfirmed.
// Settings are not taken by create; Update sets them.
func (c *Client) Create(ctx context.Context, id, name, description string) (Company, error) {
	values := map[string]json.RawMessage{"company": jsonString(id), "name": jsonString(name)}
	if description != "" {
		values["description"] = jsonString(description)
	}
	resp, err := c.call(ctx, "create", id, Request{Values: values}, false)
	if err != nil {
		return Company{}, err
	}
	return only(resp, "create", id)
}

// CreateConfirmed creates a company and, when an answer is lost, reads back before
// sending again: a company that exists afterwards counts as created, an absent one
// is created again, within the retry policy's attempts.
func (c *Client) CreateConfirmed(ctx context.Context, id, name, description string) (Company, error) {
	var co Company
	err := c.retrying(ctx, "create", id, retryable, func(attempt int) error {
		if attempt > 1 { // the answer before was lost: did the create take effect?
			found, exists, err := c.Lookup(ctx, id)
			if err != nil {
				return &retriedError{fmt.Errorf("after a lost answer: %w", err)}
			}
			if exists {
				co = found
				return nil
			}
		}
		var err error
		co, err = c.Create(ctx, id, name, description)
		if attempt > 1 && IsRefused(err) {
			// A refusal after a lost answer may mean the first create took effect
			// after all (a read-back can itself be refused in passing: read again).
			for range c.retry.Attempts {
				if found, exists, lerr := c.Lookup(ctx, id); lerr == nil && exists {
					co = found
					return nil
				}
			}
		}
		return err
	})
	return co, err
}

// Changes are what an update writes: only what is set is sent.
type Changes struct {
	Name        string  // "" leaves the name as it is
	Description *string // nil leaves the description as it is
	Settings    Settings
}

// Update writes changes to a company and returns the company as the server has it
// afterwards. A value outside the field table makes the server refuse the whole update.
func (c *Client) Update(ctx context.Context, id string, ch Changes) (Company, error) {
	values := make(map[string]json.RawMessage, ch.Settings.Len()+2)
	for name, v := range ch.Settings.All() {
		b, err := v.Reveal().MarshalJSON() // the request carries a secret's real text
		if err != nil {
			return Company{}, fmt.Errorf("update of %q: field %s: %w", id, name, err)
		}
		values[name] = b
		if v.IsSensitive() || IsSecret(name) {
			c.redact.secret(v.Text()) // "" for a boolean or null: nothing to hide
			if v.Kind() == KindOther {
				c.redact.secret(string(b))
			}
		}
	}
	if ch.Name != "" {
		values["name"] = jsonString(ch.Name)
	}
	if ch.Description != nil {
		values["description"] = jsonString(*ch.Description)
	}
	resp, err := c.call(ctx, "update", id, Request{Scope: &Scope{Company: id}, Values: values}, true)
	if err != nil {
		return Company{}, err
	}
	return only(resp, "update", id)
}

// Delete deletes a company, sending the request exactly once (see Create); use
// DeleteConfirmed to read back after a lost answer.
func (c *Client) Delete(ctx context.Context, id string) error {
	_, err := c.call(ctx, "delete", id, Request{Scope: &Scope{Company: id}}, false)
	return err
}

// DeleteConfirmed deletes a company and, when an answer is lost, reads back before
// sending again: an absent company counts as deleted.
func (c *Client) DeleteConfirmed(ctx context.Context, id string) error {
	return c.retrying(ctx, "delete", id, retryable, func(attempt int) error {
		if attempt > 1 { // the answer before was lost: did the delete take effect?
			_, exists, err := c.Lookup(ctx, id)
			if err != nil {
				return &retriedError{fmt.Errorf("after a lost answer: %w", err)}
			}
			if !exists {
				return nil
			}
		}
		return c.Delete(ctx, id)
	})
}

// ReadContainer reads the container that holds the company, with its members.
func (c *Client) ReadContainer(ctx context.Context, company string) (Container, error) {
	return c.readContainer(ctx, company, Scope{Company: company})
}

// ReadContainerNamed reads a container by its name.
func (c *Client) ReadContainerNamed(ctx context.Context, name string) (Container, error) {
	return c.readContainer(ctx, name, Scope{Container: name})
}

func (c *Client) readContainer(ctx context.Context, subject string, scope Scope) (Container, error) {
	resp, err := c.call(ctx, "readContainer", subject, Request{Scope: &scope}, true)
	if err != nil {
		return Container{}, err
	}
	all := resp.containers()
	if len(all) != 1 {
		return Container{}, malformed("readContainer", subject, fmt.Errorf("the answer holds %d containers, not one", len(all)))
	}
	return all[0], nil
}

// Group moves mover into the container of target. It returns the server's
// containermoves, which pbxsync does not trust: read back to know what happened.
func (c *Client) Group(ctx context.Context, mover, target string) (int, error) {
	resp, err := c.call(ctx, "group", mover, Request{
		Scope:  &Scope{Company: mover},
		Values: map[string]json.RawMessage{"company": jsonString(target)},
	}, true)
	if err != nil {
		return 0, err
	}
	return moves(resp), nil
}

// Ungroup gives the company a container of its own.
func (c *Client) Ungroup(ctx context.Context, id string) (int, error) {
	resp, err := c.call(ctx, "ungroup", id, Request{Scope: &Scope{Company: id}}, true)
	if err != nil {
		return 0, err
	}
	return moves(resp), nil
}

func moves(r *Response) int {
	if r.ContainerMoves == nil {
		return 0
	}
	return *r.ContainerMoves
}

// only returns the one company an answer about id must hold.
func only(resp *Response, verb, id string) (Company, error) {
	for _, co := range resp.companies() {
		if co.ID == id {
			return co, nil
		}
	}
	return Company{}, malformed(verb, id, errors.New("the answer does not hold the company"))
}

func malformed(verb, company string, err error) error {
	return &TransportError{Verb: verb, Company: company, Status: 200, Err: fmt.Errorf("unexpected answer: %w", err)}
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}
