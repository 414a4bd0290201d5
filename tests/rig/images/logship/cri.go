// SPDX-License-Identifier: GPL-3.0-or-later

package main

// The Kubernetes mode (-pods-dir): the kubelet's pod logs in the CRI format.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// podLog is what the path of one pod log file says about it.
type podLog struct {
	namespace, pod, uid, container string
}

// The file of one run of a container (<restart count>.log); rotated ones carry a suffix.
var restartLog = regexp.MustCompile(`^[0-9]+\.log$`)

// parsePodLog reads <namespace>_<pod>_<uid>/<container>/<n>.log; none of the three parts of the
// directory may hold '_' (namespaces and pod names are DNS names, the uid a UUID).
func parsePodLog(rel string) (podLog, bool) {
	parts := strings.Split(filepath.ToSlash(rel), "/")
	if len(parts) != 3 || !restartLog.MatchString(parts[2]) {
		return podLog{}, false
	}
	ids := strings.Split(parts[0], "_")
	if len(ids) != 3 || ids[0] == "" || ids[1] == "" || ids[2] == "" || parts[1] == "" {
		return podLog{}, false
	}
	return podLog{namespace: ids[0], pod: ids[1], uid: ids[2], container: parts[1]}, true
}

// criRow turns one CRI log line ("<time> <stream> <P|F> <message>") into a row. A P line is
// the beginning of a longer one: it is kept in partial until the F line that ends it.
func criRow(cfg *config, p podLog, line []byte, partial *strings.Builder) ([]byte, bool) {
	line = bytes.TrimRight(line, "\r\n")
	parts := bytes.SplitN(line, []byte{' '}, 4)
	if len(parts) < 3 {
		readErrors.Add(1)
		return nil, false
	}
	stamp, stream := string(parts[0]), string(parts[1])
	tag, _, _ := strings.Cut(string(parts[2]), ":")
	if _, err := time.Parse(time.RFC3339Nano, stamp); err != nil || (stream != "stdout" && stream != "stderr") ||
		(tag != "P" && tag != "F") {
		readErrors.Add(1)
		return nil, false
	}
	msg := ""
	if len(parts) == 4 {
		msg = string(parts[3])
	}
	if tag == "P" {
		partial.WriteString(msg)
		return nil, false
	}
	msg = strings.TrimRight(partial.String()+msg, "\r\n")
	partial.Reset()
	r := map[string]string{}
	for _, f := range cfg.fields {
		r[f[0]] = f[1]
	}
	if app, ok := strings.CutPrefix(p.namespace, cfg.namespacePrefix); ok && app != "" {
		r["app"] = app
	}
	r["namespace"], r["pod"], r["container"], r["service"] = p.namespace, p.pod, p.container, p.container
	r["_msg"], r["_time"], r["stream"], r["source"] = msg, stamp, stream, "container"
	if r["_msg"] == "" {
		r["_msg"] = "-"
	}
	out, _ := json.Marshal(r)
	return append(out, '\n'), true
}

// resolveFieldEnv adds the -field-env fields to the static ones, from the environment (the
// node name, say, which the downward API gives a DaemonSet's pod as an environment variable).
func resolveFieldEnv(cfg *config, getenv func(string) string) error {
	for _, f := range cfg.fieldEnv {
		v := getenv(f[1])
		if v == "" {
			return fmt.Errorf("-field-env %s=%s: the environment variable %s is not set", f[0], f[1], f[1])
		}
		cfg.fields = append(cfg.fields, [2]string{f[0], v})
	}
	return nil
}

// rotatedWith is the file the kubelet rotated path to (<path>.<timestamp>, not yet
// compressed) that still has the inode we were reading; "" when there is none.
func rotatedWith(path string, ino uint64) string {
	found, _ := filepath.Glob(path + ".*")
	for _, f := range found {
		if strings.HasSuffix(f, ".gz") || strings.HasSuffix(f, ".tmp") {
			continue
		}
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() && inode(fi) == ino {
			return f
		}
	}
	return ""
}

// criCycle ships what is new in every pod log under the pods directory. Positions are keyed
// by the file's path under the directory; those of files that are gone are forgotten.
func criCycle(cfg *config, client *http.Client, st map[string]position) {
	files, _ := filepath.Glob(filepath.Join(cfg.podsDir, "*", "*", "*.log"))
	seen := map[string]bool{}
	for _, path := range files {
		rel, err := filepath.Rel(cfg.podsDir, path)
		if err != nil {
			continue
		}
		p, ok := parsePodLog(rel)
		if !ok {
			continue
		}
		seen[rel] = true
		name := "pod " + p.namespace + "/" + p.pod + " container " + p.container
		toRow := func(line []byte, partial *strings.Builder) ([]byte, bool) { return criRow(cfg, p, line, partial) }
		pos := st[rel]
		// Finish the file the kubelet rotated away (it keeps the inode we were reading).
		if fi, err := os.Stat(path); err == nil && pos.Inode != 0 && inode(fi) != pos.Inode {
			if old := rotatedWith(path, pos.Inode); old != "" {
				if np, err := ship(cfg, client, name, old, pos, toRow); err != nil {
					st[rel] = np
					warn(rel, "%s: %v", name, err)
					continue
				}
			}
			pos = position{}
		}
		np, err := ship(cfg, client, name, path, pos, toRow)
		st[rel] = np
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			warn(rel, "%s: %v", name, err)
		}
	}
	for key := range st {
		if !seen[key] {
			delete(st, key)
		}
	}
	if err := saveState(cfg.state, st); err != nil {
		warn("state", "state %s: %v", cfg.state, err)
	}
}
