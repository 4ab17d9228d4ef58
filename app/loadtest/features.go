package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// keyRules are IAM rules that every benchmark request passes, so that rule
// evaluation runs on the hot path as in production.
var keyRules = []string{
	`{"ruleType":"allow_models","ruleValue":{"models":["gpt-4o-mini","gpt-4o","gpt-4.1-mini"]}}`,
	`{"ruleType":"deny_providers","ruleValue":{"providers":["openrouter"]}}`,
	`{"ruleType":"allow_pricing","ruleValue":{"maxInputPrice":100,"maxOutputPrice":100}}`,
	`{"ruleType":"allow_ip_cidrs","ruleValue":{"ipCidrs":["127.0.0.0/8","::1/128"]}}`,
}

// keyLimits are limits no benchmark reaches, so their bookkeeping runs too.
const keyLimits = `{"usageLimit":"1000000","rateLimitRpm":10000000,"rateLimitTpm":2000000000}`

// configureKey turns on the key's limits and IAM rules through the gateway's
// master API. It returns what it switched on; a gateway without a master API
// (an older checkout) is not an error.
func configureKey(base, masterKey string) (string, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	call := func(method, path, body string) ([]byte, int, error) {
		req, err := http.NewRequest(method, base+"/v1/master"+path, strings.NewReader(body))
		if err != nil {
			return nil, 0, err
		}
		req.Header.Set("Authorization", "Bearer "+masterKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			return nil, 0, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return b, resp.StatusCode, err
	}
	b, status, err := call("GET", "/keys", "")
	if err != nil {
		return "", err
	}
	if status == http.StatusNotFound {
		return "no master API in this build: key limits and IAM rules off", nil
	}
	var list struct {
		APIKeys []struct {
			ID string `json:"id"`
		} `json:"apiKeys"`
	}
	if status != http.StatusOK || json.Unmarshal(b, &list) != nil || len(list.APIKeys) != 1 {
		return "", fmt.Errorf("master API GET /keys: HTTP %d: %s", status, b)
	}
	id := list.APIKeys[0].ID
	if b, status, err = call("PATCH", "/keys/"+id, keyLimits); err != nil || status != http.StatusOK {
		return "", fmt.Errorf("master API PATCH /keys/%s: HTTP %d: %s %v", id, status, bytes.TrimSpace(b), err)
	}
	for _, r := range keyRules {
		if b, status, err = call("POST", "/keys/"+id+"/iam", r); err != nil || status != http.StatusCreated {
			return "", fmt.Errorf("master API POST /keys/%s/iam: HTTP %d: %s %v", id, status, bytes.TrimSpace(b), err)
		}
	}
	return fmt.Sprintf("key limits (usage, RPM, TPM; never reached) and %d IAM rules (models, providers, pricing, IP ranges) on", len(keyRules)), nil
}
