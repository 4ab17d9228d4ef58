// Command loadtest measures what the gateway adds to an LLM call. On loopback
// it starts a mock OpenAI upstream, a bare reverse proxy in front of it (the
// physical floor of one HTTP hop) and the gateway (built from this checkout,
// PostgreSQL database, auth, metering and request logging on), drives the three
// with the same load and prints Markdown tables and the targets:
//
//	go run ./app/loadtest                 # every scenario, a few minutes
//	go run ./app/loadtest -scenario a -duration 30s
//	go run ./app/loadtest -profile cpu.out  # scenario (b) with an in-process gateway, CPU profile
//
// Timing targets are reported as PASS/MISS and never fail the command; a broken
// request-log accounting (rows written + dropped ≠ requests) exits with status 1.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
)

type options struct {
	scenario     string
	duration     time.Duration
	warmup       time.Duration
	rounds       int
	rate         int
	latency      time.Duration
	tokens       int
	workers      int
	streams      int
	streamTokens int
	chunkDelay   time.Duration
	ramp         time.Duration
	promptKB     int
	promptRate   int
	stall        time.Duration
	stallRate    int
	stallQueue   int
	pg           string
	gatewayBin   string
	keep         bool
	plainKey     bool
	quietWait    time.Duration
	profile      string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.scenario, "scenario", "all", "a, b, c, d, e, a comma-separated list, or all")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured load per target (e: load before plus after the stall)")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load per target before each measured phase")
	fs.IntVar(&o.rounds, "rounds", 5, "(a, b, d) the measured time is split in this many rounds, targets taking turns")
	fs.IntVar(&o.rate, "rate", 1000, "(a) requests per second")
	fs.DurationVar(&o.latency, "latency", 20*time.Millisecond, "(a, c, d, e) mock latency; time to first chunk of streams")
	fs.IntVar(&o.tokens, "tokens", 16, "completion tokens of a non-streaming answer")
	fs.IntVar(&o.workers, "workers", 64, "(b) concurrent requests of the closed loop")
	fs.IntVar(&o.streams, "streams", 1000, "(c) concurrent streams")
	fs.IntVar(&o.streamTokens, "stream-tokens", 100, "(c) content chunks per stream")
	fs.DurationVar(&o.chunkDelay, "chunk-delay", 50*time.Millisecond, "(c) delay between two chunks")
	fs.DurationVar(&o.ramp, "ramp", time.Second, "(c) streams are started evenly over this time")
	fs.IntVar(&o.promptKB, "prompt-kb", 100, "(d) prompt size in KB")
	fs.IntVar(&o.promptRate, "prompt-rate", 200, "(d) requests per second")
	fs.DurationVar(&o.stall, "stall", 10*time.Second, "(e) how long request_logs stays locked")
	fs.IntVar(&o.stallRate, "stall-rate", 500, "(e) requests per second")
	fs.IntVar(&o.stallQueue, "stall-queue", 2000, "(e) the gateway's GATEWAY_LOG_QUEUE_SIZE")
	fs.StringVar(&o.pg, "pg", defaultPG(), "PostgreSQL URL with CREATEDB rights (also BENCH_DATABASE_URL, TEST_DATABASE_URL)")
	fs.StringVar(&o.gatewayBin, "gateway-bin", "", "use this gateway binary instead of building the checkout")
	fs.DurationVar(&o.quietWait, "quiet-wait", 3*time.Minute, "before each scenario, wait up to this long for other processes to leave the CPUs idle (0: don't)")
	fs.BoolVar(&o.plainKey, "plain-key", false, "leave the API key without limits and IAM rules (to measure what they cost)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temp dir with the processes' logs")
	fs.StringVar(&o.profile, "profile", "", "write a CPU profile of an in-process gateway under scenario (b) (or c, d with -scenario) to this file")
	err := fs.Parse(args)
	return o, err
}

func defaultPG() string {
	for _, k := range []string{"BENCH_DATABASE_URL", "TEST_DATABASE_URL"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) >= 2 && args[0] == "-role" { // a helper process (see startRole)
		if err := runRole(args[1], args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	o, err := parseFlags(args, os.Stderr)
	if err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if o.profile != "" {
		if err := profileGateway(ctx, o); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
			return 1
		}
		return 0
	}
	selected, err := pick(o.scenario)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		return 2
	}
	b, err := newBench(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		return 1
	}
	defer b.close()

	fmt.Printf("## Gateway load benchmark, %s, %d CPUs, %s\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(), runtime.Version())
	var checks []check
	for _, sc := range selected {
		progress("scenario (%s): %s", sc.id, sc.title)
		var busy float64
		if o.quietWait > 0 {
			busy = waitQuiet(ctx, 0.15, o.quietWait)
		}
		w := watchCPU()
		r, err := sc.run(b, ctx)
		if err != nil {
			fmt.Fprintf(os.Stderr, "loadtest: scenario (%s): %v\n", sc.id, err)
			return 1
		}
		if n := w.note(); n != "" {
			r.notes = append(r.notes, n)
		}
		if busy > 0.15 {
			r.notes = append(r.notes, fmt.Sprintf("Other processes kept the machine %.0f%% busy before this scenario started: its timings are noisy.", 100*busy))
		}
		r.print(os.Stdout)
		checks = append(checks, r.checks...)
	}
	fmt.Printf("\nGateway: PostgreSQL, API-key auth, routing, metering and the request log on; %s.\n", b.features)
	fmt.Printf("\n### Targets\n\n%s\n", checksTable(checks))
	for _, c := range checks {
		if c.must && !c.pass {
			fmt.Println("Request-log accounting is broken: see FAIL above.")
			return 1
		}
	}
	return 0
}

func pick(list string) ([]scenario, error) {
	all := scenarios()
	if list == "all" {
		return all, nil
	}
	var out []scenario
	for _, id := range strings.Split(list, ",") {
		found := false
		for _, s := range all {
			if s.id == strings.TrimSpace(id) {
				out, found = append(out, s), true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown scenario %q (want a, b, c, d, e or all)", id)
		}
	}
	return out, nil
}
