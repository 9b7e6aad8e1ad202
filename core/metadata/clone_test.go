package metadata

import (
	"fmt"
	"reflect"
	"testing"
)

// fillValue sets every field reachable from v to a non-zero value (n
// varies them), with one element in every slice and map, so that a
// deep-copy check sees every pointer, slice and map of the type.
func fillValue(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillValue(v.Elem(), n)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			fillValue(v.Field(i), n)
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fillValue(v.Index(0), n)
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			fillValue(v.Index(i), n)
		}
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fillValue(k, n)
		fillValue(e, n)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.String:
		v.SetString(fmt.Sprint("s", *n))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n % 100))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n % 100))
	case reflect.Bool:
		v.SetBool(true)
	default:
		panic(fmt.Sprintf("fillValue: kind %s not handled: extend the test", v.Kind()))
	}
}

// shared reports the first pointer, slice array or map that a and b
// (deeply equal values of one type) share.
func shared(a, b reflect.Value, at string) string {
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() {
			return ""
		}
		if a.Pointer() == b.Pointer() {
			return at
		}
		return shared(a.Elem(), b.Elem(), at)
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			if s := shared(a.Field(i), b.Field(i), at+"."+a.Type().Field(i).Name); s != "" {
				return s
			}
		}
	case reflect.Slice:
		if a.Len() > 0 && a.Pointer() == b.Pointer() {
			return at
		}
		for i := 0; i < a.Len(); i++ {
			if s := shared(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", at, i)); s != "" {
				return s
			}
		}
	case reflect.Map:
		if !a.IsNil() && a.Pointer() == b.Pointer() {
			return at
		}
	}
	return ""
}

func TestEntryCloneIsDeep(t *testing.T) {
	var e Entry
	n := 0
	fillValue(reflect.ValueOf(&e).Elem(), &n)
	c := e.Clone()
	if !reflect.DeepEqual(&e, c) {
		t.Fatalf("clone differs:\n%+v\n%+v", e, *c)
	}
	if s := shared(reflect.ValueOf(&e).Elem(), reflect.ValueOf(c).Elem(), "Entry"); s != "" {
		t.Fatalf("clone shares %s with the original: Clone must copy it", s)
	}
}

// TestEntryCloneMatchesDecode: a clone of a decoded entry equals a second
// decode of the same bytes, nil and empty slices and maps included.
func TestEntryCloneMatchesDecode(t *testing.T) {
	for _, data := range []string{
		`{"proposer":1,"incarnation":2,"seq":3,"records":null}`,
		`{"proposer":1,"incarnation":2,"seq":3,"records":[]}`,
		`{"records":[{"change_isr":{"topic":"t","isr":null}},{"change_isr":{"topic":"t","isr":[]}},{"change_isr":{"isr":[1,2]}}]}`,
		`{"records":[{"create_topic":{"name":"t","assignment":[[1,2],[],null],"configs":{}}},{"create_topic":{"name":"u"}}]}`,
		`{"records":[{"create_partitions":{"name":"t","count":3,"assignment":[[3]]}},{"set_topic_configs":{"name":"t","configs":{"a":"b"}}},{"set_topic_configs":{"name":"t"}}]}`,
		`{"records":[{"register_broker":{"id":1,"host":"h","port":9092,"incarnation":7}},{"fence_broker":{"id":1}},{"unfence_broker":{"id":1}},{"delete_topic":{"name":"t"}},{"resign_leadership":{"topic":"t"}},{"allocate_producer_ids":{"broker":1,"count":10}}]}`,
	} {
		a, err := DecodeEntry([]byte(data))
		if err != nil {
			t.Fatal(err)
		}
		b, err := DecodeEntry([]byte(data))
		if err != nil {
			t.Fatal(err)
		}
		if c := a.Clone(); !reflect.DeepEqual(b, c) {
			t.Errorf("%s: clone %+v, decode %+v", data, c, b)
		}
	}
}
