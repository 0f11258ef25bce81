// Package examples holds the example scripts; its tests run them through the real engine.
package examples

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drlee/drlee/internal/drleetest"
)

// hello.lua serves "hello world" on the port given as its argument, from every worker, and
// shuts down cleanly.
func TestHello(t *testing.T) {
	port := drleetest.FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan drleetest.Result, 1)
	go func() {
		done <- drleetest.RunFile(t, "hello.lua", drleetest.Options{
			Workers: 2, Args: []string{strconv.Itoa(port)}, Ctx: ctx, Timeout: 20 * time.Second,
		})
	}()
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/"
	c := &http.Client{Timeout: 5 * time.Second}
	var resp *http.Response
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err = c.Get(url); err == nil {
			break
		}
		select {
		case res := <-done:
			t.Fatalf("hello.lua ended before serving\nstdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("hello.lua does not serve %s: %v", url, err)
		}
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || string(body) != "hello world" {
		t.Errorf("GET %s: %d %q", url, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain" {
		t.Errorf("Content-Type %q", ct)
	}
	if resp.ContentLength != int64(len("hello world")) {
		t.Errorf("Content-Length %d", resp.ContentLength)
	}
	c.CloseIdleConnections()
	cancel()
	var res drleetest.Result
	select {
	case res = <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("hello.lua did not end after shutdown")
	}
	res.MustSucceed(t)
	res.StderrContains(t, "listening on :"+strconv.Itoa(port))
}

// journal.lua writes with fs on timer ticks, reads the file back, lists the directory,
// removes it, and ends by itself.
func TestJournal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	res := drleetest.RunFile(t, "journal.lua", drleetest.Options{Args: []string{dir}, Timeout: 20 * time.Second})
	res.MustSucceed(t)
	for i := 1; i <= 5; i++ {
		res.Contains(t, strconv.Itoa(i)+" ")
	}
	res.Contains(t, "journal.txt\t", "done")
	if _, err := os.Stat(dir + "/drlee-journal-1"); !os.IsNotExist(err) {
		t.Fatalf("journal directory left behind: %v", err)
	}
}

// journal_await.lua does what journal.lua does, in the await style.
func TestJournalAwait(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	res := drleetest.RunFile(t, "journal_await.lua", drleetest.Options{Args: []string{dir}, Timeout: 20 * time.Second})
	res.MustSucceed(t)
	for i := 1; i <= 5; i++ {
		res.Contains(t, strconv.Itoa(i)+" ")
	}
	res.Contains(t, "journal.txt\t", "done")
	if _, err := os.Stat(dir + "/drlee-journal-1"); !os.IsNotExist(err) {
		t.Fatalf("journal directory left behind: %v", err)
	}
}

// aggregator.lua answers /summary from its two upstreams, called at once.
func TestAggregator(t *testing.T) {
	t.Parallel()
	port := drleetest.FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan drleetest.Result, 1)
	go func() {
		done <- drleetest.RunFile(t, "aggregator.lua", drleetest.Options{
			Workers: 2, Args: []string{strconv.Itoa(port)}, Ctx: ctx, Timeout: 20 * time.Second,
		})
	}()
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/summary"
	c := &http.Client{Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	var resp *http.Response
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err = c.Get(url); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("aggregator.lua does not serve %s: %v", url, err)
		}
	}
	var got struct {
		SKU    string   `json:"sku"`
		Price  float64  `json:"price"`
		Stock  int      `json:"stock"`
		Errors []string `json:"errors"`
		MS     int      `json:"ms"`
	}
	err = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d, %v", url, resp.StatusCode, err)
	}
	if got.SKU != "drlee-1" || got.Price != 42.5 || got.Stock != 7 || len(got.Errors) != 0 {
		t.Errorf("summary %+v", got)
	}
	if got.MS < 300 || got.MS >= 450 { // 500 or more: one after the other
		t.Errorf("the summary took %d ms: the upstreams (200 and 300 ms) were not called at once", got.MS)
	}
	if r, err := c.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/nope"); err != nil || r.StatusCode != 404 {
		t.Errorf("GET /nope: %v %v", r, err)
	} else {
		r.Body.Close()
	}
	cancel()
	res := <-done
	res.MustSucceed(t)
	if strings.Contains(res.Stderr, "WARN") || strings.Contains(res.Stderr, "ERROR") {
		t.Errorf("the log:\n%s", res.Stderr)
	}
}
