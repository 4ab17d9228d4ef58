package gateway

import (
	"bufio"
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/llmgw/gateway/app/catalog"
	"github.com/llmgw/gateway/app/ids"
	"github.com/llmgw/gateway/app/pricing"
	"github.com/llmgw/gateway/app/respcache"
	"github.com/llmgw/gateway/app/routing"
	"github.com/llmgw/gateway/app/schema"
)

// CacheHeader tells the client whether the response cache answered (HIT), was
// filled by this request (MISS), or shared another request's fill (HIT too:
// no upstream call was made for it).
const CacheHeader = "X-LLMGateway-Cache"

// cacheTarget is the cache entry a request may be answered from.
type cacheTarget struct {
	key string
	ttl time.Duration
}

// cacheFor returns the request's cache entry, or nil when its project has
// caching off (seed "Gateway Caching": cachingEnabled, cacheDurationSeconds).
func (g *Gateway) cacheFor(rc *reqCtx, req *schema.ChatRequest) *cacheTarget {
	p := rc.id.Project
	if g.Cache == nil || p == nil || !p.CachingEnabled || !respcache.Cacheable(req) {
		return nil
	}
	return &cacheTarget{key: respcache.Key(p.ID, req), ttl: respcache.TTL(p.CacheDurationSeconds)}
}

// completeCached answers a non-streaming request through the cache: concurrent
// identical misses make one upstream call, the others wait for its answer.
func (g *Gateway) completeCached(c *fiber.Ctx, rc *reqCtx, proto Protocol, req *schema.ChatRequest, res *catalog.Resolution, cands []routing.Candidate, ct *cacheTarget) error {
	var atts []*attempt
	var callErr error
	// A client that leaves is logged as 499, but the shared call is never
	// cancelled: other requests may be waiting for it, and its answer fills
	// the cache. Its leader is billed the call's usage, as with drain.
	var gone atomic.Bool
	stop := watchClient(c, func() { gone.Store(true) })
	resp, outcome, err := g.Cache.Do(g.base, ct.key, ct.ttl, func(ctx context.Context) (*schema.ChatResponse, error) {
		r, a, err := g.callChat(ctx, req, cands)
		atts, callErr = a, err
		if r != nil {
			r.Model = servedModelName(res, a[len(a)-1].cand)
		}
		return r, err
	})
	stop()
	if gone.Load() {
		if outcome != respcache.Miss {
			atts = nil // a hit: no call of its own, nothing billed
		}
		return g.clientGone(rc, req, res, atts, resp)
	}
	if outcome == respcache.Miss {
		if callErr != nil || (err != nil && len(atts) > 0) {
			return g.giveUp(rc, res, atts, false)
		}
		if err != nil {
			return g.reject(rc, res, err)
		}
		c.Set(CacheHeader, "MISS")
		g.Metrics.CacheLookup(false)
		return g.respondChat(c, rc, proto, req, res, atts, resp)
	}
	if err != nil { // the shared fill failed: this request made no call of its own
		return g.reject(rc, res, err)
	}
	return g.respondCached(c, rc, proto, res, resp)
}

// respondCached answers from the cache: zero usage and cost (no inference
// happened), logged as cached.
func (g *Gateway) respondCached(c *fiber.Ctx, rc *reqCtx, proto Protocol, res *catalog.Resolution, resp *schema.ChatResponse) error {
	usage := &schema.Usage{}
	pricing.Breakdown{Known: true}.Apply(usage)
	resp.Usage = usage
	resp.Metadata = nil
	c.Set(CacheHeader, "HIT")
	c.Set("X-LLMGateway-Used-Model", resp.Model)
	finish := ""
	if len(resp.Choices) > 0 {
		finish = resp.Choices[0].FinishReason
	}
	g.logCached(rc, res, resp.Model, finish, false)
	return proto.WriteResponse(c, resp)
}

// streamCached replays a cached response as a stream in the client's protocol.
func (g *Gateway) streamCached(c *fiber.Ctx, rc *reqCtx, proto Protocol, res *catalog.Resolution, resp *schema.ChatResponse) error {
	enc := proto.NewStream(resp.Model, 0)
	c.Set(CacheHeader, "HIT")
	c.Set("X-LLMGateway-Used-Model", resp.Model)
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderConnection, "keep-alive")
	finish := ""
	if len(resp.Choices) > 0 {
		finish = resp.Choices[0].FinishReason
	}
	g.inflight.Add(1)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer g.inflight.Done()
		for _, ch := range respcache.Replay(resp) {
			if enc.Chunk(w, ch) != nil {
				break
			}
		}
		usage := &schema.Usage{}
		pricing.Breakdown{Known: true}.Apply(usage)
		_ = enc.Finish(w, resp.ID, resp.Created, usage, nil)
		_ = w.Flush()
		g.logCached(rc, res, resp.Model, finish, true)
	})
	return nil
}

// logCached writes the log row of a cache hit: no provider call, zero cost.
func (g *Gateway) logCached(rc *reqCtx, res *catalog.Resolution, served, finish string, streamed bool) {
	g.settle(rc, outcome{cost: pricing.Breakdown{Known: true}})
	row := g.baseRow(rc, res)
	row.ID = ids.New("log")
	row.Status = fiber.StatusOK
	row.Cached = true
	row.Streamed = streamed
	row.FinishReason = finish
	row.UsedProvider, _, _ = strings.Cut(served, "/")
	zero := int64(0)
	row.InputCost, row.OutputCost, row.CachedInputCost, row.CacheWriteCost, row.RequestCost, row.TotalCost = &zero, &zero, &zero, &zero, &zero, &zero
	g.Logs.Enqueue(row)
	g.Metrics.CacheLookup(true)
	g.observe(rc, res, nil, outcome{status: fiber.StatusOK, streamed: streamed, cost: pricing.Breakdown{Known: true}, servedBy: row.UsedProvider})
}
