package iam

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/llmgw/gateway/app/catalog"
)

func compile(t *testing.T, rules ...string) Set {
	t.Helper()
	var in []struct {
		Type  string
		Value Value
	}
	for _, r := range rules {
		typ, val, _ := strings.Cut(r, " ")
		v, err := ParseValue(typ, json.RawMessage(val))
		if err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		in = append(in, struct {
			Type  string
			Value Value
		}{typ, v})
	}
	return Compile(in)
}

func TestParseValueValidation(t *testing.T) {
	bad := map[string]string{
		`nope {"models":["a"]}`:                      "ruleType",
		`allow_models {}`:                            "ruleValue.models",
		`allow_models {"models":[]}`:                 "ruleValue.models",
		`allow_models {"models":[""]}`:               "ruleValue.models[0]",
		`allow_models {"providers":["openai"]}`:      "ruleValue.models",
		`allow_models {"modles":["a"]}`:              "ruleValue",
		`deny_providers {"providers":"openai"}`:      "ruleValue",
		`allow_pricing {}`:                           "ruleValue",
		`allow_pricing {"pricingType":"cheap"}`:      "ruleValue.pricingType",
		`deny_pricing {"maxInputPrice":-1}`:          "ruleValue.maxInputPrice",
		`allow_ip_cidrs {"ipCidrs":["10.0.0.0/33"]}`: "ruleValue.ipCidrs[0]",
		`allow_ip_cidrs {"ipCidrs":["not-an-ip"]}`:   "ruleValue.ipCidrs[0]",
		`deny_ip_cidrs {"ipCidrs":[]}`:               "ruleValue.ipCidrs",
	}
	for in, param := range bad {
		typ, val, _ := strings.Cut(in, " ")
		_, err := ParseValue(typ, json.RawMessage(val))
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Param != param {
			t.Errorf("%s: err = %v, want param %s", in, err, param)
		}
	}
	if _, err := ParseValue(AllowIPCIDRs, json.RawMessage(`{"ipCidrs":["192.0.2.0/24","2001:db8::/32"]}`)); err != nil {
		t.Fatal(err)
	}
}

var (
	gpt4o      = &catalog.Offer{Provider: "openai", Model: "gpt-4o", Price: catalog.Price{Known: true, Input: 2_500_000, Output: 10_000_000}}
	gpt4oAzure = &catalog.Offer{Provider: "azure", Model: "gpt-4o-deploy", Price: catalog.Price{Known: true, Input: 2_500_000, Output: 10_000_000}}
	freeEcho   = &catalog.Offer{Provider: "test", Model: "echo", Price: catalog.Price{Known: true, Free: true}}
	unpriced   = &catalog.Offer{Provider: "acme", Model: "x"}
)

func TestModelAndProviderRules(t *testing.T) {
	cands := []Candidate{{"gpt-4o", gpt4o}, {"gpt-4o", gpt4oAzure}}
	// A pinned entry restricts a root-id request to that provider.
	kept, err := compile(t, `allow_models {"models":["openai/gpt-4o"]}`).Filter("gpt-4o", cands)
	if err != nil || len(kept) != 1 || kept[0].Offer != gpt4o {
		t.Fatalf("kept %v err %v", kept, err)
	}
	// A root entry allows every provider; the provider's own id works too.
	if kept, _ := compile(t, `allow_models {"models":["GPT-4o"]}`).Filter("gpt-4o", cands); len(kept) != 2 {
		t.Fatalf("root allow kept %d", len(kept))
	}
	if kept, _ := compile(t, `allow_models {"models":["azure/gpt-4o-deploy"]}`).Filter("gpt-4o", cands); len(kept) != 1 || kept[0].Offer != gpt4oAzure {
		t.Fatalf("upstream-id allow kept %v", kept)
	}
	_, err = compile(t, `allow_models {"models":["gpt-4.1"]}`).Filter("gpt-4o", cands)
	var d *Denied
	if !errors.As(err, &d) || d.Msg != "Access denied: Model gpt-4o is not in the allowed models list" {
		t.Fatalf("err = %v", err)
	}
	if _, err := compile(t, `deny_models {"models":["gpt-4o"]}`).Filter("gpt-4o", cands); err == nil || !strings.Contains(err.Error(), "denied models list") {
		t.Fatalf("deny: %v", err)
	}
	kept, err = compile(t, `deny_providers {"providers":["openai"]}`).Filter("gpt-4o", cands)
	if err != nil || len(kept) != 1 || kept[0].Offer != gpt4oAzure {
		t.Fatalf("deny provider kept %v %v", kept, err)
	}
	_, err = compile(t, `allow_providers {"providers":["anthropic"]}`).Filter("gpt-4o", cands)
	if err == nil || !strings.Contains(err.Error(), "Provider openai is not in the allowed providers list") {
		t.Fatalf("allow providers: %v", err)
	}
	// Rules of several types all apply.
	if _, err := compile(t, `allow_models {"models":["gpt-4o"]}`, `deny_providers {"providers":["openai","azure"]}`).Filter("gpt-4o", cands); err == nil {
		t.Fatal("combined rules allowed a denied provider")
	}
	// No rules: unrestricted.
	if kept, err := Set(nil).Filter("gpt-4o", cands); err != nil || len(kept) != 2 {
		t.Fatal("empty set restricted")
	}
}

func TestPricingRules(t *testing.T) {
	free := compile(t, `allow_pricing {"pricingType":"free"}`)
	if _, err := free.Filter("echo", []Candidate{{"echo", freeEcho}}); err != nil {
		t.Fatal(err)
	}
	if _, err := free.Filter("gpt-4o", []Candidate{{"gpt-4o", gpt4o}}); err == nil {
		t.Fatal("paid model allowed by free-only rule")
	}
	cheap := compile(t, `allow_pricing {"maxInputPrice":2.5,"maxOutputPrice":10}`)
	if _, err := cheap.Filter("gpt-4o", []Candidate{{"gpt-4o", gpt4o}}); err != nil {
		t.Fatalf("boundary price refused: %v", err)
	}
	if _, err := compile(t, `allow_pricing {"maxInputPrice":2.49}`).Filter("gpt-4o", []Candidate{{"gpt-4o", gpt4o}}); err == nil {
		t.Fatal("too expensive model allowed")
	}
	if _, err := cheap.Filter("acme/x", []Candidate{{"acme/x", unpriced}}); err == nil {
		t.Fatal("unknown price matched a max-price constraint")
	}
	if _, err := compile(t, `deny_pricing {"pricingType":"paid"}`).Filter("gpt-4o", []Candidate{{"gpt-4o", gpt4o}}); err == nil {
		t.Fatal("paid model allowed by deny paid")
	}
}

func TestIPRules(t *testing.T) {
	s := compile(t, `allow_ip_cidrs {"ipCidrs":["192.0.2.0/24","2001:db8::/32"]}`)
	for ip, ok := range map[string]bool{"192.0.2.7": true, "::ffff:192.0.2.7": true, "2001:db8::1": true, "198.51.100.1": false, "2001:db9::1": false} {
		err := s.CheckIP(netip.MustParseAddr(ip))
		if (err == nil) != ok {
			t.Errorf("%s: err = %v", ip, err)
		}
	}
	if err := s.CheckIP(netip.Addr{}); err == nil {
		t.Error("unknown client IP allowed by an allow rule")
	}
	mapped := compile(t, `allow_ip_cidrs {"ipCidrs":["::ffff:192.0.2.0/120"]}`)
	if mapped.CheckIP(netip.MustParseAddr("192.0.2.200")) != nil || mapped.CheckIP(netip.MustParseAddr("192.0.3.1")) == nil {
		t.Error("an IPv4-mapped rule range is not normalised")
	}
	deny := compile(t, `deny_ip_cidrs {"ipCidrs":["10.0.0.0/8"]}`)
	if deny.CheckIP(netip.MustParseAddr("10.1.2.3")) == nil || deny.CheckIP(netip.MustParseAddr("11.0.0.1")) != nil || deny.CheckIP(netip.Addr{}) != nil {
		t.Error("deny ip rule")
	}
}

func FuzzParseValue(f *testing.F) {
	f.Add("allow_models", []byte(`{"models":["a"]}`))
	f.Add("allow_ip_cidrs", []byte(`{"ipCidrs":["::/0"]}`))
	f.Add("allow_pricing", []byte(`{"maxInputPrice":1e308}`))
	f.Fuzz(func(t *testing.T, typ string, raw []byte) {
		v, err := ParseValue(typ, raw)
		if err != nil {
			return
		}
		s := Compile([]struct {
			Type  string
			Value Value
		}{{typ, v}})
		_, _ = s.Filter("m", []Candidate{{"m", gpt4o}, {"m", unpriced}})
		_ = s.CheckIP(netip.MustParseAddr("192.0.2.1"))
	})
}
