package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/llmgw/gateway/app/providers/providertest"
	"github.com/openai/openai-go/v3/packages/respjson"
	"github.com/openai/openai-go/v3/responses"
)

func toAny(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return providertest.DecodeAny(t, b)
}

// sdkExempt are required fields of the SDK's types that the gateway does not
// send: access_programs is about OpenAI's own access programs.
var sdkExempt = map[string]bool{"Response.AccessPrograms": true}

var fieldType = reflect.TypeOf(respjson.Field{})

// sdkProblems walks a value decoded by the official SDK and reports every
// required field that was absent and every field whose JSON did not fit the
// SDK's type (the SDK's decoder never fails: it marks such fields invalid).
// Unions are checked through the variant AsAny picks.
func sdkProblems(path string, v reflect.Value) []string {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return sdkProblems(path, v.Elem())
	case reflect.Slice, reflect.Array:
		var out []string
		for i := 0; i < v.Len(); i++ {
			out = append(out, sdkProblems(fmt.Sprintf("%s[%d]", path, i), v.Index(i))...)
		}
		return out
	case reflect.Struct:
	default:
		return nil
	}
	if m := v.MethodByName("AsAny"); m.IsValid() && m.Type().NumIn() == 0 && m.Type().NumOut() == 1 {
		variant := m.Call(nil)[0]
		if variant.IsNil() {
			return nil // a variant the SDK does not know: nothing to check
		}
		return sdkProblems(fmt.Sprintf("%s(%s)", path, variant.Elem().Type().Name()), variant)
	}
	meta := v.FieldByName("JSON")
	if !meta.IsValid() || meta.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Name == "JSON" || !f.IsExported() {
			continue
		}
		m := meta.FieldByName(f.Name)
		if !m.IsValid() || m.Type() != fieldType {
			continue
		}
		field := m.Interface().(respjson.Field)
		name := strings.Split(f.Tag.Get("json"), ",")[0]
		p := path + "." + name
		raw := field.Raw()
		switch {
		case raw == respjson.Omitted:
			if strings.Contains(f.Tag.Get("api"), "required") && !sdkExempt[t.Name()+"."+f.Name] {
				out = append(out, p+": required field missing")
			}
		case raw == respjson.Null:
		case !field.Valid():
			out = append(out, fmt.Sprintf("%s: %s does not fit %s", p, raw, f.Type))
		default:
			out = append(out, sdkProblems(p, v.Field(i))...)
		}
	}
	return out
}

// sseEvent is one parsed server-sent event.
type sseEvent struct {
	name string
	data []byte
}

func tail(b []byte) []byte {
	if len(b) > 80 {
		return b[len(b)-80:]
	}
	return b
}

// streamEvent is the union of the fields of the events the encoder writes.
type streamEvent struct {
	Type           string               `json:"type"`
	SequenceNumber *int                 `json:"sequence_number"`
	Response       *ResponsesResponse   `json:"response"`
	OutputIndex    *int                 `json:"output_index"`
	ContentIndex   *int                 `json:"content_index"`
	SummaryIndex   *int                 `json:"summary_index"`
	ItemID         string               `json:"item_id"`
	Item           *ResponsesOutputItem `json:"item"`
	Part           map[string]any       `json:"part"`
	Delta          *string              `json:"delta"`
	Text           *string              `json:"text"`
	Refusal        *string              `json:"refusal"`
	Arguments      *string              `json:"arguments"`
	Code           *string              `json:"code"`
	Message        *string              `json:"message"`
}

// checkedStream is what checkStream learned from a stream.
type checkedStream struct {
	events   []sseEvent
	types    []string
	final    *ResponsesResponse // the response of the terminal event
	terminal string             // response.completed, response.incomplete, response.failed or ""
	items    []ResponsesOutputItem
}

// checkStream validates an encoder's output against the Responses streaming
// protocol: event names equal to the data's type, sequence numbers counting
// from 0, the lifecycle events, items opened and closed in order with the
// right output_index, content_index and item_id, deltas adding up to the done
// events and the done items, the terminal response holding exactly the done
// items, and every event accepted by the official SDK's types. It returns
// the problems found (nil if none).
func checkStream(b []byte) (*checkedStream, []string) {
	cs := &checkedStream{}
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if len(b) > 0 && !bytes.HasSuffix(b, []byte("\n\n")) {
		return cs, []string{fmt.Sprintf("stream does not end with a blank line: %q", tail(b))}
	}
	for _, block := range strings.Split(strings.TrimSuffix(string(b), "\n\n"), "\n\n") {
		if block == "" && len(b) == 0 {
			break
		}
		lines := strings.Split(block, "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "event: ") || !strings.HasPrefix(lines[1], "data: ") {
			return cs, []string{fmt.Sprintf("malformed event %q", block)}
		}
		cs.events = append(cs.events, sseEvent{name: strings.TrimPrefix(lines[0], "event: "), data: []byte(strings.TrimPrefix(lines[1], "data: "))})
	}

	type part struct {
		typ  string
		text strings.Builder
		done bool
		open bool
	}
	type item struct {
		id, typ          string
		open             bool
		parts            []*part
		args             strings.Builder
		argsDone         bool
		summary          strings.Builder
		summaryOpen      bool
		summaryTextDone  bool
		summaryPartAdded bool
	}
	var items []*item
	var respID string
	sawError := false
	ids := map[string]bool{}

	cur := func(ev *streamEvent, needContent bool) (*item, *part) {
		if ev.OutputIndex == nil || *ev.OutputIndex < 0 || *ev.OutputIndex >= len(items) {
			fail("%s: output_index %v out of range", ev.Type, ev.OutputIndex)
			return nil, nil
		}
		it := items[*ev.OutputIndex]
		if ev.ItemID != it.id {
			fail("%s: item_id %q, want %q", ev.Type, ev.ItemID, it.id)
		}
		if !it.open {
			fail("%s: item %d is not open", ev.Type, *ev.OutputIndex)
		}
		if !needContent {
			return it, nil
		}
		if ev.ContentIndex == nil || *ev.ContentIndex < 0 || *ev.ContentIndex >= len(it.parts) {
			fail("%s: content_index %v out of range", ev.Type, ev.ContentIndex)
			return it, nil
		}
		return it, it.parts[*ev.ContentIndex]
	}

	for i, e := range cs.events {
		var ev streamEvent
		if err := json.Unmarshal(e.data, &ev); err != nil {
			fail("event %d: invalid JSON: %v", i, err)
			continue
		}
		cs.types = append(cs.types, ev.Type)
		if ev.Type != e.name {
			fail("event %d: event name %q, data type %q", i, e.name, ev.Type)
		}
		if ev.SequenceNumber == nil || *ev.SequenceNumber != i {
			fail("event %d (%s): sequence_number %v", i, ev.Type, ev.SequenceNumber)
		}
		if cs.terminal != "" {
			fail("event %d (%s) after %s", i, ev.Type, cs.terminal)
		}
		// The official SDK must decode it, with every required field.
		var u responses.ResponseStreamEventUnion
		if err := json.Unmarshal(e.data, &u); err != nil {
			fail("event %d: SDK: %v", i, err)
		} else if u.Type != ev.Type || u.AsAny() == nil {
			fail("event %d: SDK does not know type %q", i, ev.Type)
		} else {
			for _, p := range sdkProblems(ev.Type, reflect.ValueOf(u)) {
				fail("event %d: SDK: %s", i, p)
			}
		}
		switch {
		case i == 0 && ev.Type != "response.created", i == 1 && ev.Type != "response.in_progress":
			fail("event %d is %s", i, ev.Type)
		}
		switch ev.Type {
		case "response.created", "response.in_progress":
			if i > 1 {
				fail("event %d: %s again", i, ev.Type)
			}
			if ev.Response == nil || ev.Response.Status != "in_progress" || len(ev.Response.Output) != 0 || ev.Response.Usage != nil {
				fail("%s: response %s", ev.Type, providertest.Short(ev.Response))
				continue
			}
			if i == 0 {
				respID = ev.Response.ID
				if !strings.HasPrefix(respID, "resp_") {
					fail("response id %q", respID)
				}
			} else if ev.Response.ID != respID {
				fail("response id changed to %q", ev.Response.ID)
			}
		case "response.output_item.added":
			if n := len(items); n > 0 && items[n-1].open {
				fail("event %d: item added while item %d is open", i, n-1)
			}
			if ev.OutputIndex == nil || *ev.OutputIndex != len(items) || ev.Item == nil {
				fail("event %d: output_index %v, want %d", i, ev.OutputIndex, len(items))
				continue
			}
			it := ev.Item
			if ids[it.ID] || it.ID == "" {
				fail("event %d: item id %q reused or empty", i, it.ID)
			}
			ids[it.ID] = true
			if it.Type != "reasoning" && it.Status != "in_progress" {
				fail("event %d: added item status %q", i, it.Status)
			}
			if len(it.Content) != 0 || len(it.Summary) != 0 || it.Arguments != "" {
				fail("event %d: added item not empty: %s", i, providertest.Short(it))
			}
			if it.Type == "function_call" && (it.CallID == "" || !strings.HasPrefix(it.ID, "fc_")) {
				fail("event %d: function call %s", i, providertest.Short(it))
			}
			items = append(items, &item{id: it.ID, typ: it.Type, open: true})
		case "response.content_part.added":
			it, _ := cur(&ev, false)
			if it == nil {
				continue
			}
			if it.typ != "message" {
				fail("event %d: content part in a %s item", i, it.typ)
			}
			if n := len(it.parts); n > 0 && !it.parts[n-1].done {
				fail("event %d: part added while part %d is open", i, n-1)
			}
			if ev.ContentIndex == nil || *ev.ContentIndex != len(it.parts) {
				fail("event %d: content_index %v, want %d", i, ev.ContentIndex, len(it.parts))
				continue
			}
			typ, _ := ev.Part["type"].(string)
			if typ != "output_text" && typ != "refusal" {
				fail("event %d: part type %q", i, typ)
			}
			it.parts = append(it.parts, &part{typ: typ, open: true})
		case "response.output_text.delta", "response.refusal.delta":
			_, p := cur(&ev, true)
			if p == nil {
				continue
			}
			want := map[string]string{"response.output_text.delta": "output_text", "response.refusal.delta": "refusal"}[ev.Type]
			if p.typ != want || !p.open || p.done || ev.Delta == nil || *ev.Delta == "" {
				fail("event %d: %s into a %s part (open %v) delta %v", i, ev.Type, p.typ, p.open, ev.Delta)
				continue
			}
			p.text.WriteString(*ev.Delta)
		case "response.output_text.done", "response.refusal.done":
			_, p := cur(&ev, true)
			if p == nil {
				continue
			}
			got := ev.Text
			if ev.Type == "response.refusal.done" {
				got = ev.Refusal
			}
			if got == nil || *got != p.text.String() || p.done {
				fail("event %d: %s text %v, deltas made %q", i, ev.Type, got, p.text.String())
			}
			p.done = true
		case "response.content_part.done":
			_, p := cur(&ev, true)
			if p == nil {
				continue
			}
			key := map[string]string{"output_text": "text", "refusal": "refusal"}[p.typ]
			if !p.done || !p.open || ev.Part[key] != p.text.String() || ev.Part["type"] != p.typ {
				fail("event %d: part done %s, want %s %q", i, providertest.Short(ev.Part), p.typ, p.text.String())
			}
			p.open = false
		case "response.function_call_arguments.delta":
			it, _ := cur(&ev, false)
			if it == nil {
				continue
			}
			if it.typ != "function_call" || it.argsDone || ev.Delta == nil {
				fail("event %d: arguments delta into %s", i, it.typ)
				continue
			}
			it.args.WriteString(*ev.Delta)
		case "response.function_call_arguments.done":
			it, _ := cur(&ev, false)
			if it == nil {
				continue
			}
			if it.typ != "function_call" || ev.Arguments == nil || *ev.Arguments != it.args.String() {
				fail("event %d: arguments done %v, deltas made %q", i, ev.Arguments, it.args.String())
			}
			it.argsDone = true
		case "response.reasoning_summary_part.added":
			it, _ := cur(&ev, false)
			if it == nil {
				continue
			}
			if it.typ != "reasoning" || it.summaryPartAdded || ev.SummaryIndex == nil || *ev.SummaryIndex != 0 {
				fail("event %d: summary part added to %s", i, it.typ)
			}
			it.summaryPartAdded, it.summaryOpen = true, true
		case "response.reasoning_summary_text.delta":
			it, _ := cur(&ev, false)
			if it == nil {
				continue
			}
			if !it.summaryOpen || it.summaryTextDone || ev.Delta == nil {
				fail("event %d: summary delta out of place", i)
				continue
			}
			it.summary.WriteString(*ev.Delta)
		case "response.reasoning_summary_text.done":
			it, _ := cur(&ev, false)
			if it == nil {
				continue
			}
			if !it.summaryOpen || ev.Text == nil || *ev.Text != it.summary.String() {
				fail("event %d: summary done %v, deltas made %q", i, ev.Text, it.summary.String())
			}
			it.summaryTextDone = true
		case "response.reasoning_summary_part.done":
			it, _ := cur(&ev, false)
			if it == nil {
				continue
			}
			if !it.summaryTextDone || ev.Part["text"] != it.summary.String() {
				fail("event %d: summary part done %s", i, providertest.Short(ev.Part))
			}
			it.summaryOpen = false
		case "response.output_item.done":
			if ev.Item == nil || ev.OutputIndex == nil || *ev.OutputIndex >= len(items) || *ev.OutputIndex < 0 {
				fail("event %d: output_item.done without item or index", i)
				continue
			}
			ev.ItemID = ev.Item.ID
			it, _ := cur(&ev, false)
			if it == nil {
				continue
			}
			done := *ev.Item
			if done.Type != it.typ {
				fail("event %d: item type %q, added as %q", i, done.Type, it.typ)
			}
			switch it.typ {
			case "message":
				if len(done.Content) != len(it.parts) {
					fail("event %d: %d parts, %d streamed", i, len(done.Content), len(it.parts))
				}
				for j, p := range it.parts {
					if p.open {
						fail("event %d: part %d still open", i, j)
					}
					if j < len(done.Content) && (done.Content[j].Type != p.typ || done.Content[j].Text+done.Content[j].Refusal != p.text.String()) {
						fail("event %d: part %d %s, streamed %q", i, j, providertest.Short(done.Content[j]), p.text.String())
					}
				}
				if done.Status != "completed" && done.Status != "incomplete" {
					fail("event %d: status %q", i, done.Status)
				}
			case "function_call":
				if !it.argsDone || done.Arguments != it.args.String() {
					fail("event %d: arguments %q, streamed %q", i, done.Arguments, it.args.String())
				}
				if done.Status != "completed" && done.Status != "incomplete" {
					fail("event %d: status %q", i, done.Status)
				}
			case "reasoning":
				if it.summaryOpen || len(done.Summary) != 1 || done.Summary[0].Text != it.summary.String() {
					fail("event %d: summary %s, streamed %q", i, providertest.Short(done.Summary), it.summary.String())
				}
			}
			it.open = false
			cs.items = append(cs.items, done)
		case "error":
			if ev.Code == nil || ev.Message == nil {
				fail("event %d: error without code or message", i)
			}
			if _, ok := decodeAnyMap(e.data)["param"]; !ok {
				fail("event %d: error without param", i)
			}
			sawError = true
		case "response.completed", "response.incomplete", "response.failed":
			cs.terminal = ev.Type
			r := ev.Response
			cs.final = r
			if r == nil || r.ID != respID {
				fail("%s: response %s", ev.Type, providertest.Short(r))
				continue
			}
			want := map[string]string{"response.completed": "completed", "response.incomplete": "incomplete", "response.failed": "failed"}[ev.Type]
			if r.Status != want {
				fail("%s: status %q", ev.Type, r.Status)
			}
			if ev.Type == "response.failed" {
				if !sawError || r.Error == nil {
					fail("response.failed without an error event or error")
				}
				if len(r.Output) != len(items) {
					fail("failed response has %d items, %d were added", len(r.Output), len(items))
				}
				continue
			}
			for j, it := range items {
				if it.open {
					fail("%s with item %d open", ev.Type, j)
				}
			}
			if d := providertest.JSONDiff("output", anyOf(cs.items), anyOf(r.Output)); len(d) > 0 {
				fail("%s: output differs from the done items: %v", ev.Type, d)
			}
			if (r.Status == "completed") != (r.CompletedAt != nil) {
				fail("%s: completed_at %v", ev.Type, r.CompletedAt)
			}
			if (r.Status == "incomplete") != (r.IncompleteDetails != nil) {
				fail("%s: incomplete_details %v", ev.Type, r.IncompleteDetails)
			}
		default:
			fail("event %d: unexpected type %q", i, ev.Type)
		}
	}
	return cs, problems
}

func decodeAnyMap(b []byte) map[string]any {
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

func anyOf(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}
