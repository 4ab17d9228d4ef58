package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// call makes a management request with a master key and decodes the JSON answer.
func (h *harness) call(method, path, masterKey, body string) (int, map[string]any) {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if masterKey != "" {
		req.Header.Set("Authorization", "Bearer "+masterKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		h.t.Fatalf("%s %s: not JSON (%d): %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode, out
}

// chatWith sends a chat request with token and returns the status.
func (h *harness) chatWith(token, model string, headers ...string) (int, map[string]any) {
	h.t.Helper()
	resp := h.post("/v1/chat/completions", `{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`,
		append([]string{"Authorization", "Bearer " + token}, headers...)...)
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

func errMsg(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

func errParam(m map[string]any) any {
	e, _ := m["error"].(map[string]any)
	return e["param"]
}

func TestMasterAPIProjectsAndKeys(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		h := startGateway(t, dialect, nil)
		mk := h.setup.MasterKey

		// Authentication.
		for _, tok := range []string{"", "llmgmk_wrong", h.setup.APIKey} {
			if st, _ := h.call("GET", "/v1/master/projects", tok, ""); st != 401 {
				t.Errorf("master auth with %q: %d", tok, st)
			}
		}

		// Projects.
		st, p := h.call("POST", "/v1/master/projects", mk, `{"name":"Customer ACME"}`)
		if st != 201 || p["mode"] != "hybrid" || p["cacheDurationSeconds"] != 60.0 || p["cachingEnabled"] != false || p["status"] != "active" {
			t.Fatalf("create project: %d %v", st, p)
		}
		pid := p["id"].(string)
		for body, param := range map[string]string{
			`{}`: "name", `{"name":""}`: "name", `{"name":"x","mode":"free"}`: "mode",
			`{"name":"x","cacheDurationSeconds":5}`: "cacheDurationSeconds", `{"name":"x","bogus":1}`: "bogus",
		} {
			if st, e := h.call("POST", "/v1/master/projects", mk, body); st != 400 || errParam(e) != param {
				t.Errorf("create project %s: %d %v", body, st, e)
			}
		}
		if st, e := h.call("POST", "/v1/master/projects", mk, `{"name":`); st != 400 || e["error"].(map[string]any)["code"] != "invalid_json" {
			t.Errorf("bad json: %d %v", st, e)
		}
		if st, _ := h.call("PATCH", "/v1/master/projects/"+pid, mk, `{}`); st != 400 {
			t.Errorf("empty patch: %d", st)
		}
		if st, p := h.call("PATCH", "/v1/master/projects/"+pid, mk, `{"name":"Renamed","cachingEnabled":true}`); st != 200 || p["name"] != "Renamed" || p["cachingEnabled"] != true {
			t.Errorf("patch project: %d %v", st, p)
		}
		if st, l := h.call("GET", "/v1/master/projects", mk, ""); st != 200 || len(l["projects"].([]any)) != 2 {
			t.Errorf("list projects: %d %v", st, l)
		}

		// Keys.
		st, k := h.call("POST", "/v1/master/keys", mk, `{"projectId":"`+pid+`","description":"ACME prod","usageLimit":"100.00"}`)
		if st != 201 {
			t.Fatalf("create key: %d %v", st, k)
		}
		key := k["apiKey"].(map[string]any)
		token, kid := key["token"].(string), key["id"].(string)
		if !strings.HasPrefix(token, "llmgtwy_") || key["usageLimit"] != "100.00" || key["projectId"] != pid || key["status"] != "active" {
			t.Fatalf("key = %v", key)
		}
		if st, _ := h.chatWith(token, "test/echo"); st != 200 {
			t.Fatalf("new key refused: %d", st)
		}
		if st, k := h.call("GET", "/v1/master/keys/"+kid, mk, ""); st != 200 || k["apiKey"].(map[string]any)["token"] != nil {
			t.Errorf("get key shows the token or fails: %d %v", st, k)
		}
		if st, e := h.call("POST", "/v1/master/keys", mk, `{"projectId":"`+pid+`","description":"x","periodUsageLimit":"5"}`); st != 400 || errParam(e) != "periodUsageDurationValue" {
			t.Errorf("period limit without window: %d %v", st, e)
		}
		if st, e := h.call("POST", "/v1/master/keys", mk, `{"projectId":"`+pid+`","description":"x","usageLimit":"-5"}`); st != 400 || errParam(e) != "usageLimit" {
			t.Errorf("negative limit: %d %v", st, e)
		}
		if st, k := h.call("PATCH", "/v1/master/keys/"+kid, mk, `{"usageLimit":null,"periodUsageLimit":"10","periodUsageDurationValue":1,"periodUsageDurationUnit":"day"}`); st != 200 ||
			k["apiKey"].(map[string]any)["usageLimit"] != nil || k["apiKey"].(map[string]any)["periodUsageLimit"] != "10.00" {
			t.Errorf("patch limits: %d %v", st, k)
		}
		if st, _ := h.call("PATCH", "/v1/master/keys/"+kid, mk, `{"status":"inactive"}`); st != 200 {
			t.Fatal("deactivate")
		}
		if st, _ := h.chatWith(token, "test/echo"); st != 401 {
			t.Errorf("inactive key: %d", st)
		}
		h.call("PATCH", "/v1/master/keys/"+kid, mk, `{"status":"active"}`)

		// Roll: the old token dies at once, the new one works.
		st, r := h.call("POST", "/v1/master/keys/"+kid+"/roll", mk, "")
		newToken, _ := r["apiKey"].(map[string]any)["token"].(string)
		if st != 200 || newToken == "" || newToken == token {
			t.Fatalf("roll: %d %v", st, r)
		}
		if st, _ := h.chatWith(token, "test/echo"); st != 401 {
			t.Errorf("old token after roll: %d", st)
		}
		if st, _ := h.chatWith(newToken, "test/echo"); st != 200 {
			t.Errorf("new token after roll: %d", st)
		}

		// Another organization sees none of this: 404.
		other, err := h.prov.Setup(context.Background(), "other@example.com")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ m, p string }{{"PATCH", "/v1/master/projects/" + pid}, {"DELETE", "/v1/master/projects/" + pid},
			{"GET", "/v1/master/keys/" + kid}, {"PATCH", "/v1/master/keys/" + kid}, {"DELETE", "/v1/master/keys/" + kid}, {"GET", "/v1/master/keys/" + kid + "/iam"}} {
			if st, _ := h.call(c.m, c.p, other.MasterKey, `{"status":"inactive"}`); st != 404 {
				t.Errorf("%s %s from another org: %d", c.m, c.p, st)
			}
		}
		if st, _ := h.call("POST", "/v1/master/keys", other.MasterKey, `{"projectId":"`+pid+`","description":"x"}`); st != 404 {
			t.Errorf("key in another org's project: %d", st)
		}

		// Deleting the project deletes its keys.
		if st, m := h.call("DELETE", "/v1/master/projects/"+pid, mk, ""); st != 200 || m["message"] != "Project deleted successfully" {
			t.Fatalf("delete project: %d %v", st, m)
		}
		if st, _ := h.chatWith(newToken, "test/echo"); st != 401 {
			t.Errorf("key of a deleted project: %d", st)
		}
		if st, _ := h.call("GET", "/v1/master/keys/"+kid, mk, ""); st != 404 {
			t.Errorf("deleted key still visible: %d", st)
		}
	})
}

func TestKeyExpiry(t *testing.T) {
	forEachDialect(t, testKeyExpiry)
}

func testKeyExpiry(t *testing.T, dialect string) {
	h := startGateway(t, dialect, nil)
	mk := h.setup.MasterKey
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	if st, e := h.call("POST", "/v1/master/keys", mk, `{"projectId":"`+h.setup.ProjectID+`","description":"x","expiresAt":"`+past+`"}`); st != 400 || errParam(e) != "expiresAt" {
		t.Fatalf("past expiry: %d %v", st, e)
	}
	soon := time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	_, k := h.call("POST", "/v1/master/keys", mk, `{"projectId":"`+h.setup.ProjectID+`","description":"short","expiresAt":"`+soon+`"}`)
	key := k["apiKey"].(map[string]any)
	token, kid := key["token"].(string), key["id"].(string)
	if st, _ := h.chatWith(token, "test/echo"); st != 200 {
		t.Fatalf("before expiry: %d", st)
	}
	time.Sleep(1600 * time.Millisecond)
	if st, e := h.chatWith(token, "test/echo"); st != 401 || !strings.Contains(errMsg(e), "expired") {
		t.Fatalf("after expiry: %d %v", st, e)
	}
	// The background job marks it inactive (run now rather than waiting for its tick).
	if n, err := h.srv.Prov.ExpireKeys(t.Context(), time.Now()); err != nil || n != 1 {
		t.Fatalf("expiry job: %d %v", n, err)
	}
	if _, g := h.call("GET", "/v1/master/keys/"+kid, mk, ""); g["apiKey"].(map[string]any)["status"] != "inactive" {
		t.Fatalf("expired key not marked inactive: %v", g)
	}
	if _, a := h.call("GET", "/v1/master/audit-logs?action=api_key.update_status&resourceId="+kid, mk, ""); len(a["auditLogs"].([]any)) != 1 {
		t.Fatalf("expiry not audited: %v", a)
	}
	if st, e := h.call("PATCH", "/v1/master/keys/"+kid, mk, `{"status":"active"}`); st != 400 || errParam(e) != "expiresAt" {
		t.Fatalf("reactivation without new expiry: %d %v", st, e)
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if st, _ := h.call("PATCH", "/v1/master/keys/"+kid, mk, `{"status":"active","expiresAt":"`+future+`"}`); st != 200 {
		t.Fatalf("reactivation with new expiry: %d", st)
	}
	if st, _ := h.chatWith(token, "test/echo"); st != 200 {
		t.Fatalf("reactivated key: %d", st)
	}
}

func TestIAMRulesEnforced(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		h := startGateway(t, dialect, nil)
		mk := h.setup.MasterKey
		_, k := h.call("POST", "/v1/master/keys", mk, `{"projectId":"`+h.setup.ProjectID+`","description":"iam"}`)
		key := k["apiKey"].(map[string]any)
		token, kid := key["token"].(string), key["id"].(string)
		iamPath := "/v1/master/keys/" + kid + "/iam"

		st, r := h.call("POST", iamPath, mk, `{"ruleType":"allow_models","ruleValue":{"models":["openai/gpt-4o-mini","test/echo"]}}`)
		if st != 201 || r["status"] != "active" || r["apiKeyId"] != kid {
			t.Fatalf("create rule: %d %v", st, r)
		}
		ruleID := r["id"].(string)
		if st, e := h.chatWith(token, "gpt-4o"); st != 403 || errMsg(e) != "Access denied: Model gpt-4o is not in the allowed models list" ||
			e["error"].(map[string]any)["code"] != "permission_denied" {
			t.Fatalf("denied model: %d %v", st, e)
		}
		if st, _ := h.chatWith(token, "gpt-4o-mini"); st != 200 {
			t.Fatalf("allowed model: %d", st)
		}
		// Invalid rules are 400 at creation.
		for body, param := range map[string]string{
			`{"ruleType":"allow_ip_cidrs","ruleValue":{"ipCidrs":["10.0.0.0/99"]}}`: "ruleValue.ipCidrs[0]",
			`{"ruleType":"allow_everything","ruleValue":{}}`:                        "ruleType",
			`{"ruleType":"allow_pricing","ruleValue":{"pricingType":"cheap"}}`:      "ruleValue.pricingType",
		} {
			if st, e := h.call("POST", iamPath, mk, body); st != 400 || errParam(e) != param {
				t.Errorf("invalid rule %s: %d %v", body, st, e)
			}
		}
		// IP rules: the test client connects from 127.0.0.1.
		st, ipr := h.call("POST", iamPath, mk, `{"ruleType":"allow_ip_cidrs","ruleValue":{"ipCidrs":["10.0.0.0/8","2001:db8::/32"]}}`)
		if st != 201 {
			t.Fatalf("ip rule: %d %v", st, ipr)
		}
		if st, e := h.chatWith(token, "gpt-4o-mini", "X-Forwarded-For", "10.1.2.3"); st != 403 || !strings.Contains(errMsg(e), "127.0.0.1") {
			t.Fatalf("ip rule (forged X-Forwarded-For from an untrusted peer must be ignored): %d %v", st, e)
		}
		if st, r := h.call("PATCH", iamPath+"/"+ipr["id"].(string), mk, `{"status":"inactive"}`); st != 200 || r["status"] != "inactive" {
			t.Fatalf("deactivate rule: %d %v", st, r)
		}
		if st, _ := h.chatWith(token, "gpt-4o-mini"); st != 200 {
			t.Fatalf("inactive ip rule still applied: %d", st)
		}
		if st, l := h.call("GET", iamPath, mk, ""); st != 200 || len(l["rules"].([]any)) != 2 {
			t.Fatalf("list rules: %d %v", st, l)
		}
		if st, m := h.call("DELETE", iamPath+"/"+ruleID, mk, ""); st != 200 || m["message"] != "IAM rule deleted successfully" {
			t.Fatalf("delete rule: %d %v", st, m)
		}
		if st, _ := h.chatWith(token, "gpt-4o"); st != 200 {
			t.Fatalf("deleted rule still applied: %d", st)
		}
		// Provider rules restrict where a root id is routed.
		h.call("POST", iamPath, mk, `{"ruleType":"deny_providers","ruleValue":{"providers":["openai"]}}`)
		if st, e := h.chatWith(token, "gpt-4o"); st != 403 || !strings.Contains(errMsg(e), "Provider openai") {
			t.Fatalf("deny provider: %d %v", st, e)
		}
		if st, _ := h.call("DELETE", iamPath+"/iam_nope", mk, ""); st != 404 {
			t.Errorf("delete unknown rule: %d", st)
		}
	})
}

func TestTrustedProxyForwardedFor(t *testing.T) { forEachDialect(t, testTrustedProxyForwardedFor) }

func testTrustedProxyForwardedFor(t *testing.T, dialect string) {
	h := startGateway(t, dialect, map[string]string{"GATEWAY_TRUSTED_PROXIES": "127.0.0.1/32"})
	mk := h.setup.MasterKey
	_, k := h.call("POST", "/v1/master/keys", mk, `{"projectId":"`+h.setup.ProjectID+`","description":"ip"}`)
	key := k["apiKey"].(map[string]any)
	h.call("POST", "/v1/master/keys/"+key["id"].(string)+"/iam", mk, `{"ruleType":"allow_ip_cidrs","ruleValue":{"ipCidrs":["192.0.2.0/24"]}}`)
	if st, _ := h.chatWith(key["token"].(string), "test/echo", "X-Forwarded-For", "::ffff:192.0.2.9, 10.0.0.1"); st != 200 {
		t.Fatalf("client behind a trusted proxy: %d", st)
	}
	if st, _ := h.chatWith(key["token"].(string), "test/echo", "X-Forwarded-For", "198.51.100.1"); st != 403 {
		t.Fatalf("other client behind a trusted proxy: %d", st)
	}
}

func TestAuditLog(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		h := startGateway(t, dialect, nil)
		mk := h.setup.MasterKey
		_, p := h.call("POST", "/v1/master/projects", mk, `{"name":"Audited"}`)
		pid := p["id"].(string)
		_, k := h.call("POST", "/v1/master/keys", mk, `{"projectId":"`+pid+`","description":"a","usageLimit":"5"}`)
		kid := k["apiKey"].(map[string]any)["id"].(string)
		h.call("PATCH", "/v1/master/keys/"+kid, mk, `{"status":"inactive"}`)
		h.call("PATCH", "/v1/master/keys/"+kid, mk, `{"usageLimit":"7"}`)
		_, r := h.call("POST", "/v1/master/keys/"+kid+"/iam", mk, `{"ruleType":"deny_models","ruleValue":{"models":["gpt-4o"]}}`)
		h.call("PATCH", "/v1/master/keys/"+kid+"/iam/"+r["id"].(string), mk, `{"status":"inactive"}`)
		h.call("DELETE", "/v1/master/keys/"+kid+"/iam/"+r["id"].(string), mk, "")
		h.call("DELETE", "/v1/master/keys/"+kid, mk, "")
		h.call("DELETE", "/v1/master/projects/"+pid, mk, "")

		want := []string{"project.delete", "api_key.delete", "api_key.iam_rule.delete", "api_key.iam_rule.update", "api_key.iam_rule.create",
			"api_key.update_limit", "api_key.update_status", "api_key.create", "project.create"}
		var got []string
		cursor := ""
		pages := 0
		for {
			st, page := h.call("GET", "/v1/master/audit-logs?limit=2&cursor="+cursor, mk, "")
			if st != 200 {
				t.Fatalf("audit page: %d %v", st, page)
			}
			pages++
			for _, e := range page["auditLogs"].([]any) {
				m := e.(map[string]any)
				got = append(got, m["action"].(string))
				if m["actorType"] != "master_key" || m["resourceId"] == "" {
					t.Errorf("audit row = %v", m)
				}
				if strings.Contains(string(mustJSON(m["changes"])), "llmgtwy_") {
					t.Errorf("a secret in the audit log: %v", m)
				}
			}
			next, _ := page["nextCursor"].(string)
			if next == "" {
				break
			}
			cursor = next
		}
		if strings.Join(got, ",") != strings.Join(want, ",") || pages != 5 {
			t.Fatalf("audit actions over %d pages = %v", pages, got)
		}
		_, f := h.call("GET", "/v1/master/audit-logs?action=api_key.update_limit", mk, "")
		if rows := f["auditLogs"].([]any); len(rows) != 1 || !strings.Contains(string(mustJSON(rows[0].(map[string]any)["changes"])), "usageLimit") {
			t.Fatalf("filtered = %v", f)
		}
		_, f = h.call("GET", "/v1/master/audit-logs?resourceType=iam_rule&from=2000-01-01&to=2999-01-01", mk, "")
		if len(f["auditLogs"].([]any)) != 3 {
			t.Fatalf("resource filter = %v", f)
		}
	})
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

// TestEveryRuleTypeThroughTheServer: each rule type allows and refuses as documented.
func TestEveryRuleTypeThroughTheServer(t *testing.T) {
	forEachDialect(t, testEveryRuleTypeThroughTheServer)
}

func testEveryRuleTypeThroughTheServer(t *testing.T, dialect string) {
	h := startGateway(t, dialect, nil)
	mk := h.setup.MasterKey
	cases := []struct {
		rule             string
		allowed, refused string // a model each
	}{
		{`{"ruleType":"allow_models","ruleValue":{"models":["gpt-4o-mini"]}}`, "gpt-4o-mini", "gpt-4o"},
		{`{"ruleType":"deny_models","ruleValue":{"models":["gpt-4o"]}}`, "gpt-4o-mini", "openai/gpt-4o"},
		{`{"ruleType":"allow_providers","ruleValue":{"providers":["test"]}}`, "test/echo", "gpt-4o"},
		{`{"ruleType":"deny_providers","ruleValue":{"providers":["test"]}}`, "gpt-4o", "test/echo"},
		{`{"ruleType":"allow_pricing","ruleValue":{"pricingType":"free"}}`, "test/echo", "gpt-4o-mini"},
		{`{"ruleType":"deny_pricing","ruleValue":{"pricingType":"paid"}}`, "test/echo", "gpt-4o"},
		{`{"ruleType":"allow_pricing","ruleValue":{"maxInputPrice":1,"maxOutputPrice":1}}`, "gpt-4o-mini", "gpt-4o"},
		{`{"ruleType":"deny_pricing","ruleValue":{"maxInputPrice":0.5}}`, "gpt-4o", "gpt-4o-mini"},
		{`{"ruleType":"allow_ip_cidrs","ruleValue":{"ipCidrs":["127.0.0.1/32"]}}`, "gpt-4o", ""},
		{`{"ruleType":"deny_ip_cidrs","ruleValue":{"ipCidrs":["::ffff:127.0.0.0/104","10.0.0.0/8"]}}`, "", "gpt-4o"},
	}
	for _, c := range cases {
		_, k := h.call("POST", "/v1/master/keys", mk, `{"projectId":"`+h.setup.ProjectID+`","description":"rule"}`)
		key := k["apiKey"].(map[string]any)
		if st, r := h.call("POST", "/v1/master/keys/"+key["id"].(string)+"/iam", mk, c.rule); st != 201 {
			t.Fatalf("%s: %d %v", c.rule, st, r)
		}
		if c.allowed != "" {
			if st, e := h.chatWith(key["token"].(string), c.allowed); st != 200 {
				t.Errorf("%s: %s refused: %d %v", c.rule, c.allowed, st, e)
			}
		}
		if c.refused != "" {
			if st, e := h.chatWith(key["token"].(string), c.refused); st != 403 || !strings.HasPrefix(errMsg(e), "Access denied") {
				t.Errorf("%s: %s not refused: %d %v", c.rule, c.refused, st, e)
			}
		}
	}
}

func TestTestKeysUseTheTestProvider(t *testing.T) { forEachDialect(t, testTestKeysUseTheTestProvider) }

func testTestKeysUseTheTestProvider(t *testing.T, dialect string) {
	h := startGateway(t, dialect, nil)
	st, k := h.call("POST", "/v1/master/keys", h.setup.MasterKey, `{"projectId":"`+h.setup.ProjectID+`","description":"ci","test":true}`)
	key := k["apiKey"].(map[string]any)
	token := key["token"].(string)
	if st != 201 || !strings.HasPrefix(token, "llmgtwy_test_") || key["test"] != true {
		t.Fatalf("create test key: %d %v", st, k)
	}
	st, out := h.chatWith(token, "gpt-4o")
	if st != 200 || len(h.fake.Requests()) != 0 {
		t.Fatalf("test key reached the upstream: %d %v", st, out)
	}
	msg := out["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"]
	if msg != "echo: hi" || out["usage"].(map[string]any)["cost"] != 0.0 {
		t.Fatalf("test key answer: %v", out)
	}
	h.flushLogs()
	var logged struct{ RequestedModel, UsedProvider string }
	h.srv.DB.Raw("SELECT requested_model, used_provider FROM request_logs WHERE api_key_id = ?", key["id"]).Scan(&logged)
	if logged.RequestedModel != "gpt-4o" || logged.UsedProvider != "test" {
		t.Fatalf("log = %+v", logged)
	}
}
