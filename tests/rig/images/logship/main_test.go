// SPDX-License-Identifier: GPL-3.0-or-later

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

type store struct {
	mu     sync.Mutex
	rows   []map[string]string
	fail   int // answer 503 to this many pushes first
	refuse int // answer 400 to this many pushes first
}

func (s *store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail > 0 {
		s.fail--
		http.Error(w, "not now", http.StatusServiceUnavailable)
		return
	}
	if s.refuse > 0 {
		s.refuse--
		http.Error(w, "bad rows", http.StatusBadRequest)
		return
	}
	if got := r.URL.Query().Get("_stream_fields"); got != "app,service,env,host" {
		http.Error(w, "stream fields "+got, http.StatusBadRequest)
		return
	}
	body, _ := io.ReadAll(r.Body)
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		var row map[string]string
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.rows = append(s.rows, row)
	}
}

func (s *store) msgs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.rows))
	for _, r := range s.rows {
		out = append(out, r["_msg"])
	}
	return out
}

func entry(log string) string {
	b, _ := json.Marshal(map[string]string{"log": log, "stream": "stdout", "time": time.Now().UTC().Format(time.RFC3339Nano)})
	return string(b) + "\n"
}

func appendTo(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

func setup(t *testing.T, s *store) (*config, string) {
	t.Helper()
	root := t.TempDir()
	id := "0123abcd"
	dir := filepath.Join(root, "containers", id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`{"ID":%q,"Name":"/shop-web-1","LogPath":"/var/lib/docker/containers/%s/%s-json.log",
		"Config":{"Labels":{"io.opsdeck.app":"shop","com.docker.compose.service":"web"}}}`, id, id, id)
	if err := os.WriteFile(filepath.Join(dir, "config.v2.json"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	cfg := &config{
		dir: filepath.Join(root, "containers"), url: srv.URL + "/insert/jsonline", state: filepath.Join(root, "state.json"),
		streamFields: "app,service,env,host", interval: time.Second, timeout: 5 * time.Second, batchBytes: 1 << 20,
		labels: pairs{{"app", "io.opsdeck.app"}, {"service", "com.docker.compose.service"}},
		fields: pairs{{"host", "web-1"}, {"env", "prod"}},
	}
	return cfg, filepath.Join(dir, id+"-json.log")
}

func equal(t *testing.T, got []string, want ...string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rows %q, want %q", got, want)
	}
}

func TestShipLabelsPartialsResumeRotation(t *testing.T) {
	s := &store{}
	cfg, logPath := setup(t, s)
	client := &http.Client{Timeout: time.Second}
	st := map[string]position{}
	appendTo(t, logPath, entry("one\n")+entry("tw")+entry("o\n")+`{"log":"incomplete`)
	cycle(cfg, client, st)
	equal(t, s.msgs(), "one", "two")
	r := s.rows[0]
	if r["app"] != "shop" || r["service"] != "web" || r["host"] != "web-1" || r["env"] != "prod" ||
		r["container"] != "shop-web-1" || r["source"] != "container" {
		t.Fatalf("fields: %v", r)
	}
	// The incomplete line is finished, then the engine rotates: the rest of log.1 comes first.
	appendTo(t, logPath, `\n","stream":"stdout","time":"2026-01-01T00:00:00Z"}`+"\n"+entry("three\n"))
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, logPath+".1", entry("four\n"))
	appendTo(t, logPath, entry("five\n"))
	// A restart: positions come from the state file.
	cycle(cfg, client, loadState(cfg.state))
	equal(t, s.msgs(), "one", "two", "incomplete", "three", "four", "five")
}

func TestRefusedPushKeepsPosition(t *testing.T) {
	s := &store{fail: 2}
	cfg, logPath := setup(t, s)
	client := &http.Client{Timeout: time.Second}
	st := map[string]position{}
	appendTo(t, logPath, entry("a\n")+entry("b\n"))
	cycle(cfg, client, st)
	cycle(cfg, client, st)
	equal(t, s.msgs())
	cycle(cfg, client, st)
	cycle(cfg, client, st)
	equal(t, s.msgs(), "a", "b")
}

func TestRefusedBatchIsDroppedNotRetried(t *testing.T) {
	s := &store{refuse: 1}
	cfg, logPath := setup(t, s)
	client := &http.Client{Timeout: time.Second}
	st := map[string]position{}
	appendTo(t, logPath, entry("poison\n"))
	cycle(cfg, client, st)
	appendTo(t, logPath, entry("next\n"))
	cycle(cfg, client, st)
	equal(t, s.msgs(), "next")
	if rowsDropped.Load() != 1 {
		t.Fatalf("dropped %d", rowsDropped.Load())
	}
}

func TestRequireLabelAndGoneContainers(t *testing.T) {
	s := &store{}
	cfg, logPath := setup(t, s)
	cfg.requireLabel = "io.opsdeck.other"
	st := map[string]position{}
	appendTo(t, logPath, entry("skipped\n"))
	cycle(cfg, &http.Client{Timeout: time.Second}, st)
	equal(t, s.msgs())
	cfg.requireLabel = ""
	cycle(cfg, &http.Client{Timeout: time.Second}, st)
	equal(t, s.msgs(), "skipped")
	if err := os.RemoveAll(filepath.Dir(logPath)); err != nil {
		t.Fatal(err)
	}
	cycle(cfg, &http.Client{Timeout: time.Second}, st)
	if len(st) != 0 {
		t.Fatalf("state of a removed container kept: %v", st)
	}
}

func TestJournalRow(t *testing.T) {
	cfg := &config{fields: pairs{{"host", "web-1"}, {"env", "prod"}}}
	line := `{"MESSAGE":[104,105],"__REALTIME_TIMESTAMP":"1700000000000000","_SYSTEMD_UNIT":"ssh.service",` +
		`"PRIORITY":"6","__CURSOR":"s=1;i=2"}`
	raw, cursor, ok := journalRow(cfg, []byte(line))
	if !ok || cursor != "s=1;i=2" {
		t.Fatalf("ok %v cursor %q", ok, cursor)
	}
	var r map[string]string
	_ = json.Unmarshal(raw, &r)
	if r["_msg"] != "hi" || r["service"] != "ssh.service" || r["source"] != "journal" || r["host"] != "web-1" ||
		r["_time"] != "2023-11-14T22:13:20Z" || r["priority"] != "6" {
		t.Fatalf("row %v", r)
	}
}
