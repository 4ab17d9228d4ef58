package storetest

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// fakeTB records how a helper fails. Embedding testing.TB satisfies the
// interface; only the methods the helpers use are overridden.
type fakeTB struct {
	testing.TB
	fatal   string
	skipped bool
}

func (f *fakeTB) Helper()              {}
func (f *fakeTB) Cleanup(func())       {}
func (f *fakeTB) TempDir() string      { return "" }
func (f *fakeTB) Skip(...any)          { f.skipped = true; runtime.Goexit() }
func (f *fakeTB) Skipf(string, ...any) { f.skipped = true; runtime.Goexit() }
func (f *fakeTB) SkipNow()             { f.skipped = true; runtime.Goexit() }
func (f *fakeTB) Fatal(args ...any)    { f.fatal = fmt.Sprint(args...); runtime.Goexit() }
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// CI must fail, not skip, when PostgreSQL is missing.
func TestUnreachablePostgresFails(t *testing.T) {
	t.Setenv("TEST_DATABASE_URL", "postgres://postgres:pw@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2")
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		NewDatabase(f, "postgres")
	}()
	<-done
	t.Log(f.fatal)
	if f.skipped {
		t.Fatal("skipped instead of failing")
	}
	if !strings.Contains(f.fatal, "unreachable") || strings.Contains(f.fatal, "pw@") {
		t.Fatalf("failure message %q: want a clear 'unreachable' without the password", f.fatal)
	}
}

func TestUnknownDialectFails(t *testing.T) {
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		NewDatabase(f, "mysql")
	}()
	<-done
	if !strings.Contains(f.fatal, "unknown dialect") {
		t.Fatalf("got %q", f.fatal)
	}
}
