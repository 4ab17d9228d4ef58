package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// child is a server process of the benchmark: the mock, the bare proxy (this
// binary re-executed in a role) or the gateway.
type child struct {
	name   string
	cmd    *exec.Cmd
	url    string // http://127.0.0.1:port
	log    string // its stderr
	exited chan struct{}
	err    error // set when exited is closed
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// started numbers the children, so each keeps its own log file.
var started atomic.Int32

func startProcess(name, logDir string, cmd *exec.Cmd) (*child, error) {
	log := filepath.Join(logDir, fmt.Sprintf("%02d-%s.log", started.Add(1), name))
	c := &child{name: name, cmd: cmd, log: log, exited: make(chan struct{})}
	f, err := os.Create(c.log)
	if err != nil {
		return nil, err
	}
	cmd.Stderr = f
	// Children die with the benchmark, even when it is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		c.err = cmd.Wait()
		f.Close()
		close(c.exited)
	}()
	return c, nil
}

// startRole runs this binary again as a mock or proxy; the child prints its
// address on its first line of output.
func startRole(logDir, role string, args ...string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, append([]string{"-role", role}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c, err := startProcess(role, logDir, cmd)
	if err != nil {
		return nil, err
	}
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(l)
	}()
	select {
	case addr := <-line:
		if addr == "" {
			c.stop(time.Second)
			return nil, fmt.Errorf("%s did not start: %s", role, c.tail())
		}
		c.url = "http://" + addr
		return c, nil
	case <-time.After(10 * time.Second):
		c.stop(time.Second)
		return nil, fmt.Errorf("%s did not start in time", role)
	}
}

// waitHealthy polls GET url+path until it answers 200.
func (c *child) waitHealthy(ctx context.Context, path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-c.exited:
			return fmt.Errorf("%s exited: %v\n%s", c.name, c.err, c.tail())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := http.Get(c.url + path)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not healthy after %s\n%s", c.name, timeout, c.tail())
}

// stop sends SIGTERM and waits up to grace for the exit, then kills.
func (c *child) stop(grace time.Duration) error {
	select {
	case <-c.exited:
		return c.err
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.exited
		return fmt.Errorf("%s did not exit within %s after SIGTERM; killed", c.name, grace)
	}
	var ee *exec.ExitError
	if errors.As(c.err, &ee) && ee.Exited() && ee.ExitCode() != 0 {
		return fmt.Errorf("%s exited with status %d\n%s", c.name, ee.ExitCode(), c.tail())
	}
	return nil
}

// tail is the end of the child's stderr, for error messages.
func (c *child) tail() string {
	b, _ := os.ReadFile(c.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
