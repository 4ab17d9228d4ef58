package gateway

import (
	"encoding/json"

	"github.com/llmgw/gateway/app/catalog"
	"github.com/llmgw/gateway/app/pricing"
	"github.com/llmgw/gateway/app/retention"
	"github.com/llmgw/gateway/app/schema"
)

// price is the request's cost: the upstream's price for the usage plus, for an
// organization that retains payloads, their storage (seed "Data Retention":
// data_storage_cost, $0.01 per 1M tokens).
func (g *Gateway) price(rc *reqCtx, p catalog.Price, u *schema.Usage) pricing.Breakdown {
	b := pricing.Compute(p, u)
	if b.Known && rc.retainBody != nil && u != nil {
		b.DataStorage = retention.StorageCost(u.TotalTokens)
	}
	return b
}

// payloadOf is the response stored for a retain-all organization (nil
// otherwise: nothing is serialised for the others).
func payloadOf(rc *reqCtx, v any) []byte {
	if rc.retainBody == nil || v == nil {
		return nil
	}
	b, _ := json.Marshal(v)
	return b
}

// retain hands a finished request's payloads to the retention writer, under
// the final attempt's log id. It never blocks: a full queue drops and counts.
func (g *Gateway) retain(rc *reqCtx, logID string, out outcome) {
	if g.Payloads == nil || rc.retainBody == nil {
		return
	}
	level, days := rc.id.Org.Retention()
	tokens := 0
	if out.usage != nil {
		tokens = out.usage.TotalTokens
	}
	g.Payloads.Capture(retention.Capture{LogID: logID, OrganizationID: rc.id.Key.OrganizationID, Level: level, Days: days,
		CreatedAt: rc.start, Request: rc.retainBody, Response: out.payload, Tokens: tokens})
}
