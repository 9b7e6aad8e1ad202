package main

// kcat (librdkafka) against the real binary: produce with every codec and
// with idempotence, consume from the beginning and from an offset, read
// records a franz-go producer wrote, auto-create a topic, list metadata.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// e2eKcatRecord is one line of `kcat -C -J`.
type e2eKcatRecord struct {
	Topic     string   `json:"topic"`
	Partition int32    `json:"partition"`
	Offset    int64    `json:"offset"`
	Tstype    string   `json:"tstype"`
	Ts        int64    `json:"ts"`
	Key       *string  `json:"key"`
	Payload   *string  `json:"payload"`
	Headers   []string `json:"headers"`
}

func e2eKcatPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat not found on PATH: install kcat (apt-get install -y kcat)")
	}
	return p
}

// e2eKcat runs kcat against the broker with stdin and returns stdout; a
// non-zero exit or a run over 60 s fails the test.
func e2eKcat(t testing.TB, kcat string, b *e2eBroker, stdin string, args ...string) string {
	t.Helper()
	return e2eRunKcat(t, kcat, b, stdin, false, args...)
}

// e2eKcatTolerant runs kcat like e2eKcat but accepts broker transport
// errors on stderr (a dead broker of a cluster); a failed delivery or a
// non-zero exit still fails the test.
func e2eKcatTolerant(t testing.TB, kcat string, b *e2eBroker, stdin string, args ...string) string {
	t.Helper()
	return e2eRunKcat(t, kcat, b, stdin, true, args...)
}

func e2eRunKcat(t testing.TB, kcat string, b *e2eBroker, stdin string, tolerant bool, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{"-b", b.Addr(), "-m", "15", "-X", "socket.timeout.ms=15000"}, args...)
	cmd := exec.CommandContext(ctx, kcat, full...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("kcat %s: still running after 60s; stderr:\n%s", strings.Join(full, " "), stderr.String())
	}
	if err != nil {
		t.Fatalf("kcat %s: %v; stderr:\n%s", strings.Join(full, " "), err, stderr.String())
	}
	if s := stderr.String(); tolerant && strings.Contains(s, "Delivery failed") {
		t.Fatalf("kcat %s: delivery failed:\n%s", strings.Join(full, " "), s)
	} else if !tolerant && (strings.Contains(s, "ERROR") || strings.Contains(s, "Delivery failed")) {
		t.Errorf("kcat %s reported errors:\n%s", strings.Join(full, " "), s)
	}
	return stdout.String()
}

func e2eParseKcatJSON(t testing.TB, out string) []e2eKcatRecord {
	t.Helper()
	var rs []e2eKcatRecord
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var r e2eKcatRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("kcat JSON line %q: %v", line, err)
		}
		rs = append(rs, r)
	}
	return rs
}

func e2eStrPtrEq(p *string, b []byte) bool {
	if p == nil || b == nil {
		return p == nil && b == nil
	}
	return *p == string(b)
}

func e2eShowStrPtr(p *string) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprintf("%q", *p)
}

func TestE2EKcat(t *testing.T) {
	kcat := e2eKcatPath(t)
	b := e2eStartBroker(t)
	cl := e2eNewClient(t, b)
	adm := kadm.NewClient(cl)

	const n = 100
	input := func() (string, []string, []string) {
		var sb strings.Builder
		var keys, vals []string
		for i := range n {
			k := fmt.Sprintf("key-%03d", i)
			v := fmt.Sprintf("value-%03d-%s", i, strings.Repeat("abc", 20+i%13))
			keys, vals = append(keys, k), append(vals, v)
			fmt.Fprintf(&sb, "%s:%s\n", k, v)
		}
		return sb.String(), keys, vals
	}

	// checkTopic consumes with kcat (and with kgo) and compares.
	checkTopic := func(t *testing.T, topic string, keys, vals []string) {
		t.Helper()
		got := e2eParseKcatJSON(t, e2eKcat(t, kcat, b, "", "-C", "-t", topic, "-o", "beginning", "-e", "-J", "-q"))
		if len(got) != len(vals) {
			t.Fatalf("kcat consumed %d records, want %d", len(got), len(vals))
		}
		for i, r := range got {
			if r.Offset != int64(i) || r.Partition != 0 || r.Key == nil || *r.Key != keys[i] || r.Payload == nil || *r.Payload != vals[i] {
				t.Fatalf("kcat record %d: partition %d offset %d key %s payload %s; want offset %d key %q payload %q",
					i, r.Partition, r.Offset, e2eShowStrPtr(r.Key), e2eShowStrPtr(r.Payload), i, keys[i], vals[i])
			}
		}
		recs := e2eConsumeN(t, b, topic, 0, kgo.NewOffset().AtStart(), len(vals), 15*time.Second)
		for i, r := range recs {
			if string(r.Key) != keys[i] || string(r.Value) != vals[i] {
				t.Fatalf("kgo record %d: key %q value %q", i, r.Key, r.Value)
			}
			if len(r.Headers) != 1 || r.Headers[0].Key != "src" || string(r.Headers[0].Value) != "kcat" {
				t.Fatalf("kgo record %d: headers %v, want src=kcat", i, r.Headers)
			}
		}
		if end := e2eEndOffset(t, adm, topic, 0); end != int64(len(vals)) {
			t.Fatalf("end offset %d, want %d", end, len(vals))
		}
	}

	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run("produce-"+codec, func(t *testing.T) {
			topic := e2eUniqueTopic(t)
			e2eCreateTopic(t, adm, topic, 1, nil)
			in, keys, vals := input()
			args := []string{"-P", "-t", topic, "-K", ":", "-H", "src=kcat", "-X", "linger.ms=20"}
			if codec != "none" {
				args = append(args, "-z", codec)
			}
			e2eKcat(t, kcat, b, in, args...)
			checkTopic(t, topic, keys, vals)
		})
	}

	t.Run("produce-idempotent", func(t *testing.T) {
		topic := e2eUniqueTopic(t)
		e2eCreateTopic(t, adm, topic, 1, nil)
		in, keys, vals := input()
		e2eKcat(t, kcat, b, in, "-P", "-t", topic, "-K", ":", "-H", "src=kcat", "-X", "enable.idempotence=true", "-z", "lz4")
		checkTopic(t, topic, keys, vals)
		recs := e2eConsumeN(t, b, topic, 0, kgo.NewOffset().AtStart(), 1, 10*time.Second)
		if recs[0].ProducerID < 0 {
			t.Errorf("idempotent kcat batch stored with producer id %d", recs[0].ProducerID)
		}
	})

	t.Run("produce-auto-created-topic", func(t *testing.T) {
		topic := e2eUniqueTopic(t) // not created: librdkafka's producer metadata auto-creates it
		in, keys, vals := input()
		e2eKcat(t, kcat, b, in, "-P", "-t", topic, "-K", ":", "-H", "src=kcat", "-p", "0")
		checkTopic(t, topic, keys, vals)
	})

	t.Run("consume-from-offset", func(t *testing.T) {
		topic := e2eUniqueTopic(t)
		e2eCreateTopic(t, adm, topic, 1, nil)
		in, _, vals := input()
		e2eKcat(t, kcat, b, in, "-P", "-t", topic, "-K", ":")
		got := e2eParseKcatJSON(t, e2eKcat(t, kcat, b, "", "-C", "-t", topic, "-o", "50", "-e", "-J", "-q"))
		if len(got) != 50 || got[0].Offset != 50 || *got[0].Payload != vals[50] {
			t.Fatalf("kcat -o 50: %d records, first at offset %d", len(got), got[0].Offset)
		}
		got = e2eParseKcatJSON(t, e2eKcat(t, kcat, b, "", "-C", "-t", topic, "-o", "-10", "-e", "-J", "-q"))
		if len(got) != 10 || got[0].Offset != 90 {
			t.Fatalf("kcat -o -10 (ten before the end): %d records, first at %d", len(got), got[0].Offset)
		}
	})

	t.Run("consume-franz-go-records", func(t *testing.T) {
		topic := e2eUniqueTopic(t)
		e2eCreateTopic(t, adm, topic, 1, nil)
		pcl := e2eNewClient(t, b, kgo.ProducerBatchCompression(kgo.SnappyCompression()))
		want := e2eTestRecords(topic, 30, time.Now().Add(-time.Minute))
		e2eProduceSync(t, pcl, want...)
		got := e2eParseKcatJSON(t, e2eKcat(t, kcat, b, "", "-C", "-t", topic, "-o", "beginning", "-e", "-J", "-q"))
		if len(got) != len(want) {
			t.Fatalf("kcat consumed %d records, want %d", len(got), len(want))
		}
		for i, r := range got {
			w := want[i]
			if !e2eStrPtrEq(r.Key, w.Key) || !e2eStrPtrEq(r.Payload, w.Value) || r.Ts != w.Timestamp.UnixMilli() || r.Tstype != "create" {
				t.Errorf("record %d: key %s payload %s ts %d (%s); want key %s payload %s ts %d (create)",
					i, e2eShowStrPtr(r.Key), e2eShowStrPtr(r.Payload), r.Ts, r.Tstype, e2eShowBytes(w.Key), e2eShowBytes(w.Value), w.Timestamp.UnixMilli())
			}
			var wantH []string
			for _, h := range w.Headers {
				wantH = append(wantH, h.Key, string(h.Value))
			}
			if strings.Join(r.Headers, "\x00") != strings.Join(wantH, "\x00") {
				t.Errorf("record %d: headers %q, want %q", i, r.Headers, wantH)
			}
		}
	})

	t.Run("metadata", func(t *testing.T) {
		topic := e2eUniqueTopic(t)
		e2eCreateTopic(t, adm, topic, 3, nil)
		var md struct {
			Brokers []struct {
				ID   int32  `json:"id"`
				Name string `json:"name"`
			} `json:"brokers"`
			Topics []struct {
				Topic      string `json:"topic"`
				Partitions []struct {
					Partition int32 `json:"partition"`
					Leader    int32 `json:"leader"`
				} `json:"partitions"`
			} `json:"topics"`
		}
		out := e2eKcat(t, kcat, b, "", "-L", "-J")
		if err := json.Unmarshal([]byte(out), &md); err != nil {
			t.Fatalf("kcat -L -J: %v\n%s", err, out)
		}
		if len(md.Brokers) != 1 || md.Brokers[0].ID != e2eBrokerNodeID || md.Brokers[0].Name != b.Addr() {
			t.Errorf("kcat -L brokers %+v, want id %d at %s", md.Brokers, e2eBrokerNodeID, b.Addr())
		}
		found := false
		for _, tp := range md.Topics {
			if tp.Topic != topic {
				continue
			}
			found = true
			if len(tp.Partitions) != 3 {
				t.Errorf("kcat -L: %s has %d partitions, want 3", topic, len(tp.Partitions))
			}
			for _, p := range tp.Partitions {
				if p.Leader != e2eBrokerNodeID {
					t.Errorf("kcat -L: %s[%d] leader %d", topic, p.Partition, p.Leader)
				}
			}
		}
		if !found {
			t.Errorf("kcat -L does not list %s:\n%s", topic, out)
		}
		// The plain text form too.
		txt := e2eKcat(t, kcat, b, "", "-L", "-t", topic)
		if !strings.Contains(txt, "1 brokers:") || !strings.Contains(txt, fmt.Sprintf("topic \"%s\" with 3 partitions", topic)) {
			t.Errorf("kcat -L -t %s:\n%s", topic, txt)
		}
	})
}
