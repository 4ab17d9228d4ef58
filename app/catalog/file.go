package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"gopkg.in/yaml.v3"
)

// The YAML shape shared by the embedded models.yaml and GATEWAY_MODELS_FILE.
// These types are only the wire form; compile.go turns them into the exported
// types after validation.

type fileDoc struct {
	Providers []fileProvider `yaml:"providers"`
	Models    []fileModel    `yaml:"models"`
}

type fileProvider struct {
	ID      string `yaml:"id"`
	Name    string `yaml:"name"`
	Kind    string `yaml:"kind"`
	BaseURL string `yaml:"baseUrl"`
	APIKey  string `yaml:"apiKey"`
	// Priority is a pointer: absent means 1, an explicit 0 disables.
	Aliases      []string     `yaml:"aliases"`
	Priority     *float64     `yaml:"priority"`
	Operator     string       `yaml:"operator"`
	Jurisdiction string       `yaml:"jurisdiction"`
	Regions      []fileRegion `yaml:"regions"`
}

type fileRegion struct {
	ID           string `yaml:"id"`
	Jurisdiction string `yaml:"jurisdiction"`
	BaseURL      string `yaml:"baseUrl"`
}

type fileModel struct {
	ID            string `yaml:"id"`
	Name          string `yaml:"name"`
	OwnedBy       string `yaml:"ownedBy"`
	Created       int64  `yaml:"created"`
	ContextLength int    `yaml:"contextLength"`
	MaxOutput     int    `yaml:"maxOutput"`
	// A pointer so that "capabilities: []" (none) differs from an absent key
	// (inherit on override, permissive default for a new file model).
	Capabilities  *[]string   `yaml:"capabilities"`
	Providers     []fileOffer `yaml:"providers"`
	Status        string      `yaml:"status"`
	AllowedEmails []string    `yaml:"allowedEmails"`
	AllowedOrgs   []string    `yaml:"allowedOrgs"`
}

// Price fields are raw nodes: prices are converted exactly from their source
// text (parseDecimal), which a float64 field would already have rounded, and a
// node also tells an explicit null ("inputPrice:") from an absent key.
type fileOffer struct {
	Provider         string    `yaml:"provider"`
	Model            string    `yaml:"model"`
	InputPrice       yaml.Node `yaml:"inputPrice"`
	CachedInputPrice yaml.Node `yaml:"cachedInputPrice"`
	CacheWritePrice  yaml.Node `yaml:"cacheWritePrice"`
	OutputPrice      yaml.Node `yaml:"outputPrice"`
	RequestPrice     yaml.Node `yaml:"requestPrice"`
	Free             bool      `yaml:"free"`
	ContextLength    int       `yaml:"contextLength"`
	MaxOutput        int       `yaml:"maxOutput"`
	Regions          []string  `yaml:"regions"`
}

// parseDoc decodes one YAML document strictly: unknown keys are errors so that
// a typo ("inputprice") cannot silently leave a price unknown. Empty input is an
// empty document.
func parseDoc(data []byte) (doc *fileDoc, err error) {
	// yaml.v3 reports some malformed input by panicking internally; a models
	// file reloaded on SIGHUP must never take the server down.
	defer func() {
		if r := recover(); r != nil {
			doc, err = nil, fmt.Errorf("invalid YAML: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	doc = &fileDoc{}
	if err := dec.Decode(doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &fileDoc{}, nil
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one YAML document")
	}
	return doc, nil
}
