package linearizability

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func create(client int, call, ret int64, topic string, result TopicResult) TopicOp {
	return TopicOp{Kind: TopicCreate, Client: client, Call: call, Return: ret, Topic: topic, Result: result}
}

func del(client int, call, ret int64, topic string, result TopicResult) TopicOp {
	return TopicOp{Kind: TopicDelete, Client: client, Call: call, Return: ret, Topic: topic, Result: result}
}

func list(client int, call, ret int64, topics ...string) TopicOp {
	return TopicOp{Kind: TopicList, Client: client, Call: call, Return: ret, Result: TopicOK, Topics: topics}
}

func TestTopicSetModel(t *testing.T) {
	for _, tc := range []struct {
		name    string
		history []TopicOp
		want    Verdict
	}{
		{"empty", nil, VerdictOK},
		{"sequential create list delete list", []TopicOp{
			create(0, 0, 1, "a", TopicOK),
			list(1, 2, 3, "a"),
			del(0, 4, 5, "a", TopicOK),
			list(1, 6, 7),
		}, VerdictOK},
		{"acknowledged create missing from a later list", []TopicOp{
			create(0, 0, 1, "a", TopicOK),
			list(1, 2, 3),
		}, VerdictIllegal},
		{"list overlapping the create may miss it", []TopicOp{
			create(0, 0, 3, "a", TopicOK),
			list(1, 1, 2),
			list(1, 4, 5, "a"),
		}, VerdictOK},
		{"list sees a topic never created", []TopicOp{
			list(0, 0, 1, "ghost"),
		}, VerdictIllegal},
		{"failed create is left out", []TopicOp{
			create(0, 0, 1, "a", TopicFailed),
			list(1, 2, 3),
		}, VerdictOK},
		{"failed create read back is illegal", []TopicOp{
			create(0, 0, 1, "a", TopicFailed),
			list(1, 2, 3, "a"),
		}, VerdictIllegal},
		{"two concurrent creates cannot both succeed", []TopicOp{
			create(0, 0, 2, "a", TopicOK),
			create(1, 1, 3, "a", TopicOK),
		}, VerdictIllegal},
		{"concurrent creates: one wins, one finds it", []TopicOp{
			create(0, 0, 2, "a", TopicOK),
			create(1, 1, 3, "a", TopicExists),
		}, VerdictOK},
		{"exists before any create", []TopicOp{
			create(0, 0, 1, "a", TopicExists),
			create(1, 2, 3, "a", TopicOK),
		}, VerdictIllegal},
		{"delete of an absent topic", []TopicOp{
			del(0, 0, 1, "a", TopicAbsent),
			create(0, 2, 3, "a", TopicOK),
			del(0, 4, 5, "a", TopicOK),
			del(0, 6, 7, "a", TopicAbsent),
		}, VerdictOK},
		{"delete ok of an absent topic", []TopicOp{
			del(0, 0, 1, "a", TopicOK),
		}, VerdictIllegal},
		{"unknown create never seen", []TopicOp{
			create(0, 0, 1, "a", TopicUnknown),
			list(1, 2, 3),
			list(1, 4, 5),
		}, VerdictOK},
		{"unknown create seen late", []TopicOp{
			// The client gave up at 1; the create took effect after 3.
			create(0, 0, 1, "a", TopicUnknown),
			list(1, 2, 3),
			list(1, 4, 5, "a"),
			create(2, 6, 7, "a", TopicExists),
		}, VerdictOK},
		{"unknown create cannot undo itself", []TopicOp{
			create(0, 0, 1, "a", TopicUnknown),
			list(1, 2, 3, "a"),
			list(1, 4, 5),
		}, VerdictIllegal},
		{"list mixing two moments", []TopicOp{
			// b is created only after a is deleted, so no moment has both.
			create(0, 0, 1, "a", TopicOK),
			del(0, 2, 5, "a", TopicOK),
			create(0, 6, 9, "b", TopicOK),
			list(1, 3, 8, "a", "b"),
		}, VerdictIllegal},
		{"list order does not matter", []TopicOp{
			create(0, 0, 1, "b", TopicOK),
			create(0, 2, 3, "a", TopicOK),
			list(1, 4, 5, "b", "a"),
		}, VerdictOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := CheckTopicSet(tc.history, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != tc.want {
				t.Fatalf("verdict %s, want %s", res.Verdict, tc.want)
			}
		})
	}
}

func TestTopicSetVisualization(t *testing.T) {
	dir := t.TempDir()
	res, err := CheckTopicSet([]TopicOp{
		create(0, 0, 1, "orders", TopicOK),
		list(1, 2, 3),
	}, Options{VisualizationDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != VerdictIllegal || res.VisualizationPath == "" {
		t.Fatalf("got %s", res)
	}
	if !strings.HasSuffix(res.VisualizationPath, DefaultTopicSetVisualizationName) {
		t.Fatalf("visualization at %s", res.VisualizationPath)
	}
	html, err := os.ReadFile(res.VisualizationPath)
	if err != nil {
		t.Fatal(err)
	}
	// The operations are embedded as JSON, which escapes ">".
	for _, want := range []string{`create orders -\u003e ok`, `list -\u003e []`, "op #1"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("visualization lacks %q", want)
		}
	}
}

func TestValidateTopicHistory(t *testing.T) {
	for _, tc := range []struct {
		name string
		op   TopicOp
	}{
		{"negative client", create(-1, 0, 1, "a", TopicOK)},
		{"returns before call", create(0, 2, 1, "a", TopicOK)},
		{"empty name", create(0, 0, 1, "", TopicOK)},
		{"NUL in name", create(0, 0, 1, "a\x00b", TopicOK)},
		{"create absent", create(0, 0, 1, "a", TopicAbsent)},
		{"delete exists", del(0, 0, 1, "a", TopicExists)},
		{"unknown list", TopicOp{Kind: TopicList, Result: TopicUnknown}},
		{"list twice the same name", list(0, 0, 1, "a", "a")},
		{"failed list with topics", TopicOp{Kind: TopicList, Result: TopicFailed, Topics: []string{"a"}}},
		{"unknown kind", TopicOp{Kind: 9, Result: TopicOK}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CheckTopicSet([]TopicOp{tc.op}, Options{})
			if !errors.Is(err, ErrInvalidHistory) {
				t.Fatalf("got %v, want ErrInvalidHistory", err)
			}
		})
	}
}
