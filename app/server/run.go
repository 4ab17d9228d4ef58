package server

import (
	"context"
	"errors"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// Serve listens on ln until ctx is cancelled, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- s.App.Listener(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	return s.Shutdown()
}

// Run listens on PORT and handles signals: SIGTERM/SIGINT shut down, SIGHUP
// reloads the models file.
func (s *Server) Run() error {
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(s.Config.Port))
	if err != nil {
		return err
	}
	s.Log.Info("gateway listening", "addr", ln.Addr().String(), "database", dbKind(s), "version", Version)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			if err := s.Reload(); err != nil {
				s.Log.Error("reload failed; keeping the previous catalog", "error", err)
			} else {
				s.Log.Info("catalog reloaded")
			}
		}
	}()
	return s.Serve(ctx, ln)
}

// Shutdown stops accepting connections, lets in-flight requests and streams
// finish for up to the grace period, then cancels what remains (their partial
// usage is still logged), flushes the request log and closes the database.
func (s *Server) Shutdown() error {
	grace := s.Config.ShutdownGrace
	s.Log.Info("shutting down", "grace", grace.String())
	// Streams run after their handler returned, so Fiber's shutdown doesn't
	// wait for them: the gateway counts them itself.
	done := make(chan error, 1)
	go func() { done <- s.App.ShutdownWithTimeout(grace) }()
	graceCtx, cancel := context.WithTimeout(context.Background(), grace)
	if !s.Gateway.Wait(graceCtx) {
		s.Log.Warn("grace period over: cancelling in-flight upstream calls")
	}
	cancel()
	abortCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	s.Gateway.Abort(abortCtx)
	cancel()
	err := <-done
	if errors.Is(err, context.DeadlineExceeded) {
		err = nil // connections outlived the grace period: expected, already handled above
	}
	return errors.Join(err, s.Close())
}

// Close flushes the request log and releases resources (without the HTTP part).
func (s *Server) Close() error {
	s.stopPoll()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	s.Cache.Wait() // pending cache writes (bounded by their own timeout)
	if perr := s.Payloads.Close(ctx); perr != nil {
		s.Log.Error("payload flush incomplete", "error", perr, "dropped", s.Payloads.Dropped())
	}
	if serr := s.SecEvents.Close(ctx); serr != nil {
		s.Log.Error("security events flush incomplete", "error", serr, "dropped", s.SecEvents.Dropped())
	}
	err := s.Logs.Close(ctx)
	if err != nil {
		s.Log.Error("request log flush incomplete", "error", err, "dropped", s.Logs.Dropped())
	}
	if serr := s.Spend.Flush(ctx); serr != nil {
		s.Log.Error("spend flush incomplete", "error", serr)
		err = errors.Join(err, serr)
	}
	if herr := s.Gateway.Selector.Health.Close(); herr != nil {
		s.Log.Warn("provider health flush incomplete", "error", herr)
	}
	if s.redis != nil {
		s.redis.Close()
	}
	return errors.Join(err, s.DB.Close())
}

func dbKind(s *Server) string {
	if s.Config.Embedded() {
		return "sqlite"
	}
	return "postgres"
}
