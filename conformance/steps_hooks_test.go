package conformance_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/cucumber/godog"
	of "github.com/open-feature/go-sdk/openfeature"
)

// Steps about hooks, evaluation options, immutability and asynchronous
// evaluation (evaluation_v2.feature and hooks.feature).

// ---- hooks ------------------------------------------------------------------

// recordingHook records which stages ran and the details the after,
// error and finally stages saw.
type recordingHook struct {
	of.UnimplementedHook
	name string
	log  *[]string // shared order log, may be nil

	mu      sync.Mutex
	stages  map[string]int
	details map[string]of.InterfaceEvaluationDetails
}

func newRecordingHook(name string, log *[]string) *recordingHook {
	return &recordingHook{name: name, log: log, stages: map[string]int{}, details: map[string]of.InterfaceEvaluationDetails{}}
}

func (h *recordingHook) mark(stage string, d *of.InterfaceEvaluationDetails) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stages[stage]++
	if d != nil {
		h.details[stage] = *d
	}
	if h.log != nil {
		*h.log = append(*h.log, h.name+"."+stage)
	}
}

func (h *recordingHook) Before(context.Context, of.HookContext, of.HookHints) (*of.EvaluationContext, error) {
	h.mark("before", nil)
	return nil, nil
}

func (h *recordingHook) After(_ context.Context, _ of.HookContext, d of.InterfaceEvaluationDetails, _ of.HookHints) error {
	h.mark("after", &d)
	return nil
}

func (h *recordingHook) Error(context.Context, of.HookContext, error, of.HookHints) {
	h.mark("error", nil)
}

func (h *recordingHook) Finally(_ context.Context, _ of.HookContext, d of.InterfaceEvaluationDetails, _ of.HookHints) {
	h.mark("finally", &d)
}

func (w *world) aClientWithAddedHook() error {
	w.hook = newRecordingHook("client", nil)
	w.b.client.AddHooks(w.hook)
	return nil
}

func (w *world) hookShouldHaveBeenExecuted(stage string) error {
	w.hook.mu.Lock()
	defer w.hook.mu.Unlock()
	if w.hook.stages[stage] == 0 {
		return fmt.Errorf("the %s hook did not run (ran: %v)", stage, w.hook.stages)
	}
	return nil
}

func (w *world) hooksCalledWithDetails(stages string, table *godog.Table) error {
	w.hook.mu.Lock()
	defer w.hook.mu.Unlock()
	for stage := range strings.SplitSeq(stages, ",") {
		stage = strings.TrimSpace(stage)
		d, ok := w.hook.details[stage]
		if !ok {
			return fmt.Errorf("the %s hook did not run", stage)
		}
		for _, row := range table.Rows[1:] {
			typ, field, want := row.Cells[0].Value, row.Cells[1].Value, row.Cells[2].Value
			if want == "null" {
				want = ""
			}
			var got any
			switch field {
			case "flag_key":
				got = d.FlagKey
			case "value":
				if err := sameValue(typ, d.Value, want); err != nil {
					return fmt.Errorf("%s hook: %w", stage, err)
				}
				continue
			case "variant":
				got = d.Variant
			case "reason":
				got = string(d.Reason)
			case "error_code":
				got = string(d.ErrorCode)
			default:
				return fmt.Errorf("unknown evaluation detail %q", field)
			}
			if got != want {
				return fmt.Errorf("%s hook: %s = %q, want %q", stage, field, got, want)
			}
		}
	}
	return nil
}

// evaluation options with hooks (spec 1.5.1)

func (w *world) evaluationOptionsWithHooks() error {
	log := []string{}
	w.orderLog = &log
	w.options = []of.Option{of.WithHooks(newRecordingHook("first", w.orderLog), newRecordingHook("second", w.orderLog))}
	return nil
}

func (w *world) specifiedHooksExecute() error {
	for _, name := range []string{"first", "second"} {
		for _, stage := range []string{"before", "after", "finally"} {
			if !strings.Contains(strings.Join(*w.orderLog, " "), name+"."+stage) {
				return fmt.Errorf("hook %s did not run its %s stage: %v", name, stage, *w.orderLog)
			}
		}
	}
	return nil
}

// hookOrderMaintained: before stages run in order, after and finally in
// reverse order (spec 4.4.2).
func (w *world) hookOrderMaintained() error {
	want := []string{"first.before", "second.before", "second.after", "first.after", "second.finally", "first.finally"}
	if !reflect.DeepEqual(*w.orderLog, want) {
		return fmt.Errorf("hook order %v, want %v", *w.orderLog, want)
	}
	return nil
}

// immutability (spec 1.4.15.1)

func (w *world) modifiableContext() error {
	w.attrs = map[string]any{"email": "ballmer@macrosoft.com", "nested": map[string]any{"list": []any{"a", "b"}, "n": 1}}
	w.attrsBefore = deepCopy(w.attrs).(map[string]any)
	return nil
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e)
		}
		return s
	}
	return v
}

func (w *world) contextUnmodified() error {
	if !reflect.DeepEqual(w.attrs, w.attrsBefore) {
		return fmt.Errorf("the evaluation changed the caller's context: %v, was %v", w.attrs, w.attrsBefore)
	}
	return nil
}

// detailsImmutable: changing what an evaluation returned (its metadata
// map, an object value) changes nothing for the next evaluation.
func (w *world) detailsImmutable(ctx context.Context) error {
	first := w.details
	if first.FlagMetadata != nil {
		first.FlagMetadata["injected"] = "by the caller"
	}
	if m, ok := first.Value.(map[string]any); ok {
		m["injected"] = true
	}
	again, _ := w.evaluate(ctx, w.b.client, w.evalContext(), w.options...)
	if _, ok := again.FlagMetadata["injected"]; ok {
		return errors.New("changing returned metadata changed the next evaluation's")
	}
	if m, ok := again.Value.(map[string]any); ok {
		if _, ok := m["injected"]; ok {
			return errors.New("changing a returned object changed the next evaluation's value")
		}
	}
	if again.Value != nil && reflect.TypeOf(again.Value).Comparable() && again.Value != w.details.Value {
		return fmt.Errorf("the second evaluation gave %v, the first %v", again.Value, w.details.Value)
	}
	return nil
}

// asynchronous evaluation (spec 1.4.12): Go's idiom is a goroutine; the
// evaluation must not block on the network (snapshot mode) or wait longer
// than one round trip (direct mode).
func (w *world) evaluatedAsynchronously(ctx context.Context) error {
	type result struct {
		d   of.InterfaceEvaluationDetails
		err error
	}
	start := time.Now()
	ch := make(chan result, 1)
	go func() {
		d, err := w.evaluate(ctx, w.b.client, w.evalContext(), w.options...)
		ch <- result{d, err}
	}()
	select {
	case r := <-ch:
		w.details, w.evalErr = r.d, r.err
		w.async = time.Since(start)
		return nil
	case <-time.After(5 * time.Second):
		return errors.New("the asynchronous evaluation did not complete within 5s")
	}
}

func (w *world) completedWithoutBlocking() error {
	if w.async > time.Second {
		return fmt.Errorf("the evaluation took %v", w.async)
	}
	return nil
}
