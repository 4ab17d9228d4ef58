// Package config reads the gateway's settings from the environment. Options is the
// one table of every setting, its default and its meaning; the README's table is
// checked against it by a test.
package config

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// Option documents one environment variable.
type Option struct {
	Env     string
	Default string
	Help    string
}

// Options lists every setting (provider credentials follow the
// LLM_<PROVIDER>_API_KEY / LLM_<PROVIDER>_BASE_URL pattern, see ProviderEnv).
var Options = []Option{
	{"PORT", "8080", "HTTP port to listen on."},
	{"DATABASE_URL", "", "Unset: embedded SQLite file `$DATA_DIR/gateway.db`, created on first run. `postgres://...`: PostgreSQL."},
	{"DATA_DIR", "./data", "Directory of the embedded database and generated secrets."},
	{"REDIS_URL", "", "Optional `redis://...`: state shared by several gateway instances."},
	{"AUTH_SECRET", "", "Secret for sessions and for encrypting provider keys at rest. Embedded mode generates one under `$DATA_DIR`; required with PostgreSQL."},
	{"GATEWAY_API_KEY_HASH_SECRET", "", "HMAC-SHA256 secret of stored API and master keys. Embedded mode generates one under `$DATA_DIR`; required with PostgreSQL. Changing it invalidates every key."},
	{"LLM_AZURE_API_VERSION", "2024-10-21", "The `api-version` query parameter of Azure OpenAI calls."},
	{"GATEWAY_MODELS_FILE", "", "YAML file adding custom OpenAI-compatible providers and adding or overriding models; reloaded on SIGHUP."},
	{"LLM_<PROVIDER>_API_KEY", "", "Upstream credential(s) of a provider; a comma-separated list is a key pool (round-robin). `<PROVIDER>` is the provider id upper-cased with `-` as `_`."},
	{"LLM_<PROVIDER>_BASE_URL", "provider's public URL", "Upstream API root without the version segment, e.g. `https://api.openai.com`."},
	{"GATEWAY_MAX_BODY_BYTES", "33554432", "Largest accepted request body (413 above)."},
	{"GATEWAY_UPSTREAM_CONNECT_TIMEOUT", "10s", "Time to establish a connection to an upstream."},
	{"GATEWAY_UPSTREAM_FIRST_BYTE_TIMEOUT", "120s", "Time for a streaming upstream to send its response headers."},
	{"GATEWAY_UPSTREAM_TIMEOUT", "600s", "Total time of a non-streaming upstream call."},
	{"GATEWAY_UPSTREAM_STREAM_TIMEOUT", "1200s", "Total time of a streaming upstream call."},
	{"GATEWAY_SHUTDOWN_GRACE", "30s", "On SIGTERM: how long in-flight requests and streams may take to finish before logs are flushed and the process exits."},
	{"GATEWAY_KEY_POLL_INTERVAL", "1s", "How often the in-memory key cache polls the database for changes made elsewhere (with REDIS_URL, changes also arrive at once over pub/sub)."},
	{"GATEWAY_LOG_QUEUE_SIZE", "10000", "Request-log rows buffered in memory while the database is slow; beyond it rows are dropped and counted."},
	{"GATEWAY_TRUSTED_PROXIES", "", "Comma-separated CIDRs of the load balancers in front of the gateway. Only when the connecting peer is one of them is the client IP taken from the first X-Forwarded-For entry (otherwise any client could forge it to pass IP rules)."},
	{"EXPLORATION_RATE", "0.01", "Share of root-id requests routed to a random provider so every provider keeps building health metrics (0 to 1)."},
	{"PREFERRED_PROVIDER_TTL", "3600", "Seconds a model's preferred provider is kept before it is re-scored."},
	{"PREFERRED_PROVIDER_UPTIME_THRESHOLD", "85", "Uptime (percent) below which the preferred provider, or a session's pinned one, is replaced at once."},
	{"PREFERRED_PROVIDER_SCORE_MARGIN", "0.15", "How much better another provider's score must be to replace the preferred one."},
	{"LOW_UPTIME_FALLBACK_THRESHOLD", "90", "Uptime (percent) under which requests pinned to a provider go to the model's best other provider first (X-No-Fallback: true keeps the pin); 0 disables the reroute."},
	{"GATEWAY_ON_CLIENT_DISCONNECT", "cancel", "What happens upstream when a client disconnects: `cancel` stops the upstream call at once and bills the prompt plus what was generated so far (counted with the tokenizer); `drain` lets it finish in the background (bounded by the upstream timeout) and bills its exact reported usage. Either way the request is logged as 499 request_cancelled."},
	{"GATEWAY_CACHE_MEMORY_MB", "64", "Memory bound of the in-process response cache (used when REDIS_URL is not set; with Redis, entries live in Redis and its maxmemory policy bounds them)."},
	{"GATEWAY_CACHE_LOOKUP_TIMEOUT", "250ms", "How long a response-cache read may take before the request is treated as a miss and goes upstream (raise it for a distant Redis)."},
	{"GATEWAY_METRICS_TOKEN", "", "When set, GET /metrics requires `Authorization: Bearer <token>`; otherwise /metrics is open (expose it on a private network only)."},
	{"OTEL_EXPORTER_OTLP_ENDPOINT", "", "Enables OpenTelemetry tracing (OTLP/HTTP): one span per request and one per upstream attempt. The standard OTEL_* variables (headers, service name, sampler) apply."},
	{"GATEWAY_GC_MIN_HEAP_MB", "64", "While the live heap is small, the garbage collector waits until the heap reaches this size (GOGC is raised after each cycle, never lowered below the GOGC in effect; 0 disables, GOGC=off leaves collection alone). Fewer collections under load mean a lower p99."},
	{"GATEWAY_PPROF_ADDR", "", "When set (e.g. `127.0.0.1:6060`), serves Go's /debug/pprof profiles on this separate address. Keep it on loopback or a private network: profiles reveal internals."},
	{"LOG_LEVEL", "info", "debug | info | warn | error."},
	{"LOG_FORMAT", "text", "text | json."},
	{"STRIPE_SECRET_KEY", "", "Enables billing (credits). While billing is off, models without a known price are served with `cost: null`."},
}

// Config is the parsed configuration.
type Config struct {
	Port                 int
	DatabaseURL          string
	DataDir              string
	RedisURL             string
	AuthSecret           string
	KeyHashSecret        string
	ModelsFile           string
	AzureAPIVersion      string
	MaxBodyBytes         int
	UpstreamConnect      time.Duration
	UpstreamFirstByte    time.Duration
	UpstreamTimeout      time.Duration
	UpstreamStreamTimout time.Duration
	ShutdownGrace        time.Duration
	KeyPollInterval      time.Duration
	LogQueueSize         int
	LogLevel             string
	LogFormat            string
	OnClientDisconnect   string // cancel | drain
	CacheMemoryBytes     int64
	CacheLookupTimeout   time.Duration
	PprofAddr            string
	GCMinHeapMB          int
	MetricsToken         string
	BillingEnabled       bool
	TrustedProxies       []netip.Prefix
	ExplorationRate      float64
	PreferredTTL         time.Duration
	PreferredUptime      float64
	PreferredMargin      float64
	LowUptimeFallback    float64

	// GeneratedSecrets names secrets generated for embedded mode (for a warning).
	GeneratedSecrets []string

	getenv func(string) string
}

// Embedded reports whether the embedded SQLite database is used.
func (c *Config) Embedded() bool { return c.DatabaseURL == "" }

// Load reads the environment. It does not touch the disk; call EnsureSecrets next.
func Load() (*Config, error) { return LoadFrom(os.Getenv) }

// LoadFrom reads settings through getenv (tests pass a map lookup).
func LoadFrom(getenv func(string) string) (*Config, error) {
	p := parser{getenv: getenv}
	c := &Config{
		Port:                 p.int("PORT"),
		DatabaseURL:          p.str("DATABASE_URL"),
		DataDir:              p.str("DATA_DIR"),
		RedisURL:             p.str("REDIS_URL"),
		AuthSecret:           p.str("AUTH_SECRET"),
		KeyHashSecret:        p.str("GATEWAY_API_KEY_HASH_SECRET"),
		ModelsFile:           p.str("GATEWAY_MODELS_FILE"),
		AzureAPIVersion:      p.str("LLM_AZURE_API_VERSION"),
		MaxBodyBytes:         p.int("GATEWAY_MAX_BODY_BYTES"),
		UpstreamConnect:      p.dur("GATEWAY_UPSTREAM_CONNECT_TIMEOUT"),
		UpstreamFirstByte:    p.dur("GATEWAY_UPSTREAM_FIRST_BYTE_TIMEOUT"),
		UpstreamTimeout:      p.dur("GATEWAY_UPSTREAM_TIMEOUT"),
		UpstreamStreamTimout: p.dur("GATEWAY_UPSTREAM_STREAM_TIMEOUT"),
		ShutdownGrace:        p.dur("GATEWAY_SHUTDOWN_GRACE"),
		KeyPollInterval:      p.dur("GATEWAY_KEY_POLL_INTERVAL"),
		LogQueueSize:         p.int("GATEWAY_LOG_QUEUE_SIZE"),
		LogLevel:             p.str("LOG_LEVEL"),
		LogFormat:            p.str("LOG_FORMAT"),
		OnClientDisconnect:   p.oneOf("GATEWAY_ON_CLIENT_DISCONNECT", "cancel", "drain"),
		CacheMemoryBytes:     int64(p.int("GATEWAY_CACHE_MEMORY_MB")) << 20,
		CacheLookupTimeout:   p.dur("GATEWAY_CACHE_LOOKUP_TIMEOUT"),
		PprofAddr:            p.str("GATEWAY_PPROF_ADDR"),
		GCMinHeapMB:          p.int("GATEWAY_GC_MIN_HEAP_MB"),
		MetricsToken:         p.str("GATEWAY_METRICS_TOKEN"),
		BillingEnabled:       p.str("STRIPE_SECRET_KEY") != "",
		getenv:               getenv,
	}
	c.TrustedProxies = p.prefixes("GATEWAY_TRUSTED_PROXIES")
	c.ExplorationRate = p.float("EXPLORATION_RATE", 0, 1)
	c.PreferredTTL = time.Duration(p.float("PREFERRED_PROVIDER_TTL", 0, 1e9) * float64(time.Second))
	c.PreferredUptime = p.float("PREFERRED_PROVIDER_UPTIME_THRESHOLD", 0, 100)
	c.PreferredMargin = p.float("PREFERRED_PROVIDER_SCORE_MARGIN", 0, 100)
	c.LowUptimeFallback = p.float("LOW_UPTIME_FALLBACK_THRESHOLD", 0, 100)
	if len(p.errs) > 0 {
		return nil, fmt.Errorf("configuration: %s", strings.Join(p.errs, "; "))
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		return nil, fmt.Errorf("configuration: DATABASE_URL must be a postgres:// URL (or unset for the embedded database)")
	}
	return c, nil
}

// ProviderEnv is the environment variable prefix of a provider id:
// openai -> LLM_OPENAI, google-ai-studio -> LLM_GOOGLE_AI_STUDIO.
func ProviderEnv(id string) string {
	return "LLM_" + strings.ToUpper(strings.ReplaceAll(id, "-", "_"))
}

// ProviderKeys returns the key pool of a provider (LLM_<P>_API_KEY, comma-separated).
func (c *Config) ProviderKeys(id string) []string {
	var keys []string
	for _, k := range strings.Split(c.getenv(ProviderEnv(id)+"_API_KEY"), ",") {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

// ProviderBaseURL returns LLM_<P>_BASE_URL, or "" for the provider's default.
func (c *Config) ProviderBaseURL(id string) string {
	return strings.TrimRight(strings.TrimSpace(c.getenv(ProviderEnv(id)+"_BASE_URL")), "/")
}

type parser struct {
	getenv func(string) string
	errs   []string
}

func (p *parser) str(name string) string {
	if v := strings.TrimSpace(p.getenv(name)); v != "" {
		return v
	}
	return defaultOf(name)
}

func (p *parser) oneOf(name string, allowed ...string) string {
	v := p.str(name)
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	p.errs = append(p.errs, fmt.Sprintf("%s=%q must be one of %s", name, v, strings.Join(allowed, ", ")))
	return allowed[0]
}

func (p *parser) int(name string) int {
	v := p.str(name)
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		p.errs = append(p.errs, fmt.Sprintf("%s=%q is not a non-negative integer", name, v))
	}
	return n
}

func (p *parser) dur(name string) time.Duration {
	v := p.str(name)
	d, err := time.ParseDuration(v)
	if err != nil {
		// Accept plain seconds too.
		if n, err2 := strconv.Atoi(v); err2 == nil {
			return time.Duration(n) * time.Second
		}
		p.errs = append(p.errs, fmt.Sprintf("%s=%q is not a duration (e.g. 30s, 2m)", name, v))
	}
	return d
}

func (p *parser) float(name string, lo, hi float64) float64 {
	v := p.str(name)
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < lo || f > hi {
		p.errs = append(p.errs, fmt.Sprintf("%s=%q must be a number between %g and %g", name, v, lo, hi))
	}
	return f
}

func (p *parser) prefixes(name string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range strings.Split(p.str(name), ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			if a, err := netip.ParseAddr(s); err == nil {
				s = netip.PrefixFrom(a, a.BitLen()).String()
			}
		}
		pr, err := netip.ParsePrefix(s)
		if err != nil {
			p.errs = append(p.errs, fmt.Sprintf("%s: %q is not a CIDR", name, s))
			continue
		}
		out = append(out, pr.Masked())
	}
	return out
}

func defaultOf(name string) string {
	for _, o := range Options {
		if o.Env == name {
			return o.Default
		}
	}
	return ""
}
