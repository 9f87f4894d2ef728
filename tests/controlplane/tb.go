package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
)

// processTB is the testing.TB that the Kubernetes test servers require, for a program that is
// not a test: it logs to stderr, keeps the cleanups, and on Fatal runs them and exits.
// (testing.TB has an unexported method, so the interface is embedded; it is nil and never called.)
type processTB struct {
	testing.TB
	name string

	mu       sync.Mutex
	failed   bool
	cleanups []func()
	once     sync.Once
	ctx      context.Context
	cancel   context.CancelFunc
}

func newProcessTB(name string) *processTB {
	ctx, cancel := context.WithCancel(context.Background())
	return &processTB{name: name, ctx: ctx, cancel: cancel}
}

// runCleanups runs the registered cleanups once, last registered first.
func (t *processTB) runCleanups() {
	t.once.Do(func() {
		t.cancel()
		for {
			t.mu.Lock()
			n := len(t.cleanups)
			if n == 0 {
				t.mu.Unlock()
				return
			}
			f := t.cleanups[n-1]
			t.cleanups = t.cleanups[:n-1]
			t.mu.Unlock()
			f()
		}
	})
}

func (t *processTB) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

func (t *processTB) Log(args ...any) { logf("%s", fmt.Sprint(args...)) }
func (t *processTB) Logf(format string, args ...any) {
	logf("%s", fmt.Sprintf(format, args...))
}
func (t *processTB) Error(args ...any) { t.Log(args...); t.Fail() }
func (t *processTB) Errorf(format string, args ...any) {
	t.Logf(format, args...)
	t.Fail()
}
func (t *processTB) Fail() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failed = true
}
func (t *processTB) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

// FailNow stops the process: there is no test to fail, only a control plane that cannot serve.
func (t *processTB) FailNow() {
	t.Fail()
	logf("fatal error; cleaning up and exiting")
	t.runCleanups()
	os.Exit(1)
}
func (t *processTB) Fatal(args ...any) { t.Log(args...); t.FailNow() }
func (t *processTB) Fatalf(format string, args ...any) {
	t.Logf(format, args...)
	t.FailNow()
}
func (t *processTB) Skip(args ...any)                 { t.Fatal(append([]any{"skip: "}, args...)...) }
func (t *processTB) Skipf(format string, args ...any) { t.Fatalf("skip: "+format, args...) }
func (t *processTB) SkipNow()                         { t.Fatal("skip") }
func (t *processTB) Skipped() bool                    { return false }
func (t *processTB) Helper()                          {}
func (t *processTB) Name() string                     { return t.name }
func (t *processTB) Attr(key, value string)           { logf("attr %s=%s", key, value) }
func (t *processTB) Context() context.Context         { return t.ctx }
func (t *processTB) Output() io.Writer                { return os.Stderr }
func (t *processTB) Setenv(key, value string)         { _ = os.Setenv(key, value) }
func (t *processTB) Chdir(dir string)                 { _ = os.Chdir(dir) }
func (t *processTB) ArtifactDir() string              { return t.TempDir() }

// TempDir returns a new directory under $TMPDIR (the cluster's data directory), removed at cleanup.
func (t *processTB) TempDir() string {
	dir, err := os.MkdirTemp("", "tb")
	if err != nil {
		t.Fatalf("TempDir: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
