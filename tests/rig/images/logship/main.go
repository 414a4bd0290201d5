// SPDX-License-Identifier: GPL-3.0-or-later

// logship ships the logs of the containers of one Docker host to VictoriaLogs, labelled
// from the containers' own labels. It reads what the engine already writes, needs no API
// access and no change to the daemon or to the containers:
//
//   - <containers-dir>/<id>/config.v2.json  the container's name, labels and log path
//   - <containers-dir>/<id>/<id>-json.log   its json-file log ({"log","stream","time"})
//
// Each line becomes one JSON row (time, message, stream, container, the mapped labels and
// the static fields) sent to VictoriaLogs' JSON-lines API in batches. The read position of
// each file is saved after VictoriaLogs accepted the batch, so a restart or an unreachable
// store loses nothing and sends nothing twice (at-least-once on a crash between the two).
// A file rotated by the json-file driver (<log>.1, same inode) is read to its end first.
//
//	logship -url http://store:9428/insert/jsonline -state /var/lib/logship/positions.json \
//	  -label app=io.opsdeck.app -label service=com.docker.compose.service \
//	  -field host=web-1 -field env=prod
//
// With -journal-dir it also follows the systemd journal files there (through journalctl, so it
// needs no running journald): each entry becomes a row with source=journal, the unit or the
// syslog identifier as service, and the static fields; the journal cursor is saved the same way.
//
// With -pods-dir it reads a Kubernetes node's pod logs instead (the kubelet's layout, written
// by containerd or CRI-O in the CRI format):
//
//   - <pods-dir>/<namespace>_<pod>_<uid>/<container>/<restart>.log
//     lines "<RFC3339Nano time> <stdout|stderr> <P|F> <message>", P a part of a line that the
//     following lines continue up to the one tagged F
//
// Each row carries namespace, pod, container, service (the container's name) and app (the
// namespace without -namespace-prefix: one namespace per app), and the static fields; a
// field may come from an environment variable (-field-env host=NODE_NAME, the node name from
// the downward API). A file the kubelet rotated (<n>.log.<timestamp>, same inode) is read to
// its end before the new <n>.log; positions are saved after the store accepted the batch, as
// for the json-file logs.
//
// Standard library only, so it builds offline.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type pairs [][2]string

func (p *pairs) String() string { return fmt.Sprint(*p) }
func (p *pairs) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", v)
	}
	*p = append(*p, [2]string{k, val})
	return nil
}

type config struct {
	dir, url, state, listen, requireLabel string
	journalDir, journalSince              string
	podsDir, namespacePrefix              string
	labels, fields, fieldEnv              pairs
	streamFields                          string
	interval, timeout                     time.Duration
	batchBytes                            int
}

type container struct {
	ID      string
	Name    string
	LogPath string
	Labels  map[string]string
}

type position struct {
	Inode  uint64 `json:"inode"`
	Offset int64  `json:"offset"`
}

var (
	rowsSent, bytesSent, pushErrors, readErrors, rowsDropped atomic.Int64
	lastSuccess                                              atomic.Int64
)

// warn logs a problem at most every 30 s per key: a store that is down for an hour must not
// fill the shipper's own log (which it ships too) with one line per container and second.
var (
	warned   = map[string]time.Time{}
	warnedMu sync.Mutex
)

func warn(key, format string, args ...any) {
	warnedMu.Lock()
	defer warnedMu.Unlock()
	if t, ok := warned[key]; ok && time.Since(t) < 30*time.Second {
		return
	}
	warned[key] = time.Now()
	log.Printf(format, args...)
}

func readContainer(dir string) (*container, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "config.v2.json"))
	if err != nil {
		return nil, err
	}
	var c struct {
		ID      string
		Name    string
		LogPath string
		Config  struct{ Labels map[string]string }
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	if c.LogPath == "" {
		c.LogPath = filepath.Join(dir, c.ID+"-json.log")
	} else {
		// The engine records the path as it sees it; we may see the directory mounted elsewhere.
		c.LogPath = filepath.Join(dir, filepath.Base(c.LogPath))
	}
	return &container{ID: c.ID, Name: strings.TrimPrefix(c.Name, "/"), LogPath: c.LogPath, Labels: c.Config.Labels}, nil
}

func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// row turns one json-file entry into a VictoriaLogs row. partial carries a line the engine
// split (no trailing newline) until its end arrives.
func row(cfg *config, c *container, line []byte, partial *strings.Builder) ([]byte, bool) {
	line = bytes.TrimSpace(line)
	var e struct {
		Log    string `json:"log"`
		Stream string `json:"stream"`
		Time   string `json:"time"`
	}
	if err := json.Unmarshal(line, &e); err != nil {
		readErrors.Add(1)
		return nil, false
	}
	if !strings.HasSuffix(e.Log, "\n") {
		partial.WriteString(e.Log)
		return nil, false
	}
	msg := strings.TrimRight(partial.String()+e.Log, "\r\n")
	partial.Reset()
	r := map[string]string{}
	for _, f := range cfg.fields {
		r[f[0]] = f[1]
	}
	for _, l := range cfg.labels {
		if v := c.Labels[l[1]]; v != "" {
			r[l[0]] = v
		}
	}
	r["_msg"], r["_time"], r["stream"], r["container"], r["source"] = msg, e.Time, e.Stream, c.Name, "container"
	if r["_msg"] == "" {
		r["_msg"] = "-"
	}
	out, _ := json.Marshal(r)
	return append(out, '\n'), true
}

// errRefused marks a batch the store refused for good (a 4xx other than 408 and 429): resending
// it would stop the file forever, so it is dropped and counted.
var errRefused = errors.New("refused")

func push(cfg *config, client *http.Client, body []byte) error {
	q := url.Values{"_msg_field": {"_msg"}, "_time_field": {"_time"}, "_stream_fields": {cfg.streamFields}}
	sep := "?"
	if strings.Contains(cfg.url, "?") {
		sep = "&"
	}
	resp, err := client.Post(cfg.url+sep+q.Encode(), "application/stream+json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		err := fmt.Errorf("%s answered %d: %s", cfg.url, resp.StatusCode, strings.TrimSpace(string(msg)))
		if resp.StatusCode/100 == 4 && resp.StatusCode != 408 && resp.StatusCode != 429 {
			return fmt.Errorf("%w: %w", errRefused, err)
		}
		return err
	}
	return nil
}

// rowFunc turns one line of a log file into a row; false while the line is not complete yet
// (partial holds its beginning) or when the line is not readable.
type rowFunc func(line []byte, partial *strings.Builder) ([]byte, bool)

// ship sends what file path holds past pos. It returns the new position; on a push error
// the position stays where VictoriaLogs last accepted. name names the source in warnings.
func ship(cfg *config, client *http.Client, name, path string, pos position, toRow rowFunc) (position, error) {
	f, err := os.Open(path)
	if err != nil {
		return pos, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return pos, err
	}
	if ino := inode(fi); ino != pos.Inode || fi.Size() < pos.Offset {
		pos = position{Inode: ino} // a new file, or truncated: from the start
	}
	if _, err := f.Seek(pos.Offset, io.SeekStart); err != nil {
		return pos, err
	}
	rd := bufio.NewReaderSize(f, 256*1024)
	var batch bytes.Buffer
	var partial strings.Builder
	var pending, consumed int64 // bytes read into the batch; bytes safe to skip on restart
	rows := 0
	flush := func() error {
		if batch.Len() > 0 {
			err := push(cfg, client, batch.Bytes())
			switch {
			case errors.Is(err, errRefused):
				pushErrors.Add(1)
				rowsDropped.Add(int64(rows))
				warn("refused "+path, "%s: %d rows dropped: %v", name, rows, err)
			case err != nil:
				pushErrors.Add(1)
				return err
			default:
				rowsSent.Add(int64(rows))
				bytesSent.Add(int64(batch.Len()))
				lastSuccess.Store(time.Now().Unix())
			}
		}
		pos.Offset += consumed
		pending -= consumed
		consumed, rows = 0, 0
		batch.Reset()
		return nil
	}
	for {
		line, err := rd.ReadBytes('\n')
		if err != nil {
			break // EOF or an incomplete last line: read it next time
		}
		pending += int64(len(line))
		if r, ok := toRow(line, &partial); ok {
			batch.Write(r)
			rows++
			consumed = pending
		} else if partial.Len() == 0 {
			consumed = pending
		}
		if batch.Len() >= cfg.batchBytes {
			if err := flush(); err != nil {
				return pos, err
			}
		}
	}
	return pos, flush()
}

// journalRow turns one `journalctl -o json` entry into a row; it returns the entry's cursor.
func journalRow(cfg *config, line []byte) ([]byte, string, bool) {
	var e map[string]any
	if err := json.Unmarshal(line, &e); err != nil {
		readErrors.Add(1)
		return nil, "", false
	}
	text := func(k string) string {
		switch v := e[k].(type) {
		case string:
			return v
		case []any: // journalctl prints a non-UTF-8 value as an array of bytes
			b := make([]byte, 0, len(v))
			for _, x := range v {
				if f, ok := x.(float64); ok {
					b = append(b, byte(f))
				}
			}
			return string(b)
		}
		return ""
	}
	r := map[string]string{}
	for _, f := range cfg.fields {
		r[f[0]] = f[1]
	}
	r["source"] = "journal"
	r["_msg"] = strings.TrimRight(text("MESSAGE"), "\r\n")
	if r["_msg"] == "" {
		r["_msg"] = "-"
	}
	if us, err := strconv.ParseInt(text("__REALTIME_TIMESTAMP"), 10, 64); err == nil {
		r["_time"] = time.UnixMicro(us).UTC().Format(time.RFC3339Nano)
	}
	if unit := text("_SYSTEMD_UNIT"); unit != "" {
		r["service"] = unit
	} else if id := text("SYSLOG_IDENTIFIER"); id != "" {
		r["service"] = id
	}
	for k, name := range map[string]string{"PRIORITY": "priority", "SYSLOG_IDENTIFIER": "identifier", "_PID": "pid", "_HOSTNAME": "hostname"} {
		if v := text(k); v != "" {
			r[name] = v
		}
	}
	out, _ := json.Marshal(r)
	return append(out, '\n'), text("__CURSOR"), true
}

// followJournal runs journalctl on the journal directory from the saved cursor and ships what
// it prints; the cursor is saved after each accepted batch. It returns when journalctl ends.
func followJournal(cfg *config, client *http.Client) error {
	cursorFile := filepath.Join(filepath.Dir(cfg.state), "journal.cursor")
	args := []string{"--directory=" + cfg.journalDir, "--output=json", "--all", "--follow", "--no-pager"}
	if raw, err := os.ReadFile(cursorFile); err == nil && len(bytes.TrimSpace(raw)) > 0 {
		args = append(args, "--after-cursor="+string(bytes.TrimSpace(raw)))
	} else if cfg.journalSince != "" {
		args = append(args, "--since="+cfg.journalSince)
	}
	cmd := exec.Command("journalctl", args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := make(chan []byte, 1024)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			lines <- append([]byte(nil), sc.Bytes()...)
		}
		close(lines)
	}()
	var batch bytes.Buffer
	var cursor string
	rows := 0
	flush := func() {
		for batch.Len() > 0 {
			err := push(cfg, client, batch.Bytes())
			if errors.Is(err, errRefused) {
				rowsDropped.Add(int64(rows))
				warn("journal refused", "journal: %d rows dropped: %v", rows, err)
			} else if err != nil {
				pushErrors.Add(1)
				warn("journal", "journal: %v", err)
				time.Sleep(cfg.interval)
				continue
			}
			rowsSent.Add(int64(rows))
			bytesSent.Add(int64(batch.Len()))
			lastSuccess.Store(time.Now().Unix())
			batch.Reset()
			rows = 0
			if err := os.WriteFile(cursorFile+".tmp", []byte(cursor), 0o600); err == nil {
				_ = os.Rename(cursorFile+".tmp", cursorFile)
			}
		}
	}
	tick := time.NewTicker(cfg.interval)
	defer tick.Stop()
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				flush()
				return fmt.Errorf("journalctl ended")
			}
			if r, c, ok := journalRow(cfg, line); ok {
				batch.Write(r)
				rows++
				cursor = c
			}
			if batch.Len() >= cfg.batchBytes {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}

func loadState(path string) map[string]position {
	st := map[string]position{}
	if raw, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(raw, &st); err != nil {
			log.Printf("state %s unreadable, starting over: %v", path, err)
		}
	}
	return st
}

func saveState(path string, st map[string]position) error {
	raw, _ := json.Marshal(st)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func cycle(cfg *config, client *http.Client, st map[string]position) {
	dirs, _ := filepath.Glob(filepath.Join(cfg.dir, "*", "config.v2.json"))
	seen := map[string]bool{}
	for _, d := range dirs {
		// Seen even when unreadable for a moment: its position must survive until it is gone.
		seen[filepath.Base(filepath.Dir(d))] = true
		c, err := readContainer(filepath.Dir(d))
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				readErrors.Add(1)
				warn(d, "container %s: %v", d, err)
			}
			continue
		}
		if cfg.requireLabel != "" && c.Labels[cfg.requireLabel] == "" {
			continue
		}
		pos := st[c.ID]
		toRow := func(line []byte, partial *strings.Builder) ([]byte, bool) { return row(cfg, c, line, partial) }
		// Finish a file the engine rotated away (log.1 keeps the inode we were reading).
		if fi, err := os.Stat(c.LogPath + ".1"); err == nil && pos.Inode != 0 && inode(fi) == pos.Inode {
			if p, err := ship(cfg, client, "container "+c.Name, c.LogPath+".1", pos, toRow); err != nil {
				st[c.ID] = p
				warn(c.ID, "container %s: %v", c.Name, err)
				continue
			}
			pos = position{}
		}
		p, err := ship(cfg, client, "container "+c.Name, c.LogPath, pos, toRow)
		st[c.ID] = p
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			warn(c.ID, "container %s: %v", c.Name, err)
		}
	}
	for id := range st {
		if !seen[id] {
			delete(st, id)
		}
	}
	if err := saveState(cfg.state, st); err != nil {
		warn("state", "state %s: %v", cfg.state, err)
	}
}

func serve(cfg *config) {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# TYPE logship_rows_sent_total counter\nlogship_rows_sent_total %d\n", rowsSent.Load())
		fmt.Fprintf(w, "# TYPE logship_bytes_sent_total counter\nlogship_bytes_sent_total %d\n", bytesSent.Load())
		fmt.Fprintf(w, "# TYPE logship_push_errors_total counter\nlogship_push_errors_total %d\n", pushErrors.Load())
		fmt.Fprintf(w, "# TYPE logship_rows_dropped_total counter\nlogship_rows_dropped_total %d\n", rowsDropped.Load())
		fmt.Fprintf(w, "# TYPE logship_read_errors_total counter\nlogship_read_errors_total %d\n", readErrors.Load())
		fmt.Fprintf(w, "# TYPE logship_last_success_timestamp_seconds gauge\nlogship_last_success_timestamp_seconds %d\n", lastSuccess.Load())
	})
	srv := &http.Server{Addr: cfg.listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

func main() {
	cfg := &config{}
	flag.StringVar(&cfg.dir, "containers-dir", "/var/lib/docker/containers", "the engine's containers directory (read-only is enough)")
	flag.StringVar(&cfg.url, "url", "http://127.0.0.1:9428/insert/jsonline", "VictoriaLogs JSON-lines endpoint")
	flag.StringVar(&cfg.state, "state", "/var/lib/logship/positions.json", "file of the read positions")
	flag.StringVar(&cfg.listen, "listen", "127.0.0.1:9430", "address of /health and /metrics; empty: none")
	flag.StringVar(&cfg.requireLabel, "require-label", "", "ship only containers that carry this label")
	flag.StringVar(&cfg.streamFields, "stream-fields", "app,service,env,host", "VictoriaLogs stream fields")
	flag.Var(&cfg.labels, "label", "FIELD=CONTAINER_LABEL: a field taken from a container label (repeatable)")
	flag.Var(&cfg.fields, "field", "FIELD=VALUE: a field added to every row (repeatable; a label of the same name wins)")
	flag.DurationVar(&cfg.interval, "interval", time.Second, "how often the files are read")
	flag.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "timeout of one push")
	flag.IntVar(&cfg.batchBytes, "batch-bytes", 1<<20, "bytes per push")
	flag.StringVar(&cfg.journalDir, "journal-dir", "", "a directory of systemd journal files to follow; empty: none")
	flag.StringVar(&cfg.journalSince, "journal-since", "now", "where a journal with no saved cursor starts (journalctl --since)")
	flag.StringVar(&cfg.podsDir, "pods-dir", "", "Kubernetes: the kubelet's pod log directory (/var/log/pods, CRI format) instead of -containers-dir")
	flag.StringVar(&cfg.namespacePrefix, "namespace-prefix", "", "Kubernetes: the app of a pod is its namespace without this prefix")
	flag.Var(&cfg.fieldEnv, "field-env", "FIELD=ENV_VAR: a field added to every row from an environment variable (repeatable)")
	check := flag.Bool("check", false, "check the flags and the containers directory, then exit")
	flag.Parse()
	if flag.NArg() > 0 {
		log.Fatalf("unexpected arguments: %v", flag.Args())
	}
	u, err := url.Parse(cfg.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		log.Fatalf("-url %q: not an http(s) URL", cfg.url)
	}
	if cfg.interval <= 0 || cfg.timeout <= 0 || cfg.batchBytes <= 0 {
		log.Fatal("-interval, -timeout and -batch-bytes must be positive")
	}
	source, flagName := cfg.dir, "-containers-dir"
	if cfg.podsDir != "" {
		source, flagName = cfg.podsDir, "-pods-dir"
	}
	if fi, err := os.Stat(source); err != nil || !fi.IsDir() {
		log.Fatalf("%s %s: not a readable directory", flagName, source)
	}
	if err := resolveFieldEnv(cfg, os.Getenv); err != nil {
		log.Fatal(err)
	}
	names := make([]string, 0, len(cfg.fields)+len(cfg.labels))
	for _, p := range append(append(pairs{}, cfg.fields...), cfg.labels...) {
		names = append(names, p[0])
	}
	sort.Strings(names)
	if cfg.journalDir != "" {
		if fi, err := os.Stat(cfg.journalDir); err != nil || !fi.IsDir() {
			log.Fatalf("-journal-dir %s: not a readable directory", cfg.journalDir)
		}
		if _, err := exec.LookPath("journalctl"); err != nil {
			log.Fatalf("-journal-dir needs journalctl: %v", err)
		}
	}
	if *check {
		fmt.Printf("ok: %s -> %s, fields %s\n", source, cfg.url, strings.Join(names, ","))
		return
	}
	if err := os.MkdirAll(filepath.Dir(cfg.state), 0o700); err != nil {
		log.Fatal(err)
	}
	if cfg.listen != "" {
		go serve(cfg)
	}
	log.Printf("shipping %s to %s every %s (fields %s)", source, cfg.url, cfg.interval, strings.Join(names, ","))
	client := &http.Client{Timeout: cfg.timeout}
	st := loadState(cfg.state)
	if cfg.journalDir != "" {
		go func() {
			for {
				log.Printf("journal %s: %v", cfg.journalDir, followJournal(cfg, client))
				time.Sleep(5 * time.Second)
			}
		}()
	}
	for {
		if cfg.podsDir != "" {
			criCycle(cfg, client, st)
		} else {
			cycle(cfg, client, st)
		}
		time.Sleep(cfg.interval)
	}
}
