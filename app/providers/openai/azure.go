package openai

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/llmgw/gateway/app/providers"
)

// AzureAPIVersion is the api-version NewAzure uses when given none: the
// latest generally available version of the Azure OpenAI data plane API
// that supports stream_options (usage in streams).
const AzureAPIVersion = "2024-10-21"

// NewAzure returns an adapter for Azure OpenAI, which serves OpenAI's wire
// format at other URLs and with another header:
//
//	POST {BaseURL}/openai/deployments/{Model}/chat/completions?api-version={apiVersion}
//	POST {BaseURL}/openai/deployments/{Model}/embeddings?api-version={apiVersion}
//	api-key: {APIKey}
//
// The Target's BaseURL is the resource endpoint (https://{resource}.openai.azure.com;
// a trailing /openai is tolerated) and its Model the deployment name. Bodies,
// streams and errors are handled exactly as for OpenAI: Azure's stream
// chunks without choices (prompt_filter_results, sent before the content)
// come through as chunks with no choices, which carry nothing. An empty
// apiVersion means AzureAPIVersion. client is as for New.
func NewAzure(client *http.Client, apiVersion string) *Provider {
	if apiVersion == "" {
		apiVersion = AzureAPIVersion
	}
	p := New(client)
	p.azureVersion = apiVersion
	return p
}

// azureEndpoint maps an OpenAI path (/v1/chat/completions) to the deployment's.
func azureEndpoint(t providers.Target, path, version string) string {
	base := strings.TrimSuffix(strings.TrimRight(t.BaseURL, "/"), "/openai")
	return base + "/openai/deployments/" + url.PathEscape(t.Model) + strings.TrimPrefix(path, "/v1") +
		"?api-version=" + url.QueryEscape(version)
}
