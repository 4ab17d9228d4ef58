package master

import (
	"errors"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/llmgw/gateway/app/apierr"
	"github.com/llmgw/gateway/app/provision"
	"github.com/llmgw/gateway/models"
)

// providerKeyView is a provider key as listed: masked, never the secret.
type providerKeyView struct {
	ID        string    `json:"id"`
	Provider  string    `json:"provider"`
	Name      string    `json:"name"`
	BaseURL   string    `json:"baseUrl,omitempty"`
	Token     string    `json:"token"` // masked
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func viewProviderKey(k *models.ProviderKey) providerKeyView {
	return providerKeyView{k.ID, k.Provider, k.Name, k.BaseURL, k.MaskedKey, k.Status, k.CreatedAt, k.UpdatedAt}
}

// listProviderKeys serves GET /v1/master/provider-keys.
func (a *API) listProviderKeys(c *fiber.Ctx) error {
	var rows []models.ProviderKey
	if err := a.DB.WithContext(c.UserContext()).Where("organization_id = ? AND status <> ?", org(c), "deleted").
		Order("created_at, id").Find(&rows).Error; err != nil {
		return apierr.Internal("Could not list provider keys.")
	}
	out := make([]providerKeyView, len(rows))
	for i := range rows {
		out[i] = viewProviderKey(&rows[i])
	}
	return c.JSON(fiber.Map{"providerKeys": out})
}

// createProviderKey serves POST /v1/master/provider-keys
// ({"provider","token","name"?,"baseUrl"?}): the organization's own key for a
// provider, encrypted at rest, used per its projects' mode.
func (a *API) createProviderKey(c *fiber.Ctx) error {
	b, err := parseBody(c.Body())
	if err != nil {
		return err
	}
	if err := b.only("provider", "token", "name", "baseUrl"); err != nil {
		return err
	}
	provider, err := b.str("provider", 1, 64)
	if err != nil {
		return err
	}
	token, err := b.str("token", 1, 4096)
	if err != nil {
		return err
	}
	name, err := b.str("name", 0, 255)
	if err != nil {
		return err
	}
	base, err := b.str("baseUrl", 0, 2048)
	if err != nil {
		return err
	}
	if !provider.Set || !token.Set {
		return bad("provider", "'provider' and 'token' are required.")
	}
	if a.Catalog != nil {
		if _, ok := a.Catalog().Provider(provider.V); !ok {
			return bad("provider", "Unknown provider '%s'.", provider.V)
		}
	}
	if base.V != "" {
		if u, err := url.Parse(base.V); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return bad("baseUrl", "'baseUrl' must be an http(s) URL.")
		}
	}
	k, err := a.Prov.AddProviderKey(c.UserContext(), org(c), actor(c), provider.V, name.V, base.V, token.V)
	if err != nil {
		return apierr.Internal("Could not store the provider key.")
	}
	a.providerKeysChanged()
	return c.Status(fiber.StatusCreated).JSON(viewProviderKey(k))
}

// updateProviderKey serves PATCH /v1/master/provider-keys/{id} ({"status"}).
func (a *API) updateProviderKey(c *fiber.Ctx) error {
	b, err := parseBody(c.Body())
	if err != nil {
		return err
	}
	if err := b.only("status"); err != nil {
		return err
	}
	st, err := b.enum("status", "active", "inactive")
	if err != nil {
		return err
	}
	if !st.Set {
		return bad("status", "'status' is required.")
	}
	return a.changedProviderKey(c, a.Prov.SetProviderKeyStatus(c.UserContext(), org(c), c.Params("id"), st.V, actor(c)))
}

// deleteProviderKey serves DELETE /v1/master/provider-keys/{id}.
func (a *API) deleteProviderKey(c *fiber.Ctx) error {
	return a.changedProviderKey(c, a.Prov.DeleteProviderKey(c.UserContext(), org(c), c.Params("id"), actor(c)))
}

func (a *API) changedProviderKey(c *fiber.Ctx, err error) error {
	if errors.Is(err, provision.ErrNotFound) {
		return apierr.NotFound("Provider key not found")
	}
	if err != nil {
		return apierr.Internal("Could not update the provider key.")
	}
	a.providerKeysChanged()
	var k models.ProviderKey
	if err := a.DB.WithContext(c.UserContext()).Where("id = ? AND organization_id = ?", c.Params("id"), org(c)).Take(&k).Error; err != nil {
		return apierr.Internal("Could not read the provider key.")
	}
	return c.JSON(viewProviderKey(&k))
}

// providerKeysChanged reloads the in-memory organization keys at once here
// (other instances: their poll) and tells other instances.
func (a *API) providerKeysChanged() {
	if a.OnProviderKeys != nil {
		a.OnProviderKeys()
	}
	if a.Prov != nil && a.Prov.Notify != nil {
		a.Prov.Notify()
	}
}
