package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// fault is what a chaos upstream does to one request.
type fault int

const (
	faultNone          fault = iota // a correct answer (possibly slow, see Profile.Slow)
	fault500                        // HTTP 500 with an OpenAI error envelope
	fault502                        // HTTP 502
	fault503                        // HTTP 503
	fault429                        // HTTP 429 with Retry-After: 1
	faultReset                      // the connection is reset before any byte (hijack, RST)
	faultGarbage                    // HTTP 200 whose body is not the protocol (JSON or SSE)
	faultSlowFirstByte              // nothing (streams: headers only) until after the gateway's first-byte timeout
	faultCut                        // the body is cut midway (streams: after a few chunks), connection reset
	faultHang                       // no answer at all until the gateway gives up (opt-in: -hangs)
	faultEdgeFirstByte              // streams: the first chunk lands within a few ms of the first-byte deadline
	numFaults
)

var faultNames = [numFaults]string{"ok", "500", "502", "503", "429", "reset", "garbage", "slow-1st-byte", "cut", "hang", "edge-1st-byte"}

func (f fault) String() string { return faultNames[f] }

// Profile is a chaos upstream's behaviour: the share of requests that meet
// each fault (the rest are answered correctly) and, among the correct answers,
// the share that are slow (still within the gateway's timeouts).
type Profile struct {
	Faults [numFaults]float64 // index faultNone unused
	Slow   float64
}

// healthy: every answer is correct (slow answers are still answers).
func (p Profile) healthy() bool {
	for f := fault500; f < numFaults; f++ {
		if p.Faults[f] > 0 {
			return false
		}
	}
	return true
}

// failRate is the share of requests that meet a fault.
func (p Profile) failRate() float64 {
	s := 0.0
	for f := fault500; f < numFaults; f++ {
		s += p.Faults[f]
	}
	return s
}

// describe is a short human summary ("healthy", "100% fail: 500 25%, ...").
func (p Profile) describe() string {
	var parts []string
	for f := fault500; f < numFaults; f++ {
		if p.Faults[f] > 0 {
			parts = append(parts, fmt.Sprintf("%s %.0f%%", f, 100*p.Faults[f]))
		}
	}
	slow := ""
	if p.Slow > 0 {
		slow = fmt.Sprintf(", slow %.0f%%", 100*p.Slow)
	}
	if len(parts) == 0 {
		return "healthy" + slow
	}
	return fmt.Sprintf("%.0f%% faulty (%s)%s", 100*p.failRate(), strings.Join(parts, ", "), slow)
}

// pick draws the fault of one request.
func (p Profile) pick(r float64) fault {
	for f := fault500; f < numFaults; f++ {
		if r < p.Faults[f] {
			return f
		}
		r -= p.Faults[f]
	}
	return faultNone
}

// timing are the chaos upstreams' delays.
type timing struct {
	latency       time.Duration // a healthy JSON answer; a healthy stream's first chunk
	chunkGap      time.Duration // between two chunks of a healthy stream
	slowExtra     time.Duration // added to a slow JSON answer; a slow stream's first chunk
	slowChunkGap  time.Duration // between two chunks of a slow stream
	slowFirstByte time.Duration // the slow-first-byte fault: beyond the gateway's first-byte timeout
	firstByte     time.Duration // the gateway's first-byte timeout (edge-1st-byte aims at it)
}

// upstream is one chaos provider: an OpenAI chat completions server on
// loopback whose behaviour follows the schedule's current phase (see
// schedule.profileNow for how a phase change is staggered).
type upstream struct {
	id     string // the provider id in the gateway's models file
	sched  *schedule
	timing timing
	srv    *http.Server
	ln     net.Listener
	url    string

	mu      sync.Mutex
	counts  map[int]*[numFaults]int64 // phase -> requests per fault
	total   atomic.Int64
	journal *journal
}

// journal records, per client request id, what each upstream did with it, so
// the report can tell a cut the upstream made from one the gateway made, and
// show what really happened behind a client-visible error.
type journal struct {
	mu sync.Mutex
	m  map[string][]string // request id -> "provider:fault", in arrival order
}

func newJournal() *journal { return &journal{m: map[string][]string{}} }

func (j *journal) add(id, provider string, f fault) {
	if id == "" {
		return
	}
	j.mu.Lock()
	j.m[id] = append(j.m[id], provider+":"+f.String())
	j.mu.Unlock()
}

func (j *journal) get(id string) []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.m[id]...)
}

// cut reports whether an upstream cut that request's stream.
func (j *journal) cut(id string) bool {
	for _, e := range j.get(id) {
		if strings.HasSuffix(e, ":"+faultCut.String()) {
			return true
		}
	}
	return false
}

func startUpstream(id string, sched *schedule, t timing, j *journal) (*upstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	u := &upstream{id: id, sched: sched, timing: t, ln: ln, url: "http://" + ln.Addr().String(), counts: map[int]*[numFaults]int64{}, journal: j}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", u.chat)
	u.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = u.srv.Serve(ln) }()
	return u, nil
}

func (u *upstream) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if u.srv.Shutdown(ctx) != nil {
		_ = u.srv.Close()
	}
}

func (u *upstream) count(phase int, f fault) {
	u.total.Add(1)
	u.mu.Lock()
	c := u.counts[phase]
	if c == nil {
		c = &[numFaults]int64{}
		u.counts[phase] = c
	}
	c[f]++
	u.mu.Unlock()
}

// phaseCounts returns a copy of the requests per fault of a phase.
func (u *upstream) phaseCounts(phase int) [numFaults]int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	if c := u.counts[phase]; c != nil {
		return *c
	}
	return [numFaults]int64{}
}

// chatRequest is what the upstream reads of a request.
type chatRequest struct {
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	MaxTokens     *int   `json:"max_tokens"`
	MaxCompletion *int   `json:"max_completion_tokens"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
}

var (
	idTag = regexp.MustCompile(`chaos request ([A-Za-z0-9_.:-]+)`)
)

// words is the answer's length: the request's max tokens (default 16).
func (r *chatRequest) words() int {
	n := 16
	if r.MaxCompletion != nil {
		n = *r.MaxCompletion
	} else if r.MaxTokens != nil {
		n = *r.MaxTokens
	}
	return max(1, min(n, 512))
}

// requestID is the client request id the prompt names ("" if none).
func (r *chatRequest) requestID() string {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if m := idTag.FindSubmatch(r.Messages[i].Content); m != nil {
			return string(m[1])
		}
	}
	return ""
}

// answerWords is the deterministic answer of n words the client checks.
func answerWords(n int) []string {
	w := make([]string, n)
	for i := range w {
		w[i] = "w" + strconv.Itoa(i+1) + " "
	}
	return w
}

func (u *upstream) chat(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, `{"error":{"message":"bad json","type":"invalid_request_error"}}`, http.StatusBadRequest)
		return
	}
	phase, prof := u.sched.profileNow(u.id)
	f := prof.pick(rand.Float64())
	slow := f == faultNone && rand.Float64() < prof.Slow
	u.count(phase, f)
	u.journal.add(req.requestID(), u.id, f)
	waited, headersSent := false, false // the first-byte wait is done; a stream's headers are out

	switch f {
	case fault500, fault502, fault503, fault429:
		status := map[fault]int{fault500: 500, fault502: 502, fault503: 503, fault429: 429}[f]
		if !sleep(r.Context(), jitter(u.timing.latency/2)) {
			return
		}
		typ := "server_error"
		if status == 429 {
			typ = "rate_limit_error"
			w.Header().Set("Retry-After", "1")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":{"message":"chaos %s: injected %d","type":%q,"param":null,"code":"chaos_%d"}}`, u.id, status, typ, status)
		return
	case faultReset:
		_ = sleep(r.Context(), jitter(u.timing.latency/2))
		reset(w)
		return
	case faultHang:
		_ = sleep(r.Context(), 10*time.Minute)
		return
	case faultSlowFirstByte, faultEdgeFirstByte:
		wait := u.timing.slowFirstByte
		if f == faultEdgeFirstByte {
			// The first chunk 0.2-1.7ms before the deadline, counted from the
			// request's arrival: the gateway's clock started a little earlier,
			// so some land just after it, most just before.
			wait = u.timing.firstByte - 200*time.Microsecond - time.Duration(rand.Int64N(int64(1500*time.Microsecond)))
		}
		if req.Stream && (f == faultEdgeFirstByte || rand.IntN(2) == 0) {
			// Headers now, the first event later: the gateway's first-byte
			// limit covers the first chunk, not just the headers.
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			headersSent = true
		}
		if !sleep(r.Context(), wait) {
			return // the gateway gave up, as it should have
		}
		waited, f, slow = true, faultNone, false // late (or just in time), but a correct answer
	}

	words := answerWords(req.words())
	prompt := 10
	for _, m := range req.Messages {
		prompt += len(strings.Fields(string(m.Content)))
	}
	if !req.Stream {
		u.json(w, r, req, words, prompt, f, slow, waited)
		return
	}
	u.stream(w, r, req, words, prompt, f, slow, waited, headersSent)
}

func (u *upstream) json(w http.ResponseWriter, r *http.Request, req chatRequest, words []string, prompt int, f fault, slow, waited bool) {
	d := jitter(u.timing.latency)
	if slow {
		d += jitter(u.timing.slowExtra)
	}
	if waited {
		d = 0
	}
	if !sleep(r.Context(), d) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if f == faultGarbage {
		w.WriteHeader(200)
		_, _ = io.WriteString(w, "<html><body>502 Bad Gateway (chaos "+u.id+")</body></html>")
		return
	}
	content, _ := json.Marshal(strings.Join(words, ""))
	b := fmt.Sprintf(`{"id":"chatcmpl-%s-%d","object":"chat.completion","created":%d,"model":%q,`+
		`"choices":[{"index":0,"message":{"role":"assistant","content":%s},"finish_reason":"stop"}],`+
		`"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}`,
		u.id, rand.Int64(), time.Now().Unix(), req.Model, content, prompt, len(words), prompt+len(words))
	if f == faultCut {
		// Announce the whole body, send half of it, reset the connection.
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(200)
		_, _ = io.WriteString(w, b[:len(b)/2])
		w.(http.Flusher).Flush()
		reset(w)
		return
	}
	w.WriteHeader(200)
	_, _ = io.WriteString(w, b)
}

func (u *upstream) stream(w http.ResponseWriter, r *http.Request, req chatRequest, words []string, prompt int, f fault, slow, waited, headersSent bool) {
	first, gap := jitter(u.timing.latency), u.timing.chunkGap
	if slow {
		first, gap = first+jitter(u.timing.slowExtra), u.timing.slowChunkGap
	}
	if waited {
		first = 0
	}
	if !sleep(r.Context(), first) {
		return
	}
	if !headersSent {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(200)
	}
	fl := w.(http.Flusher)
	if f == faultGarbage {
		_, _ = io.WriteString(w, "data: {\"id\":\"chatcmpl-x\",\"choices\":[{\"delta\":{\"content\":\"w1 \"\n\ndata: <html>oops</html>\n\n")
		fl.Flush()
		return
	}
	id := fmt.Sprintf("chatcmpl-%s-%d", u.id, rand.Int64())
	pre := fmt.Sprintf(`data: {"id":%q,"object":"chat.completion.chunk","created":%d,"model":%q,"choices":[{"index":0,"delta":`, id, time.Now().Unix(), req.Model)
	cutAt := -1
	if f == faultCut {
		cutAt = 1 + rand.IntN(max(1, len(words)-1)) // after at least one content chunk, before the last
	}
	for i, wd := range words {
		if i == cutAt {
			reset(w)
			return
		}
		if i > 0 && !sleep(r.Context(), gap) {
			return
		}
		role := ""
		if i == 0 {
			role = `"role":"assistant",`
		}
		content, _ := json.Marshal(wd)
		fmt.Fprintf(w, "%s{%s\"content\":%s},\"finish_reason\":null}]}\n\n", pre, role, content)
		fl.Flush()
	}
	fmt.Fprintf(w, "%s{},\"finish_reason\":\"stop\"}]}\n\n", pre)
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		fmt.Fprintf(w, `data: {"id":%q,"object":"chat.completion.chunk","created":%d,"model":%q,"choices":[],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}`+"\n\n",
			id, time.Now().Unix(), req.Model, prompt, len(words), prompt+len(words))
	}
	_, _ = io.WriteString(w, "data: [DONE]\n\n")
	fl.Flush()
}

// reset hijacks the connection and closes it with an RST (SO_LINGER 0): what
// a crashing upstream or a load balancer killing the connection looks like.
func reset(w http.ResponseWriter) {
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// sleep waits d unless the request is cancelled first (false).
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// jitter is d ± 50%.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + time.Duration(rand.Int64N(int64(d)+1))
}
