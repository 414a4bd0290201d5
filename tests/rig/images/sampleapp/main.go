// SPDX-License-Identifier: GPL-3.0-or-later

// sampleapp is the application the tests deploy: a tiny HTTP service with a health
// endpoint, Prometheus metrics and one JSON log line per request. APP_VERSION names the
// version it reports; APP_BROKEN=true makes its health check fail (the "broken release"
// of the rollback tests). Standard library only, so the rig builds it offline.
//
//	sampleapp                 serve on $PORT (default 8080)
//	sampleapp check URL       exit 0 when URL answers 2xx (for container health checks)
//	sampleapp migrate         a stand-in for a schema migration (a pre-deploy hook); fails
//	                          when APP_MIGRATION_FAILS=true
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

var buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

type metrics struct {
	mu       sync.Mutex
	requests map[string]float64 // key: path \x00 code
	hist     map[string][]float64
	sum      map[string]float64
	count    map[string]float64
}

func newMetrics() *metrics {
	return &metrics{requests: map[string]float64{}, hist: map[string][]float64{}, sum: map[string]float64{}, count: map[string]float64{}}
}

func (m *metrics) observe(path string, code int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[path+"\x00"+strconv.Itoa(code)]++
	h, ok := m.hist[path]
	if !ok {
		h = make([]float64, len(buckets))
		m.hist[path] = h
	}
	s := d.Seconds()
	for i, b := range buckets {
		if s <= b {
			h[i]++
		}
	}
	m.sum[path] += s
	m.count[path]++
}

func (m *metrics) write(w http.ResponseWriter, version string, broken bool, started time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	b.WriteString("# HELP http_requests_total Requests served, by path and status code.\n# TYPE http_requests_total counter\n")
	keys := make([]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := strings.SplitN(k, "\x00", 2)
		fmt.Fprintf(&b, "http_requests_total{handler=%q,code=%q} %g\n", p[0], p[1], m.requests[k])
	}
	b.WriteString("# HELP http_request_duration_seconds Request latency.\n# TYPE http_request_duration_seconds histogram\n")
	paths := make([]string, 0, len(m.hist))
	for p := range m.hist {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		for i, le := range buckets {
			fmt.Fprintf(&b, "http_request_duration_seconds_bucket{handler=%q,le=%q} %g\n", p, strconv.FormatFloat(le, 'g', -1, 64), m.hist[p][i])
		}
		fmt.Fprintf(&b, "http_request_duration_seconds_bucket{handler=%q,le=\"+Inf\"} %g\n", p, m.count[p])
		fmt.Fprintf(&b, "http_request_duration_seconds_sum{handler=%q} %g\n", p, m.sum[p])
		fmt.Fprintf(&b, "http_request_duration_seconds_count{handler=%q} %g\n", p, m.count[p])
	}
	healthy := 1
	if broken {
		healthy = 0
	}
	fmt.Fprintf(&b, "# HELP sampleapp_build_info Version of the sample app.\n# TYPE sampleapp_build_info gauge\nsampleapp_build_info{version=%q} 1\n", version)
	fmt.Fprintf(&b, "# HELP sampleapp_healthy 1 when the health check passes.\n# TYPE sampleapp_healthy gauge\nsampleapp_healthy %d\n", healthy)
	fmt.Fprintf(&b, "# HELP process_start_time_seconds Start time of the process.\n# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %d\n", started.Unix())
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_, _ = w.Write([]byte(b.String()))
}

type recorder struct {
	http.ResponseWriter
	code int
}

func (r *recorder) WriteHeader(code int) { r.code = code; r.ResponseWriter.WriteHeader(code) }

func check(url string) int {
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer resp.Body.Close()
	buf := make([]byte, 512)
	n, _ := resp.Body.Read(buf)
	fmt.Printf("%d %s\n", resp.StatusCode, strings.TrimSpace(string(buf[:n])))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return 1
	}
	return 0
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "check" {
		os.Exit(check(os.Args[2]))
	}
	if len(os.Args) == 2 && os.Args[1] == "migrate" {
		if os.Getenv("APP_MIGRATION_FAILS") == "true" {
			fmt.Fprintln(os.Stderr, "migration 0042 failed: column already exists")
			os.Exit(3)
		}
		fmt.Println("migrations applied")
		os.Exit(0)
	}
	version := os.Getenv("APP_VERSION")
	if version == "" {
		version = "dev"
	}
	broken := os.Getenv("APP_BROKEN") == "true"
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	started := time.Now()
	m := newMetrics()
	enc := json.NewEncoder(os.Stdout)
	var logMu sync.Mutex

	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if broken {
			http.Error(w, "unhealthy: database unreachable (sampleapp "+version+" is the broken release)", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "ok %s\n", version)
	})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) { m.write(w, version, broken, started) })
	mux.HandleFunc("/log", func(w http.ResponseWriter, r *http.Request) {
		// Writes the query parameter "msg" as a log line: the logging tests look it up in Loki.
		logMu.Lock()
		_ = enc.Encode(map[string]string{"level": "info", "msg": r.URL.Query().Get("msg"), "version": version})
		logMu.Unlock()
		fmt.Fprintln(w, "logged")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/error" {
			http.Error(w, "simulated error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"app": "sampleapp", "version": version, "hostname": os.Getenv("HOSTNAME")})
	})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w, code: 200}
		mux.ServeHTTP(rec, r)
		d := time.Since(start)
		m.observe(r.URL.Path, rec.code, d)
		if r.URL.Path != "/metrics" && r.URL.Path != "/health" {
			logMu.Lock()
			_ = enc.Encode(map[string]any{"level": "info", "msg": "request", "path": r.URL.Path, "code": rec.code, "ms": d.Milliseconds()})
			logMu.Unlock()
		}
	})
	logMu.Lock()
	_ = enc.Encode(map[string]string{"level": "info", "msg": "listening", "port": port, "version": version})
	logMu.Unlock()
	srv := &http.Server{Addr: ":" + port, Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
