// Package server assembles the gateway: database, catalog, upstreams, key cache,
// log writer and the Fiber app; and runs it with a graceful shutdown.
package server

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"

	"github.com/llmgw/gateway/app/catalog"
	"github.com/llmgw/gateway/app/config"
	"github.com/llmgw/gateway/app/gateway"
	"github.com/llmgw/gateway/app/keys"
	"github.com/llmgw/gateway/app/master"
	"github.com/llmgw/gateway/app/metrics"
	"github.com/llmgw/gateway/app/orgkeys"
	"github.com/llmgw/gateway/app/providers/anthropic"
	"github.com/llmgw/gateway/app/providers/google"
	"github.com/llmgw/gateway/app/providers/openai"
	"github.com/llmgw/gateway/app/providers/testprovider"
	"github.com/llmgw/gateway/app/provision"
	"github.com/llmgw/gateway/app/ratelimit"
	"github.com/llmgw/gateway/app/respcache"
	"github.com/llmgw/gateway/app/retention"
	"github.com/llmgw/gateway/app/routing"
	"github.com/llmgw/gateway/app/secevents"
	"github.com/llmgw/gateway/app/secretbox"
	"github.com/llmgw/gateway/app/spend"
	"github.com/llmgw/gateway/app/store"
	"github.com/llmgw/gateway/app/tokenizer"
	"github.com/llmgw/gateway/app/usage"
)

// Version is set at build time (-ldflags "-X .../server.Version=...").
var Version = "dev"

// Server is a fully wired gateway.
type Server struct {
	App     *fiber.App
	Config  *config.Config
	DB      *store.DB
	Catalog *catalog.Holder
	Keys    *keys.Cache
	Hasher  *keys.Hasher
	Logs    *usage.Writer
	Gateway *gateway.Gateway
	Prov    *provision.Service
	Spend   *spend.Accountant
	Log     *slog.Logger
	Metrics *metrics.Metrics
	Cache   *respcache.Cache
	// Payloads stores retain-all organizations' payloads, encrypted.
	Payloads  *retention.Writer
	SecEvents *secevents.Writer
	// OrgKeys are organizations' own provider keys (bring your own key).
	OrgKeys    *orgkeys.Cache
	payloadBox *secretbox.Box

	adapters  routing.Adapters
	redis     redis.UniversalClient
	upstreams atomic.Pointer[routing.Upstreams]
	stopPoll  context.CancelFunc
}

// New opens and migrates the database, loads the catalog and key cache, and
// builds the HTTP app. Nothing is listening yet.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Server, error) {
	db, err := store.Open(cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if err := store.Migrate(db); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	s := &Server{Config: cfg, DB: db, Log: log}
	if err := s.loadCatalog(); err != nil {
		return nil, err
	}
	tokenizer.Warm()
	client := upstreamClient(cfg)
	s.adapters = routing.Adapters{
		"openai":    openai.New(client),
		"anthropic": anthropic.New(client, s.maxOutput),
		"google":    google.New(client),
		"azure":     openai.NewAzure(client, cfg.AzureAPIVersion),
		"test":      testprovider.New(tokenizer.Count),
	}
	s.rebuildUpstreams()

	s.Hasher = keys.NewHasher(cfg.KeyHashSecret)
	s.Keys = keys.NewCache(db.DB, s.Hasher, log)
	if err := s.Keys.Load(ctx); err != nil {
		return nil, fmt.Errorf("load keys: %w", err)
	}
	pollCtx, stop := context.WithCancel(context.Background())
	s.stopPoll = stop
	go s.Keys.Run(pollCtx, max(cfg.KeyPollInterval, 100*time.Millisecond))

	box, err := secretbox.New(cfg.AuthSecret)
	if err != nil {
		return nil, fmt.Errorf("AUTH_SECRET: %w", err)
	}
	s.Prov = &provision.Service{DB: db.DB, Hasher: s.Hasher, Cache: s.Keys, Box: box}
	s.OrgKeys = orgkeys.New(db.DB, box, log)
	if err := s.OrgKeys.Load(ctx); err != nil {
		return nil, fmt.Errorf("load organization provider keys: %w", err)
	}
	go s.OrgKeys.Run(pollCtx, max(cfg.KeyPollInterval, 100*time.Millisecond))
	s.Spend = spend.New(db.DB, log)
	var limits ratelimit.Store = ratelimit.NewMemory()
	if cfg.RedisURL != "" {
		rc, err := OpenRedis(cfg.RedisURL)
		if err != nil {
			return nil, err
		}
		s.redis = rc
		limits = ratelimit.NewRedis(rc, "gw:rl:")
		s.Spend.UseRedis(rc, "gw:spend:", cfg.UpstreamStreamTimout+time.Minute)
		s.Prov.Notify = PublishKeyChange(rc)
		go s.listenKeyChanges(pollCtx, rc)
	}
	go s.Spend.Run(pollCtx, time.Second)
	go s.expireKeys(pollCtx, 30*time.Second)
	s.Logs = usage.New(db, usage.Options{QueueSize: cfg.LogQueueSize, Logger: log})
	s.Metrics = metrics.New()
	s.Metrics.RegisterLogQueue(func() float64 { return float64(s.Logs.Pending()) },
		func() float64 { return float64(s.Logs.Dropped()) }, func() float64 { return float64(s.Logs.Written()) })
	s.Cache = s.newCache(log)
	if s.payloadBox, err = retention.NewBox(cfg.AuthSecret); err != nil {
		return nil, fmt.Errorf("AUTH_SECRET: %w", err)
	}
	s.Payloads = retention.NewWriter(db, s.payloadBox, retention.Options{Logger: log})
	s.SecEvents = secevents.New(db, secevents.Options{Logger: log})
	go (&retention.Job{DB: db, Log: log}).Run(pollCtx, time.Hour)
	s.Gateway = gateway.New(gateway.Deps{
		Catalog:               s.Catalog,
		Upstreams:             s.upstreams.Load,
		Keys:                  s.Keys,
		Spend:                 s.Spend,
		Limits:                limits,
		Selector:              s.newSelector(pollCtx),
		Logs:                  s.Logs,
		Log:                   log,
		Cache:                 s.Cache,
		Payloads:              s.Payloads,
		SecEvents:             s.SecEvents,
		OrgKeys:               s.OrgKeys,
		HTTPClient:            client,
		Metrics:               s.Metrics,
		UpstreamTimeout:       cfg.UpstreamTimeout,
		UpstreamStreamTimeout: cfg.UpstreamStreamTimout,
		UpstreamFirstByte:     cfg.UpstreamFirstByte,
		OnClientDisconnect:    cfg.OnClientDisconnect,
		LowUptimeFallback:     cfg.LowUptimeFallback,
		BillingEnabled:        cfg.BillingEnabled,
		TrustedProxies:        cfg.TrustedProxies,
		HasPurchasedCredits:   (&creditsCache{db: db.DB, ttl: time.Minute, m: map[string]creditsEntry{}}).HasPurchasedCredits,
	})
	s.App = s.newApp()
	return s, nil
}

func (s *Server) loadCatalog() error {
	cat, err := catalog.Load(s.Config.ModelsFile)
	if err != nil {
		return fmt.Errorf("model catalog: %w", err)
	}
	if unpriced := cat.Unpriced(); len(unpriced) > 0 {
		if s.Config.BillingEnabled {
			s.Log.Warn("billing is on: models without a known price are not served", "models", strings.Join(unpriced, ", "))
			cat = cat.DropUnpriced()
		} else {
			s.Log.Warn("models without a known price are served with cost null; add prices or free: true in GATEWAY_MODELS_FILE", "models", strings.Join(unpriced, ", "))
		}
	}
	if s.Catalog == nil {
		s.Catalog = catalog.NewHolder(cat)
	} else {
		s.Catalog.Set(cat)
	}
	return nil
}

// newCache builds the response cache: in Redis (shared by every instance)
// when configured, else in memory within GATEWAY_CACHE_MEMORY_MB.
func (s *Server) newCache(log *slog.Logger) *respcache.Cache {
	var store respcache.Store
	if s.redis != nil {
		store = respcache.NewRedis(s.redis, "gw:rc:")
	} else {
		store = respcache.NewMemory(s.Config.CacheMemoryBytes)
	}
	return respcache.New(store, respcache.Options{LookupTimeout: s.Config.CacheLookupTimeout, OnError: func(op string, err error) { log.Warn("response cache", "op", op, "error", err) }})
}

// newSelector builds the provider selector from the routing settings.
// With Redis, provider health is one window shared by every instance.
func (s *Server) newSelector(ctx context.Context) *routing.Selector {
	health := routing.NewHealth()
	if s.redis != nil {
		health = routing.NewSharedHealth(ctx, s.redis, "gw:health:", s.Log)
	}
	sel := routing.NewSelector(health)
	sel.Exploration = s.Config.ExplorationRate
	sel.PreferredTTL = s.Config.PreferredTTL
	sel.PreferredUptime = s.Config.PreferredUptime
	sel.ScoreMargin = s.Config.PreferredMargin
	return sel
}

// maxOutput is the catalog's output limit of an upstream model (Anthropic
// requires max_tokens; the catalog knows each model's ceiling).
func (s *Server) maxOutput(upstreamModel string) int {
	for _, m := range s.Catalog.Get().Models() {
		for _, o := range m.Offers {
			if o.Model == upstreamModel && o.MaxOutput > 0 {
				return o.MaxOutput
			}
		}
	}
	return 0
}

func (s *Server) rebuildUpstreams() {
	s.upstreams.Store(routing.Build(s.Catalog.Get(), s.Config, s.adapters, s.upstreams.Load()))
}

// Reload re-reads GATEWAY_MODELS_FILE (SIGHUP). A broken file keeps the old catalog.
func (s *Server) Reload() error {
	if err := s.loadCatalog(); err != nil {
		return err
	}
	s.rebuildUpstreams()
	return nil
}

func (s *Server) newApp() *fiber.App {
	app := fiber.New(fiber.Config{
		AppName:               "llm-gateway",
		BodyLimit:             s.Config.MaxBodyBytes,
		ErrorHandler:          gateway.ErrorHandler,
		DisableStartupMessage: true,
		ReadTimeout:           5 * time.Minute,
		IdleTimeout:           2 * time.Minute,
		ReadBufferSize:        16 * 1024, // long Authorization and metadata headers
	})
	app.Get("/health", s.health)
	app.Get("/metrics", s.metricsAuth, s.Metrics.Handler())
	v1 := app.Group("/v1")
	v1.Post("/chat/completions", s.Gateway.ChatCompletions)
	v1.Post("/embeddings", s.Gateway.Embeddings)
	v1.Get("/models", s.Gateway.Models)
	v1.Post("/responses", s.Gateway.Responses)
	v1.Post("/messages", s.Gateway.AnthropicMessages)
	v1.Post("/messages/count_tokens", s.Gateway.AnthropicCountTokens)
	v1.Post("/llm/chat", s.Gateway.OdockChat)
	v1.Post("/images/generations", s.Gateway.ImageGenerations)
	v1.Post("/images/edits", s.Gateway.ImageEdits)
	v1.Post("/images/variations", s.Gateway.ImageVariations)
	v1.Get("/vllm/models", s.Gateway.VLLM("models"))
	v1.Post("/vllm/models", s.Gateway.VLLM("models"))
	for _, name := range []string{"chat/completions", "completions", "responses", "embeddings", "audio/transcriptions",
		"audio/translations", "tokenize", "detokenize", "pooling", "classify", "score", "rerank"} {
		v1.Post("/vllm/"+name, s.Gateway.VLLM(strings.ReplaceAll(name, "/", ".")))
	}
	app.Post("/v1beta/models/*", s.Gateway.GeminiGenerate)
	// Devora's base path: its clients set base_url to .../api/v1/ai.
	devora := app.Group("/api/v1/ai")
	devora.Post("/chat/completions", s.Gateway.ChatCompletions)
	devora.Post("/embeddings", s.Gateway.Embeddings)
	devora.Get("/models", s.Gateway.Models)
	(&master.API{DB: s.DB.DB, Prov: s.Prov, Hasher: s.Hasher, Payloads: &retention.Store{DB: s.DB.DB, Box: s.payloadBox}, Catalog: s.Catalog.Get,
		OnProviderKeys: func() {
			if err := s.OrgKeys.Load(context.Background()); err != nil {
				s.Log.Warn("organization provider keys reload failed", "error", err)
			}
		}}).Register(v1.Group("/master"))
	return app
}

// expireKeys runs the expiry job every interval.
func (s *Server) expireKeys(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := s.Prov.ExpireKeys(ctx, time.Now()); err != nil && ctx.Err() == nil {
				s.Log.Warn("key expiry job failed", "error", err)
			} else if n > 0 {
				s.Log.Info("expired API keys marked inactive", "count", n)
			}
		}
	}
}

// metricsAuth guards /metrics with GATEWAY_METRICS_TOKEN when it is set.
func (s *Server) metricsAuth(c *fiber.Ctx) error {
	want := s.Config.MetricsToken
	if want == "" {
		return c.Next()
	}
	got := strings.TrimPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return c.Status(fiber.StatusUnauthorized).SendString("unauthorized\n")
	}
	return c.Next()
}

// health reports liveness and whether the database answers.
func (s *Server) health(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	body := fiber.Map{"status": "ok", "version": Version, "database": "ok",
		"logQueue": fiber.Map{"pending": s.Logs.Pending(), "dropped": s.Logs.Dropped()}}
	if err := s.DB.Ping(ctx); err != nil {
		body["status"], body["database"] = "unavailable", "unreachable"
		return c.Status(fiber.StatusServiceUnavailable).JSON(body)
	}
	return c.JSON(body)
}
