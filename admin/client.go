package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/odatagw/odatagw/admin/registry"
	"github.com/odatagw/odatagw/metadata/salesforce"
	"github.com/odatagw/odatagw/odata/shapes"
)

// Client talks to a gateway's admin API; `odatagw source` uses it.
type Client struct {
	BaseURL string // e.g. http://127.0.0.1:8081
	Token   string
	HTTP    *http.Client
}

// APIError is an error answer of the admin API (the OData error body:
// Target names the input at fault).
type APIError struct {
	Status  int
	Code    string `json:"code"`
	Target  string `json:"target"`
	Message string `json:"message"`
}

func (e *APIError) Error() string {
	if e.Target != "" {
		return fmt.Sprintf("%s: %s", e.Target, e.Message)
	}
	return e.Message
}

func (c *Client) do(ctx context.Context, method, path string, body any, ifMatch string, out any) (string, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return "", err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, rd)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 2 * time.Minute}
	}
	res, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("the admin API at %s does not answer: %w", c.BaseURL, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if res.StatusCode >= 300 {
		var wrap struct {
			Error APIError `json:"error"`
		}
		if json.Unmarshal(raw, &wrap) != nil || wrap.Error.Message == "" {
			wrap.Error.Message = fmt.Sprintf("the admin API answered %s", res.Status)
		}
		wrap.Error.Status = res.StatusCode
		return "", &wrap.Error
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return "", fmt.Errorf("reading the admin API's answer: %w", err)
		}
	}
	return res.Header.Get("ETag"), nil
}

func sourcePath(name string) string { return "/api/sources/" + url.PathEscape(name) }

// List lists the sources with their status.
func (c *Client) List(ctx context.Context) ([]Status, error) {
	var out struct {
		Sources []Status `json:"sources"`
	}
	_, err := c.do(ctx, http.MethodGet, "/api/sources", nil, "", &out)
	return out.Sources, err
}

// Get returns one source and its ETag.
func (c *Client) Get(ctx context.Context, name string) (Status, string, error) {
	var st Status
	etag, err := c.do(ctx, http.MethodGet, sourcePath(name), nil, "", &st)
	return st, etag, err
}

// Create adds a source.
func (c *Client) Create(ctx context.Context, src registry.Source) (registry.Source, error) {
	var out registry.Source
	_, err := c.do(ctx, http.MethodPost, "/api/sources", src, "", &out)
	return out, err
}

// Update replaces a source; etag, when set, must match the stored one.
func (c *Client) Update(ctx context.Context, src registry.Source, etag string) (registry.Source, error) {
	var out registry.Source
	_, err := c.do(ctx, http.MethodPut, sourcePath(src.Name), src, etag, &out)
	return out, err
}

// Delete removes a source.
func (c *Client) Delete(ctx context.Context, name, etag string) error {
	_, err := c.do(ctx, http.MethodDelete, sourcePath(name), nil, etag, nil)
	return err
}

// Test checks a source without saving it.
func (c *Client) Test(ctx context.Context, src registry.Source) (salesforce.Report, error) {
	var rep salesforce.Report
	_, err := c.do(ctx, http.MethodPost, "/api/test", src, "", &rep)
	return rep, err
}

// Reload reads a source's schema again.
func (c *Client) Reload(ctx context.Context, name string) (map[string]any, error) {
	var out map[string]any
	_, err := c.do(ctx, http.MethodPost, sourcePath(name)+"/reload", nil, "", &out)
	return out, err
}

// Report is a served source's compatibility report.
func (c *Client) Report(ctx context.Context, name string) (salesforce.Report, error) {
	var rep salesforce.Report
	_, err := c.do(ctx, http.MethodGet, sourcePath(name)+"/report", nil, "", &rep)
	return rep, err
}

// UserAnswer is a user as the API answers it, with a new token once.
type UserAnswer struct {
	registry.User
	Token string `json:"token,omitempty"`
}

// Users lists the gateway's users.
func (c *Client) Users(ctx context.Context) ([]registry.User, error) {
	var out struct {
		Users []registry.User `json:"users"`
	}
	_, err := c.do(ctx, http.MethodGet, "/api/users", nil, "", &out)
	return out.Users, err
}

// AddUser adds a user: kind "password" with password, or "token".
func (c *Client) AddUser(ctx context.Context, name, kind, password, role string) (UserAnswer, error) {
	var out UserAnswer
	_, err := c.do(ctx, http.MethodPost, "/api/users", map[string]any{"name": name, "kind": kind, "password": password, "role": role}, "", &out)
	return out, err
}

// UpdateUser sets a user's role and, when given, password; rotate gives a
// token user a new token.
func (c *Client) UpdateUser(ctx context.Context, name, role, password string, rotate bool) (UserAnswer, error) {
	var out UserAnswer
	_, err := c.do(ctx, http.MethodPut, "/api/users/"+url.PathEscape(name), map[string]any{"role": role, "password": password, "rotate_token": rotate}, "", &out)
	return out, err
}

// RemoveUser removes a user.
func (c *Client) RemoveUser(ctx context.Context, name string) error {
	_, err := c.do(ctx, http.MethodDelete, "/api/users/"+url.PathEscape(name), nil, "", nil)
	return err
}

// LoginLink asks for a sign-in link to the admin page: it works once,
// within ten minutes, and opens a browser session.
func (c *Client) LoginLink(ctx context.Context) (string, error) {
	var out struct {
		URL string `json:"url"`
	}
	_, err := c.do(ctx, http.MethodPost, "/api/login-codes", nil, "", &out)
	return out.URL, err
}

// AgentAnswer is an agent with its token, shown once.
type AgentAnswer struct {
	Agent registry.Agent `json:"agent"`
	Token string         `json:"token"`
}

// Agents lists the registered agents and their tunnels.
func (c *Client) Agents(ctx context.Context) ([]AgentInfo, error) {
	var out struct {
		Agents []AgentInfo `json:"agents"`
	}
	_, err := c.do(ctx, http.MethodGet, "/api/agents", nil, "", &out)
	return out.Agents, err
}

// AddAgent registers an agent; the answer holds its token, once.
func (c *Client) AddAgent(ctx context.Context, name string) (AgentAnswer, error) {
	var out AgentAnswer
	_, err := c.do(ctx, http.MethodPost, "/api/agents", map[string]string{"name": name}, "", &out)
	return out, err
}

// RotateAgent gives an agent a new token, once; the old one stops working.
func (c *Client) RotateAgent(ctx context.Context, name string) (AgentAnswer, error) {
	var out AgentAnswer
	_, err := c.do(ctx, http.MethodPost, "/api/agents/"+url.PathEscape(name)+"/rotate", nil, "", &out)
	return out, err
}

// RemoveAgent unregisters an agent and cuts its tunnels.
func (c *Client) RemoveAgent(ctx context.Context, name string) error {
	_, err := c.do(ctx, http.MethodDelete, "/api/agents/"+url.PathEscape(name), nil, "", nil)
	return err
}

// IndexAdvice is the indexes a served source's traffic needs, ranked.
func (c *Client) IndexAdvice(ctx context.Context, name string) ([]RankedAdvice, error) {
	var out struct {
		Indexes []RankedAdvice `json:"indexes"`
	}
	_, err := c.do(ctx, http.MethodGet, "/api/sources/"+url.PathEscape(name)+"/index-advice", nil, "", &out)
	return out.Indexes, err
}

// Shapes are a served source's request shapes, the costliest first.
func (c *Client) Shapes(ctx context.Context, name string) ([]shapes.Entry, error) {
	var out struct {
		Shapes []shapes.Entry `json:"shapes"`
	}
	_, err := c.do(ctx, http.MethodGet, "/api/sources/"+url.PathEscape(name)+"/shapes", nil, "", &out)
	return out.Shapes, err
}
