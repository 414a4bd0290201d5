// SPDX-License-Identifier: GPL-3.0-or-later

package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func criLine(stream, tag, msg string) string {
	return time.Now().UTC().Format(time.RFC3339Nano) + " " + stream + " " + tag + " " + msg + "\n"
}

func criSetup(t *testing.T, s *store) (*config, string) {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "pods", "opsdeck-shop_shop-web-5d9f_0f7c1e2a-1111-2222-3333-444455556666", "web")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	cfg := &config{
		podsDir: filepath.Join(root, "pods"), url: srv.URL + "/insert/jsonline", state: filepath.Join(root, "state.json"),
		streamFields: "app,service,env,host", interval: time.Second, timeout: 5 * time.Second, batchBytes: 1 << 20,
		namespacePrefix: "opsdeck-", fields: pairs{{"env", "prod"}},
		fieldEnv: pairs{{"host", "NODE_NAME"}},
	}
	if err := resolveFieldEnv(cfg, func(k string) string { return map[string]string{"NODE_NAME": "node-1"}[k] }); err != nil {
		t.Fatal(err)
	}
	return cfg, filepath.Join(dir, "0.log")
}

func TestCRIFieldsPartialsRotationRestart(t *testing.T) {
	s := &store{}
	cfg, logPath := criSetup(t, s)
	client := &http.Client{Timeout: time.Second}
	appendTo(t, logPath, criLine("stdout", "F", "one")+criLine("stderr", "P", "tw")+criLine("stderr", "P", "o ")+
		criLine("stderr", "F", "halves")+criLine("stdout", "P", "not yet"))
	cycle := func(st map[string]position) { criCycle(cfg, client, st) }
	st := map[string]position{}
	cycle(st)
	equal(t, s.msgs(), "one", "two halves")
	r := s.rows[1]
	if r["app"] != "shop" || r["namespace"] != "opsdeck-shop" || r["pod"] != "shop-web-5d9f" || r["container"] != "web" ||
		r["service"] != "web" || r["env"] != "prod" || r["host"] != "node-1" || r["stream"] != "stderr" ||
		r["source"] != "container" || r["_time"] == "" {
		t.Fatalf("fields: %v", r)
	}
	// The partial line is finished, then the kubelet rotates: the rest of the old file comes first.
	appendTo(t, logPath, criLine("stdout", "F", " done")+criLine("stdout", "F", "three"))
	if err := os.Rename(logPath, logPath+".20260102-150405"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, logPath+".20260102-150405", criLine("stdout", "F", "four"))
	appendTo(t, logPath, criLine("stdout", "F", "five"))
	// A restart of the shipper: positions come from the state file; nothing is sent twice.
	cycle(loadState(cfg.state))
	equal(t, s.msgs(), "one", "two halves", "not yet done", "three", "four", "five")
	cycle(loadState(cfg.state))
	equal(t, s.msgs(), "one", "two halves", "not yet done", "three", "four", "five")
	// The container restarts: a new file 1.log next to 0.log.
	appendTo(t, filepath.Join(filepath.Dir(logPath), "1.log"), criLine("stdout", "F", "six"))
	cycle(loadState(cfg.state))
	equal(t, s.msgs(), "one", "two halves", "not yet done", "three", "four", "five", "six")
}

func TestCRIStoreDownKeepsPositionAndBadLines(t *testing.T) {
	s := &store{fail: 1}
	cfg, logPath := criSetup(t, s)
	client := &http.Client{Timeout: time.Second}
	st := map[string]position{}
	appendTo(t, logPath, "garbage\n"+criLine("stdout", "F", "a")+criLine("stdout", "X", "bad tag")+criLine("stdout", "F", ""))
	criCycle(cfg, client, st)
	equal(t, s.msgs())
	before := readErrors.Load()
	criCycle(cfg, client, st)
	equal(t, s.msgs(), "a", "-")
	if readErrors.Load()-before != 2 {
		t.Fatalf("read errors %d", readErrors.Load()-before)
	}
	// A pod that is gone: its positions are forgotten.
	if err := os.RemoveAll(filepath.Dir(filepath.Dir(logPath))); err != nil {
		t.Fatal(err)
	}
	criCycle(cfg, client, st)
	if len(st) != 0 {
		t.Fatalf("state of a removed pod kept: %v", st)
	}
}

func TestCRIPathsAndApp(t *testing.T) {
	for rel, ok := range map[string]bool{
		"ns_pod_uid/c/0.log":                 true,
		"ns_pod_uid/c/12.log":                true,
		"ns_pod_uid/c/0.log.20260102-150405": false,
		"ns_pod/c/0.log":                     false,
		"ns_pod_uid/c/x.log":                 false,
	} {
		if _, got := parsePodLog(rel); got != ok {
			t.Errorf("%s: %v", rel, got)
		}
	}
	cfg := &config{namespacePrefix: "apps-"}
	var partial strings.Builder
	raw, ok := criRow(cfg, podLog{namespace: "kube-system", pod: "p", container: "c"}, []byte(criLine("stdout", "F", "x")), &partial)
	if !ok || strings.Contains(string(raw), `"app"`) {
		t.Fatalf("a namespace without the prefix has no app: %s", raw)
	}
	if err := resolveFieldEnv(&config{fieldEnv: pairs{{"host", "NOPE"}}}, func(string) string { return "" }); err == nil ||
		!strings.Contains(err.Error(), "NOPE is not set") {
		t.Fatalf("missing env: %v", err)
	}
}
